// Seeded fuzzing of the GGUF reader in memory: the Python fixtures and a writer-made file, mutated by ByteMutator
// and by overwriting counts, lengths, types and offsets with boundary values, are opened and every tensor is read.
// The only exception allowed is InvalidInputException; each case must finish quickly and allocate little.
using System.Buffers.Binary;
using ResidualLM.IO;
using ResidualLM.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Fuzzing;

public class GgufFuzzTests(ITestOutputHelper output)
{
    const string FileName = "fuzz.gguf";

    static readonly ulong[] BoundaryValues =
    [
        0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 31, 32, 33, 63, 64, 255, 256, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        1UL << 32, 1UL << 40, long.MaxValue, 1UL << 63, ulong.MaxValue,
    ];

    static byte[][] Seeds()
    {
        var writer = new GgufWriter();
        writer.Add("general.alignment", GgufValue.Of(16u));
        writer.Add("nested", GgufValue.Of([GgufValue.Of(new[] { true, false }), GgufValue.Of([GgufValue.Of(new[] { "x" })])]));
        writer.Add("tokens", GgufValue.Of(new[] { "a", "Ġb", "" }));
        writer.AddTensor("q4", GgufType.Q4_0, [32, 2], new byte[36]);
        writer.AddTensor("bf", GgufType.BF16, [3, 1, 2], new byte[12]);
        using var stream = new MemoryStream();
        writer.Write(stream);
        return
        [
            File.ReadAllBytes(GgufFixtureTests.FixturePath("all-types.gguf")),
            File.ReadAllBytes(GgufFixtureTests.FixturePath("v2.gguf")),
            File.ReadAllBytes(GgufFixtureTests.FixturePath("tiny-gpt2-q4_0.gguf")),
            stream.ToArray(),
        ];
    }

    /// <summary>Overwrites a u32 or u64 somewhere in the header part with a boundary value (or a nearby one).</summary>
    static byte[] OverwriteInteger(byte[] input, Random random)
    {
        byte[] bytes = (byte[])input.Clone();
        int width = random.Next(2) == 0 ? 4 : 8;
        // Header fields sit in the first few kilobytes; the tiny GPT-2's data starts at 6400.
        int span = Math.Min(bytes.Length, 6400) - width;
        if (span <= 0) return bytes;
        int position = random.Next(span + 1);
        ulong value = BoundaryValues[random.Next(BoundaryValues.Length)];
        if (random.Next(4) == 0) value += (ulong)random.Next(-2, 3);
        if (random.Next(8) == 0) value = (ulong)bytes.Length + (ulong)random.Next(-64, 65);
        if (width == 4) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(position), (uint)value);
        else BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(position), value);
        return bytes;
    }

    /// <summary>Opens a (maybe malformed) file and uses all of it; throws only if the file was rejected.</summary>
    static void OpenAndReadAll(byte[] bytes)
    {
        using GgufFile file = GgufFile.Open(bytes, FileName);
        Assert.Equal(0, file.DataOffset % file.Alignment);
        foreach (var (key, value) in file.Metadata)
        {
            Assert.Same(value, file.Get(key));
            Assert.False(string.IsNullOrEmpty(value.ToString()));
        }
        long previousEnd = 0;
        foreach (GgufTensorInfo tensor in file.Tensors.OrderBy(tensor => tensor.Offset))
        {
            Assert.Equal(0, tensor.Offset % file.Alignment);
            Assert.InRange(tensor.Offset, previousEnd, bytes.Length);
            Assert.InRange(file.DataOffset + tensor.Offset + tensor.ByteLength, 0, bytes.Length);
            previousEnd = tensor.Offset + tensor.ByteLength;
            Assert.Equal(tensor.ByteLength, file.ReadBytes(tensor.Name).Length);
            if (tensor.Type is GgufType.F32 or GgufType.F16 or GgufType.BF16) Assert.Equal(tensor.ElementCount, file.ReadFloat32(tensor.Name).Length);
        }
    }

    [Fact]
    public void Open_MutatedFiles_OnlyInvalidInputException()
    {
        byte[][] seeds = Seeds();
        foreach (byte[] seed in seeds) OpenAndReadAll(seed);
        FuzzLoop.Run(output, "GGUF", ByteMutator.CaseCount(10_000), ByteMutator.Seed(14),
            random =>
            {
                byte[] seed = seeds[random.Next(seeds.Length)];
                byte[] mutated = random.Next(2) == 0 ? ByteMutator.Mutate(seed, seeds, random) : OverwriteInteger(seed, random);
                return [random.Next(4) == 0 ? OverwriteInteger(mutated, random) : mutated];
            },
            inputs => OpenAndReadAll(inputs[0]));
    }

    [Fact]
    public void LoadModel_MutatedGpt2Files_OnlyInvalidInputException()
    {
        // The model loader on top of the reader: hyper-parameters against tensor shapes, types, the tokenizer arrays.
        byte[][] seeds = new[] { "f32", "q8_0", "q4_0" }.Select(f => File.ReadAllBytes(GgufFixtureTests.FixturePath($"tiny-gpt2-{f}.gguf"))).ToArray();
        int loaded = 0;
        FuzzLoop.Run(output, "GGUF models", ByteMutator.CaseCount(3_000), ByteMutator.Seed(15),
            random =>
            {
                byte[] seed = seeds[random.Next(seeds.Length)];
                return [random.Next(2) == 0 ? ByteMutator.Mutate(seed, seeds, random) : OverwriteInteger(seed, random)];
            },
            inputs =>
            {
                using GgufFile file = GgufFile.Open(inputs[0], FileName);
                var model = GgufModels.Load(file);
                loaded++;
                using var _ = ResidualLM.Autograd.Graph.NoGrad();
                model.Model.Forward([0, 1, 2], 1, 3);
            });
        output.WriteLine($"{loaded} of the mutated files still loaded as models");
    }
}
