// Our byte-level BPE against Microsoft.ML.Tokenizers' BpeTokenizer on the same vocabulary, merges and split pattern.
// Microsoft.ML.Tokenizers has no added-token splitting, no NFC, Digits or Metaspace steps, and matches its regex
// over UTF-16 code units, so the comparison covers plain text without those: the merge engine and the byte alphabet.
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using ResidualLM.Text;
using BpeTokenizer = Microsoft.ML.Tokenizers.BpeTokenizer;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFaceCrossCheckTests
{
    const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Microsoft.ML.Tokenizers' BPE built from the model section and split pattern of a fixture tokenizer.json.</summary>
    static BpeTokenizer Reference(string style)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(HuggingFaceTokenizerTests.FixtureDirectory, style, "tokenizer.json")));
        JsonElement root = document.RootElement, model = root.GetProperty("model");
        var vocabulary = model.GetProperty("vocab").EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
        var merges = model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToList();
        string pattern = root.GetProperty("pre_tokenizer").GetProperty("type").GetString() == "ByteLevel" ? Gpt2Pattern
            : root.GetProperty("pre_tokenizer").GetProperty("pretokenizers")[0].GetProperty("pattern").GetProperty("Regex").GetString()!;
        return BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(pattern), null),
        });
    }

    /// <summary>Text both can encode alike: no added-token text, nothing NFC would change, no surrogate pairs.</summary>
    static bool Comparable(string text) => !text.Contains('<') && !text.Any(char.IsSurrogate)
        && ResidualLM.Text.HuggingFace.Normalizer.IsInert(text, System.Text.NormalizationForm.FormC);

    [Theory]
    [InlineData("gpt2")]
    [InlineData("qwen2")]
    public void Encode_PlainText_MatchesMicrosoftMLTokenizers(string style)
    {
        BpeTokenizer reference = Reference(style);
        HuggingFaceTokenizer tokenizer = HuggingFaceTokenizerTests.Load(style);
        var texts = HuggingFaceTokenizerTests.Cases(style).Select(c => c.Text)
            .Concat(TextTestData.RandomStrings(1000, seed: 31))
            .Concat(Enumerable.Range(0, 50).Select(seed => TextTestData.EnglishLike(400, seed)))
            .Where(Comparable).ToList();
        Assert.True(texts.Count > 200, $"{texts.Count} comparable texts");
        foreach (string text in texts)
            Assert.True(reference.EncodeToIds(text).SequenceEqual(tokenizer.Encode(text)), JsonSerializer.Serialize(text));
    }
}
