// Saving and loading every kind, and malformed files: each must raise InvalidInputException naming the file.
using System.Text;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class TokenizerFilesTests
{
    static readonly string sample = "Hello, world! It's 2024 😀 café\n\n  end";

    public static TheoryData<string> Kinds => new() { "byte", "char", "bpe" };

    static ITokenizer Make(string kind) => kind switch
    {
        "byte" => new ByteTokenizer(),
        "char" => CharTokenizer.FromText(sample + TextTestData.EnglishLike(2000, seed: 4)),
        _ => BpeTrainer.Train(TextTestData.EnglishLike(20_000, seed: 4), 60),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SaveLoad_EachKind_EncodesTheSame(string kind)
    {
        ITokenizer original = Make(kind);
        using var directory = new TemporaryDirectory();
        original.Save(directory.Path);
        original.Save(directory.Path);   // saving over an existing tokenizer replaces it
        ITokenizer loaded = TokenizerIO.Load(directory.Path);

        Assert.Equal(kind, loaded.Kind);
        Assert.Equal(original.VocabSize, loaded.VocabSize);
        Assert.Equal(original.EndOfTextId, loaded.EndOfTextId);
        Assert.Equal(original.Encode(sample), loaded.Encode(sample));
        Assert.Equal(sample, loaded.Decode(loaded.Encode(sample)));
        // Only the final files remain: no temporary file is left behind.
        Assert.Equal([TokenizerIO.DescriptionFileName], Directory.GetFiles(directory.Path).Select(Path.GetFileName));
    }

    static InvalidInputException AssertRejected(string directory, string fileAtFault)
    {
        var error = Assert.Throws<InvalidInputException>(() => TokenizerIO.Load(directory));
        Assert.Contains(fileAtFault, error.Message);
        return error;
    }

    [Fact]
    public void Load_MissingDirectoryOrFiles_NamesThem()
    {
        using var directory = new TemporaryDirectory();
        AssertRejected(Path.Combine(directory.Path, "absent"), "absent");
        AssertRejected(directory.Path, directory.Path);
        File.WriteAllText(directory.File("tokenizer.json"), """{"kind":"gpt2","version":1}""");
        File.WriteAllText(directory.File("vocab.bpe"), "#version: 0.2\n");
        AssertRejected(directory.Path, "encoder.json");   // one file of the pair beside it: the other is missing
    }

    [Fact]
    public void Load_Gpt2DescriptionWithoutFiles_IsTheBuiltInVocabulary()
    {
        using var directory = new TemporaryDirectory();
        File.WriteAllText(directory.File("tokenizer.json"), """{"kind":"gpt2","version":1,"vocabSize":50257}""");
        Assert.Same(Gpt2Tokenizer.BuiltIn, TokenizerIO.Load(directory.Path));
    }

    [Theory]
    [InlineData("{\"kind\":\"byte\",")]
    [InlineData("[1,2]")]
    [InlineData("{\"kind\":\"word\",\"version\":1}")]
    [InlineData("{\"kind\":\"byte\",\"version\":1,\"vocabSize\":300}")]
    [InlineData("{\"kind\":\"char\",\"version\":1,\"vocabSize\":3,\"characters\":[\"a\",\"b\"]}")]
    [InlineData("{\"kind\":\"char\",\"version\":1,\"vocabSize\":2,\"characters\":[\"a\",\"bc\"]}")]
    [InlineData("{\"kind\":\"bpe\",\"version\":1,\"vocabSize\":257,\"merges\":[[97,98]]}")]
    [InlineData("{\"kind\":\"bpe\",\"version\":1,\"vocabSize\":258,\"merges\":[[97,256]]}")]
    [InlineData("{\"kind\":\"bpe\",\"version\":1,\"vocabSize\":258,\"merges\":[[97,98,99]]}")]
    [InlineData("{\"kind\":\"bpe\",\"version\":2,\"vocabSize\":257,\"merges\":[]}")]
    public void Load_MalformedDescription_NamesTokenizerJson(string content)
    {
        using var directory = new TemporaryDirectory();
        File.WriteAllText(directory.File("tokenizer.json"), content);
        AssertRejected(directory.Path, directory.File("tokenizer.json"));
    }

    /// <summary>A small valid GPT-2-style vocabulary: the 256 byte tokens, "Ġt", "he", "Ġthe", "<|endoftext|>".</summary>
    static (string Encoder, string Merges) SmallGpt2Files()
    {
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString()).ToList();
        tokens.AddRange(["Ġt", "he", "Ġthe", "<|endoftext|>"]);
        string encoder = "{" + string.Join(",", tokens.Select((token, id) => $"{System.Text.Json.JsonSerializer.Serialize(token)}:{id}")) + "}";
        return (encoder, "#version: 0.2\nĠ t\nh e\nĠt he\n");
    }

    static string WriteGpt2(TemporaryDirectory directory, string encoder, string merges)
    {
        File.WriteAllText(directory.File("encoder.json"), encoder, new UTF8Encoding(false));
        File.WriteAllText(directory.File("vocab.bpe"), merges, new UTF8Encoding(false));
        return directory.Path;
    }

    [Fact]
    public void Load_SmallGpt2Files_MergesAsRanked()
    {
        var (encoder, merges) = SmallGpt2Files();
        using var directory = new TemporaryDirectory();
        ITokenizer tokenizer = TokenizerIO.Load(WriteGpt2(directory, encoder, merges));
        Assert.Equal(260, tokenizer.VocabSize);
        Assert.Equal(259, tokenizer.EndOfTextId);
        Assert.Equal([(int)'a', 258], tokenizer.Encode("a the"));
    }

    [Theory]
    [InlineData("encoder.json", "{\"a\":")]                          // bad JSON
    [InlineData("encoder.json", "{\"a\":0,\"b\":5}")]                // id out of range
    [InlineData("encoder.json", "{\"a\":0,\"b\":0}")]                // duplicated id
    [InlineData("encoder.json", "{\"a\":\"zero\"}")]                 // id not a number
    [InlineData("vocab.bpe", "#version: 0.2\nĠt\n")]                  // one field
    [InlineData("vocab.bpe", "#version: 0.2\nĠ t he\n")]              // three fields
    [InlineData("vocab.bpe", "#version: 0.2\nx yz\n")]                // token not in the encoder
    [InlineData("vocab.bpe", "#version: 0.2\nh e\nh e\n")]            // duplicated merge
    public void Load_MalformedGpt2File_NamesTheFile(string file, string content)
    {
        var (encoder, merges) = SmallGpt2Files();
        using var directory = new TemporaryDirectory();
        WriteGpt2(directory, file == "encoder.json" ? content : encoder, file == "vocab.bpe" ? content : merges);
        AssertRejected(directory.Path, directory.File(file));
    }

    [Fact]
    public void Load_EncoderWithoutByteTokens_NamesEncoder()
    {
        using var directory = new TemporaryDirectory();
        WriteGpt2(directory, "{\"a\":0}", "#version: 0.2\n");
        var error = AssertRejected(directory.Path, directory.File("encoder.json"));
        Assert.Contains("byte", error.Message);
    }
}
