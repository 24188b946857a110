// ggml's Q8_0 and Q4_0 quantizers against blocks written by an independent implementation (tools/reference/gguf_fixture.py,
// numpy, from ggml's definitions): ties at .5, all-zero blocks, negative extremes, equal extremes of opposite signs.
// Dequantisation, and the split <-> interleaved layouts, round trip exactly.
using System.Text.Json.Nodes;
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using ResidualLM.Tests.IO;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class BlockFormatsTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var item in Cases()) data.Add(item!["name"]!.GetValue<string>());
        return data;
    }

    static JsonArray Cases() => JsonNode.Parse(File.ReadAllText(GgufFixtureTests.FixturePath("quant_cases.json")))!["cases"]!.AsArray();

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Quantizers_WriteTheBytesOfTheReference(string name)
    {
        var item = Cases().First(c => c!["name"]!.GetValue<string>() == name)!;
        float[] x = item["float32_bits"]!.AsArray().Select(v => BitConverter.UInt32BitsToSingle(v!.GetValue<uint>())).ToArray();
        foreach (var format in new[] { BlockFormat.Q8_0, BlockFormat.Q4_0 })
        {
            byte[] expected = Convert.FromHexString(item[BlockQuant.Name(format)]!.GetValue<string>());
            int blocks = x.Length / 32;
            var values = new byte[blocks * BlockQuant.ValueBytes(format)];
            var scales = new ushort[blocks];
            BlockQuant.Quantize(format, x, values, scales);
            var interleaved = new byte[expected.Length];
            BlockQuant.Interleave(format, values, scales, interleaved);
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(interleaved));
            if (scales.Any(bits => (bits & 0x7C00) == 0x7C00))
            {
                // ggml writes an infinite scale when max|x| / 127 (or / 8) overflows float16; a matrix refuses both ways.
                Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(x, 1, x.Length, format));
                Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromGgml(expected, 1, x.Length, format));
                continue;
            }
            var matrix = QuantizedMatrix.Quantize(x, 1, x.Length, format);
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(matrix.ToGgml()));
            var back = QuantizedMatrix.FromGgml(expected, 1, x.Length, format);           // split and interleaved agree
            Assert.Equal(matrix.Values, back.Values);
            Assert.Equal(matrix.Scales, back.Scales);
        }
    }

    [Fact]
    public void Dequantised_ValuesAreScaleTimesLevel()
    {
        // Hand-made blocks: Q8_0 with d = 0.5 (fp16 0x3800) and levels -128..127; Q4_0 with d = -2 (0xC000) and nibbles 0..15.
        var q8 = new byte[34]; q8[0] = 0x00; q8[1] = 0x38;
        for (int j = 0; j < 32; j++) q8[2 + j] = (byte)(sbyte)(j * 8 - 128);
        var values = new float[32];
        QuantizedMatrix.FromGgml(q8, 1, 32, BlockFormat.Q8_0).Dequantize(values);
        for (int j = 0; j < 32; j++) Assert.Equal(0.5f * (j * 8 - 128), values[j]);
        var q4 = new byte[18]; q4[0] = 0x00; q4[1] = 0xC0;
        for (int j = 0; j < 16; j++) q4[2 + j] = (byte)(j | (15 - j) << 4);
        QuantizedMatrix.FromGgml(q4, 1, 32, BlockFormat.Q4_0).Dequantize(values);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(-2f * (j - 8), values[j]);
            Assert.Equal(-2f * (15 - j - 8), values[j + 16]);
        }
    }

    [Theory]
    [InlineData(BlockFormat.Q8_0, (0.5 + 127.0 / 2048) / 127)]
    [InlineData(BlockFormat.Q4_0, (1.0 + 8.0 / 2048) / 8)]
    public void RoundTrip_StaysWithinAStep(BlockFormat format, double relativeStep)
    {
        // Q8_0: within half a step, d / 2 = max|x| / 254, of each value. Q4_0 maps the extreme to level -8 and clamps the
        // other side at +7, so a value near -extreme can be a whole step, max|x| / 8, away. Levels are chosen with d but
        // scaled by d rounded to float16 (relative error 2^-11), which moves level q by up to |q| d 2^-11.
        var rng = new Rng(11);
        float[] x = KernelCheck.Normal(rng, 32 * 40);
        var back = new float[x.Length];
        QuantizedMatrix.Quantize(x, 40, 32, format).Dequantize(back);
        for (int b = 0; b < 40; b++)
        {
            double amax = x.Skip(b * 32).Take(32).Max(v => Math.Abs(v));
            for (int j = b * 32; j < b * 32 + 32; j++)
                Assert.True(Math.Abs(x[j] - back[j]) <= amax * relativeStep * (1 + 1e-6), $"{format} [{j}]: {x[j]} -> {back[j]}");
        }
    }
}
