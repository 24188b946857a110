// CodePointRegex: a .NET regex that sees a supplementary-plane character as one character of its general category,
// as tokenizers' regex engines do. Unless a comment says otherwise, the expected matches were computed with Hugging
// Face tokenizers (the Node binding, npm tokenizers@0.23.2) as the pieces of an inverted Split(Regex, Removed)
// pre-tokenizer, which keeps exactly the matches.
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class CodePointRegexTests
{
    // U+20000 (a CJK letter), U+1F600 (an emoji, So), U+1D7CE and U+1D7CF (bold digits 0 and 1, Nd),
    // U+1D400 and U+1D41A (bold A and a, Lu and Ll), U+10348 (a Gothic letter).
    const string Cjk = "\U00020000", Emoji = "\U0001F600", Zero = "\U0001D7CE", One = "\U0001D7CF";

    /// <summary>The matched substrings, read back through the returned offsets.</summary>
    static string[] Matched(string pattern, string text) =>
        [.. new CodePointRegex(pattern).Matches(text).Select(m => text.Substring(m.Start, m.Length))];

    [Theory]
    [InlineData(@"\p{L}+", "a" + Cjk + "b", new[] { "a" + Cjk + "b" })]
    [InlineData(@"\p{L}+", Cjk + "a", new[] { Cjk + "a" })]   // the surrogate pair at index 0
    [InlineData(@"\p{L}+", "a b", new[] { "a", "b" })]
    [InlineData(@"\p{L}+", "x " + Cjk + "y", new[] { "x", Cjk + "y" })]
    [InlineData(@"\p{L}", "a" + Cjk, new[] { "a", Cjk })]     // a match that ends the text
    [InlineData(@"\p{So}+", "a" + Emoji + Emoji + "b", new[] { Emoji + Emoji })]
    [InlineData(@"[^\s\p{L}\p{N}]+", "a" + Emoji + "b" + Zero + "c", new[] { Emoji })]
    [InlineData(@"\p{N}+", "a" + Zero + One + "b1", new[] { Zero + One, "1" })]
    [InlineData(@"[^a]+", "a" + Cjk + "a", new[] { Cjk })]
    [InlineData(@"\S+", "x " + Cjk + "y", new[] { "x", Cjk + "y" })]
    [InlineData(@"\S+", Cjk, new[] { Cjk })]
    [InlineData("(?i)[a-z]+", "a\U0001D400b\U0001D41AK", new[] { "a", "b", "K" })]   // bold letters do not fold to ASCII
    public void Matches_SeeASurrogatePairAsOneCharacterOfItsCategory(string pattern, string text, string[] expected)
    {
        Assert.Equal(expected, Matched(pattern, text));
    }

    [Fact]
    public void Matches_Offsets_AreInUtf16UnitsOfTheText()
    {
        Assert.Equal([(0, 1), (2, 3)], new CodePointRegex(@"\p{L}+").Matches("x " + Cjk + "y"));
        Assert.Equal([(0, 4)], new CodePointRegex(@"\p{L}+").Matches("a" + Cjk + "b"));
        Assert.Equal([(1, 4)], new CodePointRegex(@"\p{So}+").Matches("a" + Emoji + Emoji + "b"));
    }

    [Fact]
    public void Matches_EmptyMatchesAreLeftOut()
    {
        Assert.Equal([(1, 2)], new CodePointRegex("a*").Matches("baab"));
        Assert.Equal([(3, 2)], new CodePointRegex("a*").Matches("b" + Cjk + "aab"));
        Assert.Empty(new CodePointRegex("a*").Matches("b"));
        Assert.Empty(new CodePointRegex("a*").Matches(""));
    }

    [Fact]
    public void Matches_Gpt2AndLlama3Patterns()
    {
        const string gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
        Assert.Equal(["Hi", " " + Cjk + "x", " " + Emoji + Emoji, " " + Zero + "1", " ", " ok\U00010348", "'s", " " + Emoji],
            Matched(gpt2, "Hi " + Cjk + "x " + Emoji + Emoji + " " + Zero + "1  ok\U00010348's " + Emoji));
        const string llama3 = @"(?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        Assert.Equal([Emoji + Cjk + "b", " ", Zero + One + "\U0001D7D0", "\U0001D7D1", " x"],
            Matched(llama3, Emoji + Cjk + "b " + Zero + One + "\U0001D7D0\U0001D7D1 x"));
    }

    [Fact]
    public void Matches_LoneSurrogates_AreCategoryCs()
    {
        // Worked out by hand: a lone surrogate (which tokenizers cannot receive, as Rust strings are UTF-8) stays one
        // UTF-16 unit of category Cs; U+10000, a pair, is a letter (Lo). A table in code, not InlineData: attribute
        // arguments are stored as UTF-8, which turns a lone surrogate into U+FFFD.
        (string Text, int[] Starts)[] table =
        [
            ("a\uD800", [1]), ("\uDC00a", [0]), ("a\uDC00", [1]), ("\uD800\uD800", [0, 1]), ("\uDC00\uD800", [0, 1]),
            ("\U00020000\uD800", [2]), ("\uD800\U00020000", [0]), ("\uD800\uDC00", []),
        ];
        foreach (var (text, starts) in table)
        {
            var matches = new CodePointRegex(@"\p{Cs}").Matches(text);
            Assert.Equal(starts, matches.Select(m => m.Start));
            Assert.All(matches, m => Assert.Equal(1, m.Length));
        }
    }

    [Fact]
    public void Matches_APairAfterALoneSurrogate_IsStillOneLetter()
    {
        // Worked out by hand: U+10000 is Lo.
        Assert.Equal([(1, 2)], new CodePointRegex(@"\p{L}").Matches("\uDC00\uD800\uDC00"));
        Assert.Equal([(0, 2), (3, 1)], new CodePointRegex(@"\p{L}+").Matches("\uD800\uDC00\uD800a"));
    }

    [Fact]
    public void Pattern_IsKept() => Assert.Equal(@"\p{L}+", new CodePointRegex(@"\p{L}+").Pattern);

    [Theory]
    [InlineData("(a")]
    [InlineData("a++")]    // possessive quantifiers, which tokenizers' engines accept, do not parse in .NET
    [InlineData(@"\p{Nope}")]
    public void Constructor_APatternDotNetCannotParse_Throws(string pattern)
    {
        Assert.ThrowsAny<ArgumentException>(() => new CodePointRegex(pattern));
    }
}
