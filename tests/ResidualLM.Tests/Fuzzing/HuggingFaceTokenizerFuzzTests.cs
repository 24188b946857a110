// Seeded fuzzing of Hugging Face tokenizer.json files: the six fixture files mutated byte by byte (and spliced into
// each other) are loaded through TokenizerIO; an accepted tokenizer must encode a hostile text into ids inside its
// vocabulary that decode without error. The only exception allowed is InvalidInputException.
using System.Runtime.InteropServices;
using System.Text;
using ResidualLM.Tests.Text;
using ResidualLM.Text;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Fuzzing;

public class HuggingFaceTokenizerFuzzTests(ITestOutputHelper output)
{
    static readonly Lazy<byte[][]> seeds = new(() =>
        [.. HuggingFaceTokenizerTests.Styles.Select(style => File.ReadAllBytes(Path.Combine(HuggingFaceTokenizerTests.FixtureDirectory, style, "tokenizer.json")))]);

    static byte[] HostileText(Random random)
    {
        string text = random.Next(4) switch
        {
            0 => TextTestData.RandomStrings(1, random.Next(), loneSurrogates: true).First(),
            1 => Encoding.UTF8.GetString(RandomBytes(random, 1 + random.Next(200))),
            2 => new string('a', 100 + random.Next(3000)) + " <|im_start|> <s>" + new string('\u2581', random.Next(50)),
            _ => TextTestData.EnglishLike(random.Next(400), random.Next()) + "<|endoftext|>😀 12345",
        };
        return MemoryMarshal.AsBytes(text.AsSpan()).ToArray();
    }

    static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    static void EncodeAndDecode(byte[] file, byte[] utf16)
    {
        var tokenizer = (HuggingFaceTokenizer)TokenizerIO.FromDescription(file, "tokenizer.json", null);
        string text = new(MemoryMarshal.Cast<byte, char>(utf16));
        foreach (bool special in new[] { false, true })
        {
            int[] ids = tokenizer.Encode(text, allowSpecialTokens: special, addSpecialTokens: special);
            foreach (int id in ids) Assert.InRange(id, 0, tokenizer.VocabSize - 1);
            tokenizer.Decode(ids, skipSpecialTokens: special);
        }
    }

    [Fact]
    public void Load_MutatedTokenizerJson_OnlyInvalidInputException()
    {
        byte[][] files = seeds.Value;
        foreach (byte[] file in files) EncodeAndDecode(file, MemoryMarshal.AsBytes("Hello, the world 😀".AsSpan()).ToArray());
        FuzzLoop.Run(output, "Hugging Face tokenizer.json", ByteMutator.CaseCount(5_000), ByteMutator.Seed(14),
            random => [ByteMutator.Mutate(files[random.Next(files.Length)], files, random), HostileText(random)],
            inputs => EncodeAndDecode(inputs[0], inputs[1]), allocationLimit: 16L << 20);
    }
}
