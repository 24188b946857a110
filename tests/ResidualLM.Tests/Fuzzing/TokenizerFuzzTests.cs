// Seeded fuzzing of the tokenizer files in memory: our tokenizer.json (byte, char and bpe kinds) and GPT-2's
// encoder.json + vocab.bpe pair, built small here. Each mutated file is loaded; an accepted tokenizer must then encode
// a hostile text (lone surrogates, invalid UTF-8 decoded with replacement, a long run of letters) into ids inside
// its vocabulary that decode back to the text. The only exception allowed is InvalidInputException.
using System.Runtime.InteropServices;
using System.Text;
using ResidualLM.Tests.Text;
using ResidualLM.Text;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Fuzzing;

public class TokenizerFuzzTests(ITestOutputHelper output)
{
    static byte[] Saved(ITokenizer tokenizer)
    {
        using var directory = new TemporaryDirectory();
        tokenizer.Save(directory.Path);
        return File.ReadAllBytes(directory.File(TokenizerIO.DescriptionFileName));
    }

    static readonly Lazy<byte[][]> descriptions = new(() =>
    [
        Saved(new ByteTokenizer()),
        Saved(CharTokenizer.FromText("Hello, world! café 😀 ĠĊ\t\n" + TextTestData.EnglishLike(300, seed: 1))),
        Saved(BpeTrainer.Train(TextTestData.EnglishLike(4000, seed: 2), 40)),
    ]);

    /// <summary>A GPT-2-style pair: the 256 byte tokens, a few merged ones and &lt;|endoftext|&gt;, with their merges.</summary>
    internal static (byte[] Encoder, byte[] Merges) SmallGpt2Files()
    {
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString()).ToList();
        string[] merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "a n", "Ġa n"];
        foreach (string merge in merges) tokens.Add(merge.Replace(" ", ""));
        tokens.Add("<|endoftext|>");
        string encoder = "{" + string.Join(", ", tokens.Select((token, id) => $"{System.Text.Json.JsonSerializer.Serialize(token)}: {id}")) + "}";
        return (Encoding.UTF8.GetBytes(encoder), Encoding.UTF8.GetBytes("#version: 0.2\n" + string.Join("\n", merges) + "\n"));
    }

    /// <summary>A text to encode: seeded fragments (some with lone surrogates), random bytes decoded, or a long word.</summary>
    static byte[] HostileText(Random random)
    {
        string text = random.Next(4) switch
        {
            0 => TextTestData.RandomStrings(1, random.Next(), loneSurrogates: true).First(),
            1 => Encoding.UTF8.GetString(RandomBytes(random, 1 + random.Next(200))),
            2 => new string('a', 100 + random.Next(3000)) + " the " + new string('\u0120', random.Next(50)),
            _ => TextTestData.EnglishLike(random.Next(400), random.Next()),
        };
        return Utf16(text);   // UTF-16 as it is, lone surrogates included
    }

    static byte[] Utf16(string text) => MemoryMarshal.AsBytes(text.AsSpan()).ToArray();

    static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Encodes the text; ids must be in the vocabulary and decode back to well-formed text exactly.</summary>
    static void EncodeAndDecode(ITokenizer tokenizer, byte[] utf16)
    {
        string text = new(MemoryMarshal.Cast<byte, char>(utf16));
        Assert.InRange(tokenizer.VocabSize, 1, 1 << 24);
        int[] ids;
        try { ids = tokenizer.Encode(text); }
        catch (InvalidInputException) when (tokenizer is CharTokenizer) { return; }   // a character it lacks, named in the message
        foreach (int id in ids) Assert.InRange(id, 0, tokenizer.VocabSize - 1);
        string decoded = tokenizer.Decode(ids);
        if (TextTestData.IsWellFormed(text)) Assert.Equal(text, decoded);
    }

    [Fact]
    public void LoadDescription_MutatedTokenizerJson_OnlyInvalidInputException()
    {
        byte[][] seeds = descriptions.Value;
        foreach (byte[] seed in seeds) EncodeAndDecode(TokenizerIO.FromDescription(seed, "tokenizer.json", null), Utf16("Hello, the world"));
        FuzzLoop.Run(output, "tokenizer.json", ByteMutator.CaseCount(10_000), ByteMutator.Seed(11),
            random => [ByteMutator.Mutate(seeds[random.Next(seeds.Length)], seeds, random), HostileText(random)],
            inputs => EncodeAndDecode(TokenizerIO.FromDescription(inputs[0], "tokenizer.json", null), inputs[1]));
    }

    [Fact]
    public void LoadGpt2Files_MutatedEncoderOrMerges_OnlyInvalidInputException()
    {
        var (encoder, merges) = SmallGpt2Files();
        byte[][] seeds = [encoder, merges];
        EncodeAndDecode(Gpt2Tokenizer.FromBytes(encoder, "encoder.json", merges, "vocab.bpe"), Utf16("Hello, the world"));
        FuzzLoop.Run(output, "encoder.json + vocab.bpe", ByteMutator.CaseCount(10_000), ByteMutator.Seed(12),
            random => random.Next(2) == 0
                ? [ByteMutator.Mutate(encoder, seeds, random), merges, HostileText(random)]
                : [encoder, ByteMutator.Mutate(merges, seeds, random), HostileText(random)],
            inputs => EncodeAndDecode(Gpt2Tokenizer.FromBytes(inputs[0], "encoder.json", inputs[1], "vocab.bpe"), inputs[2]));
    }

    [Fact]
    public void LoadDescription_MergesThatDoubleATokenForever_RejectedBeforeAllocating()
    {
        // Merge i joins the previous merge's token with itself: token 256 + i would be 2^(i+1) bytes long.
        string merges = string.Join(",", Enumerable.Range(0, 64).Select(i => i == 0 ? "[97,97]" : $"[{255 + i},{255 + i}]"));
        byte[] json = Encoding.UTF8.GetBytes($"{{\"kind\":\"bpe\",\"version\":1,\"vocabSize\":{256 + 64 + 1},\"merges\":[{merges}]}}");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidInputException>(() => TokenizerIO.FromDescription(json, "tokenizer.json", null));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("merges[16]", error.Message);
        Assert.Contains("65536", error.Message);
    }

    [Fact]
    public void LoadDescription_EscapedLoneSurrogate_IsInvalidInput()
    {
        byte[] json = """{"kind":"char","version":1,"vocabSize":2,"characters":["a","\ud800"]}"""u8.ToArray();
        var error = Assert.Throws<InvalidInputException>(() => TokenizerIO.FromDescription(json, "tokenizer.json", null));
        Assert.Contains("not valid Unicode", error.Message);
        byte[] encoder = """{"\udc00": 0}"""u8.ToArray();
        Assert.Throws<InvalidInputException>(() => Gpt2Tokenizer.FromBytes(encoder, "encoder.json", "#version: 0.2\n"u8.ToArray(), "vocab.bpe"));
    }

    [Fact]
    public void LoadGpt2Files_RealFilesMutated_OnlyInvalidInputException()
    {
        // GPT-2's vocabulary as Save writes it from the built-in copy (the same content as OpenAI's files).
        using var directory = new TemporaryDirectory();
        Gpt2Tokenizer.BuiltIn.Save(directory.Path);
        byte[] encoder = File.ReadAllBytes(directory.File(Gpt2Tokenizer.EncoderFileName)), merges = File.ReadAllBytes(directory.File(Gpt2Tokenizer.MergesFileName));
        // The real files are 1.5 MB: a few seeded cases, each a full load, show the limits hold at full size.
        FuzzLoop.Run(output, "GPT-2's own files", Math.Max(40, ByteMutator.CaseCount(10_000) / 250), ByteMutator.Seed(13),
            random => random.Next(2) == 0
                ? [ByteMutator.Mutate(encoder, [encoder, merges], random), merges, HostileText(random)]
                : [encoder, ByteMutator.Mutate(merges, [encoder, merges], random), HostileText(random)],
            inputs => EncodeAndDecode(Gpt2Tokenizer.FromBytes(inputs[0], "encoder.json", inputs[1], "vocab.bpe"), inputs[2]),
            allocationLimit: 256L << 20);
    }
}
