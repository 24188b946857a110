// Gpt2Tokenizer on a tiny byte-level vocabulary (the 256 byte tokens, "ab", "Ġa", optionally <|endoftext|>): every
// loader (FromTokens as GGUF files use it, FromRanks, FromBytes, FromDirectory and the built-in fall-back), Save, and
// each error of Gpt2VocabularyFiles and FromTokens with its file, field and words; then RecoverMerges on vocabularies
// whose merges are worked out by hand. Ids: byte b is id b (GPT-2's byte alphabet, so 'a' = 97, 'Ġ' (space) = 32).
// Expectations follow OpenAI's encoder.py (lowest-ranked pair first, leftmost among equals, as tiktoken) by hand.
using System.Text;
using System.Text.Json;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public sealed class Gpt2TokenizerEdgeTests : IDisposable
{
    readonly TemporaryDirectory temporary = new();

    public void Dispose() => temporary.Dispose();

    const string Gguf = "models/m.gguf";

    static string[] ByteTokens() => [.. Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString())];

    /// <summary>Bytes 0..255, "ab" = 256, "Ġa" = 257, and &lt;|endoftext|&gt; = 258 when asked.</summary>
    static string[] Tokens(bool endOfText = true) => [.. ByteTokens(), "ab", "Ġa", .. endOfText ? new[] { Gpt2Tokenizer.EndOfTextToken } : []];

    static readonly string[] Merges = ["a b", "Ġ a"];

    static Gpt2Tokenizer FromTokens(string[] tokens, string[] merges) => Gpt2Tokenizer.FromTokens(tokens, merges, Gguf, "tokens", "merges");

    // "<|endoftext|>" as text: the pre-tokens "<|", "endoftext", "|>", one byte token per character (no merge applies).
    static readonly int[] EndOfTextAsText = [60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116, 124, 62];

    [Fact]
    public void FromTokens_BuildsTheTokenizer()
    {
        Gpt2Tokenizer tokenizer = FromTokens(Tokens(), Merges);
        Assert.Equal((259, 258, "gpt2"), (tokenizer.VocabSize, tokenizer.EndOfTextId, tokenizer.Kind));
        // "ab" is one word; " ab" is Ġ a b, where "a b" (rank 0) beats "Ġ a" (rank 1).
        Assert.Equal([256, 32, 256], tokenizer.Encode("ab ab"));
        Assert.Equal([257], tokenizer.Encode(" a"));
        Assert.Equal("ab ab", tokenizer.Decode([256, 32, 256]));
        Assert.Equal(Merges, tokenizer.MergeStrings());
        Assert.Equal("Ġa", tokenizer.TokenString(257));
        Assert.Equal(" a"u8.ToArray(), tokenizer.TokenBytes(257).ToArray());
        Assert.Equal([258], tokenizer.Encode("<|endoftext|>", allowSpecialTokens: true));
        Assert.Equal(EndOfTextAsText, tokenizer.Encode("<|endoftext|>"));
    }

    [Fact]
    public void FromTokens_WithoutEndOfText_HasNone()
    {
        Gpt2Tokenizer tokenizer = FromTokens(Tokens(endOfText: false), Merges);
        Assert.Equal(258, tokenizer.VocabSize);
        Assert.Null(tokenizer.EndOfTextId);
        Assert.Equal(EndOfTextAsText, tokenizer.Encode("<|endoftext|>", allowSpecialTokens: true));
    }

    public static TheoryData<string[], string[], string?, string> BadTokens => new()
    {
        { [.. Tokens(), "ab"], Merges, "tokens", "token \"ab\" appears twice (ids 256 and 259)" },
        { Tokens(), ["a b", "a\nb"], "merges", "merge 1 has a line break: \"a\\nb\"" },
        { Tokens(), ["a\rb", "a b"], "merges", "merge 0 has a line break: \"a\\rb\"" },
        // Merge errors name the entry of the array (a merges file would name line n + 1).
        { Tokens(), ["ab", "Ġ a"], "merges[0]", "expected two tokens separated by one space, found 1 field(s): \"ab\"" },
        { Tokens(), ["a b", "Ġ a", "a b c"], "merges[2]", "expected two tokens separated by one space, found 3 field(s): \"a b c\"" },
        { Tokens(), ["a zz"], "merges[0]", "token \"zz\" is not in m.gguf" },
        { Tokens(), ["a b", "b a"], "merges[1]", "token \"ba\" is not in m.gguf" },
        { Tokens(), ["a b", "a b"], "merges[1]", "merge \"a b\" appears twice" },
        // Errors about the tokens name no field.
        { [.. Tokens(), " "], Merges, null, "token \" \" (id 259) has a character outside GPT-2's byte alphabet" },
        { [.. ByteTokens().Where(t => t != "A"), "ab", "Ġa"], Merges, null, "the single-byte token for byte 0x41 is missing" },
        { [.. ByteTokens().Skip(1), "ab", "Ġa"], Merges, null, "the single-byte token for byte 0x00 is missing" },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public void FromTokens_Errors_NameTheFileAndEntry(string[] tokens, string[] merges, string? field, string reason) =>
        InputErrors.AssertRefusedExactly(() => FromTokens(tokens, merges), Gguf, field, reason);

    [Fact]
    public void FromRanks_AddsEndOfTextAfterTheTokens()
    {
        string[] tokens = [.. ByteTokens(), "ab"];
        byte[][] bytes = [.. Enumerable.Range(0, 256).Select(b => new[] { (byte)b }), "ab"u8.ToArray()];
        Gpt2Tokenizer tokenizer = Gpt2Tokenizer.FromRanks(tokens, bytes, [(97, 98, 256)], "r.tiktoken");
        Assert.Equal((258, 257), (tokenizer.VocabSize, tokenizer.EndOfTextId));
        Assert.Equal("<|endoftext|>", tokenizer.TokenString(257));
        Assert.Equal("<|endoftext|>", tokenizer.Decode([257]));
        Assert.Equal([256, 257], tokenizer.Encode("ab<|endoftext|>", allowSpecialTokens: true));
        Assert.Equal(["a b"], tokenizer.MergeStrings());
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x7F)]
    [InlineData(0xFF)]
    public void FromRanks_AMissingByte_IsNamed(int missing)
    {
        // The byte's token is replaced by a two-byte one, so no token stands for that byte alone.
        string[] tokens = ByteTokens();
        byte[][] bytes = [.. Enumerable.Range(0, 256).Select(b => b == missing ? new byte[] { 0x61, 0x61 } : [(byte)b])];
        InputErrors.AssertRefusedExactly(() => Gpt2Tokenizer.FromRanks(tokens, bytes, [], "r.tiktoken"), "r.tiktoken", null,
            $"the single-byte token for byte 0x{missing:X2} is missing");
    }

    /// <summary>encoder.json for <paramref name="tokens"/> (id = index).</summary>
    static byte[] Encoder(string[] tokens) => JsonSerializer.SerializeToUtf8Bytes(tokens.Select((t, id) => (t, id)).ToDictionary(p => p.t, p => p.id));

    static Gpt2Tokenizer FromBytes(byte[] encoder, string merges) =>
        Gpt2Tokenizer.FromBytes(encoder, "dir/e.json", Encoding.UTF8.GetBytes(merges), "dir/m.txt");

    [Theory]
    [InlineData("#version: 0.2\na b\nĠ a\n", new[] { "a b", "Ġ a" })]
    [InlineData("a b\n", new[] { "a b" })]   // no header: the first line is a merge
    [InlineData("#version: 0.2\r\na b\r\n\r\n\nĠ a", new[] { "a b", "Ġ a" })]
    [InlineData("", new string[0])]
    public void ReadMerges_SkipsTheHeaderAndEmptyLines(string merges, string[] expected) =>
        Assert.Equal(expected, FromBytes(Encoder(Tokens()), merges).MergeStrings());

    public static TheoryData<string, string, string> BadMerges => new()
    {
        { "a b\n#version: 0.2\n", "line 2", "token \"#version:\" is not in e.json" },   // only the first line is a header
        { "#version\na b c", "line 2", "expected two tokens separated by one space, found 3 field(s): \"a b c\"" },
        { "a  b", "line 1", "expected two tokens separated by one space, found 3 field(s): \"a  b\"" },
        { "a ", "line 1", "expected two tokens separated by one space, found 2 field(s): \"a \"" },
        { " b", "line 1", "expected two tokens separated by one space, found 2 field(s): \" b\"" },
        { "ab", "line 1", "expected two tokens separated by one space, found 1 field(s): \"ab\"" },
        { "zz a", "line 1", "token \"zz\" is not in e.json" },
        { "a zz", "line 1", "token \"zz\" is not in e.json" },
        { "b a", "line 1", "token \"ba\" is not in e.json" },
        { "a b\n\na b", "line 3", "merge \"a b\" appears twice" },
    };

    [Theory]
    [MemberData(nameof(BadMerges))]
    public void ReadMerges_Errors_NameTheLine(string merges, string field, string reason) =>
        InputErrors.AssertRefusedExactly(() => FromBytes(Encoder(Tokens()), merges), "dir/m.txt", field, reason);

    [Theory]
    [InlineData("""{"a": "0"}""", "\"a\"", "expected an integer id, found String")]
    [InlineData("""{"a": 0.5}""", "\"a\"", "expected an integer id, found Number")]
    [InlineData("""{"a": 0, "b": 2}""", "\"b\"", "id 2 is out of range: ids must be in [0, 2) for 2 tokens")]
    [InlineData("""{"a": -1}""", "\"a\"", "id -1 is out of range: ids must be in [0, 1) for 1 tokens")]
    [InlineData("""{"a": 0, "b": 0}""", "\"b\"", "id 0 is duplicated: it is also the id of \"a\"")]
    [InlineData("""{"a": 1, "b": 1}""", "\"b\"", "id 1 is duplicated: it is also the id of \"a\"")]
    public void ReadEncoder_Errors_NameTheToken(string encoder, string field, string reason) =>
        InputErrors.AssertRefusedExactly(() => FromBytes(Encoding.UTF8.GetBytes(encoder), ""), "dir/e.json", field, reason);

    [Fact]
    public void ReadEncoder_TheLastIdIsInRange()
    {
        // {"a": 0, "b": 1} passes the id checks and fails later, for the bytes it lacks (the first is 0x00).
        InputErrors.AssertRefusedExactly(() => FromBytes("""{"a": 1, "b": 0}"""u8.ToArray(), ""), "dir/e.json", null, "the single-byte token for byte 0x00 is missing");
    }

    [Fact]
    public void Save_WritesOpenAIsFiles_AndTheyLoadBack()
    {
        string folder = temporary.File("saved");
        FromTokens(Tokens(), Merges).Save(folder);
        Assert.Equal(["encoder.json", "tokenizer.json", "vocab.bpe"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        Assert.Equal("#version: 0.2\na b\nĠ a\n"u8.ToArray(), File.ReadAllBytes(Path.Combine(folder, "vocab.bpe")));   // UTF-8, no BOM
        string encoder = File.ReadAllText(Path.Combine(folder, "encoder.json"));
        Assert.StartsWith("{\"Ā\":0,\"ā\":1,", encoder);   // byte 0 is U+0100, written unescaped
        Assert.EndsWith("\"ab\":256,\"Ġa\":257,\"<|endoftext|>\":258}", encoder);
        using (JsonDocument description = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "tokenizer.json"))))
        {
            Assert.Equal("gpt2", description.RootElement.GetProperty("kind").GetString());
            Assert.Equal(259, description.RootElement.GetProperty("vocabSize").GetInt32());
        }

        Gpt2Tokenizer reloaded = Gpt2Tokenizer.FromDirectory(folder);
        Assert.Equal((259, 258), (reloaded.VocabSize, reloaded.EndOfTextId));
        Assert.Equal(Merges, reloaded.MergeStrings());
        Assert.Equal([256, 32, 256], reloaded.Encode("ab ab"));
    }

    /// <summary>A folder holding empty files of the given names.</summary>
    string FolderWith(params string[] names)
    {
        string folder = temporary.File(string.Join("+", names.Prepend("f")));
        Directory.CreateDirectory(folder);
        foreach (string name in names) File.WriteAllText(Path.Combine(folder, name), "");
        return folder;
    }

    [Theory]
    [InlineData(true, "encoder.json", "vocab.bpe")]
    [InlineData(true, "vocab.json", "merges.txt")]
    [InlineData(false, "encoder.json")]
    [InlineData(false, "vocab.bpe")]
    [InlineData(false, "vocab.json")]
    [InlineData(false, "merges.txt")]
    [InlineData(false, "encoder.json", "merges.txt")]
    [InlineData(false, "vocab.json", "vocab.bpe")]
    [InlineData(false)]
    public void HasFiles_NeedsAMatchingPair(bool expected, params string[] names) =>
        Assert.Equal(expected, Gpt2Tokenizer.HasFiles(FolderWith(names)));

    [Theory]
    [InlineData("encoder.json", new string[0])]                                        // nothing: OpenAI's names are asked for
    [InlineData("encoder.json", new[] { "vocab.bpe", "vocab.json", "merges.txt" })]     // one of OpenAI's files: no fall-back
    [InlineData("vocab.bpe", new[] { "encoder.json", "vocab.json", "merges.txt" })]
    [InlineData("merges.txt", new[] { "vocab.json" })]                                  // Hugging Face's names when OpenAI's are absent
    public void FromDirectory_AMissingFile_IsNamed(string missing, string[] present)
    {
        string folder = FolderWith(present);
        InputErrors.AssertRefusedExactly(() => Gpt2Tokenizer.FromDirectory(folder), Path.Combine(folder, missing), null, "file not found");
    }

    [Fact]
    public void FromDirectory_HuggingFaceNames_AreReadWhenOpenAIsAreAbsent()
    {
        string folder = temporary.File("hf");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "vocab.json"), Encoder(Tokens()));
        File.WriteAllText(Path.Combine(folder, "merges.txt"), "#version: 0.2\na b\nĠ a\n");
        Assert.Equal(Merges, Gpt2Tokenizer.FromDirectory(folder).MergeStrings());
    }

    [Fact]
    public void FromDirectoryOrBuiltIn_UsesTheBuiltInOnlyWithoutAnyVocabularyFile()
    {
        Assert.Same(Gpt2Tokenizer.BuiltIn, Gpt2Tokenizer.FromDirectoryOrBuiltIn(null));
        Assert.Same(Gpt2Tokenizer.BuiltIn, Gpt2Tokenizer.FromDirectoryOrBuiltIn(FolderWith("tokenizer.json")));
        // Any one of the four files means the folder's vocabulary is meant: its missing partner is an error.
        foreach (string name in new[] { "encoder.json", "vocab.bpe", "vocab.json", "merges.txt" })
            Assert.Throws<InvalidInputException>(() => Gpt2Tokenizer.FromDirectoryOrBuiltIn(FolderWith(name)));
    }

    // RecoverMerges: the merges of extra tokens after the 256 bytes (ids 256, 257, ...), each worked by hand: a token
    // splits by merging its lowest-ranked adjacent pair first, leftmost among equals, using only lower ranks.
    public static TheoryData<string[], string[]> Recoverable => new()
    {
        // Equal ranks: the leftmost pair merges first, so "aaa" is "aa" + "a", not "a" + "aa".
        { ["aa", "aaa"], ["97 97 256", "256 97 257"] },
        // After "c d", the pair to its left ("b" + "cd") is ranked again and merges.
        { ["cd", "bcd", "abcd"], ["99 100 256", "98 256 257", "97 257 258"] },
        // After "a b", the pair to its right ("ab" + "c") is ranked again and merges.
        { ["ab", "abc", "abcd"], ["97 98 256", "256 99 257", "257 100 258"] },
        // ... and there it must lose: after "a b", "ab c" (258) is ranked above "c d" (257), so "abcd" is "ab" + "cd".
        { ["ab", "cd", "abc", "abcd"], ["97 98 256", "99 100 257", "256 99 258", "256 257 259"] },
        // "abcde": "b c" first, then "d e" (its rank moved down one place when "c" joined "b"), then "bc" + "de".
        { ["bc", "de", "bcde", "abcde"], ["98 99 256", "100 101 257", "256 257 258", "97 258 259"] },
        // 64 and 128 letters: more parts than the first 64-entry buffers hold.
        {
            [.. Enumerable.Range(1, 7).Select(k => new string('a', 1 << k))],
            ["97 97 256", "256 256 257", "257 257 258", "258 258 259", "259 259 260", "260 260 261", "261 261 262"]
        },
    };

    /// <summary>Each recovered merge as "left right merged".</summary>
    [Theory]
    [MemberData(nameof(Recoverable))]
    public void RecoverMerges_WorkedExamples(string[] extra, string[] expected) =>
        Assert.Equal(expected, Gpt2BuiltInVocabulary.RecoverMerges([.. ByteTokens(), .. extra], "v").Select(m => $"{m.Left} {m.Right} {m.Merged}"));

    [Fact]
    public void RecoverMerges_Errors_NameTheTokenAndRank()
    {
        InputErrors.AssertRefusedExactly(() => Gpt2BuiltInVocabulary.RecoverMerges([.. ByteTokens(), "ab", "ab"], "v"), "v", null, "ranks 256 and 257 have the same token \"ab\"");
        InputErrors.AssertRefusedExactly(() => Gpt2BuiltInVocabulary.RecoverMerges([.. ByteTokens(), "abc"], "v"), "v", null, "token \"abc\" (rank 256) merges into 3 parts of lower rank, not 2");
        // Without the byte tokens, "ab" has two parts that are not tokens.
        InputErrors.AssertRefusedExactly(() => Gpt2BuiltInVocabulary.RecoverMerges(["ab"], "v"), "v", null, "token \"ab\" (rank 0) has a byte that is not a token");
        InputErrors.AssertRefusedExactly(() => Gpt2BuiltInVocabulary.RecoverMerges(["a", "ab"], "v"), "v", null, "token \"ab\" (rank 1) has a byte that is not a token");
        Assert.Empty(Gpt2BuiltInVocabulary.RecoverMerges(["a", "b"], "v"));
    }
}
