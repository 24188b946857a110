// Placeholder GEMM (replaced by the blocked SIMD kernel on branch gemm). Same API and semantics.
namespace ResidualLM.Kernels;

public static class Gemm
{
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
        bool transposeA = false, bool transposeB = false, bool accumulate = false)
    {
        if (!accumulate) c.Slice(0, m * n).Clear();
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                float av = transposeA ? a[p * m + i] : a[i * k + p];
                if (!transposeB)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(b.Slice(p * n, n), av, c.Slice(i * n, n), c.Slice(i * n, n));
                else
                    for (int j = 0; j < n; j++) c[i * n + j] += av * b[j * k + p];
            }
    }

    public static void MultiplyBatched(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int batchCount, int m, int k, int n,
        bool transposeA = false, bool transposeB = false, bool accumulate = false, bool broadcastB = false)
    {
        for (int i = 0; i < batchCount; i++)
            Multiply(a.Slice(i * m * k, m * k), b.Slice(broadcastB ? 0 : i * k * n, k * n), c.Slice(i * m * n, m * n), m, k, n, transposeA, transposeB, accumulate);
    }
}
