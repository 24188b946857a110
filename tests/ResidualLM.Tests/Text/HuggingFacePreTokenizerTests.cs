// The pre-tokenizers of tokenizer.json one by one, on small inputs whose pieces tokenizers' documentation and its ports
// spell out: Split's five behaviors on "the-final--countdown" (the example of tokenizers' SplitDelimiterBehavior), its
// inversion, Digits, ByteLevel's prefix space and regex switches, Metaspace's prepend schemes and split, and the errors
// of a malformed entry.
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFacePreTokenizerTests
{
    static PreTokenizer Read(string json) =>
        PreTokenizer.Read(new HuggingFaceJson(JsonDocument.Parse(json).RootElement.Clone(), "tokenizer.json", "pre_tokenizer"));

    static List<PreToken> Run(string json, string text, bool atStart = true)
    {
        var output = new List<PreToken>();
        Read(json).Split(new PreToken(text, atStart), output);
        return output;
    }

    static string[] Pieces(string json, string text, bool atStart = true) => [.. Run(json, text, atStart).Select(p => p.Text)];

    static string Split(string behavior, string pattern = """{"String": "-"}""", bool invert = false) =>
        $$"""{"type": "Split", "pattern": {{pattern}}, "behavior": "{{behavior}}", "invert": {{(invert ? "true" : "false")}}}""";

    [Fact]
    public void Split_KeepsTheDelimitersAsEachBehaviorSays()
    {
        const string text = "the-final--countdown";
        Assert.Equal(["the", "final", "countdown"], Pieces(Split("Removed"), text));
        Assert.Equal(["the", "-", "final", "-", "-", "countdown"], Pieces(Split("Isolated"), text));
        Assert.Equal(["the-", "final-", "-", "countdown"], Pieces(Split("MergedWithPrevious"), text));
        Assert.Equal(["the", "-final", "-", "-countdown"], Pieces(Split("MergedWithNext"), text));
        Assert.Equal(["the", "-", "final", "--", "countdown"], Pieces(Split("Contiguous"), text));
    }

    [Fact]
    public void Split_DelimitersAtTheEnds()
    {
        Assert.Equal(["-", "-", "the-", "final-", "-", "countdown-", "-"], Pieces(Split("MergedWithPrevious"), "--the-final--countdown--"));
        Assert.Equal(["-", "-the", "-final", "-", "-countdown"], Pieces(Split("MergedWithNext"), "--the-final--countdown"));
        Assert.Equal(["the", "-final", "-"], Pieces(Split("MergedWithNext"), "the-final-"));
        Assert.Equal(["--", "a", "--"], Pieces(Split("Contiguous"), "--a--"));
        Assert.Equal(["a"], Pieces(Split("Removed"), "--a--"));
        Assert.Empty(Pieces(Split("Removed"), "---"));
        Assert.Empty(Pieces(Split("Isolated"), ""));
    }

    [Fact]
    public void Split_Inverted_KeepsWhatThePatternMatches()
    {
        // With invert, the pattern describes the content and the text between its matches is the delimiter.
        const string words = """{"Regex": "[a-z]+"}""";
        Assert.Equal(["the", "final", "countdown"], Pieces(Split("Removed", words, invert: true), "the-final--countdown"));
        Assert.Equal(["the-", "final--", "countdown"], Pieces(Split("MergedWithPrevious", words, invert: true), "the-final--countdown"));
        Assert.Equal(["the", "-final", "--countdown"], Pieces(Split("MergedWithNext", words, invert: true), "the-final--countdown"));
        // Not inverted, the same pattern makes the words the delimiters.
        Assert.Equal(["-", "--"], Pieces(Split("Removed", words), "the-final--countdown"));
        // invert defaults to false.
        Assert.Equal(["the", "final", "countdown"], Pieces("""{"type": "Split", "pattern": {"String": "-"}, "behavior": "Removed"}""", "the-final--countdown"));
    }

    [Fact]
    public void Pieces_AreAtTheStartOnlyAtOffsetZeroOfAPieceThatWas()
    {
        Assert.Equal([true, false, false], Run(Split("Removed"), "a-b-c").Select(p => p.AtStart));
        Assert.Equal([false, false, false], Run(Split("Removed"), "a-b-c", atStart: false).Select(p => p.AtStart));
        Assert.Equal([false, false], Run(Split("Removed"), "-b-c").Select(p => p.AtStart));   // the first piece starts at 1
        Assert.Equal([true, false], Run("""{"type": "ByteLevel", "add_prefix_space": false}""", "hi there").Select(p => p.AtStart));
        Assert.Equal([false, false], Run("""{"type": "ByteLevel", "add_prefix_space": false}""", "hi there", atStart: false).Select(p => p.AtStart));
    }

    [Fact]
    public void Digits_AloneAsRunsOrOneByOne()
    {
        Assert.Equal(["a", "123", "b", "٤٥"], Pieces("""{"type": "Digits", "individual_digits": false}""", "a123b٤٥"));
        Assert.Equal(["a", "123", "b"], Pieces("""{"type": "Digits"}""", "a123b"));
        Assert.Equal(["a", "1", "2", "3", "b"], Pieces("""{"type": "Digits", "individual_digits": true}""", "a123b"));
    }

    [Fact]
    public void ByteLevel_PrefixSpaceAndRegexSwitches()
    {
        Assert.Equal(["hiĠthere"], Pieces("""{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}""", "hi there"));
        Assert.Equal(["ĠhiĠthere"], Pieces("""{"type": "ByteLevel", "add_prefix_space": true, "use_regex": false}""", "hi there"));
        Assert.Equal(["Ġhi", "Ġthere"], Pieces("""{"type": "ByteLevel"}""", "hi there"));         // both default to true
        Assert.Equal(["Ġ", "Ġx"], Pieces("""{"type": "ByteLevel"}""", "  x"));
        Assert.Equal(["Ġx"], Pieces("""{"type": "ByteLevel"}""", " x"));                         // no second space before one
        Assert.Empty(Pieces("""{"type": "ByteLevel"}""", ""));
    }

    [Fact]
    public void Metaspace_PrependSchemesAndSplit()
    {
        static string Metaspace(string options) => $$"""{"type": "Metaspace", "replacement": "▁", {{options}}}""";
        Assert.Equal(["▁hello", "▁world"], Pieces(Metaspace("\"prepend_scheme\": \"always\", \"split\": true"), "hello world"));
        Assert.Equal(["▁hello", "▁world"], Pieces(Metaspace("\"prepend_scheme\": \"always\", \"split\": true"), "hello world", atStart: false));
        Assert.Equal(["hello", "▁world"], Pieces(Metaspace("\"prepend_scheme\": \"never\", \"split\": true"), "hello world"));
        Assert.Equal(["▁hello", "▁world"], Pieces(Metaspace("\"prepend_scheme\": \"first\", \"split\": true"), "hello world"));
        Assert.Equal(["hello", "▁world"], Pieces(Metaspace("\"prepend_scheme\": \"first\", \"split\": true"), "hello world", atStart: false));
        Assert.Equal(["▁hello▁world"], Pieces(Metaspace("\"prepend_scheme\": \"always\", \"split\": false"), "hello world"));
        Assert.Equal(["▁hello", "▁world"], Pieces(Metaspace("\"prepend_scheme\": \"always\""), "hello world"));   // split defaults to true
        // Files written before tokenizers 0.19 say add_prefix_space instead of prepend_scheme (default true).
        Assert.Equal(["hello", "▁world"], Pieces(Metaspace("\"add_prefix_space\": false"), "hello world"));
        Assert.Equal(["▁hello", "▁world"], Pieces(Metaspace("\"add_prefix_space\": true"), "hello world", atStart: false));
        Assert.Equal(["▁hello", "▁world"], Pieces(Metaspace("\"split\": true"), "hello world", atStart: false));
        Assert.Equal(["▁x"], Pieces(Metaspace("\"prepend_scheme\": \"always\""), " x"));            // no second replacement
    }

    [Fact]
    public void MalformedEntries_NameTheirField()
    {
        InputErrors.AssertRefused(() => Read("""{"type": "Whitespace"}"""), "pre_tokenizer.type",
            "unsupported pre-tokenizer \"Whitespace\"; supported: ByteLevel, Split, Digits, Metaspace, Sequence");
        InputErrors.AssertRefused(() => Read(Split("Sideways")), "pre_tokenizer.behavior",
            "unknown split behavior \"Sideways\"; expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
        InputErrors.AssertRefused(() => Read(Split("7")), "pre_tokenizer.behavior", "unknown split behavior \"7\"");
        // Names are matched as tokenizers' serde does, case and all.
        InputErrors.AssertRefused(() => Read(Split("isolated")), "pre_tokenizer.behavior", "unknown split behavior \"isolated\"");
        InputErrors.AssertRefused(() => Read(Split("Removed", """{"String": ""}""")), "pre_tokenizer.pattern", "the pattern is empty");
        InputErrors.AssertRefused(() => Read(Split("Removed", """{"Regex": "(a"}""")), "pre_tokenizer.pattern", "the regex \"(a\" is not supported by .NET (");
        InputErrors.AssertRefused(() => Read("""{"type": "Metaspace", "replacement": "ab"}"""), "pre_tokenizer.replacement",
            "expected one character (a BMP character such as \"▁\")");
        InputErrors.AssertRefused(() => Read("""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"}"""),
            "pre_tokenizer.prepend_scheme", "unknown prepend scheme \"sometimes\"; expected always, first or never");
        // A literal pattern is matched literally, regex characters and all.
        Assert.Equal(["a", "b"], Pieces(Split("Removed", """{"String": "."}"""), "a.b"));
    }
}
