// Register-blocked products of the attention kernels in 256- and 128-bit vectors (the 512-bit ones are AttentionTiles.cs).
// Both products, scores (q k^T with k transposed) and row sums (p v, dS k, W^T dout, dS^T q), are o[r, c] = sum_t
// w[r, t] b[t, c], so one micro-kernel serves both: 4 rows x K vectors of accumulators, one broadcast weight per row and
// K loads of b per step. K is chosen for the register file: AVX2 (16 ymm) K = 2 (8 accumulators + 2 loads + 1
// broadcast); ARM64 (32 q) K = 4 (16 + 4 + 1); x86 SSE (16 xmm, no FMA: multiply then add needs a temporary) K = 2.
// Eight FMA chains cover the FMA latency of two pipes (4 cycles x 2). Each output is one chain in t order whatever the
// block shape, so a row's values do not depend on how many rows share its block (decoding = one row).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace ResidualLM.Kernels;

static unsafe class AttentionNarrowTiles
{
    /// <summary>Vectors per block row: 4 on ARM64 (32 registers), 2 on x86 (16 registers) and in software.</summary>
    static int BlockVectors<L, V>() where L : struct, IAttentionLanes<V> where V : unmanaged => L.Count == 4 && AdvSimd.IsSupported ? 4 : 2;

    /// <summary>s[r, j] = sum_d a[r, d] bT[d, j] for r &lt; rows (at most 8), j &lt; 16 * tiles (see <see cref="AttentionTiles.Scores"/>).</summary>
    public static void Scores<L, V>(float* a, long aStride, int rows, float* bT, long bStride, int depth, int tiles, float* s, long sStride)
        where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        int width = BlockVectors<L, V>() * L.Count, columns = 16 * tiles;
        for (int c = 0; c < columns; c += width)
            for (int r = 0; r < rows; r += 4)
                Block<L, V>(a + r * aStride, aStride, 1, Math.Min(4, rows - r), bT + c, bStride, depth, s + r * sStride + c, sStride, accumulate: false);
    }

    /// <summary>o[r, c] (+)= sum_t w[r * wRow + t * wStep] b[t, c] for r &lt; rows (at most 8), c &lt; 16 * groups (see <see cref="AttentionTiles.RowSums"/>).</summary>
    public static void RowSums<L, V>(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int groups, float* o, long oStride, bool accumulate)
        where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        int width = BlockVectors<L, V>() * L.Count, columns = 16 * groups;
        for (int c = 0; c < columns; c += width)
            for (int r = 0; r < rows; r += 4)
                Block<L, V>(w + r * wRow, wRow, wStep, Math.Min(4, rows - r), b + c, bStride, count, o + r * oStride + c, oStride, accumulate);
    }

    /// <summary>
    /// o[r, c] (+)= sum_t w[r * wRow + t * wStep] b[t, c] for r &lt; rows (1..4; missing rows repeat the last and are not
    /// stored) and c &lt; K vectors. The K = 4 lanes (c, d) fold away where K = 2: BlockVectors is a JIT-time constant.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block<L, V>(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, float* o, long oStride, bool accumulate)
        where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        bool four = BlockVectors<L, V>() == 4;
        int n = L.Count;
        float* w0 = w, w1 = w + Math.Min(1, rows - 1) * wRow, w2 = w + Math.Min(2, rows - 1) * wRow, w3 = w + Math.Min(3, rows - 1) * wRow;
        V c0a = L.Zero, c0b = L.Zero, c0c = L.Zero, c0d = L.Zero, c1a = L.Zero, c1b = L.Zero, c1c = L.Zero, c1d = L.Zero;
        V c2a = L.Zero, c2b = L.Zero, c2c = L.Zero, c2d = L.Zero, c3a = L.Zero, c3b = L.Zero, c3c = L.Zero, c3d = L.Zero;
        nint at = 0, step = (nint)wStep;
        for (int t = 0; t < count; t++, at += step, b += bStride)
        {
            V xa = L.Load(b), xb = L.Load(b + n), xc = four ? L.Load(b + 2 * n) : L.Zero, xd = four ? L.Load(b + 3 * n) : L.Zero;
            V y = L.Create(w0[at]); c0a = L.MultiplyAdd(y, xa, c0a); c0b = L.MultiplyAdd(y, xb, c0b);
            if (four) { c0c = L.MultiplyAdd(y, xc, c0c); c0d = L.MultiplyAdd(y, xd, c0d); }
            y = L.Create(w1[at]); c1a = L.MultiplyAdd(y, xa, c1a); c1b = L.MultiplyAdd(y, xb, c1b);
            if (four) { c1c = L.MultiplyAdd(y, xc, c1c); c1d = L.MultiplyAdd(y, xd, c1d); }
            y = L.Create(w2[at]); c2a = L.MultiplyAdd(y, xa, c2a); c2b = L.MultiplyAdd(y, xb, c2b);
            if (four) { c2c = L.MultiplyAdd(y, xc, c2c); c2d = L.MultiplyAdd(y, xd, c2d); }
            y = L.Create(w3[at]); c3a = L.MultiplyAdd(y, xa, c3a); c3b = L.MultiplyAdd(y, xb, c3b);
            if (four) { c3c = L.MultiplyAdd(y, xc, c3c); c3d = L.MultiplyAdd(y, xd, c3d); }
        }
        Put<L, V>(c0a, o, accumulate); Put<L, V>(c0b, o + n, accumulate);
        if (four) { Put<L, V>(c0c, o + 2 * n, accumulate); Put<L, V>(c0d, o + 3 * n, accumulate); }
        if (rows > 1)
        {
            o += oStride; Put<L, V>(c1a, o, accumulate); Put<L, V>(c1b, o + n, accumulate);
            if (four) { Put<L, V>(c1c, o + 2 * n, accumulate); Put<L, V>(c1d, o + 3 * n, accumulate); }
        }
        if (rows > 2)
        {
            o += oStride; Put<L, V>(c2a, o, accumulate); Put<L, V>(c2b, o + n, accumulate);
            if (four) { Put<L, V>(c2c, o + 2 * n, accumulate); Put<L, V>(c2d, o + 3 * n, accumulate); }
        }
        if (rows > 3)
        {
            o += oStride; Put<L, V>(c3a, o, accumulate); Put<L, V>(c3b, o + n, accumulate);
            if (four) { Put<L, V>(c3c, o + 2 * n, accumulate); Put<L, V>(c3d, o + 3 * n, accumulate); }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put<L, V>(V value, float* o, bool accumulate) where L : struct, IAttentionLanes<V> where V : unmanaged =>
        L.Store(accumulate ? L.Add(value, L.Load(o)) : value, o);
}
