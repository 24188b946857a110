// The decoders of tokenizer.json one by one and in sequences: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace
// and Sequence, and the errors of a malformed entry. Unless a comment says otherwise, the expected text was computed
// with Hugging Face tokenizers (the Node binding, npm tokenizers@0.23.2) decoding the same tokens with the same decoder.
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFaceDecoderTests
{
    static Decoder Read(string json) =>
        Decoder.Read(new HuggingFaceJson(JsonDocument.Parse(json).RootElement.Clone(), "tokenizer.json", "decoder"));

    static List<string> Run(string json, params string[] tokens) => Read(json).Decode([.. tokens]);

    static string Text(string json, params string[] tokens) => string.Concat(Run(json, tokens));

    static string Strip(char content, int start, int stop) =>
        $$"""{"type": "Strip", "content": "{{content}}", "start": {{start}}, "stop": {{stop}}}""";

    [Fact]
    public void ByteLevel_MapsGpt2sAlphabetBackToUtf8()
    {
        const string byteLevel = """{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}""";
        Assert.Equal([" hello world"], Run(byteLevel, "Ġhello", "Ġw", "orld"));
        Assert.Equal("é", Text(byteLevel, "Ã", "©"));           // C3 A9 split over two tokens
        Assert.Equal("\uFFFD", Text(byteLevel, "Ã"));            // C3 alone is not UTF-8
        Assert.Equal("a你\n", Text(byteLevel, "a", "你", "Ċ"));  // 你 is outside the alphabet: its own UTF-8
        Assert.Equal("\uFFFD你\uFFFD", Text(byteLevel, "Ã", "你", "©"));
    }

    [Fact]
    public void ByteFallback_JoinsByteTokensIntoUtf8()
    {
        const string byteFallback = """{"type": "ByteFallback"}""";
        Assert.Equal(["é"], Run(byteFallback, "<0xC3>", "<0xA9>"));
        Assert.Equal(["a", "a", "b", "j"], Run(byteFallback, "a", "<0x61>", "b", "<0x6a>"));   // lower-case hex too
        Assert.Equal("\uFFFD", Text(byteFallback, "<0xC3>"));
        Assert.Equal("\uFFFD\uFFFDa\uFFFD\uFFFD", Text(byteFallback, "<0xC3>", "<0xC3>", "a", "<0xE2>", "<0x82>"));
    }

    [Fact]
    public void ByteFallback_AnInvalidRun_IsOneReplacementTokenPerByte()
    {
        // Each U+FFFD is its own token, so a Strip of one leading U+FFFD per token removes them all; the valid run
        // E2 82 AC (€) is one token.
        const string json = """{"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Strip", "content": "\uFFFD", "start": 1, "stop": 0}]}""";
        Assert.Equal("", Text(json, "<0xC3>", "<0xC3>"));
        Assert.Equal("€", Text(json, "<0xE2>", "<0x82>", "<0xAC>"));
    }

    [Theory]
    [InlineData("<0x6>")]
    [InlineData("<0x610>")]
    [InlineData("<0xG1>")]
    [InlineData("<0X61>")]
    [InlineData("<0x61]")]
    [InlineData("[0x61>")]
    [InlineData("<0x-1>")]
    public void ByteFallback_TokensThatAreNotBytes_StayAsTheyAre(string token)
    {
        Assert.Equal(["a", token, "b"], Run("""{"type": "ByteFallback"}""", "<0x61>", token, "<0x62>"));
    }

    [Fact]
    public void Fuse_MakesOneToken()
    {
        // Strip after Fuse cuts the ends of the whole text; without it, of every token.
        Assert.Equal("a  b", Text($$"""{"type": "Sequence", "decoders": [{"type": "Fuse"}, {{Strip(' ', 1, 1)}}]}""", " a ", " b "));
        Assert.Equal("ab", Text($$"""{"type": "Sequence", "decoders": [{{Strip(' ', 1, 1)}}]}""", " a ", " b "));
        Assert.Equal(["ab"], Run("""{"type": "Fuse"}""", "a", "b"));
    }

    [Fact]
    public void Strip_UpToStartLeadingAndStopTrailingCopies()
    {
        Assert.Equal(["xax", "ax", "ab", "a", "a", "a"], Run(Strip('x', 2, 1), "xxxaxx", "axx", "xab", "a", "xa", "ax"));
        Assert.Equal(["xax", "ab"], Run(Strip('x', 1, 3), "xxaxxxx", "xab"));
        Assert.Equal(["xaxx"], Run(Strip('x', 0, 0), "xaxx"));
        Assert.Equal(["xaxx"], Run("""{"type": "Strip", "content": "x"}""", "xaxx"));   // start and stop default to 0
        Assert.Equal([""], Run(Strip('x', 5, 0), "xx"));
    }

    [Fact]
    public void Strip_ATokenOfOnlyTheCharacter_LosesEachCopyOnce()
    {
        // Worked out by hand: the leading cut comes first and the trailing cut stops where it ends (tokenizers itself
        // panics here, slicing past the end).
        Assert.Equal([""], Run(Strip('x', 1, 2), "xx"));
        Assert.Equal([""], Run(Strip('x', 0, 5), "xx"));
        Assert.Equal(["x"], Run(Strip('x', 1, 1), "xxx"));
    }

    [Fact]
    public void Replace_EachTokenOnItsOwn()
    {
        Assert.Equal([" Hello", " wor", "ld  "], Run("""{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}""", "▁Hello", "▁wor", "ld▁▁"));
        // "a+" does not match across the two "a" tokens.
        Assert.Equal(["b-b", "-", "-"], Run("""{"type": "Replace", "pattern": {"Regex": "a+"}, "content": "-"}""", "baab", "a", "a"));
    }

    [Theory]
    [InlineData("\"prepend_scheme\": \"always\"", "ab c")]
    [InlineData("\"prepend_scheme\": \"first\"", "ab c")]
    [InlineData("\"prepend_scheme\": \"never\"", " a b c")]
    [InlineData("\"add_prefix_space\": true", "ab c")]
    // Before tokenizers 0.19 there was no prepend_scheme: its Metaspace decoder removed the first token's
    // replacements only when add_prefix_space was set (pre_tokenizers/metaspace.rs: `if i == 0 && self.add_prefix_space`).
    [InlineData("\"add_prefix_space\": false", " a b c")]
    public void Metaspace_SpacesBack_AndTheFirstTokensRemovedWhenAPrefixWasAdded(string options, string expected)
    {
        string json = $$"""{"type": "Metaspace", "replacement": "▁", {{options}}}""";
        Assert.Equal(expected, Text(json, "▁a▁b", "▁c"));
    }

    [Fact]
    public void Metaspace_OnlyItsReplacementCharacter()
    {
        Assert.Equal("Hello wo r ", Text("""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}""", "▁Hello", "▁wo▁r", "▁"));
        Assert.Equal("a▁b c", Text("""{"type": "Metaspace", "replacement": "_", "prepend_scheme": "always"}""", "_a▁b", "_c"));
    }

    [Fact]
    public void Sequence_RunsItsDecodersInOrder()
    {
        // Llama 2's decoder: "▁" to " ", bytes to UTF-8, one string, one leading space removed.
        const string llama = """
            {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
             {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
            """;
        Assert.Equal(["Hello é  x"], Run(llama, "▁Hello", "▁", "<0xC3>", "<0xA9>", "▁▁x"));
        const string stripFirst = """
            {"type": "Sequence", "decoders": [{"type": "Strip", "content": " ", "start": 1, "stop": 0},
             {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}]}
            """;
        Assert.Equal(" Hello   x", Text(stripFirst, "▁Hello", "▁", "▁▁x"));
        Assert.Equal(["a", "b"], Run("""{"type": "Sequence", "decoders": []}""", "a", "b"));
    }

    public static TheoryData<string, string, string> MalformedDecoders => new()
    {
        { """{"type": "WordPiece"}""", "decoder.type",
            "unsupported decoder \"WordPiece\"; supported: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence" },
        { """{"start": 1}""", "decoder.type", "is missing" },
        { """{"type": "Strip", "content": "xy"}""", "decoder.content", "expected one character" },
        { """{"type": "Strip", "content": ""}""", "decoder.content", "expected one character" },
        { """{"type": "Strip", "start": 1}""", "decoder.content", "is missing" },
        { """{"type": "Strip", "content": "x", "start": -1, "stop": 0}""", "decoder", "start and stop must be at least 0, found -1 and 0" },
        { """{"type": "Strip", "content": "x", "start": 0, "stop": -1}""", "decoder", "start and stop must be at least 0, found 0 and -1" },
        { """{"type": "Sequence"}""", "decoder.decoders", "is missing" },
        { """{"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "CTC"}]}""", "decoder.decoders[1].type",
            "unsupported decoder \"CTC\"; supported: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence" },
        { """{"type": "Replace", "pattern": {"String": ""}, "content": " "}""", "decoder.pattern", "the pattern is empty" },
        { """{"type": "Metaspace", "replacement": "ab"}""", "decoder.replacement", "expected one character (a BMP character such as \"▁\")" },
    };

    [Theory]
    [MemberData(nameof(MalformedDecoders))]
    public void MalformedDecoder_IsRefusedWithItsField(string json, string field, string reason)
    {
        var e = Assert.Throws<InvalidInputException>(() => Read(json));
        Assert.Equal(field, e.Field);
        Assert.Equal(reason, e.Reason);
    }
}
