// Single elements and rows of C = A B^T computed alone equal, bit for bit, what Gemm.Multiply writes for the whole
// product: every dispatch (tiny loop, matrix-vector either way round, blocked GEMM with one or several KC slices), rows
// past the last multiple of 4 of the vector path, one and two threads.
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class GemmElementsTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        // m, k, n
        { 1, 3, 5 }, { 2, 16, 16 }, { 3, 7, 11 },          // tiny loop (m n k <= 512)
        { 1, 768, 50 }, { 1, 37, 67 }, { 1, 3072, 23 },     // matrix-vector, n % 4 != 0
        { 37, 40, 1 }, { 6, 100, 1 },                       // matrix-vector the other way round
        { 16, 768, 67 }, { 5, 300, 33 }, { 16, 1000, 40 }, { 2, 20, 30 }, { 13, 3072, 29 }, // blocked, 1 to 12 KC slices
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ElementAndRow_EqualTheWholeProduct(int m, int k, int n)
    {
        var rng = new Rng((ulong)(m * 10007 + k * 101 + n));
        float[] a = KernelCheck.Normal(rng, m * k), b = KernelCheck.Normal(rng, n * k);
        KernelCheck.ForEachThreadCount(threads =>
        {
            var c = new float[m * n];
            Gemm.Multiply(threads, a, b, c, m, k, n, transposeB: true);
            var row = new float[n];
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    float alone = GemmElements.Element(a.AsSpan(i * k, k), b.AsSpan(j * k, k), m, n, i, j);
                    Assert.True(BitConverter.SingleToInt32Bits(alone) == BitConverter.SingleToInt32Bits(c[i * n + j]),
                        $"C[{i}, {j}] of {m}x{k}x{n}, {threads.ThreadCount} threads: {alone:R} alone, {c[i * n + j]:R} in the product");
                }
                GemmElements.Row(threads, a.AsSpan(i * k, k), b, row, m, n, i);
                Assert.Equal(c.AsSpan(i * n, n).ToArray(), row);
            }
        });
    }
}
