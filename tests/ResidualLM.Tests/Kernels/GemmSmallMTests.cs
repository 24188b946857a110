// The unpacked kernel for products with few rows gives bit for bit the blocked GEMM's results (the same FMA chains
// over the same KC slices): every row count 1..16, inner dimensions within and across slices, column counts off the
// 8-column block, accumulating into C or not, one and two threads.
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

[Collection(ThreadCountCollection.Name)]
public unsafe class GemmSmallMTests
{
    public static TheoryData<int, int> Sizes => new()
    {
        // k, n
        { 1, 9 }, { 7, 33 }, { 256, 8 }, { 257, 17 }, { 300, 64 }, { 768, 101 }, { 1000, 40 }, { 3072, 23 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void EveryRowCount_EqualsTheBlockedGemmBitForBit(int k, int n)
    {
        if (!GemmSmallM.Supports(2, false, true)) return;                       // AVX-512 only; otherwise never used
        var rng = new Rng((ulong)(k * 131 + n));
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
                        GemmDriver.Run(ref problem, threads);
                        GemmSmallM.Run(pa, pb, pc, m, k, n, accumulate, threads);
                    }
                    for (int i = 0; i < expected.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                            $"C[{i / n}, {i % n}] of {m}x{k}x{n}, accumulate {accumulate}, {threads} threads: {actual[i]:R} vs blocked {expected[i]:R}");
                }
        }
    }
}
