// The hand-written GPT-2 pattern against .NET's regex on text where the two must agree (no astral code points),
// and against the pattern's definition where .NET's UTF-16 regex cannot be used.
using System.Text.RegularExpressions;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class Gpt2PreTokenizerTests
{
    // OpenAI's pattern with \s spelled as Unicode White_Space, which is what Python's `regex` means by \s.
    const string WhiteSpace = @"\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
    static readonly Regex reference = new(
        $@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{{L}}+| ?\p{{N}}+| ?[^{WhiteSpace}\p{{L}}\p{{N}}]+|[{WhiteSpace}]+(?![^{WhiteSpace}])|[{WhiteSpace}]+",
        RegexOptions.CultureInvariant);

    static List<string> Pieces(string text) =>
        Gpt2PreTokenizer.Split(text).Select(piece => text.Substring(piece.Start, piece.Length)).ToList();

    [Fact]
    public void Split_BmpText_MatchesRegex()
    {
        // Without surrogates, UTF-16 code units are code points, so .NET's regex is a valid reference.
        var texts = TextTestData.RandomStrings(3000, seed: 11).Where(text => !text.AsSpan().ContainsAnyInRange('\ud800', '\udfff'))
            .Append(TextTestData.EnglishLike(5000, seed: 3)).Append("  a\t\t b \n\n\nc   ").Append("it's IT'S ''s 'll'd");
        foreach (string text in texts)
            Assert.Equal(reference.Matches(text).Select(match => match.Value), Pieces(text));
    }

    [Fact]
    public void Split_AnyText_TilesTheInput()
    {
        foreach (string text in TextTestData.RandomStrings(2000, seed: 12, loneSurrogates: true))
            Assert.Equal(text, string.Concat(Pieces(text)));
    }

    [Fact]
    public void Split_AstralLettersAndDigits_AreOneRunWithTheirSpace()
    {
        // U+20000 (CJK extension B) is \p{L} and U+1D7D9 (mathematical double-struck one) is \p{N}, each a surrogate pair.
        Assert.Equal([" \U00020000\U00020001", " \U0001D7D9\U0001D7DA"], Pieces(" \U00020000\U00020001 \U0001D7D9\U0001D7DA"));
        // An emoji is neither, so it joins punctuation.
        Assert.Equal(["a", "!\U0001F600?"], Pieces("a!\U0001F600?"));
    }

    [Fact]
    public void Split_LoneSurrogate_IsPunctuationLike()
    {
        Assert.Equal(["a", "!\ud800", " \udc00", "b"], Pieces("a!\ud800 \udc00b"));
    }

    [Fact]
    public void Split_NextLineAndByteOrderMark_FollowWhiteSpaceProperty()
    {
        // U+0085 is White_Space (Python regex, tiktoken); U+FEFF is not (JavaScript disagrees on both).
        Assert.Equal(["a", "\u0085", "b"], Pieces("a\u0085b"));
        Assert.Equal(["a", "\ufeff", "b"], Pieces("a\ufeffb"));
        Assert.Equal(["a", " \ufeff\ufeff"], Pieces("a \ufeff\ufeff"));
    }
    [Fact]
    public void WhiteSpace_AtTheEdgesOfItsRanges()
    {
        // U+2000..U+200A are White_Space; U+1FFF is unassigned and U+200B (zero width space) is not White_Space.
        Assert.Equal(Gpt2PreTokenizer.CharacterClass.Space, Gpt2PreTokenizer.ClassOf(0x2000));
        Assert.Equal(Gpt2PreTokenizer.CharacterClass.Space, Gpt2PreTokenizer.ClassOf(0x200A));
        Assert.Equal(Gpt2PreTokenizer.CharacterClass.Other, Gpt2PreTokenizer.ClassOf(0x1FFF));
        Assert.Equal(Gpt2PreTokenizer.CharacterClass.Other, Gpt2PreTokenizer.ClassOf(0x200B));
        // U+0080, the first code point past the ASCII table, is a control character: neither letter, number nor space.
        Assert.Equal(Gpt2PreTokenizer.CharacterClass.Other, Gpt2PreTokenizer.Classify("\u0080", 0, out int width));
        Assert.Equal(1, width);
    }
}
