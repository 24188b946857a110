// C (m x n) (+)= A (m x k) B^T for m <= Lanes with B stored (n x k): a short prompt through a Linear layer or a head.
// The rows of A sit in the lanes of one register (16 at AVX-512, 8 at AVX2, 4 at 128 bits), so each element of B is
// broadcast once and B streams from memory in storage order with no packing (the blocked GEMM packs all of B for so few
// rows, which costs more than the product). Per element the arithmetic is GemmDriver's (GemmDriver.Element): a chain of
// VectorIsa.MultiplyAdd over each KC slice (GemmDriver.KStep) from zero, the slices added to C in order, so results are
// bit for bit the blocked GEMM's. Limits: more rows than lanes, and the scalar path, go to the blocked GEMM.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

static unsafe class GemmSmallM
{
    /// <summary>Most rows of A: the float lanes of one register of <see cref="VectorIsa.Path"/> (0 on the scalar path).</summary>
    public static readonly int MaxRows = VectorIsa.Path switch
    {
        VectorPath.Avx512 => 16,
        VectorPath.Avx2 => 8,
        VectorPath.Vector128 => 4,
        _ => 0,
    };

    // Columns of C per register block: 8 accumulators for the current slice (and at AVX-512 8 running sums; the
    // narrower paths, with 16 registers on x86, keep the running sums in memory, touched once per slice).
    const int Group = 8;

    struct Job
    {
        public float* AT, B, C;
        public int M, K, N;
        public bool Accumulate;
    }

    /// <summary>An aligned buffer of <see cref="Floats"/> floats (A transposed into lanes).</summary>
    internal sealed class Scratch(int floats)
    {
        public readonly int Floats = floats;
        public readonly float* Data = (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);

        ~Scratch() => NativeMemory.AlignedFree(Data);
    }

    /// <summary>Whether the product has this kernel's shape: A not transposed, B transposed, 1 &lt;= m &lt;= <see cref="MaxRows"/>.</summary>
    public static bool Supports(int m, bool transposeA, bool transposeB) => m >= 1 && m <= MaxRows && !transposeA && transposeB;

    /// <summary>
    /// C (m x n) (+)= A (m x k) row-major times B^T, B stored (n x k); k, n &gt;= 1; with up to <paramref name="threadLimit"/>
    /// of <paramref name="threads"/>' threads.
    /// </summary>
    public static void Run(float* a, float* b, float* c, int m, int k, int n, bool accumulate, Parallelism threads, int threadLimit)
    {
        // A^T (k x lanes), zero in the lanes past m: one aligned load per p serves every row.
        int lanes = MaxRows;
        if (m > lanes) throw new ArgumentException($"small-m GEMM: {m} rows, at most {lanes} here");
        var scratch = threads.RentScratch();
        try
        {
            float* at = scratch.SmallM(k * lanes).Data;
            for (int p = 0; p < k; p++)
                for (int i = 0; i < lanes; i++) at[p * lanes + i] = i < m ? a[(long)i * k + p] : 0f;
            var job = new Job { AT = at, B = b, C = c, M = m, K = k, N = n, Accumulate = accumulate };
            // Threads split the columns in whole groups once there are ~1M multiply-adds (256 KiB of B at k = 1024).
            int groups = (n + Group - 1) / Group;
            int parts = (long)n * k < 1 << 18 ? 1 : Math.Min(2 * Math.Min(threadLimit, threads.ThreadCount), groups);
            if (parts > 1 && threads.TryRun(&Part, &job, parts)) return;
            Columns(in job, 0, n);
        }
        finally { threads.ReturnScratch(scratch); }
    }

    static void Part(void* state, int part, int parts, KernelScratch unused)
    {
        ref Job job = ref Unsafe.AsRef<Job>(state);
        int groups = (job.N + Group - 1) / Group;
        int j0 = Math.Min(job.N, (int)((long)groups * part / parts) * Group), j1 = Math.Min(job.N, (int)((long)groups * (part + 1) / parts) * Group);
        if (j1 > j0) Columns(in job, j0, j1);
    }

    static void Columns(in Job job, int j0, int j1)
    {
        // Running sums of eight columns, lanes = rows: C's values when accumulating, then each slice added in.
        int lanes = MaxRows;
        float* sums = stackalloc float[Group * 16];
        int kStep = GemmDriver.KStep(job.K);
        for (int j = j0; j < j1; j += Group)
        {
            int width = Math.Min(Group, j1 - j);
            if (job.Accumulate)
                for (int g = 0; g < width; g++)
                    for (int i = 0; i < lanes; i++) sums[g * lanes + i] = i < job.M ? job.C[(long)i * job.N + j + g] : 0f;
            float* w = job.B + (long)j * job.K;
            if (width == Group)
            {
                if (lanes == 16) Block8x16(job.AT, w, job.K, kStep, sums, job.Accumulate);
                else if (lanes == 8) Block8x8(job.AT, w, job.K, kStep, sums, job.Accumulate);
                else Block8x4(job.AT, w, job.K, kStep, sums, job.Accumulate);
            }
            else
                for (int g = 0; g < width; g++)
                {
                    if (lanes == 16) Block1x16(job.AT, w + (long)g * job.K, job.K, kStep, sums + g * lanes, job.Accumulate);
                    else if (lanes == 8) Block1x8(job.AT, w + (long)g * job.K, job.K, kStep, sums + g * lanes, job.Accumulate);
                    else Block1x4(job.AT, w + (long)g * job.K, job.K, kStep, sums + g * lanes, job.Accumulate);
                }
            for (int g = 0; g < width; g++)
                for (int i = 0; i < job.M; i++) job.C[(long)i * job.N + j + g] = sums[g * lanes + i];
        }
    }

    // AVX-512, 16 rows. Eight columns of B (rows w, w + k, ..): per KC slice eight chains from zero, then sum = slice + sum
    // (the first slice replaces the sum unless accumulating), as the micro-kernel adds its tile to C. No calls inside
    // (VectorIsa.MultiplyAdd inlines to one instruction): the sums stay in registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block8x16(float* at, float* w, nint k, int kStep, float* sums, bool accumulate)
    {
        float* w0 = w, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, w4 = w3 + k, w5 = w4 + k, w6 = w5 + k, w7 = w6 + k;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        if (accumulate)
        {
            c0 = Vector512.Load(sums); c1 = Vector512.Load(sums + 16); c2 = Vector512.Load(sums + 32); c3 = Vector512.Load(sums + 48);
            c4 = Vector512.Load(sums + 64); c5 = Vector512.Load(sums + 80); c6 = Vector512.Load(sums + 96); c7 = Vector512.Load(sums + 112);
        }
        for (nint pc = 0; pc < k; pc += kStep)
        {
            nint end = Math.Min(pc + kStep, k);
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            nint p = pc;
            float* a = at + pc * 16;
            do
            {
                var av = Vector512.LoadAligned(a);
                s0 = VectorIsa.MultiplyAdd(av, Vector512.Create(w0[p]), s0);
                s1 = VectorIsa.MultiplyAdd(av, Vector512.Create(w1[p]), s1);
                s2 = VectorIsa.MultiplyAdd(av, Vector512.Create(w2[p]), s2);
                s3 = VectorIsa.MultiplyAdd(av, Vector512.Create(w3[p]), s3);
                s4 = VectorIsa.MultiplyAdd(av, Vector512.Create(w4[p]), s4);
                s5 = VectorIsa.MultiplyAdd(av, Vector512.Create(w5[p]), s5);
                s6 = VectorIsa.MultiplyAdd(av, Vector512.Create(w6[p]), s6);
                s7 = VectorIsa.MultiplyAdd(av, Vector512.Create(w7[p]), s7);
                a += 16;
            }
            while (++p != end);
            if (pc == 0 && !accumulate) { c0 = s0; c1 = s1; c2 = s2; c3 = s3; c4 = s4; c5 = s5; c6 = s6; c7 = s7; }
            else { c0 = s0 + c0; c1 = s1 + c1; c2 = s2 + c2; c3 = s3 + c3; c4 = s4 + c4; c5 = s5 + c5; c6 = s6 + c6; c7 = s7 + c7; }
        }
        c0.Store(sums); c1.Store(sums + 16); c2.Store(sums + 32); c3.Store(sums + 48);
        c4.Store(sums + 64); c5.Store(sums + 80); c6.Store(sums + 96); c7.Store(sums + 112);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1x16(float* at, float* w, nint k, int kStep, float* sum, bool accumulate)
    {
        Vector512<float> c = accumulate ? Vector512.Load(sum) : default;
        for (nint pc = 0; pc < k; pc += kStep)
        {
            nint end = Math.Min(pc + kStep, k);
            Vector512<float> s = default;
            for (nint p = pc; p < end; p++) s = VectorIsa.MultiplyAdd(Vector512.LoadAligned(at + p * 16), Vector512.Create(w[p]), s);
            c = pc == 0 && !accumulate ? s : s + c;
        }
        c.Store(sum);
    }

    // AVX2, 8 rows: Block8x16's arithmetic on 8 lanes; the running sums live in memory (16 ymm registers: 8 chains,
    // A, a broadcast).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block8x8(float* at, float* w, nint k, int kStep, float* sums, bool accumulate)
    {
        float* w0 = w, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, w4 = w3 + k, w5 = w4 + k, w6 = w5 + k, w7 = w6 + k;
        for (nint pc = 0; pc < k; pc += kStep)
        {
            nint end = Math.Min(pc + kStep, k);
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            nint p = pc;
            float* a = at + pc * 8;
            do
            {
                var av = Vector256.LoadAligned(a);
                s0 = VectorIsa.MultiplyAdd(av, Vector256.Create(w0[p]), s0);
                s1 = VectorIsa.MultiplyAdd(av, Vector256.Create(w1[p]), s1);
                s2 = VectorIsa.MultiplyAdd(av, Vector256.Create(w2[p]), s2);
                s3 = VectorIsa.MultiplyAdd(av, Vector256.Create(w3[p]), s3);
                s4 = VectorIsa.MultiplyAdd(av, Vector256.Create(w4[p]), s4);
                s5 = VectorIsa.MultiplyAdd(av, Vector256.Create(w5[p]), s5);
                s6 = VectorIsa.MultiplyAdd(av, Vector256.Create(w6[p]), s6);
                s7 = VectorIsa.MultiplyAdd(av, Vector256.Create(w7[p]), s7);
                a += 8;
            }
            while (++p != end);
            bool first = pc == 0 && !accumulate;
            Add(s0, sums, first); Add(s1, sums + 8, first); Add(s2, sums + 16, first); Add(s3, sums + 24, first);
            Add(s4, sums + 32, first); Add(s5, sums + 40, first); Add(s6, sums + 48, first); Add(s7, sums + 56, first);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1x8(float* at, float* w, nint k, int kStep, float* sum, bool accumulate)
    {
        for (nint pc = 0; pc < k; pc += kStep)
        {
            nint end = Math.Min(pc + kStep, k);
            Vector256<float> s = default;
            for (nint p = pc; p < end; p++) s = VectorIsa.MultiplyAdd(Vector256.LoadAligned(at + p * 8), Vector256.Create(w[p]), s);
            Add(s, sum, pc == 0 && !accumulate);
        }
    }

    // 128 bits (ARM64 NEON with FMA; x86 SSE, multiply then add), 4 rows: the same arithmetic on 4 lanes.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block8x4(float* at, float* w, nint k, int kStep, float* sums, bool accumulate)
    {
        float* w0 = w, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, w4 = w3 + k, w5 = w4 + k, w6 = w5 + k, w7 = w6 + k;
        for (nint pc = 0; pc < k; pc += kStep)
        {
            nint end = Math.Min(pc + kStep, k);
            Vector128<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            nint p = pc;
            float* a = at + pc * 4;
            do
            {
                var av = Vector128.LoadAligned(a);
                s0 = VectorIsa.MultiplyAdd(av, Vector128.Create(w0[p]), s0);
                s1 = VectorIsa.MultiplyAdd(av, Vector128.Create(w1[p]), s1);
                s2 = VectorIsa.MultiplyAdd(av, Vector128.Create(w2[p]), s2);
                s3 = VectorIsa.MultiplyAdd(av, Vector128.Create(w3[p]), s3);
                s4 = VectorIsa.MultiplyAdd(av, Vector128.Create(w4[p]), s4);
                s5 = VectorIsa.MultiplyAdd(av, Vector128.Create(w5[p]), s5);
                s6 = VectorIsa.MultiplyAdd(av, Vector128.Create(w6[p]), s6);
                s7 = VectorIsa.MultiplyAdd(av, Vector128.Create(w7[p]), s7);
                a += 4;
            }
            while (++p != end);
            bool first = pc == 0 && !accumulate;
            Add(s0, sums, first); Add(s1, sums + 4, first); Add(s2, sums + 8, first); Add(s3, sums + 12, first);
            Add(s4, sums + 16, first); Add(s5, sums + 20, first); Add(s6, sums + 24, first); Add(s7, sums + 28, first);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1x4(float* at, float* w, nint k, int kStep, float* sum, bool accumulate)
    {
        for (nint pc = 0; pc < k; pc += kStep)
        {
            nint end = Math.Min(pc + kStep, k);
            Vector128<float> s = default;
            for (nint p = pc; p < end; p++) s = VectorIsa.MultiplyAdd(Vector128.LoadAligned(at + p * 4), Vector128.Create(w[p]), s);
            Add(s, sum, pc == 0 && !accumulate);
        }
    }

    /// <summary>sum = slice (the first slice of a product that does not accumulate), else sum = slice + sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Add(Vector256<float> slice, float* sum, bool first) => (first ? slice : slice + Vector256.Load(sum)).Store(sum);

    /// <summary>sum = slice (the first slice of a product that does not accumulate), else sum = slice + sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Add(Vector128<float> slice, float* sum, bool first) => (first ? slice : slice + Vector128.Load(sum)).Store(sum);
}
