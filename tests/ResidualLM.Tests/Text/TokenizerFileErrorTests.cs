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
    [Fact]
    public void BpeSave_WritesTheEndOfTextToken()
    {
        new BpeTokenizer([(97, 98)]).Save(folder);
        Assert.Equal("<|endoftext|>", (string?)JsonNode.Parse(File.ReadAllText(File_))!["endOfText"]);
    }

    [Fact]
    public void BpeMerges_AreLimitedInTotalLength()
    {
        // 15 merges double "a" to 32 KiB, then each merge appends "b" to the last token: every token stays under the
        // 64 KiB limit, and the running total of token lengths passes 64 MiB after about two thousand merges.
        var merges = new JsonArray();
        var lengths = new List<long>(Enumerable.Repeat(1L, 256));
        long total = 256;
        int failing = -1;
        for (int i = 0; failing < 0; i++)
        {
            int last = 255 + i;
            (int left, int right) = i == 0 ? (97, 97) : i < 15 ? (last, last) : (last, 98);
            long length = lengths[left] + lengths[right];
            total += length;
            Assert.True(length <= 1 << 16);
            if (total > 1L << 26) failing = i;
            lengths.Add(length);
            merges.Add(new JsonArray(left, right));
        }
        var e = LoadEdited(new BpeTokenizer([(97, 98)]), j =>
        {
            j["merges"] = merges;
            j["vocabSize"] = 256 + merges.Count + 1;
        });
        Assert.Equal($"merges[{failing}]", e.Field);
        Assert.Equal($"makes a token of {lengths[256 + failing]} bytes ({total} in all so far); the limits are 65536 per token and 67108864 in all", e.Reason);
    }

    [Fact]
    public void BpeMerges_AtExactlyTheLimits_AreAccepted()
    {
        // 16 merges double "a" to 64 KiB: the last token is exactly at the per-token limit. Then each merge appends
        // "b" to the previous 32 KiB-or-longer token while the next one still fits under the 64 MiB total, and merges
        // of two bytes (length 2, plus one of length 3 when an odd remainder is left) bring the total to exactly 64 MiB.
        var merges = new JsonArray();
        var lengths = new List<long>(Enumerable.Repeat(1L, 256));
        long total = 256;
        void Add(int left, int right)
        {
            long length = lengths[left] + lengths[right];
            lengths.Add(length);
            total += length;
            merges.Add(new JsonArray(left, right));
        }
        for (int i = 0; i < 16; i++) Add(i == 0 ? 97 : 255 + i, i == 0 ? 97 : 255 + i);
        Assert.Equal(1L << 16, lengths[^1]);
        int chain = 255 + 15;   // the 32 KiB token
        while (total + lengths[chain] + 1 + 3 <= 1L << 26)
        {
            Add(chain, 98);
            chain = lengths.Count - 1;
        }
        if ((((1L << 26) - total) & 1) == 1) Add(256, 99);   // "aa" + "c": 3 bytes
        for (int pair = 0; total < 1L << 26; pair++) Add(100 + pair / 256, pair % 256);   // "d"+x, "e"+x, ...: 2 bytes each
        Assert.Equal(1L << 26, total);

        new BpeTokenizer([(97, 98)]).Save(folder);
        var json = JsonNode.Parse(File.ReadAllText(File_))!.AsObject();
        json["merges"] = merges;
        json["vocabSize"] = 256 + merges.Count + 1;
        File.WriteAllText(File_, json.ToJsonString());
        Assert.Equal(256 + merges.Count + 1, TokenizerIO.Load(folder).VocabSize);
    }

    [Fact]
    public void BpeMerges_MayNotNameTheirOwnId()
    {
        // Merge i makes id 256 + i, so neither of its parts may be that id (nor any later one).
        Assert.Contains("merge 0 (97, 256) refers to an id that is not below 256",
            Assert.Throws<ArgumentException>(() => new BpeTokenizer([(97, 256)])).Message);
        Assert.Contains("merge 1 (257, 97) refers to an id that is not below 257",
            Assert.Throws<ArgumentException>(() => new BpeTokenizer([(97, 98), (257, 97)])).Message);
        Assert.Equal(258 + 1, new BpeTokenizer([(97, 255), (256, 256)]).VocabSize);
    }

    [Fact]
    public void CharVocabulary_NamesUnprintableCharactersByCodeOnly()
    {
        // A repeated character is shown as itself only when printable: controls, format characters and the
        // space, line and paragraph separators appear as their code.
        var chars = CharTokenizer.FromText("ab");
        foreach (var (character, shown) in new[]
        {
            ("\t", "U+0009"), ("\u200B", "U+200B"), ("\u00A0", "U+00A0"), (" ", "U+0020"), ("\u2028", "U+2028"),
            ("\u2029", "U+2029"), ("é", "'é' (U+00E9)"), ("\uD83D\uDE00", "'\U0001F600' (U+1F600)"),
        })
        {
            AssertError(LoadEdited(chars, j => j["characters"] = new JsonArray(character, "b", character)), "characters[2]",
                $"character {shown} appears twice");
        }
        AssertError(LoadEdited(chars, j => j["characters"] = new JsonArray("a", 98)), "characters[1]", "expected a string holding exactly one character");
        AssertError(LoadEdited(chars, j => j["characters"] = new JsonArray("a", null)), "characters[1]", "expected a string holding exactly one character");
    }

    [Fact]
    public void ReadBytes_NamesMissingUnreadableAndOversizedFiles()
    {
        string missing = temporary.File("absent.json");
        Assert.Equal(("file not found", missing), Describe(() => TokenizerIO.ReadBytes(missing)));
        string inMissingFolder = temporary.File(Path.Combine("no-such-folder", "tokenizer.json"));
        Assert.Equal(("file not found", inMissingFolder), Describe(() => TokenizerIO.ReadBytes(inMissingFolder)));
        var (reason, path) = Describe(() => TokenizerIO.ReadBytes(temporary.Path));   // a directory, not a file
        Assert.Equal(temporary.Path, path);
        Assert.StartsWith("cannot read file (", reason);

        // Exactly the limit is read; one byte more is refused (sparse files: nothing is written to disk).
        string large = temporary.File("large.json");
        using (var stream = File.Create(large)) stream.SetLength(TokenizerIO.MaxFileBytes);
        Assert.Equal(TokenizerIO.MaxFileBytes, TokenizerIO.ReadBytes(large).Length);
        using (var stream = File.OpenWrite(large)) stream.SetLength(TokenizerIO.MaxFileBytes + 1L);
        Assert.Equal(($"is {TokenizerIO.MaxFileBytes + 1L} bytes, more than the limit of {TokenizerIO.MaxFileBytes} for a tokenizer file", large),
            Describe(() => TokenizerIO.ReadBytes(large)));

        static (string Reason, string? Path) Describe(Action read)
        {
            var e = Assert.Throws<InvalidInputException>(read);
            return (e.Reason, e.FilePath);
        }
    }

    [Fact]
    public void DecodeText_ReplacesInvalidUtf8()
    {
        Assert.Equal("a\uFFFDb\uFFFD", TokenizerIO.DecodeText([0x61, 0xFF, 0x62, 0xC3]));
    }

    [Fact]
    public void WriteAtomically_AFailedWrite_LeavesTheOldFileAndNoTemporaryFile()
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(File_, "old");
        var error = Assert.Throws<IOException>(() => TokenizerIO.WriteAtomically(File_, stream =>
        {
            stream.WriteByte((byte)'n');
            throw new IOException("disk full");
        }));
        Assert.Equal("disk full", error.Message);
        Assert.Equal("old", File.ReadAllText(File_));
        Assert.Equal(["tokenizer.json"], Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void TheByteAlphabet_RefusesOtherCharacters()
    {
        Assert.True(ByteLevelAlphabet.TryToBytes("\u0120a\u010a", out byte[] bytes));
        Assert.Equal(new byte[] { 0x20, 0x61, 0x0A }, bytes);
        Assert.False(ByteLevelAlphabet.TryToBytes("a\u4e00", out _));
        Assert.False(ByteLevelAlphabet.TryToBytes(" ", out _));   // a space is written 'Ġ' in the alphabet
    }
}
