// The unpacked kernel for products with few rows gives bit for bit the blocked GEMM's results (the same multiply-add
// chains over the same KC slices) on whichever path this run takes (AVX-512: 16 rows, AVX2: 8, 128 bits: 4): every row
// count it takes, inner dimensions within and across slices, column counts off the 8-column block, accumulating into C
// or not, one and two threads. On the scalar path the kernel must decline every shape, and the bit-for-bit test skips
// with the reason shown (there is no kernel to compare).
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public unsafe class GemmSmallMTests
{
    public static TheoryData<int, int> Sizes => new()
    {
        // k, n
        { 1, 9 }, { 7, 33 }, { 256, 8 }, { 257, 17 }, { 300, 64 }, { 768, 101 }, { 1000, 40 }, { 3072, 23 },
    };

    [Fact]
    public void RowLimit_IsTheLanesOfThePath_AndLargerProductsAreDeclined()
    {
        int lanes = VectorIsa.Path switch { VectorPath.Avx512 => 16, VectorPath.Avx2 => 8, VectorPath.Vector128 => 4, _ => 0 };
        Assert.True(GemmSmallM.MaxRows == lanes, $"{GemmSmallM.MaxRows} rows on {VectorIsa.Name}, expected {lanes}");
        // The scalar path has no lanes to put rows in: every shape goes to the blocked GEMM.
        for (int m = 1; m <= 17; m++) Assert.True(GemmSmallM.Supports(m, false, true) == m <= lanes, $"Supports({m}) on {VectorIsa.Name}");
        Assert.False(GemmSmallM.Supports(1, true, true));
        Assert.False(GemmSmallM.Supports(1, false, false));
    }

    [SmallMKernelTheory]
    [MemberData(nameof(Sizes))]
    public void EveryRowCount_EqualsTheBlockedGemmBitForBit(int k, int n)
    {
        var rng = new Rng((ulong)(k * 131 + n));
        using var pool = new Parallelism(2);
        for (int m = 1; m <= GemmSmallM.MaxRows; m++)
        {
            float[] a = KernelCheck.Normal(rng, m * k), b = KernelCheck.Normal(rng, n * k), start = KernelCheck.Normal(rng, m * n);
            foreach (bool accumulate in new[] { false, true })
                foreach (int threads in new[] { 1, 2 })
                {
                    float[] expected = (float[])start.Clone(), actual = (float[])start.Clone();
                    fixed (float* pa = a, pb = b, pe = expected, pc = actual)
                    {
                        var problem = new GemmProblem { A = pa, B = pb, C = pe, M = m, K = k, N = n, TransposeB = true, Accumulate = accumulate };
                        GemmDriver.Run(ref problem, pool, threads);
                        GemmSmallM.Run(pa, pb, pc, m, k, n, accumulate, pool, threads);
                    }
                    for (int i = 0; i < expected.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                            $"C[{i / n}, {i % n}] of {m}x{k}x{n}, accumulate {accumulate}, {threads} threads: {actual[i]:R} vs blocked {expected[i]:R}");
                }
        }
    }
}

/// <summary>A theory skipped, with the reason shown, on the scalar path, where the small-m kernel does not exist.</summary>
public sealed class SmallMKernelTheoryAttribute : TheoryAttribute
{
    public SmallMKernelTheoryAttribute()
    {
        if (GemmSmallM.MaxRows == 0) Skip = $"no small-m GEMM kernel on the {VectorIsa.Name} path (RowLimit_IsTheLanesOfThePath checks it declines)";
    }
}
