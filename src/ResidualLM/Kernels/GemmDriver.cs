// GEMM driver: Goto/BLIS blocking (KC slice of k, NC block of B, MC block of A, MR x NR micro-tiles) over one
// thread's share of C, plus the split of a product between threads. Packing buffers are the running thread's KernelScratch.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;

namespace ResidualLM.Kernels;

/// <summary>One product C (m x n) (+)= op(A) op(B) on raw pointers; ld* are the stored row strides.</summary>
unsafe struct GemmProblem
{
    public float* A, B, C;
    public int M, K, N;
    public bool TransposeA, TransposeB, Accumulate;

    public readonly nint Lda => TransposeA ? M : K;   // A stored (m x k), or (k x m) when transposed
    public readonly nint Ldb => TransposeB ? K : N;   // B stored (k x n), or (n x k) when transposed
}

static unsafe class GemmDriver
{
    // Tile and block sizes per path. AVX-512: a 12 x 32 tile (24 zmm accumulators); the KC x 32 B micro-panel (32 KiB)
    // stays in the 48 KiB L1 while 12 x KC A micro-panels stream from the MC x KC block in L2; the KC x NC B block fits
    // L2 too. AVX2: 6 x 16 (12 of 16 ymm), A read as rows (in place when row-major, see GemmKernels.Kernel6x16).
    // 128-bit: 8 x 12 on ARM64 (24 of 32 q registers, FMLA by element), 6 x 8 on x86 SSE (12 of 16 xmm, A packed
    // pre-broadcast). NC keeps the KC x NC block of B near 256 KiB-1 MiB on every path.
    static readonly bool Neon = AdvSimd.Arm64.IsSupported;

    /// <summary>Rows of the register tile on this machine's path.</summary>
    public static readonly int MR = VectorIsa.Path switch
    {
        VectorPath.Avx512 => 12,
        VectorPath.Avx2 => 6,
        VectorPath.Vector128 => Neon ? 8 : 6,
        _ => 4,
    };

    /// <summary>Columns of the register tile on this machine's path.</summary>
    public static readonly int NR = VectorIsa.Path switch
    {
        VectorPath.Avx512 => 32,
        VectorPath.Avx2 => 16,
        VectorPath.Vector128 => Neon ? 12 : 8,
        _ => 8,
    };

    // x86 SSE packs A with each element repeated in 4 lanes (see GemmKernels.Kernel6x8).
    static readonly int ABroadcast = VectorIsa.Path == VectorPath.Vector128 && !Neon ? 4 : 1;

    // AVX2's kernel reads A as MR rows (lda apart, contiguous along k): a row-major A is used where it lies, a transposed
    // one is packed into rows (lda = kc). The other paths pack A into k-major micro-panels.
    static readonly bool RowsA = VectorIsa.Path == VectorPath.Avx2;

    // AVX2 takes k = 768 and 1024 in one slice (KC 1024): C is read and written once instead of two or three times, and
    // with A read in place the longer slice costs no packing. Measured against 512 and 768 on an AMD EPYC Zen 4 (AVX2
    // forced), 1-3% faster on the transformer shapes (docs/performance.md).
    public static readonly int KC = VectorIsa.Path == VectorPath.Avx2 ? 1024 : 256;
    public static readonly int MC = MR * 22;
    public static readonly int NC = NR * (VectorIsa.Path == VectorPath.Avx512 ? 16 : 32);

    // A is packed whole for a KC slice (and reused for every NC block of B) up to this many floats per thread; a taller
    // A is packed MC rows at a time for each NC block, the classic order.
    const int PackAllOfALimit = 1 << 20;

    /// <summary>One thread's packing buffers: A (grown as needed), B and an edge tile.</summary>
    internal sealed class Scratch
    {
        public float* PackA;
        public readonly float* PackB, Tile;
        nuint packAFloats;

        public Scratch()
        {
            PackB = (float*)NativeMemory.AlignedAlloc((nuint)(NC * KC + 64) * sizeof(float), 64);
            Tile = (float*)NativeMemory.AlignedAlloc((nuint)(MR * NR) * sizeof(float), 64);
            EnsurePackA((nuint)MC * (nuint)KC * (nuint)ABroadcast);
        }

        /// <summary>Grows the A buffer to hold <paramref name="floats"/> (plus slack: the W = 12 transpose writes 4 floats past a panel).</summary>
        public void EnsurePackA(nuint floats)
        {
            if (floats <= packAFloats) return;
            NativeMemory.AlignedFree(PackA);
            PackA = (float*)NativeMemory.AlignedAlloc((floats + 64) * sizeof(float), 64);
            packAFloats = floats;
        }

        ~Scratch()
        {
            NativeMemory.AlignedFree(PackA);
            NativeMemory.AlignedFree(PackB);
            NativeMemory.AlignedFree(Tile);
        }
    }

    /// <summary>
    /// Computes the whole product with up to <paramref name="threadLimit"/> of <paramref name="threads"/>' threads
    /// (k &gt;= 1, m, n &gt;= 1).
    /// </summary>
    public static void Run(ref GemmProblem p, Parallelism threads, int threadLimit)
    {
        int parts = PlanParts(p.M, p.N, p.K, Math.Min(threadLimit, threads.ThreadCount));
        if (parts > 1)
        {
            fixed (GemmProblem* state = &p)
            {
                if (threads.TryRun(&RunPart, state, parts)) return;
            }
        }
        var scratch = threads.RentScratch();
        try { RunRegion(in p, 0, p.M, 0, p.N, scratch.Gemm); }
        finally { threads.ReturnScratch(scratch); }
    }

    // Threads pay off above ~1 MFLOP; each part gets at least two micro-tile columns (or rows) of work. One part per
    // thread: every part packs all of A (or B), so more parts cost packing traffic (51 MB per part for the tied
    // head's dX); a descheduled worker's part is still taken over by the caller if the worker has not claimed it.
    static int PlanParts(int m, int n, int k, int threads)
    {
        if (threads <= 1 || 2.0 * m * n * k < 1 << 20) return 1;
        int nPanels = (n + NR - 1) / NR, mPanels = (m + MR - 1) / MR;
        return Math.Max(1, Math.Min(threads, Math.Max(nPanels, mPanels) / 2));
    }

    // Splits N in whole NR panels when there are enough of them (every thread packs all of A, a small cost), else M.
    static void RunPart(void* state, int part, int parts, KernelScratch scratch)
    {
        ref GemmProblem p = ref Unsafe.AsRef<GemmProblem>(state);
        int nPanels = (p.N + NR - 1) / NR, mPanels = (p.M + MR - 1) / MR;
        if (nPanels >= 2 * parts || nPanels >= mPanels)
        {
            int n0 = Math.Min(p.N, (int)((long)nPanels * part / parts) * NR);
            int n1 = Math.Min(p.N, (int)((long)nPanels * (part + 1) / parts) * NR);
            if (n1 > n0) RunRegion(in p, 0, p.M, n0, n1, scratch.Gemm);
        }
        else
        {
            int m0 = Math.Min(p.M, (int)((long)mPanels * part / parts) * MR);
            int m1 = Math.Min(p.M, (int)((long)mPanels * (part + 1) / parts) * MR);
            if (m1 > m0) RunRegion(in p, m0, m1, 0, p.N, scratch.Gemm);
        }
    }

    /// <summary>C[m0..m1, n0..n1] (+)= op(A)[m0..m1, :] op(B)[:, n0..n1] on the calling thread, packing into <paramref name="s"/>.</summary>
    static void RunRegion(in GemmProblem p, int m0, int m1, int n0, int n1, Scratch s)
    {
        int kStep = KStep(p.K), mStep = EvenStep(m1 - m0, MC, MR), nStep = EvenStep(n1 - n0, NC, NR);
        // A read in place: only a last block of fewer than MR rows is copied (into the A buffer, which is otherwise unused).
        bool inPlace = RowsA && !p.TransposeA;
        // Rows rounded up to whole panels: the packed A of a KC slice, reused for every NC block of B when it fits.
        nuint wholeA = (nuint)((m1 - m0 + MR - 1) / MR * MR) * (nuint)kStep * (nuint)ABroadcast;
        bool packAllOfA = !inPlace && wholeA <= (nuint)PackAllOfALimit;
        if (packAllOfA) s.EnsurePackA(wholeA);
        nint lda = p.Lda, ldb = p.Ldb, ldc = p.N;
        for (int pc = 0; pc < p.K; pc += kStep)
        {
            int kc = Math.Min(kStep, p.K - pc);
            bool addC = p.Accumulate || pc > 0;
            if (packAllOfA) PackA(in p, lda, m0, m1 - m0, pc, kc, s.PackA);
            for (int jc = n0; jc < n1; jc += nStep)
            {
                int nc = Math.Min(nStep, n1 - jc);
                float* bSrc = p.TransposeB ? p.B + jc * ldb + pc : p.B + pc * ldb + jc;
                GemmPacking.Pack(bSrc, ldb, p.TransposeB, nc, kc, NR, s.PackB);
                for (int ic = m0; ic < m1; ic += mStep)
                {
                    int mc = Math.Min(mStep, m1 - ic);
                    float* cBlock = p.C + ic * ldc + jc;
                    if (inPlace)
                    {
                        float* aRows = p.A + ic * lda + pc;
                        int whole = mc / MR * MR;
                        if (whole < mc) GemmPacking.CopyRows(aRows + whole * lda, lda, mc - whole, kc, MR, s.PackA);
                        Macro(aRows, lda, s.PackA, s.PackB, mc, nc, kc, cBlock, ldc, addC, s.Tile);
                        continue;
                    }
                    float* aBlock = s.PackA;
                    if (packAllOfA) aBlock += (nint)(ic - m0) * kc * ABroadcast;
                    else PackA(in p, lda, ic, mc, pc, kc, s.PackA);
                    Macro(aBlock, RowsA ? kc : 0, aBlock + mc / MR * MR * kc, s.PackB, mc, nc, kc, cBlock, ldc, addC, s.Tile);
                }
            }
        }
    }

    static void PackA(in GemmProblem p, nint lda, int i0, int mc, int pc, int kc, float* dst)
    {
        float* src = p.TransposeA ? p.A + pc * lda + i0 : p.A + i0 * lda + pc;
        if (RowsA) GemmPacking.PackRows(src, lda, mc, kc, MR, dst);   // only a transposed A reaches here
        else if (ABroadcast > 1) GemmPacking.PackBroadcast(src, lda, !p.TransposeA, mc, kc, MR, dst);
        else GemmPacking.Pack(src, lda, !p.TransposeA, mc, kc, MR, dst);
    }

    /// <summary>The KC slice length for a product with inner dimension k: every product with this k slices it the same way.</summary>
    public static int KStep(int k) => EvenStep(k, KC, 1);

    // Largest step <= max (a multiple of unit) that splits total into equal-ish blocks, e.g. k = 300 -> 2 x 150.
    static int EvenStep(int total, int max, int unit)
    {
        int blocks = (total + max - 1) / max;
        int step = (total + blocks - 1) / blocks;
        return Math.Min(max, (step + unit - 1) / unit * unit);
    }

    // Loops over the micro-tiles of one MC x KC block of A and packed KC x NC block of B. A is k-major micro-panels
    // (lda = 0), or on AVX2 rows lda apart whose last MR rows, when fewer than MR are left, are at lastPanel (rows kc
    // apart, zero-padded). Edge tiles go through a small buffer so the kernel always writes a full MR x NR tile.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Macro(float* a, nint lda, float* lastPanel, float* packB, int mc, int nc, int kc, float* c, nint ldc, bool addC, float* tile)
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* bPanel = packB + jr * kc;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mr = Math.Min(MR, mc - ir);
                float* aPanel = lda == 0 ? a + ir * kc * ABroadcast : mr == MR ? a + ir * lda : lastPanel;
                nint aStride = mr == MR ? lda : kc;
                float* cTile = c + ir * ldc + jr;
                if (mr == MR && nr == NR)
                {
                    Kernel(kc, aPanel, aStride, bPanel, cTile, ldc, addC);
                }
                else
                {
                    Kernel(kc, aPanel, aStride, bPanel, tile, NR, false);
                    for (int r = 0; r < mr; r++)
                    {
                        float* dst = cTile + r * ldc;
                        float* src = tile + r * NR;
                        if (addC) for (int j = 0; j < nr; j++) dst[j] += src[j];
                        else for (int j = 0; j < nr; j++) dst[j] = src[j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// The value the blocked product writes to one element (no accumulation), from row a (k) of op(A) and column b (k)
    /// of op(B): per KC slice a chain of multiply-adds from zero in order of p (<see cref="VectorIsa.MultiplyAdd(float, float, float)"/>:
    /// fused where the hardware has FMA, as in every micro-kernel), and the slices added to C one after another. The same
    /// for every m, n and split, so one element can be recomputed alone.
    /// </summary>
    public static float Element(float* a, float* b, int k)
    {
        int kStep = KStep(k);
        float c = 0f;
        for (int pc = 0; pc < k; pc += kStep)
        {
            int kc = Math.Min(kStep, k - pc);
            float acc = 0f;
            for (int p = pc; p < pc + kc; p++) acc = VectorIsa.MultiplyAdd(a[p], b[p], acc);
            c = pc == 0 ? acc : acc + c;
        }
        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel(nint kc, float* a, nint lda, float* b, float* c, nint ldc, bool addC)
    {
        if (VectorIsa.Path == VectorPath.Avx512) GemmKernels.Kernel12x32(kc, a, b, c, ldc, addC);
        else if (VectorIsa.Path == VectorPath.Avx2) GemmKernels.Kernel6x16(kc, a, lda, b, c, ldc, addC);
        else if (VectorIsa.Path == VectorPath.Vector128 && Neon) GemmKernels.Kernel8x12(kc, a, b, c, ldc, addC);
        else if (VectorIsa.Path == VectorPath.Vector128) GemmKernels.Kernel6x8(kc, a, b, c, ldc, addC);
        else GemmKernels.Kernel4x8(kc, a, b, c, ldc, addC);
    }
}
