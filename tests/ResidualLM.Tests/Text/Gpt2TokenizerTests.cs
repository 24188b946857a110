// GPT-2 tokenizer (the built-in vocabulary) against ids written by the JavaScript reference
// (tools/reference/gpt2_tokenizer_fixture.mjs); Gpt2BuiltInVocabularyTests shows it equals OpenAI's files.
using System.Text.Json;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class Gpt2TokenizerTests
{
    public sealed record FixtureCase(string Text, int[] Ids);

    /// <summary>Cases of fixtures/gpt2_tokenizer.json; ill-formed strings come from their "utf16" code units.</summary>
    internal static readonly Lazy<List<FixtureCase>> Fixture = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt2_tokenizer.json");
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new List<FixtureCase>();
        foreach (JsonElement item in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = item.TryGetProperty("utf16", out JsonElement units)
                ? new string(units.EnumerateArray().Select(unit => (char)unit.GetInt32()).ToArray())
                : item.GetProperty("text").GetString()!;
            cases.Add(new FixtureCase(text, item.GetProperty("ids").EnumerateArray().Select(id => id.GetInt32()).ToArray()));
        }
        return cases;
    });

    [Fact]
    public void Fixture_HasTrickyCases()
    {
        // Guards against a truncated fixture silently passing the equality test below.
        Assert.True(Fixture.Value.Count >= 100);
        Assert.Contains(Fixture.Value, c => !TextTestData.IsWellFormed(c.Text));
        Assert.Contains(Fixture.Value, c => c.Text.Length == 0);
    }

    [Fact]
    public void Encode_FixtureCases_MatchReference()
    {
        var mismatches = new List<string>();
        foreach (FixtureCase c in Fixture.Value)
        {
            int[] ids = TextTestData.Gpt2.Encode(c.Text);
            if (!ids.SequenceEqual(c.Ids))
                mismatches.Add($"{JsonSerializer.Serialize(c.Text)}: expected [{string.Join(",", c.Ids)}] got [{string.Join(",", ids)}]");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void Decode_FixtureIds_GivesWellFormedTextBack()
    {
        foreach (FixtureCase c in Fixture.Value.Where(c => TextTestData.IsWellFormed(c.Text)))
            Assert.Equal(c.Text, TextTestData.Gpt2.Decode(c.Ids));
    }

    [Fact]
    public void DecodeEncode_RandomStrings_RoundTrips()
    {
        foreach (string text in TextTestData.RandomStrings(2000, seed: 7))
            Assert.Equal(text, TextTestData.Gpt2.Decode(TextTestData.Gpt2.Encode(text)));
    }

    [Fact]
    public void Encode_LoneSurrogate_IsEncodedAsReplacementCharacter()
    {
        // TextEncoder (and Encoding.UTF8) turn a lone surrogate into U+FFFD's bytes EF BF BD.
        foreach (string text in TextTestData.RandomStrings(500, seed: 8, loneSurrogates: true))
        {
            string replaced = string.Concat(EnumerateReplacing(text));
            Assert.Equal(replaced, TextTestData.Gpt2.Decode(TextTestData.Gpt2.Encode(text)));
        }
    }

    static IEnumerable<string> EnumerateReplacing(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { yield return text.Substring(i++, 2); continue; }
            yield return char.IsSurrogate(text[i]) ? "\ufffd" : text[i].ToString();
        }
    }

    [Fact]
    public void Encode_EndOfText_IsTextUnlessAllowed()
    {
        Gpt2Tokenizer tokenizer = TextTestData.Gpt2;
        int endOfText = tokenizer.EndOfTextId!.Value;
        string text = "first<|endoftext|>second <|endoftext|>";
        Assert.DoesNotContain(endOfText, tokenizer.Encode(text));

        int[] allowed = tokenizer.Encode(text, allowSpecialTokens: true);
        Assert.Equal(2, allowed.Count(id => id == endOfText));
        // Between special tokens the text is encoded on its own, as tiktoken does.
        int[] expected = [.. tokenizer.Encode("first"), endOfText, .. tokenizer.Encode("second "), endOfText];
        Assert.Equal(expected, allowed);
        Assert.Equal(text, tokenizer.Decode(allowed));
    }

    [Fact]
    public void Load_HuggingFaceNamesAndSavedCopy_EncodeTheSame()
    {
        using var saved = new TemporaryDirectory();
        TextTestData.Gpt2.Save(saved.Path);
        ITokenizer reloaded = TokenizerIO.Load(saved.Path);

        using var huggingFace = new TemporaryDirectory();
        File.Copy(saved.File("encoder.json"), huggingFace.File("vocab.json"));
        File.Copy(saved.File("vocab.bpe"), huggingFace.File("merges.txt"));
        ITokenizer fromHuggingFace = TokenizerIO.Load(huggingFace.Path);

        Assert.Equal("gpt2", reloaded.Kind);
        Assert.Equal(TextTestData.Gpt2.VocabSize, reloaded.VocabSize);
        Assert.Equal(TextTestData.Gpt2.EndOfTextId, reloaded.EndOfTextId);
        foreach (FixtureCase c in Fixture.Value)
        {
            Assert.Equal(c.Ids, fromHuggingFace.Encode(c.Text));
            Assert.Equal(c.Ids, reloaded.Encode(c.Text));
        }
    }
    [Fact]
    public void Decode_TheFirstIdPastTheVocabulary_IsANamedError()
    {
        var gpt2 = TextTestData.Gpt2;
        Assert.Equal("<|endoftext|>", gpt2.Decode([gpt2.VocabSize - 1]));   // the last id is the end-of-text token
        var e = Assert.Throws<InvalidInputException>(() => gpt2.Decode([0, gpt2.VocabSize]));
        Assert.Equal(("ids", $"token id {gpt2.VocabSize} is outside the gpt2 vocabulary of {gpt2.VocabSize} ids"), (e.Field, e.Reason));
    }

    [Fact]
    public void Encode_AWordLongerThanTheStackBuffer_RoundTrips()
    {
        // One pre-token of 120 CJK letters is 360 bytes of UTF-8, more than the 256 the encoder keeps on the stack.
        string word = string.Concat(Enumerable.Range(0, 120).Select(i => (char)(0x4E00 + (i * 37) % 5000)));
        Assert.Equal(word, TextTestData.Gpt2.Decode(TextTestData.Gpt2.Encode(word)));
    }
}
