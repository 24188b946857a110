// The added_tokens of tokenizer.json: reading each entry (ranges, defaults, errors) and cutting text around them as
// tokenizers' AddedVocabulary does: leftmost-longest, special tokens only when allowed, normalized and raw tokens apart,
// lstrip/rstrip absorbing whitespace, single_word refusing matches that touch a word character.
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFaceAddedTokensTests
{
    static AddedTokens Read(string addedTokens) =>
        AddedTokens.Read(new HuggingFaceJson(JsonDocument.Parse($$"""{"added_tokens": {{addedTokens}}}""").RootElement.Clone(), "tokenizer.json", ""));

    static List<Segment> Split(AddedTokens tokens, string text, int offset = 0, bool normalized = false, bool allowSpecial = true)
    {
        var output = new List<Segment>();
        tokens.Split(text, offset, normalized, allowSpecial, output);
        return output;
    }

    static Segment Text(int start, string text) => new(start, text, null);

    static Segment Token(int start, int id) => new(start, "", id);

    [Fact]
    public void Entries_AreReadWithTokenizersDefaults()
    {
        var plain = Read("""[{"id": 5, "content": "<x>"}, {"id": 6, "content": "<s>", "special": true}]""").All;
        Assert.Equal(new AddedToken(5, "<x>", Special: false, SingleWord: false, LeftStrip: false, RightStrip: false, Normalized: true), plain[0]);
        Assert.Equal(new AddedToken(6, "<s>", Special: true, SingleWord: false, LeftStrip: false, RightStrip: false, Normalized: false), plain[1]);
        var flagged = Read("""[{"id": 7, "content": "<y>", "special": false, "single_word": true, "lstrip": true, "rstrip": true, "normalized": false}]""").All;
        Assert.Equal(new AddedToken(7, "<y>", Special: false, SingleWord: true, LeftStrip: true, RightStrip: true, Normalized: false), flagged[0]);
        Assert.Empty(AddedTokens.Read(new HuggingFaceJson(JsonDocument.Parse("{}").RootElement.Clone(), "tokenizer.json", "")).All);
        Assert.Equal(16_777_215, Read("""[{"id": 16777215, "content": "z"}]""").All[0].Id);
    }

    [Fact]
    public void BadEntries_NameTheirField()
    {
        InputErrors.AssertRefused(() => Read("""[{"id": -1, "content": "a"}]"""), "added_tokens[0].id", "expected an id in [0, 16777216), found -1");
        InputErrors.AssertRefused(() => Read("""[{"id": 1, "content": "a"}, {"id": 16777216, "content": "b"}]"""), "added_tokens[1].id",
            "expected an id in [0, 16777216), found 16777216");
        InputErrors.AssertRefused(() => Read("""[{"id": 1, "content": ""}]"""), "added_tokens[0].content", "an added token cannot be empty");
        InputErrors.AssertRefused(() => Read("""[{"id": 3, "content": "a"}, {"id": 3, "content": "b"}]"""), "added_tokens[1].id", "id 3 is given to two added tokens");
    }

    [Fact]
    public void Split_LeftmostLongest_WithOffsets()
    {
        // The shorter token first in the list: the longer one that starts at the same place still wins.
        var tokens = Read("""[{"id": 1, "content": "ab", "normalized": false}, {"id": 2, "content": "abc", "normalized": false}, {"id": 3, "content": "y", "normalized": false}]""");
        Assert.Equal([Text(10, "x"), Token(11, 2), Token(14, 3), Text(15, "z"), Token(16, 1)], Split(tokens, "xabcyzab", offset: 10));
        Assert.Equal([Token(0, 2)], Split(tokens, "abc"));
        Assert.Equal([Text(4, "")], Split(tokens, "", offset: 4));                 // empty text: one empty segment
        Assert.Equal([Text(0, "x"), Token(1, 3), Text(2, "z")], Split(tokens, "xyz"));
        Assert.Equal([Text(0, "qq")], Split(tokens, "qq"));
        // The longer token first in the list: a shorter one that starts at the same place does not replace it.
        var longFirst = Read("""[{"id": 2, "content": "abc", "normalized": false}, {"id": 1, "content": "ab", "normalized": false}]""");
        Assert.Equal([Text(0, "x"), Token(1, 2), Token(4, 1)], Split(longFirst, "xabcab"));
    }

    [Fact]
    public void Split_SpecialAndNormalizedTokens_OnlyWhereAsked()
    {
        var tokens = Read("""[{"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "w", "normalized": true}, {"id": 3, "content": "r", "normalized": false}]""");
        Assert.Equal([Text(0, "a"), Token(1, 1), Text(4, "b")], Split(tokens, "a<s>b"));
        Assert.Equal([Text(0, "a<s>b")], Split(tokens, "a<s>b", allowSpecial: false));
        Assert.Equal([Text(0, "a"), Token(1, 3), Text(2, "w")], Split(tokens, "arw"));
        Assert.Equal([Text(0, "ar"), Token(2, 2)], Split(tokens, "arw", normalized: true));
    }

    [Fact]
    public void Split_StripsWhitespaceBesideTheToken()
    {
        var both = Read("""[{"id": 9, "content": "<m>", "lstrip": true, "rstrip": true, "normalized": false}]""");
        Assert.Equal([Text(0, "a"), Token(1, 9), Text(8, "b")], Split(both, "a  <m>  b"));   // the token's span takes the spaces
        Assert.Equal([Token(0, 9)], Split(both, " <m>\t\n"));
        // lstrip never reaches back past the previous token.
        Assert.Equal([Token(0, 9), Token(4, 9)], Split(both, "<m> <m>"));
        var left = Read("""[{"id": 9, "content": "<m>", "lstrip": true, "normalized": false}]""");
        Assert.Equal([Token(0, 9), Token(3, 9)], Split(left, "<m> <m>"));
        Assert.Equal([Text(0, "a"), Token(1, 9), Text(5, " b")], Split(left, "a <m> b"));
        var right = Read("""[{"id": 9, "content": "<m>", "rstrip": true, "normalized": false}]""");
        Assert.Equal([Text(0, "a "), Token(2, 9), Text(6, "b")], Split(right, "a <m> b"));
    }

    [Fact]
    public void Split_SingleWordTokens_AreNotFoundInsideWords()
    {
        var tokens = Read("""[{"id": 4, "content": "cat", "single_word": true, "normalized": false}]""");
        Assert.Equal([Text(0, "concat "), Token(7, 4), Text(10, " cats _cat 𝐀cat e\u0301cat 9cat")], Split(tokens, "concat cat cats _cat 𝐀cat e\u0301cat 9cat"));
        Assert.Equal([Token(0, 4), Text(3, "-"), Token(4, 4)], Split(tokens, "cat-cat"));
        // An astral letter (a surrogate pair) at the very start of the text still counts as the word before the token.
        Assert.Equal([Text(0, "𝐀cat")], Split(tokens, "𝐀cat"));
        Assert.Equal([Text(0, "𝐀x")], Split(Read("""[{"id": 5, "content": "x", "single_word": true, "normalized": false}]"""), "𝐀x"));
        Assert.Equal([Text(0, "𝐀"), Token(2, 4)], Split(Read("""[{"id": 4, "content": "cat", "normalized": false}]"""), "𝐀cat"));
        var anywhere = Read("""[{"id": 4, "content": "cat", "normalized": false}]""");
        Assert.Equal([Text(0, "con"), Token(3, 4), Text(6, "s")], Split(anywhere, "concats"));
    }
}
