// The post_processor of tokenizer.json for one sequence: TemplateProcessing's "single" template, ByteLevel (ids
// unchanged) and Sequence, and the errors of a malformed entry. Expected ids were computed with Hugging Face tokenizers
// (the Node binding, npm tokenizers@0.23.2) encoding "ab" (ids 3, 4) with special tokens over the same processor.
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFacePostProcessorTests
{
    static PostProcessor Read(string json) =>
        PostProcessor.Read(new HuggingFaceJson(JsonDocument.Parse(json).RootElement.Clone(), "tokenizer.json", "post_processor"));

    static List<int> Apply(string json, params int[] ids) => Read(json).Apply([.. ids]);

    const string Bos = """{"SpecialToken": {"id": "<s>", "type_id": 0}}""";
    const string Eos = """{"SpecialToken": {"id": "</s>", "type_id": 0}}""";
    const string A = """{"Sequence": {"id": "A", "type_id": 0}}""";
    const string Specials = """
        {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]},
         "xy": {"id": "xy", "ids": [5, 6], "tokens": ["x", "y"]}}
        """;

    static string Template(params string[] single) =>
        $$"""{"type": "TemplateProcessing", "single": [{{string.Join(", ", single)}}], "pair": [], "special_tokens": {{Specials}}}""";

    [Fact]
    public void Template_PutsTheSpecialTokensAroundTheSequence()
    {
        Assert.Equal([1, 3, 4], Apply(Template(Bos, A), 3, 4));
        Assert.Equal([1, 3, 4, 2], Apply(Template(Bos, A, Eos), 3, 4));
        Assert.Equal([3, 4, 5, 6], Apply(Template(A, """{"SpecialToken": {"id": "xy", "type_id": 0}}"""), 3, 4));
        Assert.Equal([3, 4, 2, 3, 4], Apply(Template(A, Eos, A), 3, 4));
        Assert.Equal([1], Apply(Template(Bos, A)));
    }

    [Fact]
    public void ByteLevel_LeavesTheIds()
    {
        Assert.Equal([3, 4], Apply("""{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}""", 3, 4));
    }

    [Fact]
    public void Sequence_AppliesItsProcessorsInTurn()
    {
        const string byteLevel = """{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}""";
        Assert.Equal([1, 3, 4], Apply($$"""{"type": "Sequence", "processors": [{{byteLevel}}, {{Template(Bos, A)}}]}""", 3, 4));
        Assert.Equal([3, 4, 2], Apply($$"""{"type": "Sequence", "processors": [{{Template(A, Eos)}}, {{byteLevel}}]}""", 3, 4));
        Assert.Equal([3, 4], Apply("""{"type": "Sequence", "processors": []}""", 3, 4));
    }

    public static TheoryData<string, string, string> MalformedProcessors => new()
    {
        { """{"type": "BertProcessing"}""", "post_processor.type",
            "unsupported post-processor \"BertProcessing\"; supported: TemplateProcessing, ByteLevel, Sequence" },
        { """{"single": []}""", "post_processor.type", "is missing" },
        { """{"type": "Sequence"}""", "post_processor.processors", "is missing" },
        { """{"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "RobertaProcessing"}]}""", "post_processor.processors[1].type",
            "unsupported post-processor \"RobertaProcessing\"; supported: TemplateProcessing, ByteLevel, Sequence" },
        { """{"type": "TemplateProcessing", "special_tokens": {}}""", "post_processor.single", "is missing" },
        { Template(Bos, """{"Sequence": {"id": "B", "type_id": 1}}"""), "post_processor.single[1].Sequence.id",
            "a single-sequence template can only use sequence \"A\", found \"B\"" },
        { Template("""{"SpecialToken": {"id": "<unk>", "type_id": 0}}""", A), "post_processor.single[0].SpecialToken.id",
            "special token \"<unk>\" is not in special_tokens" },
        { """{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}]}""", "post_processor.single[0].SpecialToken.id",
            "special token \"<s>\" is not in special_tokens" },
        { Template(A, """{"Special": {"id": "<s>"}}"""), "post_processor.single[1]", "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}" },
        { """{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}], "special_tokens": {"<s>": {"id": "<s>"}}}""",
            "post_processor.special_tokens.<s>.ids", "is missing" },
    };

    [Theory]
    [MemberData(nameof(MalformedProcessors))]
    public void MalformedProcessor_IsRefusedWithItsField(string json, string field, string reason)
    {
        var e = Assert.Throws<InvalidInputException>(() => Read(json));
        Assert.Equal(field, e.Field);
        Assert.Equal(reason, e.Reason);
    }
}
