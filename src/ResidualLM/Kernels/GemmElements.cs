// Single elements and rows of a product C (m x n) = A B^T (A (m x k) row-major, B stored (n x k), no accumulation), each
// computed alone with the arithmetic the whole product would use: bit for bit what Gemm.Multiply writes there. Lets the
// decoder compute only the last row of a prefill's logits, and the screened argmax recompute a few logits exactly.
namespace ResidualLM.Kernels;

static unsafe class GemmElements
{
    /// <summary>C[i, j]: <paramref name="aRow"/> is row i of A, <paramref name="bRow"/> row j of B (k each).</summary>
    public static float Element(ReadOnlySpan<float> aRow, ReadOnlySpan<float> bRow, int m, int n, int i, int j)
    {
        int k = aRow.Length;
        if (bRow.Length != k) throw new ArgumentException("rows of A and B differ in length");
        if (k == 0) return 0f;
        fixed (float* a = aRow, b = bRow)
        {
            // The dispatch of Gemm.Product: tiny loop, matrix-vector either way round, blocked GEMM.
            if ((long)m * n * k <= 512)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += a[p] * b[p];
                return sum;
            }
            if (m == 1) return GemmVector.Dot(a, b, k, GemmVector.IsWideRow(j, n));
            if (n == 1) return GemmVector.Dot(b, a, k, GemmVector.IsWideRow(i, m));
            return GemmDriver.Element(a, b, k);
        }
    }

    /// <summary>
    /// Row i of C into <paramref name="c"/> (n) from <paramref name="aRow"/> (k) and B (n x k), as a product of
    /// <paramref name="m"/> rows would compute it.
    /// </summary>
    public static void Row(Parallelism threads, ReadOnlySpan<float> aRow, ReadOnlySpan<float> b, Span<float> c, int m, int n, int i)
    {
        int k = aRow.Length;
        if (b.Length < (long)n * k || c.Length < n) throw new ArgumentException("B must be (n x k) and c (n)");
        if (m == 1 || n == 1 || (long)m * n * k <= 512 || k == 0)
        {
            if (m == 1 && k > 0 && (long)n * k > 512)
            {
                fixed (float* pa = aRow, pb = b, pc = c) GemmVector.Run(pa, pb, pc, k, n, transposed: true, accumulate: false, threads, threads.ThreadCount);
                return;
            }
            for (int j = 0; j < n; j++) c[j] = Element(aRow, b.Slice(j * k, k), m, n, i, j);
            return;
        }
        fixed (float* pa = aRow, pb = b, pc = c)
        {
            // The blocked arithmetic on one row (it does not depend on the number of rows), unpacked where possible.
            if (GemmSmallM.Supports(1, false, true))
            {
                GemmSmallM.Run(pa, pb, pc, 1, k, n, accumulate: false, threads, threads.ThreadCount);
                return;
            }
            var p = new GemmProblem { A = pa, B = pb, C = pc, M = 1, K = k, N = n, TransposeB = true };
            GemmDriver.Run(ref p, threads, threads.ThreadCount);
        }
    }
}
