// What the mutation run of Text/ found unchecked: the messages of a bad tokenizer directory or tokenizer.json (each
// error's file, field and words), and the messages of ids and text a tokenizer cannot take.
using System.Text.Json.Nodes;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public sealed class TokenizerFileErrorTests : IDisposable
{
    readonly TemporaryDirectory temporary = new();
    readonly string folder;

    public TokenizerFileErrorTests() => folder = temporary.File("tokenizer");

    public void Dispose() => temporary.Dispose();

    string File_ => Path.Combine(folder, "tokenizer.json");

    /// <summary>Saves <paramref name="tokenizer"/>, edits its tokenizer.json and loads it back, expecting an error.</summary>
    InvalidInputException LoadEdited(ITokenizer tokenizer, Action<JsonObject> edit)
    {
        tokenizer.Save(folder);
        var json = JsonNode.Parse(File.ReadAllText(File_))!.AsObject();
        edit(json);
        File.WriteAllText(File_, json.ToJsonString());
        var e = Assert.Throws<InvalidInputException>(() => TokenizerIO.Load(folder));
        Assert.Equal(File_, e.FilePath);
        return e;
    }

    static void AssertError(InvalidInputException e, string field, string reason)
    {
        Assert.Equal(field, e.Field);
        Assert.Equal(reason, e.Reason);
    }

    [Fact]
    public void TheDirectory_MustExistAndHoldATokenizer()
    {
        var e = Assert.Throws<InvalidInputException>(() => TokenizerIO.Load(folder));
        Assert.Equal((folder, "tokenizer directory not found"), (e.FilePath, e.Reason));
        Directory.CreateDirectory(folder);
        e = Assert.Throws<InvalidInputException>(() => TokenizerIO.Load(folder));
        Assert.Equal((folder, "no tokenizer.json, encoder.json + vocab.bpe, or vocab.json + merges.txt found"), (e.FilePath, e.Reason));
    }

    [Fact]
    public void TheHeader_IsChecked()
    {
        var chars = CharTokenizer.FromText("abc");
        AssertError(LoadEdited(chars, j => j["kind"] = "words"), "kind", "unknown tokenizer kind \"words\"; expected \"byte\", \"char\", \"bpe\" or \"gpt2\"");
        AssertError(LoadEdited(chars, j => j["kind"] = 3), "kind", "expected a string");
        AssertError(LoadEdited(chars, j => j["version"] = 2), "version", "unsupported version 2; expected 1");
        AssertError(LoadEdited(chars, j => j["version"] = "1"), "version", "expected an integer");
        AssertError(LoadEdited(chars, j => j["vocabSize"] = 4), "vocabSize", "vocab size mismatch: the file says 4 but its contents define 3 tokens");
    }

    [Fact]
    public void ACharVocabulary_IsChecked()
    {
        var chars = CharTokenizer.FromText("abc");
        AssertError(LoadEdited(chars, j => j["characters"] = "abc"), "characters", "expected an array");
        AssertError(LoadEdited(chars, j => j["characters"] = new JsonArray("a", "bc", "d")), "characters[1]", "expected a string holding exactly one character");
        AssertError(LoadEdited(chars, j => j["characters"] = new JsonArray("a", "b", "a")), "characters[2]", "character 'a' (U+0061) appears twice");
    }

    [Fact]
    public void BpeMerges_AreChecked()
    {
        var bpe = new BpeTokenizer([(97, 98), (256, 99)]);
        AssertError(LoadEdited(bpe, j => j["merges"]![0] = new JsonArray(97)), "merges[0]", "expected a pair of integer ids [left, right]");
        AssertError(LoadEdited(bpe, j => j["merges"]![1] = new JsonArray(257, 99)), "merges[1]", "ids must be in [0, 257) (bytes and earlier merges), found [257, 99]");
        AssertError(LoadEdited(bpe, j => j["merges"]![1] = new JsonArray(97, 98)), "merges[1]", "merge [97, 98] appears twice");
        AssertError(LoadEdited(bpe, j => j["endOfText"] = "<eos>"), "endOfText", "expected \"<|endoftext|>\"");
        AssertError(LoadEdited(bpe, j => j["endOfText"] = 1), "endOfText", "expected \"<|endoftext|>\"");
        Assert.Contains("refers to an id that is not below 257",
            Assert.Throws<ArgumentException>(() => new BpeTokenizer([(97, 98), (257, 99)])).Message);
        Assert.Contains("refers to an id that is not below 256",
            Assert.Throws<ArgumentException>(() => new BpeTokenizer([(256, 98)])).Message);
    }

    [Fact]
    public void IdsAndTextOutsideTheVocabulary_AreNamed()
    {
        var bytes = new ByteTokenizer();
        bytes.Decode([0, 255]);   // the whole byte range decodes
        var e = Assert.Throws<InvalidInputException>(() => bytes.Decode([65, 256]));
        Assert.Equal(("ids", "token id 256 at position 1 is outside the byte vocabulary [0, 256)"), (e.Field, e.Reason));
        var chars = CharTokenizer.FromText("ab");
        e = Assert.Throws<InvalidInputException>(() => chars.Decode([0, 2]));
        Assert.Equal(("ids", "token id 2 at position 1 is outside the char vocabulary of 2 ids"), (e.Field, e.Reason));
        e = Assert.Throws<InvalidInputException>(() => chars.Encode("abc"));
        Assert.Equal("text", e.Field);
        Assert.Equal("character 'c' (U+0063) at position 2 is not in the vocabulary of 2 characters", e.Reason);
        e = Assert.Throws<InvalidInputException>(() => chars.Encode("a\ud800"));
        Assert.Equal("text", e.Field);
        Assert.Equal("lone surrogate U+D800 at position 1 is not a character", e.Reason);
        Assert.Equal("corpus", Assert.Throws<InvalidInputException>(() => CharTokenizer.FromText("x\udc00")).Field);
    }

    [Fact]
    public void BpeTraining_RefusesBadArguments()
    {
        Assert.Throws<ArgumentNullException>(() => BpeTrainer.Train(null!, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train("abab", -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train("abab", 4, minimumPairCount: 0));
        Assert.Empty(BpeTrainer.Train("abab", 0).Merges);
    }

    [Fact]
    public void Save_CreatesTheDirectory_AndLeavesNoTemporaryFile()
    {
        string nested = Path.Combine(folder, "a", "b");
        CharTokenizer.FromText("xyz").Save(nested);
        Assert.Equal(["tokenizer.json"], Directory.GetFiles(nested).Select(Path.GetFileName));
        Assert.Equal(3, TokenizerIO.Load(nested).VocabSize);
    }
}
