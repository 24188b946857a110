// Row vector times matrix, c (1 x n) (+)= x (1 x k) W: the batch-1 decoding case. Memory-bound, so each element of W
// is read exactly once, in storage order, with the columns split between threads.
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
    /// <paramref name="transposed"/>. k, n &gt;= 1.
    /// </summary>
    public static void Run(float* x, float* w, float* c, int k, int n, bool transposed, bool accumulate, int threads)
    {
        var job = new Job { X = x, W = w, C = c, K = k, N = n, Transposed = transposed, Accumulate = accumulate };
        // A thread pays off from ~64k multiply-adds (a 256 KiB matrix); columns are split in 64-wide chunks.
        int parts = Math.Min(threads, Math.Max(1, n / 64));
        if ((long)k * n < 1 << 16) parts = 1;
        if (parts > 1 && GemmThreads.TryRun(&Part, &job, parts)) return;
        Columns(in job, 0, n);
    }

    static void Part(void* state, int part, int parts)
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

    // W (k x n): for a block of columns keep the sums in registers and stream the block's rows of W.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Axpys(float* x, float* w, float* c, int k, nint n, int j0, int j1, bool accumulate)
    {
        int j = j0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 64 <= j1; j += 64)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                float* row = w + j;
                for (int p = 0; p < k; p++, row += n)
                {
                    Vector256<float> xp = Vector256.Create(x[p]);
                    s0 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row), s0);
                    s1 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row + 8), s1);
                    s2 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row + 16), s2);
                    s3 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row + 24), s3);
                    s4 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row + 32), s4);
                    s5 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row + 40), s5);
                    s6 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row + 48), s6);
                    s7 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(row + 56), s7);
                }
                float* d = c + j;
                if (accumulate)
                {
                    s0 += Vector256.Load(d); s1 += Vector256.Load(d + 8); s2 += Vector256.Load(d + 16); s3 += Vector256.Load(d + 24);
                    s4 += Vector256.Load(d + 32); s5 += Vector256.Load(d + 40); s6 += Vector256.Load(d + 48); s7 += Vector256.Load(d + 56);
                }
                s0.Store(d); s1.Store(d + 8); s2.Store(d + 16); s3.Store(d + 24);
                s4.Store(d + 32); s5.Store(d + 40); s6.Store(d + 48); s7.Store(d + 56);
            }
            for (; j + 8 <= j1; j += 8)
            {
                Vector256<float> s = default;
                float* row = w + j;
                for (int p = 0; p < k; p++, row += n) s = Vector256.FusedMultiplyAdd(Vector256.Create(x[p]), Vector256.Load(row), s);
                if (accumulate) s += Vector256.Load(c + j);
                s.Store(c + j);
            }
        }
        for (; j < j1; j++)
        {
            float s = 0;
            for (int p = 0; p < k; p++) s += x[p] * w[p * n + j];
            c[j] = accumulate ? c[j] + s : s;
        }
    }

    // W (n x k): four dot products at a time share each load of x.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dots(float* x, float* w, float* c, nint k, int j0, int j1, bool accumulate)
    {
        int j = j0;
        if (Avx512F.IsSupported)
        {
            for (; j + 4 <= j1; j += 4)
            {
                float* r0 = w + j * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                nint p = 0;
                for (; p + 16 <= k; p += 16)
                {
                    Vector512<float> xv = Vector512.Load(x + p);
                    s0 = Avx512F.FusedMultiplyAdd(xv, Vector512.Load(r0 + p), s0);
                    s1 = Avx512F.FusedMultiplyAdd(xv, Vector512.Load(r1 + p), s1);
                    s2 = Avx512F.FusedMultiplyAdd(xv, Vector512.Load(r2 + p), s2);
                    s3 = Avx512F.FusedMultiplyAdd(xv, Vector512.Load(r3 + p), s3);
                }
                float t0 = Vector512.Sum(s0), t1 = Vector512.Sum(s1), t2 = Vector512.Sum(s2), t3 = Vector512.Sum(s3);
                for (; p < k; p++)
                {
                    float xp = x[p];
                    t0 += xp * r0[p]; t1 += xp * r1[p]; t2 += xp * r2[p]; t3 += xp * r3[p];
                }
                Store(c, j, t0, accumulate); Store(c, j + 1, t1, accumulate); Store(c, j + 2, t2, accumulate); Store(c, j + 3, t3, accumulate);
            }
        }
        for (; j < j1; j++)
        {
            float* r = w + j * k;
            nint p = 0;
            float t = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> s = default;
                for (; p + 8 <= k; p += 8) s = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(r + p), s);
                t = Vector256.Sum(s);
            }
            for (; p < k; p++) t += x[p] * r[p];
            Store(c, j, t, accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, int j, float value, bool accumulate) => c[j] = accumulate ? c[j] + value : value;
}
