// Seeded fuzzing of the safetensors reader in memory: valid files are mutated (bit flips, overwrites, truncations,
// splices, huge header lengths and JSON numbers, deleted or repeated fields) and read. The only exception allowed is
// InvalidInputException; each case must finish quickly and allocate little. RLM_FUZZ_CASES raises the case count,
// RLM_FUZZ_SEED changes the cases.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using ResidualLM.IO;
using Xunit;
using Xunit.Abstractions;
using static ResidualLM.Tests.IO.SafeTensorsBuilder;

namespace ResidualLM.Tests.IO;

public partial class SafeTensorsFuzzTests(ITestOutputHelper output)
{
    internal static int CaseCount(int defaultCount) =>
        int.TryParse(Environment.GetEnvironmentVariable("RLM_FUZZ_CASES"), out int count) && count > 0 ? count : defaultCount;

    /// <summary>The fixed seed, or RLM_FUZZ_SEED to explore other cases (a failure message repeats the input in hex).</summary>
    internal static int Seed(int defaultSeed) =>
        int.TryParse(Environment.GetEnvironmentVariable("RLM_FUZZ_SEED"), out int seed) ? seed : defaultSeed;

    static readonly string[] HugeNumbers =
    [
        "18446744073709551615", "18446744073709551616", "9223372036854775807", "9223372036854775808", "4294967296",
        "-1", "1e309", "0.5", "1e2", "99999999999999999999999999999", "-0", "2147483648", "100000000",
    ];

    static readonly string[] HeaderTokens =
    [
        "\\ud800", "\\udc00x", "\\u0000", "\\\"", "\"__metadata__\":{},", "\"__metadata__\":{\"k\":1},", "[[[[[[[[[[[[[[[[[[",
        "{", "}", "[", "]", ",", ":", "null", "true", "\"a\":{},", "\u00e9", "\t", "\n", "\"dtype\":\"F32\",",
    ];

    static readonly byte[] InterestingBytes = "{}[]\",:0123456789-. e"u8.ToArray().Concat(new byte[] { 0x00, 0xFF, 0x80, 0xC3, 0x7F }).ToArray();

    static List<byte[]> Seeds()
    {
        static byte[] Write(IEnumerable<(string, int[], ReadOnlyMemory<float>)> tensors, Dictionary<string, string>? metadata = null)
        {
            using var stream = new MemoryStream();
            SafeTensors.Write(stream, tensors, metadata);
            return stream.ToArray();
        }
        var seeds = new List<byte[]>
        {
            Write([("w", [2, 3], new float[] { 1, 2, 3, 4, 5, 6 })]),
            Write([("h.0.attn.c_attn.weight", [4, 3], new float[12]), ("h.0.ln_1.bias", [4], new float[] { 1, -1, 0.5f, 2 }), ("s", [], new float[] { 7 })],
                new Dictionary<string, string> { ["format"] = "pt", ["step"] = "12" }),
            Write([("empty", [0], Array.Empty<float>()), ("x", [1, 1, 1, 2], new float[] { float.NaN, -0f })], new Dictionary<string, string> { ["k"] = "ünï" }),
            Write([]),
            Build($"{{{Entry("h", "F16", [3], 0, 6)},{Entry("b", "BF16", [2, 2], 6, 14)},{Entry("d", "F64", [1], 14, 22)},{Entry("i", "I64", [1], 22, 30)}}}",
                [.. Halves(0x3C00, 0x7E00, 0x0001), .. Halves(0x3F80, 0xC040, 1, 2), .. BitConverter.GetBytes(0.25), .. BitConverter.GetBytes(5L)]),
        };
        return seeds;
    }

    [Fact]
    public void Read_MutatedFiles_OnlyInvalidInputException()
    {
        int cases = CaseCount(10_000);
        List<byte[]> seeds = Seeds();
        foreach (byte[] seed in seeds) Check(seed, "seed");
        var random = new Random(Seed(20240917));
        int accepted = 0;
        long slowestTicks = 0;
        var watch = Stopwatch.StartNew();
        for (int index = 0; index < cases; index++)
        {
            byte[] bytes = seeds[random.Next(seeds.Count)];
            int mutations = 1 + random.Next(3);
            for (int step = 0; step < mutations; step++) bytes = Mutate(bytes, seeds, random);

            long started = watch.ElapsedTicks;
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            if (Check(bytes, $"case {index}")) accepted++;
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            slowestTicks = Math.Max(slowestTicks, watch.ElapsedTicks - started);
            // A reader that trusted a header number would allocate far beyond the input size.
            Assert.True(allocated < (2 << 20) + 64L * bytes.Length, $"case {index}: {allocated} bytes allocated for a {bytes.Length}-byte input");
        }
        double seconds = watch.Elapsed.TotalSeconds;
        output.WriteLine($"{cases} cases in {seconds:F2} s ({cases / seconds:F0} cases/s), {accepted} still valid, slowest {slowestTicks * 1000.0 / Stopwatch.Frequency:F1} ms");
        Assert.True(slowestTicks < 2 * Stopwatch.Frequency, "a single case took over 2 seconds");
        Assert.InRange(accepted, 1, cases - 1); // the mutations must both break files and leave some valid
    }

    /// <summary>Reads every tensor of a (possibly malformed) file; returns whether it was accepted.</summary>
    static bool Check(byte[] bytes, string label)
    {
        try
        {
            using SafeTensorsFile file = SafeTensors.Read(bytes, "fuzz.safetensors");
            long covered = 0;
            long dataLength = bytes.Length - 8 - (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            foreach (string name in file.Names)
            {
                TensorInfo info = file.Info(name);
                Assert.InRange(info.End, info.Begin, dataLength);
                covered += info.ByteLength;
                if (info.DType is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64)
                    Assert.Equal(info.ElementCount, file.ReadFloat32(name).Length);
                else Assert.Throws<InvalidInputException>(() => file.ReadFloat32(name));
            }
            Assert.Equal(dataLength, covered);
            return true;
        }
        catch (InvalidInputException exception)
        {
            Assert.Equal("fuzz.safetensors", exception.FilePath);
            return false;
        }
        catch (Exception exception) when (exception is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"{label}: {exception.GetType().Name}: {exception.Message}\ninput: {Convert.ToHexString(bytes)}");
            return false;
        }
    }

    static byte[] Mutate(byte[] input, List<byte[]> seeds, Random random)
    {
        byte[] bytes = (byte[])input.Clone();
        switch (random.Next(11))
        {
            case 0: // flip a few bits anywhere
                for (int flips = 1 + random.Next(4); flips > 0 && bytes.Length > 0; flips--)
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1: // overwrite bytes with JSON punctuation, digits or invalid UTF-8
                for (int writes = 1 + random.Next(3); writes > 0 && bytes.Length > 0; writes--)
                    bytes[random.Next(bytes.Length)] = InterestingBytes[random.Next(InterestingBytes.Length)];
                return bytes;
            case 2: // truncate
                return bytes[..random.Next(bytes.Length + 1)];
            case 3: // splice the start of this file with the end of another
            {
                byte[] other = seeds[random.Next(seeds.Count)];
                return [.. bytes.AsSpan(0, random.Next(bytes.Length + 1)), .. other.AsSpan(random.Next(other.Length + 1))];
            }
            case 4: // a huge, tiny or off-by-one header length
            {
                if (bytes.Length < 8) return bytes;
                ulong current = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
                ulong[] choices = [ulong.MaxValue, 1UL << 63, 100_000_001, 100_000_000, (ulong)random.NextInt64(), 0, 1, current + 1, current - 1, current + 8, (ulong)bytes.Length];
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, choices[random.Next(choices.Length)]);
                return bytes;
            }
            case 5: // replace a JSON number by a huge or odd one
                return EditHeader(bytes, random, header =>
                {
                    MatchCollection numbers = NumberPattern().Matches(header);
                    if (numbers.Count == 0) return header;
                    Match number = numbers[random.Next(numbers.Count)];
                    return string.Concat(header.AsSpan(0, number.Index), HugeNumbers[random.Next(HugeNumbers.Length)], header.AsSpan(number.Index + number.Length));
                });
            case 6: // delete or repeat a field or a whole entry
                return EditHeader(bytes, random, header =>
                {
                    MatchCollection fields = FieldPattern().Matches(header);
                    if (fields.Count == 0) return header;
                    Match field = fields[random.Next(fields.Count)];
                    string replacement = random.Next(2) == 0 ? "" : field.Value + field.Value;
                    return string.Concat(header.AsSpan(0, field.Index), replacement, header.AsSpan(field.Index + field.Length));
                });
            case 7: // insert random bytes
            {
                int position = random.Next(bytes.Length + 1);
                var inserted = new byte[1 + random.Next(8)];
                random.NextBytes(inserted);
                return [.. bytes.AsSpan(0, position), .. inserted, .. bytes.AsSpan(position)];
            }
            case 8: // change a dtype or a shape's nesting
                return EditHeader(bytes, random, header =>
                {
                    string[] swaps = ["\"F32\"", "\"F16\"", "\"BF16\"", "\"F64\"", "\"I64\"", "\"U8\"", "\"F4\"", "[]", "[[1]]", "{}", "null", "\"\""];
                    MatchCollection values = ValuePattern().Matches(header);
                    if (values.Count == 0) return header;
                    Match value = values[random.Next(values.Count)];
                    return string.Concat(header.AsSpan(0, value.Index), swaps[random.Next(swaps.Length)], header.AsSpan(value.Index + value.Length));
                });
            case 9: // insert a JSON token (escapes, nesting, duplicates) into the header text
                return EditHeader(bytes, random, header =>
                {
                    int position = random.Next(header.Length + 1);
                    return header.Insert(position, HeaderTokens[random.Next(HeaderTokens.Length)]);
                });
            default: // grow or shrink the data buffer
                return random.Next(2) == 0 ? [.. bytes, .. new byte[1 + random.Next(16)]] : bytes[..Math.Max(0, bytes.Length - 1 - random.Next(8))];
        }
    }

    /// <summary>Applies a text edit to the header and, most of the time, fixes the length prefix to match.</summary>
    static byte[] EditHeader(byte[] bytes, Random random, Func<string, string> edit)
    {
        if (bytes.Length < 8) return bytes;
        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (declared > (ulong)(bytes.Length - 8)) return bytes;
        string header = Encoding.UTF8.GetString(bytes, 8, (int)declared);
        byte[] edited = Encoding.UTF8.GetBytes(edit(header));
        ulong length = random.Next(4) == 0 ? declared : (ulong)edited.Length;
        return Raw(length, [.. edited, .. bytes.AsSpan(8 + (int)declared)]);
    }

    [GeneratedRegex("-?[0-9]+")]
    private static partial Regex NumberPattern();

    [GeneratedRegex("\"[^\"]*\":(\"[^\"]*\"|\\[[^\\]]*\\]|\\{[^{}]*\\})")]
    private static partial Regex FieldPattern();

    [GeneratedRegex("\"[A-Z0-9_]+\"|\\[[^\\]]*\\]")]
    private static partial Regex ValuePattern();
}
