// Row vector times matrix, c (1 x n) (+)= x (1 x k) W: the batch-1 decoding case. Memory-bound, so each element of W
// is read exactly once, in storage order, with the columns split between threads. Every width of VectorIsa.Path has a
// loop (512, 256 and 128 bits, scalar), multiply-adds by VectorIsa.MultiplyAdd. Limits: the arithmetic is this file's
// own (one lane-wise chain per row, then a horizontal sum), not the blocked GEMM's; Dot recomputes one element of it.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

static unsafe class GemmVector
{
    struct Job
    {
        public float* X, W, C;
        public int K, N;
        public bool Transposed, Accumulate;
    }

    /// <summary>
    /// c[j] (+)= sum_p x[p] W(p, j) for j in [0, n); W is stored (k x n) row-major, or (n x k) when
    /// <paramref name="transposed"/>. k, n &gt;= 1. Up to <paramref name="threadLimit"/> of <paramref name="threads"/>' threads.
    /// </summary>
    public static void Run(float* x, float* w, float* c, int k, int n, bool transposed, bool accumulate, Parallelism threads, int threadLimit)
    {
        var job = new Job { X = x, W = w, C = c, K = k, N = n, Transposed = transposed, Accumulate = accumulate };
        // A thread pays off from ~64k multiply-adds (a 256 KiB matrix); columns are split in 64-wide chunks.
        int parts = Math.Min(2 * Math.Min(threadLimit, threads.ThreadCount), Math.Max(1, n / 64));
        if ((long)k * n < 1 << 16) parts = 1;
        if (parts > 1 && threads.TryRun(&Part, &job, parts)) return;
        Columns(in job, 0, n);
    }

    static void Part(void* state, int part, int parts, KernelScratch unused)
    {
        ref Job job = ref Unsafe.AsRef<Job>(state);
        int chunks = (job.N + 63) / 64;
        int j0 = Math.Min(job.N, (int)((long)chunks * part / parts) * 64);
        int j1 = Math.Min(job.N, (int)((long)chunks * (part + 1) / parts) * 64);
        if (j1 > j0) Columns(in job, j0, j1);
    }

    static void Columns(in Job job, int j0, int j1)
    {
        if (job.Transposed) Dots(job.X, job.W, job.C, job.K, j0, j1, job.Accumulate);
        else Axpys(job.X, job.W, job.C, job.K, job.N, j0, j1, job.Accumulate);
    }

    // W (k x n): streams four rows of W at a time, front to back, into the thread's slice of c (which stays in L1).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Axpys(float* x, float* w, float* c, int k, nint n, int j0, int j1, bool accumulate)
    {
        if (!accumulate) new Span<float>(c + j0, j1 - j0).Clear();
        int p = 0;
        for (; p + 4 <= k; p += 4)
        {
            float* r0 = w + p * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
            int j = j0;
            if (VectorIsa.Path == VectorPath.Avx512)
            {
                Vector512<float> x0 = Vector512.Create(x[p]), x1 = Vector512.Create(x[p + 1]), x2 = Vector512.Create(x[p + 2]), x3 = Vector512.Create(x[p + 3]);
                for (; j + 16 <= j1; j += 16)
                {
                    Vector512<float> s = VectorIsa.MultiplyAdd(x0, Vector512.Load(r0 + j), Vector512.Load(c + j));
                    s = VectorIsa.MultiplyAdd(x1, Vector512.Load(r1 + j), s);
                    s = VectorIsa.MultiplyAdd(x2, Vector512.Load(r2 + j), s);
                    Vector512.Store(VectorIsa.MultiplyAdd(x3, Vector512.Load(r3 + j), s), c + j);
                }
            }
            else if (VectorIsa.Path == VectorPath.Avx2)
            {
                Vector256<float> x0 = Vector256.Create(x[p]), x1 = Vector256.Create(x[p + 1]), x2 = Vector256.Create(x[p + 2]), x3 = Vector256.Create(x[p + 3]);
                for (; j + 8 <= j1; j += 8)
                {
                    Vector256<float> s = VectorIsa.MultiplyAdd(x0, Vector256.Load(r0 + j), Vector256.Load(c + j));
                    s = VectorIsa.MultiplyAdd(x1, Vector256.Load(r1 + j), s);
                    s = VectorIsa.MultiplyAdd(x2, Vector256.Load(r2 + j), s);
                    Vector256.Store(VectorIsa.MultiplyAdd(x3, Vector256.Load(r3 + j), s), c + j);
                }
            }
            else if (VectorIsa.Path == VectorPath.Vector128)
            {
                Vector128<float> x0 = Vector128.Create(x[p]), x1 = Vector128.Create(x[p + 1]), x2 = Vector128.Create(x[p + 2]), x3 = Vector128.Create(x[p + 3]);
                for (; j + 4 <= j1; j += 4)
                {
                    Vector128<float> s = VectorIsa.MultiplyAdd(x0, Vector128.Load(r0 + j), Vector128.Load(c + j));
                    s = VectorIsa.MultiplyAdd(x1, Vector128.Load(r1 + j), s);
                    s = VectorIsa.MultiplyAdd(x2, Vector128.Load(r2 + j), s);
                    Vector128.Store(VectorIsa.MultiplyAdd(x3, Vector128.Load(r3 + j), s), c + j);
                }
            }
            for (; j < j1; j++) c[j] += x[p] * r0[j] + x[p + 1] * r1[j] + x[p + 2] * r2[j] + x[p + 3] * r3[j];
        }
        for (; p < k; p++)
        {
            float* r = w + p * n;
            float xp = x[p];
            for (int j = j0; j < j1; j++) c[j] += xp * r[j];
        }
    }

    // W (n x k): one row at a time, front to back, each a single chain of lane-wise multiply-adds. At AVX-512, rows in
    // whole groups of four take the 16-lane loop with a software prefetch 4 KiB ahead and the rest the 8-lane one (the
    // arithmetic of the former four-rows-at-a-time loop, kept so results do not change); reading one row at a time keeps
    // a single sequential stream per thread, which reached the machine's read bandwidth where four interleaved rows fell
    // 20-30% short of it. Narrower paths take their own width for every row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dots(float* x, float* w, float* c, nint k, int j0, int j1, bool accumulate)
    {
        int j = j0;
        if (VectorIsa.Path == VectorPath.Avx512)
        {
            for (int wideEnd = j0 + ((j1 - j0) & ~3); j < wideEnd; j++)
            {
                float* r = w + j * k;
                Vector512<float> s = default;
                nint p = 0;
                for (; p + 16 <= k; p += 16)
                {
                    Sse.Prefetch0(r + p + PrefetchDistance);
                    s = VectorIsa.MultiplyAdd(Vector512.Load(x + p), Vector512.Load(r + p), s);
                }
                Store(c, j, Tail(x, r, p, k, Vector512.Sum(s)), accumulate);
            }
        }
        for (; j < j1; j++) Store(c, j, Dot(x, w + j * k, k, wide: false), accumulate);
    }

    /// <summary>
    /// The value <see cref="Dots"/> computes for one row r (k) against x (k), alone: <paramref name="wide"/> for rows it
    /// takes in its 16-lane loop (see <see cref="IsWideRow"/>), else the loop of the path's own width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* x, float* r, nint k, bool wide)
    {
        nint p = 0;
        if (wide && VectorIsa.Path == VectorPath.Avx512)
        {
            Vector512<float> s = default;
            for (; p + 16 <= k; p += 16) s = VectorIsa.MultiplyAdd(Vector512.Load(x + p), Vector512.Load(r + p), s);
            return Tail(x, r, p, k, Vector512.Sum(s));
        }
        if (VectorIsa.Path >= VectorPath.Avx2)
        {
            Vector256<float> s = default;
            for (; p + 8 <= k; p += 8) s = VectorIsa.MultiplyAdd(Vector256.Load(x + p), Vector256.Load(r + p), s);
            return Tail(x, r, p, k, Vector256.Sum(s));
        }
        if (VectorIsa.Path == VectorPath.Vector128)
        {
            Vector128<float> s = default;
            for (; p + 4 <= k; p += 4) s = VectorIsa.MultiplyAdd(Vector128.Load(x + p), Vector128.Load(r + p), s);
            return Tail(x, r, p, k, Vector128.Sum(s));
        }
        return Tail(x, r, 0, k, 0f);
    }

    /// <summary>t + x[p] r[p] + ... over [p, k), each product rounded before it is added (the same on every path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Tail(float* x, float* r, nint p, nint k, float t)
    {
        for (; p < k; p++)
        {
            float xp = x[p];
            t += xp * r[p];
        }
        return t;
    }

    /// <summary>Whether <see cref="Dots"/> takes row j of n in its 16-lane loop (AVX-512, all but the last n % 4 rows).</summary>
    public static bool IsWideRow(int j, int n) => VectorIsa.Path == VectorPath.Avx512 && j < (n & ~3);

    /// <summary>How far ahead of the row being read <see cref="Dots"/> asks for lines (floats, 4 KiB).</summary>
    const int PrefetchDistance = 1024;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, int j, float value, bool accumulate) => c[j] = accumulate ? c[j] + value : value;
}
