// Scalar twin of Gemm for tests and benchmark checks: a plain triple loop, slow and obviously right.
namespace ResidualLM.Kernels.Reference;

/// <summary>
/// Reference matrix multiply with the same arguments and semantics as <see cref="Gemm"/>. Each dot product is
/// accumulated in double and rounded to float once, so it is at least as accurate as the fast kernel.
/// </summary>
public static class GemmReference
{
    /// <summary>C (m x n) = op(A) op(B) (+ C); see <see cref="Gemm.Multiply"/>.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
                                bool transposeA = false, bool transposeB = false, bool accumulate = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (a.Length < (long)m * k || b.Length < (long)k * n || c.Length < (long)m * n)
            throw new ArgumentException("a span is shorter than its matrix");
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * n + j] : 0.0;
                for (int p = 0; p < k; p++)
                {
                    float aip = transposeA ? a[p * m + i] : a[i * k + p];   // A stored (k x m) or (m x k)
                    float bpj = transposeB ? b[j * k + p] : b[p * n + j];   // B stored (n x k) or (k x n)
                    sum += (double)aip * bpj;
                }
                c[i * n + j] = (float)sum;
            }
        }
    }

    /// <summary>Batched products; see <see cref="Gemm.MultiplyBatched"/>.</summary>
    public static void MultiplyBatched(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int batchCount, int m, int k, int n,
                                       bool transposeA = false, bool transposeB = false, bool accumulate = false, bool broadcastB = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchCount);
        int sa = m * k, sb = broadcastB ? 0 : k * n, sc = m * n;
        for (int i = 0; i < batchCount; i++)
            Multiply(a.Slice(i * sa, sa), b.Slice(i * sb, k * n), c.Slice(i * sc, sc), m, k, n, transposeA, transposeB, accumulate);
    }
}
