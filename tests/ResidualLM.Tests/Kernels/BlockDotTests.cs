// Block-quantised products (Q8_0, Q4_0 weights; Q8_0 activations) against the scalar twin, bit for bit, on every integer
// loop this machine can run, with one and two threads; and against a float64 product of the dequantised weights, within
// the error the activation quantisation allows. Weights come from ggml's layout with hostile bytes (-128, subnormal and
// negative scales) as well as from the quantizer.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class BlockDotTests
{
    public static TheoryData<BlockDotPath> Paths()
    {
        var data = new TheoryData<BlockDotPath>();
        foreach (var path in Enum.GetValues<BlockDotPath>())
            if (BlockDot.IsSupported(path)) data.Add(path);
        return data;
    }

    [Fact]
    public void DefaultPath_IsOneThisMachineRuns() => Assert.True(BlockDot.IsSupported(BlockDot.Path), $"{BlockDot.Path}");

    public static TheoryData<int, int, int> Shapes => new()
    {
        // m, n, k: one block, a tail of 1..7 blocks after whole groups of 8, GPT-2's widths, rows that split unevenly
        { 1, 1, 32 }, { 1, 5, 64 }, { 2, 7, 224 }, { 1, 9, 256 }, { 3, 13, 288 }, { 1, 33, 768 }, { 5, 6, 800 }, { 17, 3, 96 }, { 1, 70, 3072 },
    };

    static QuantizedMatrix RandomWeights(Rng rng, int n, int k, BlockFormat format)
    {
        var w = KernelCheck.WithExtremes(rng, n * k, 0.02f);
        return QuantizedMatrix.Quantize(w, n, k, format);
    }

    // ggml blocks with every byte value and scales of every kind a file may hold: subnormal, negative, large.
    static QuantizedMatrix HostileWeights(Rng rng, int n, int k, BlockFormat format)
    {
        int blocks = n * (k / 32), blockBytes = BlockQuant.GgmlBlockBytes(format);
        var raw = new byte[blocks * blockBytes];
        for (int b = 0; b < blocks; b++)
        {
            ushort scale = (b % 4) switch
            {
                0 => (ushort)(1 + (uint)rng.NextUInt64() % 0x3FF),               // subnormal
                1 => (ushort)(0x8000 | (0x2000 + (uint)rng.NextUInt64() % 0x1000)), // negative normal
                2 => (ushort)(0x5800 + (uint)rng.NextUInt64() % 0x400),             // ~128..256
                _ => (ushort)(0x1C00 + (uint)rng.NextUInt64() % 0x1000),            // ~0.004..0.06
            };
            raw[b * blockBytes] = (byte)scale; raw[b * blockBytes + 1] = (byte)(scale >> 8);
            for (int j = 2; j < blockBytes; j++) raw[b * blockBytes + j] = (byte)(uint)rng.NextUInt64();
            if (format == BlockFormat.Q8_0) raw[b * blockBytes + 2 + b % 32] = 0x80;   // -128, which the quantizer never writes
        }
        return QuantizedMatrix.FromGgml(raw, n, k, format);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void EveryPath_EqualsTheScalarTwin_BitForBit(BlockDotPath path)
    {
        foreach (var format in new[] { BlockFormat.Q8_0, BlockFormat.Q4_0 })
            foreach (var (m, n, k) in ShapeList())
                foreach (bool hostile in new[] { false, true })
                    KernelCheck.ForEachThreadCount(threads =>
                    {
                        var rng = new Rng((ulong)(m * 7919 + n * 104729 + k + (hostile ? 1 : 0)));
                        var w = hostile ? HostileWeights(rng, n, k, format) : RandomWeights(rng, n, k, format);
                        var x = KernelCheck.WithExtremes(rng, m * k, 1f);
                        if (k >= 64) x.AsSpan(32, 32).Clear();                             // an all-zero block: scale 0
                        float[] bias = n % 2 == 0 ? KernelCheck.Normal(rng, n) : [];
                        var y = new float[m * n];
                        var expected = new float[m * n];
                        using var scratch = new QuantizedActivations();
                        BlockDot.MultiplyOn(path, threads, x, m, w, bias, y, scratch);
                        BlockDotReference.Multiply(x, m, w, bias, expected);
                        for (int i = 0; i < y.Length; i++)
                            if (BitConverter.SingleToInt32Bits(y[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                                Assert.Fail($"{path} {format} {(hostile ? "hostile" : "quantised")} ({m} x {k}) ({n} x {k}) threads {threads.ThreadCount}: element {i} is {y[i]:R}, the twin gives {expected[i]:R}");
                    });
    }

    static IEnumerable<(int, int, int)> ShapeList()
    {
        foreach (var row in Shapes) yield return ((int)row[0], (int)row[1], (int)row[2]);
    }

    [Theory]
    [InlineData(BlockFormat.Q8_0)]
    [InlineData(BlockFormat.Q4_0)]
    public void Product_IsCloseToTheExactProductOfTheDequantisedWeights(BlockFormat format)
    {
        // The only error left is the activations' rounding: |q d - x| <= d / 2, and d's rounding to float16 moves q d by
        // at most 127 d 2^-11 (0.062 d); so |error| <= sum_p |w_p| 0.57 d_x,p, plus the float sums' rounding.
        const int m = 3, n = 40, k = 800;
        var rng = new Rng(42);
        var w = RandomWeights(rng, n, k, format);
        var dense = new float[n * k];
        w.Dequantize(dense);
        var x = KernelCheck.Normal(rng, m * k);
        var y = new float[m * n];
        using var scratch = new QuantizedActivations();
        BlockDot.Multiply(KernelCheck.Threads, x, m, w, [], y, scratch);
        for (int i = 0; i < m; i++)
        {
            var (_, dx) = BlockDotReference.QuantizeActivations(x.AsSpan(i * k, k));
            for (int j = 0; j < n; j++)
            {
                double exact = 0, bound = 0;
                for (int p = 0; p < k; p++)
                {
                    exact += (double)dense[j * k + p] * x[i * k + p];
                    bound += Math.Abs(dense[j * k + p]) * (dx[p / 32] * 0.57 + 1e-6 * Math.Abs(x[i * k + p]));
                }
                Assert.True(Math.Abs(y[i * n + j] - exact) <= bound,
                    $"{format} ({i}, {j}): {y[i * n + j]} against {exact}, allowed {bound}");
            }
        }
    }

    [Fact]
    public void Activations_AreQuantisedAsGgmlDoes()
    {
        // A block whose largest magnitude is 127 has d = 1, so q = roundf(x): halves go away from zero.
        var x = new float[64];
        x[0] = 127f; x[1] = 2.5f; x[2] = -2.5f; x[3] = 0.49999997f; x[4] = -126.5f; x[5] = 1.5f;
        x[32] = -0.5f;                                                              // block 2: d = 0.5/127, x / d = -127
        x[33] = 0.25f;                                                              // 63.5 -> 64
        using var scratch = new QuantizedActivations();
        scratch.Quantize(x, 1, 64);
        Assert.Equal(new sbyte[] { 127, 3, -3, 0, -127, 2 }, scratch.Values.AsSpan(0, 6).ToArray());
        Assert.Equal(new sbyte[] { -127, 64 }, scratch.Values.AsSpan(32, 2).ToArray());
        Assert.Equal(1f, scratch.Scales[0]);
        Assert.Equal((float)(Half)(0.5f / 127f), scratch.Scales[1]);
        Assert.Equal(127 + 3 - 3 + 0 - 127 + 2, scratch.Sums[0]);
        Assert.Equal(-127 + 64, scratch.Sums[1]);
    }

    [Fact]
    public void BadShapes_AreRejected()
    {
        var w = QuantizedMatrix.Quantize(new float[64], 2, 32, BlockFormat.Q8_0);
        using var scratch = new QuantizedActivations();
        Assert.Throws<ArgumentException>(() => BlockDot.Multiply(KernelCheck.Threads, new float[33], 1, w, [], new float[2], scratch));
        Assert.Throws<ArgumentException>(() => BlockDot.Multiply(KernelCheck.Threads, new float[32], 1, w, new float[3], new float[2], scratch));
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(new float[40], 1, 40, BlockFormat.Q8_0));
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize([float.NaN, .. new float[31]], 1, 32, BlockFormat.Q4_0));
        var infiniteScale = new byte[34]; infiniteScale[1] = 0x7C;                  // float16 +inf
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromGgml(infiniteScale, 1, 32, BlockFormat.Q8_0));
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromGgml(new byte[35], 1, 32, BlockFormat.Q8_0));
    }
}
