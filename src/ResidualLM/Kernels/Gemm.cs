// Single-precision matrix multiply for every layout (NN, NT, TN, TT), plain and batched: validation and dispatch to
// the tiny-matrix loop, the memory-bound matrix-vector path (m = 1 or n = 1) or the packed, blocked, threaded GEMM.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ResidualLM.Kernels;

/// <summary>
/// C = op(A) op(B) (+ C) in float32, row-major and contiguous, with AVX-512 / AVX2 micro-kernels and the threads of the
/// <see cref="Parallelism"/> given. Safe to call from several threads at once (only one call at a time uses a
/// Parallelism's workers; the others run on their own thread).
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// C (m x n) = op(A) op(B), plus the previous C when <paramref name="accumulate"/>.
    /// A is stored (m x k) row-major, or (k x m) when <paramref name="transposeA"/>; B is stored (k x n), or (n x k)
    /// when <paramref name="transposeB"/>. With k = 0 C becomes 0 (or is left unchanged when accumulating).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its matrix.</exception>
    public static void Multiply(Parallelism threads, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
                                bool transposeA = false, bool transposeB = false, bool accumulate = false)
        => MultiplyWithThreads(threads, a, b, c, m, k, n, transposeA, transposeB, accumulate, threads.ThreadCount);

    /// <summary><see cref="Multiply"/> with at most <paramref name="threadLimit"/> of <paramref name="threads"/>' threads.</summary>
    internal static void MultiplyWithThreads(Parallelism threads, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
                                  bool transposeA, bool transposeB, bool accumulate, int threadLimit)
    {
        Validate(a.Length, b.Length, c.Length, 1, m, k, n, broadcastB: false);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            Product(threads, pa, pb, pc, m, k, n, transposeA, transposeB, accumulate, Math.Max(1, threadLimit));
        }
    }

    /// <summary>
    /// <paramref name="batchCount"/> independent products C[i] = op(A[i]) op(B[i]) (+ C[i]) on contiguous batches:
    /// A batch stride m*k, B stride k*n (one B shared by every batch when <paramref name="broadcastB"/>), C stride m*n.
    /// Small products (attention heads) run in parallel over batches; large ones use the threads inside each product.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension or the batch count is negative.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its batches.</exception>
    public static void MultiplyBatched(Parallelism threads, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int batchCount, int m, int k, int n,
                                       bool transposeA = false, bool transposeB = false, bool accumulate = false, bool broadcastB = false)
        => MultiplyBatchedWithThreads(threads, a, b, c, batchCount, m, k, n, transposeA, transposeB, accumulate, broadcastB, threads.ThreadCount);

    /// <summary><see cref="MultiplyBatched"/> with at most <paramref name="threadLimit"/> of <paramref name="threads"/>' threads.</summary>
    internal static void MultiplyBatchedWithThreads(Parallelism threads, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int batchCount, int m, int k, int n,
                                         bool transposeA, bool transposeB, bool accumulate, bool broadcastB, int threadLimit)
    {
        Validate(a.Length, b.Length, c.Length, batchCount, m, k, n, broadcastB);
        if (batchCount == 0 || m == 0 || n == 0) return;
        threadLimit = Math.Clamp(threadLimit, 1, threads.ThreadCount);
        fixed (float* pa = a, pb = b, pc = c)
        {
            // Stacked rows: batches of A (m x k) and C (m x n) with one shared B are a single (batch*m x k) product.
            if (broadcastB && !transposeA)
            {
                Product(threads, pa, pb, pc, batchCount * m, k, n, false, transposeB, accumulate, threadLimit);
                return;
            }
            var job = new BatchJob
            {
                A = pa, B = pb, C = pc, BatchCount = batchCount, M = m, K = k, N = n,
                TransposeA = transposeA, TransposeB = transposeB, Accumulate = accumulate, BroadcastB = broadcastB,
            };
            double flops = 2.0 * m * n * k;
            int parts = Math.Min(2 * threadLimit, batchCount);
            // Below ~16 MFLOP a product uses its threads poorly: give each thread whole products instead.
            if (parts > 1 && (flops < 1 << 24 || batchCount >= 4 * threadLimit) && flops * batchCount >= 1 << 18)
            {
                var handle = GCHandle.Alloc(threads);
                job.Threads = GCHandle.ToIntPtr(handle);
                try
                {
                    if (threads.TryRun(&BatchPart, &job, parts)) return;
                }
                finally { handle.Free(); }
            }
            BatchRange(threads, ref job, 0, batchCount, threadLimit);
        }
    }

    struct BatchJob
    {
        public float* A, B, C;
        public int BatchCount, M, K, N;
        public nint Threads;   // GCHandle of the Parallelism: a part's products run single-threaded but rent its scratch
        public bool TransposeA, TransposeB, Accumulate, BroadcastB;
    }

    static void BatchPart(void* state, int part, int parts, KernelScratch unused)
    {
        ref BatchJob job = ref Unsafe.AsRef<BatchJob>(state);
        int from = (int)((long)job.BatchCount * part / parts), to = (int)((long)job.BatchCount * (part + 1) / parts);
        BatchRange((Parallelism)GCHandle.FromIntPtr(job.Threads).Target!, ref job, from, to, threadLimit: 1);
    }

    static void BatchRange(Parallelism threads, ref BatchJob j, int from, int to, int threadLimit)
    {
        long strideA = (long)j.M * j.K, strideB = j.BroadcastB ? 0 : (long)j.K * j.N, strideC = (long)j.M * j.N;
        for (int i = from; i < to; i++)
            Product(threads, j.A + i * strideA, j.B + i * strideB, j.C + i * strideC, j.M, j.K, j.N, j.TransposeA, j.TransposeB, j.Accumulate, threadLimit);
    }

    static void Validate(int aLength, int bLength, int cLength, int batchCount, int m, int k, int n, bool broadcastB)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchCount);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        Int128 batches = batchCount, bBatches = broadcastB ? Math.Min(1, batchCount) : batchCount;
        if (aLength < batches * m * k) throw new ArgumentException($"A has {aLength} elements, needs {batches} x {m} x {k}", "a");
        if (bLength < bBatches * k * n) throw new ArgumentException($"B has {bLength} elements, needs {bBatches} x {k} x {n}", "b");
        if (cLength < batches * m * n) throw new ArgumentException($"C has {cLength} elements, needs {batches} x {m} x {n}", "c");
    }

    // One product, m, n >= 1, on valid pointers.
    static void Product(Parallelism threads, float* a, float* b, float* c, int m, int k, int n, bool transposeA, bool transposeB, bool accumulate, int threadLimit)
    {
        if (k == 0)
        {
            if (!accumulate) new Span<float>(c, m * n).Clear();
            return;
        }
        if ((long)m * n * k <= 512)
        {
            Tiny(a, b, c, m, k, n, transposeA, transposeB, accumulate);
            return;
        }
        // A row vector times a matrix. For n = 1, C^T (1 x m) = b^T (1 x k) op(A)^T, where op(A)^T is A read as
        // "(k x m)" when A is stored transposed, or as "(m x k), transposed" when it is not.
        if (m == 1) { GemmVector.Run(a, b, c, k, n, transposeB, accumulate, threads, threadLimit); return; }
        if (n == 1) { GemmVector.Run(b, a, c, k, m, !transposeA, accumulate, threads, threadLimit); return; }
        // A few rows times a (n x k) matrix (a short prompt through a Linear): B streamed unpacked, the same arithmetic.
        if (GemmSmallM.Supports(m, transposeA, transposeB)) { GemmSmallM.Run(a, b, c, m, k, n, accumulate, threads, threadLimit); return; }
        var p = new GemmProblem
        {
            A = a, B = b, C = c, M = m, K = k, N = n,
            TransposeA = transposeA, TransposeB = transposeB, Accumulate = accumulate,
        };
        GemmDriver.Run(ref p, threads, threadLimit);
    }

    // Direct loops for products too small to amortise packing (e.g. 3 x 3).
    static void Tiny(float* a, float* b, float* c, int m, int k, int n, bool transposeA, bool transposeB, bool accumulate)
    {
        int aRow = transposeA ? 1 : k, aCol = transposeA ? m : 1, bRow = transposeB ? 1 : n, bCol = transposeB ? k : 1;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
                c[i * n + j] = accumulate ? c[i * n + j] + sum : sum;
            }
        }
    }
}
