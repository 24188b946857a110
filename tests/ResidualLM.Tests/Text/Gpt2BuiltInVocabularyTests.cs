// The built-in GPT-2 vocabulary: equal to OpenAI's encoder.json + vocab.bpe (when ../shared has them), merges recovered
// from ranks on small vocabularies whose merges are known, tiktoken text parsing with its errors, and sharing.
using System.Text;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class Gpt2BuiltInVocabularyTests
{
    [SharedDataFact("gpt2/encoder.json", "gpt2/vocab.bpe")]
    public void BuiltIn_EqualsOpenAIFiles_TokenForTokenAndMergeForMerge()
    {
        Gpt2Tokenizer builtIn = Gpt2Tokenizer.BuiltIn;
        var encoder = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(SharedData.File("gpt2/encoder.json")!)).RootElement;
        Assert.Equal(encoder.EnumerateObject().Count(), builtIn.VocabSize);
        foreach (var entry in encoder.EnumerateObject())
            Assert.Equal(entry.Name, builtIn.TokenString(entry.Value.GetInt32()));
        Assert.Equal(50256, builtIn.EndOfTextId);

        // vocab.bpe: a "#version" line, then one merge per line in rank order, then a final newline.
        string[] lines = File.ReadAllText(SharedData.File("gpt2/vocab.bpe")!, Encoding.UTF8).Split('\n');
        Assert.StartsWith("#version", lines[0]);
        string[] merges = [.. lines.Skip(1).Where(line => line.Length > 0)];
        Assert.Equal(50_000, merges.Length);
        Assert.Equal(merges, builtIn.MergeStrings());
    }

    [Fact]
    public void BuiltIn_IsGpt2_SharedAndSafeAcrossThreads()
    {
        // Many threads ask for it at once: one instance, and encoding in parallel gives what encoding in turn gives.
        var instances = new Gpt2Tokenizer[8];
        Parallel.For(0, instances.Length, i => instances[i] = Gpt2Tokenizer.BuiltIn);
        Assert.All(instances, instance => Assert.Same(Gpt2Tokenizer.BuiltIn, instance));
        Gpt2Tokenizer tokenizer = Gpt2Tokenizer.BuiltIn;
        Assert.Equal((50257, 50256, "gpt2"), (tokenizer.VocabSize, tokenizer.EndOfTextId, tokenizer.Kind));

        string[] texts = [.. Gpt2RandomText.Strings(2000, seed: 31)];
        int[][] sequential = [.. texts.Select(text => tokenizer.Encode(text))];
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = tokenizer.Encode(texts[i]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(sequential[i], parallel[i]);
    }

    /// <summary>Tiktoken text for tokens in rank order (explicit ranks, or implicit after a "Capacity" line).</summary>
    static byte[] Tiktoken(IEnumerable<byte[]> tokens, bool explicitRanks)
    {
        var lines = tokens.Select((token, rank) => Convert.ToBase64String(token) + (explicitRanks ? $" {rank}" : ""));
        return Encoding.UTF8.GetBytes((explicitRanks ? "" : $"Capacity: {tokens.Count()}\n") + string.Join("\n", lines) + "\n");
    }

    static IEnumerable<byte[]> AllBytes() => Enumerable.Range(0, 256).Select(b => new[] { (byte)b });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RecoverMerges_TrainedBpeVocabulary_GivesItsMerges(bool explicitRanks)
    {
        // A vocabulary learned here by BpeTrainer, written as tiktoken ranks (its ids), must give its merges back. Its
        // learned tokens overlap ("the", "th", "he", " the"...), so the lowest-rank-first rule decides the split.
        BpeTokenizer trained = BpeTrainer.Train(TextTestData.EnglishLike(40_000, seed: 32), 300);
        int count = trained.VocabSize - 1;   // its last id is <|endoftext|>, which FromRanks adds after the ranks
        var tokenBytes = Enumerable.Range(0, count).Select(id => trained.TokenBytes(id).ToArray()).ToList();
        byte[][] parsed = Gpt2BuiltInVocabulary.ParseRanks(Tiktoken(tokenBytes, explicitRanks), "test.tiktoken");
        Assert.Equal(tokenBytes, parsed);

        var merges = Gpt2BuiltInVocabulary.RecoverMerges([.. parsed.Select(b => ByteLevelAlphabet.ToText(b))], "test.tiktoken");
        Assert.Equal(count - 256, merges.Length);
        Assert.Equal(trained.Merges.Select((m, rank) => (m.Left, m.Right, 256 + rank)), merges);

        // Encoding with the recovered merges matches the trained tokenizer, <|endoftext|> included.
        var rebuilt = Gpt2Tokenizer.FromRanks([.. parsed.Select(b => ByteLevelAlphabet.ToText(b))], parsed, merges, "test.tiktoken");
        Assert.Equal(trained.EndOfTextId, rebuilt.EndOfTextId);
        foreach (string text in TextTestData.RandomStrings(300, seed: 33).Append(TextTestData.EnglishLike(3000, seed: 34)))
            Assert.Equal(trained.Encode(text, allowSpecialTokens: true), rebuilt.Encode(text, allowSpecialTokens: true));
    }

    [Fact]
    public void ParseRanks_RanksOutOfOrder_TakesTheirRanks()
    {
        byte[] text = Encoding.UTF8.GetBytes("YQ== 1\nYg== 0\n\r\nYWI= 2\r\n");   // "a" 1, "b" 0, "ab" 2
        Assert.Equal([[(byte)'b'], [(byte)'a'], "ab"u8.ToArray()], Gpt2BuiltInVocabulary.ParseRanks(text, "t"));
    }

    public static TheoryData<string, string?, string> MalformedRanks => new()
    {
        { "YQ== x\n", "line 1", "expected a base64 token, a space and a rank" },
        { " x\n", "line 1", "expected a base64 token, a space and a rank" },          // the rank is read even after an empty token
        { " 0\n", "line 1", "the token is not non-empty base64" },
        { "YQ== 0\nYg== 0\n", "line 2", "rank 0 appears twice" },
        { "YQ== 1\n", null, "no token has rank 0 (ranks must cover 0..1)" },
        { "!!!! 0\n", "line 1", "the token is not non-empty base64" },
        { "YQ== 16777216\n", "line 1", "rank 16777216 is out of range: at most 16777215" },
        { "YQ== 99999999\n", "line 1", "rank 99999999 is out of range: at most 16777215" },
        { new string('A', 87_388) + " 0\n", "line 1", "the token is longer than 65536 bytes" },
        { "Capacity: 2\nYQ==\n\nCapacity: 3\n", "line 4", "the token is not non-empty base64" },   // a header line is only the first
    };

    [Theory]
    [MemberData(nameof(MalformedRanks))]
    public void ParseRanks_Malformed_NamesTheLineAndWhatIsWrong(string text, string? field, string reason)
    {
        var error = Assert.Throws<InvalidInputException>(() => Gpt2BuiltInVocabulary.ParseRanks(Encoding.UTF8.GetBytes(text), "bad.tiktoken"));
        Assert.Equal(("bad.tiktoken", field, reason), (error.FilePath, error.Field, error.Reason));
    }

    [Fact]
    public void ParseRanks_ALongTokenWithinTheLimit_IsRead()
    {
        // 1,000 bytes of base64 decode to 750, past the parser's 256-byte stack buffer.
        byte[] token = [.. Enumerable.Range(0, 750).Select(i => (byte)(i * 7))];
        byte[] text = Encoding.UTF8.GetBytes(Convert.ToBase64String(token) + " 0\n");
        Assert.Equal(token, Assert.Single(Gpt2BuiltInVocabulary.ParseRanks(text, "t")));
    }

    [Fact]
    public void RecoverMerges_TokenWithoutTwoLowerParts_IsRejected()
    {
        string[] bytes = [.. AllBytes().Select(b => ByteLevelAlphabet.ToText(b))];
        // "abc" with neither "ab" nor "bc" below it stays three parts; a token twice is no vocabulary either.
        var error = Assert.Throws<InvalidInputException>(() => Gpt2BuiltInVocabulary.RecoverMerges([.. bytes, "abc"], "v"));
        Assert.Contains("3 parts", error.Message);
        error = Assert.Throws<InvalidInputException>(() => Gpt2BuiltInVocabulary.RecoverMerges([.. bytes, "ab", "ab"], "v"));
        Assert.Contains("same token", error.Message);
        // With "bc" ranked after "abc", "abc" still cannot use it.
        error = Assert.Throws<InvalidInputException>(() => Gpt2BuiltInVocabulary.RecoverMerges([.. bytes, "abc", "bc"], "v"));
        Assert.Contains("\"abc\"", error.Message);
        Assert.Equal([(97, 256, 257)], Gpt2BuiltInVocabulary.RecoverMerges([.. bytes, "bc", "abc"], "v").Skip(1));
    }
}
