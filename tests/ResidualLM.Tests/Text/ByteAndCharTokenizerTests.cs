// Byte and character tokenizers: round trips, Unicode handling and errors for text they cannot encode.
using System.Text;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class ByteAndCharTokenizerTests
{
    [Fact]
    public void Byte_RandomStrings_RoundTripThroughUtf8()
    {
        var tokenizer = new ByteTokenizer();
        foreach (string text in TextTestData.RandomStrings(500, seed: 1))
        {
            int[] ids = tokenizer.Encode(text);
            Assert.Equal(Encoding.UTF8.GetByteCount(text), ids.Length);
            Assert.All(ids, id => Assert.InRange(id, 0, 255));
            Assert.Equal(text, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void Byte_LoneSurrogateAndInvalidBytes_BecomeReplacementCharacter()
    {
        var tokenizer = new ByteTokenizer();
        Assert.Equal([(int)'a', 0xEF, 0xBF, 0xBD, (int)'b'], tokenizer.Encode("a\ud800b"));
        // 0xE4 0xBD starts a three-byte character that never ends.
        Assert.Equal("x\ufffdy", tokenizer.Decode([(int)'x', 0xE4, 0xBD, (int)'y']));
        Assert.Throws<InvalidInputException>(() => tokenizer.Decode([256]));
    }

    [Fact]
    public void Char_Vocabulary_IsSortedDistinctCodePoints()
    {
        string corpus = "hello 😀 world é中\n😀";
        var tokenizer = CharTokenizer.FromText(corpus);
        int[] codePoints = tokenizer.Characters.Select(rune => rune.Value).ToArray();
        Assert.Equal(corpus.EnumerateRunes().Select(rune => rune.Value).Distinct().Order(), codePoints);
        // The emoji is one token, not two surrogates.
        Assert.Single(tokenizer.Encode("😀"));
    }

    [Fact]
    public void Char_CorpusText_RoundTrips()
    {
        string corpus = string.Concat(TextTestData.RandomStrings(300, seed: 2));
        var tokenizer = CharTokenizer.FromText(corpus);
        int[] ids = tokenizer.Encode(corpus);
        Assert.Equal(corpus.EnumerateRunes().Count(), ids.Length);
        Assert.Equal(corpus, tokenizer.Decode(ids));
    }

    [Fact]
    public void Char_UnknownCharacter_ThrowsNamingCharacterAndPosition()
    {
        var tokenizer = CharTokenizer.FromText("abc");
        var error = Assert.Throws<InvalidInputException>(() => tokenizer.Encode("abxc"));
        Assert.Contains("'x'", error.Message);
        Assert.Contains("position 2", error.Message);
        Assert.Throws<InvalidInputException>(() => tokenizer.Encode("a\ud800"));
        Assert.Throws<InvalidInputException>(() => tokenizer.Decode([3]));
    }
}
