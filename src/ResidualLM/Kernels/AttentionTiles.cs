// Register-blocked micro-kernels of the attention kernels (AttentionKernel.cs, AttentionBackward.cs): the two products
// of attention in 16-float vectors, plus the horizontal reductions and transposes they need (the exp is SimdMath's).
// Scores (q k^T, dout v^T): 8 rows x 32 keys in 16 zmm accumulators, contraction over the head size, one operand
// transposed to (HS, keys). Row sums (p v, dS k, W^T dout, dS^T q): 8 rows x 16 or 32 columns, or 4 rows x 64, in 16
// accumulators, contraction over keys or queries with the weights broadcast from memory. Rows past the last real one
// repeat it (results dropped). Vector512 code throughout, run only on the AVX-512 path (Lanes512); other machines use
// AttentionNarrowTiles.cs. Transpose alone is also called there: its 16 x 16 blocks then fall back to scalar copies.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

static unsafe class AttentionTiles
{
    /// <summary>Rows per register block.</summary>
    public const int Rows = 8;

    /// <summary>
    /// s[r, j] = sum_d a[r, d] bT[d, j] for r &lt; 8 and j &lt; 16 * tiles. a: (rows, depth), rows aStride apart (rows 1..8;
    /// missing rows repeat the last); bT: (depth, 16 * tiles), rows bStride apart; s: (8, 16 * tiles), rows sStride apart.
    /// </summary>
    public static void Scores(float* a, long aStride, int rows, float* bT, long bStride, int depth, int tiles, float* s, long sStride)
    {
        int t = 0;
        for (; t + 2 <= tiles; t += 2) Scores8x32(a, aStride, rows, bT + 16 * t, bStride, depth, s + 16 * t, sStride);
        if (t < tiles) Scores8x16(a, aStride, rows, bT + 16 * t, bStride, depth, s + 16 * t, sStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scores8x32(float* a, long aStride, int rows, float* bT, long bStride, int depth, float* s, long sStride)
    {
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * aStride, a2 = a + Math.Min(2, rows - 1) * aStride, a3 = a + Math.Min(3, rows - 1) * aStride;
        float* a4 = a + Math.Min(4, rows - 1) * aStride, a5 = a + Math.Min(5, rows - 1) * aStride, a6 = a + Math.Min(6, rows - 1) * aStride, a7 = a + Math.Min(7, rows - 1) * aStride;
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
        for (nint d = 0; d < depth; d++, bT += bStride)
        {
            var b0 = Vector512.Load(bT);
            var b1 = Vector512.Load(bT + 16);
            var x = Vector512.Create(a0[d]); c0a = VectorIsa.MultiplyAdd(x, b0, c0a); c0b = VectorIsa.MultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a1[d]); c1a = VectorIsa.MultiplyAdd(x, b0, c1a); c1b = VectorIsa.MultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a2[d]); c2a = VectorIsa.MultiplyAdd(x, b0, c2a); c2b = VectorIsa.MultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a3[d]); c3a = VectorIsa.MultiplyAdd(x, b0, c3a); c3b = VectorIsa.MultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a4[d]); c4a = VectorIsa.MultiplyAdd(x, b0, c4a); c4b = VectorIsa.MultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a5[d]); c5a = VectorIsa.MultiplyAdd(x, b0, c5a); c5b = VectorIsa.MultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a6[d]); c6a = VectorIsa.MultiplyAdd(x, b0, c6a); c6b = VectorIsa.MultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a7[d]); c7a = VectorIsa.MultiplyAdd(x, b0, c7a); c7b = VectorIsa.MultiplyAdd(x, b1, c7b);
        }
        c0a.Store(s); c0b.Store(s + 16); s += sStride;
        c1a.Store(s); c1b.Store(s + 16); s += sStride;
        c2a.Store(s); c2b.Store(s + 16); s += sStride;
        c3a.Store(s); c3b.Store(s + 16); s += sStride;
        c4a.Store(s); c4b.Store(s + 16); s += sStride;
        c5a.Store(s); c5b.Store(s + 16); s += sStride;
        c6a.Store(s); c6b.Store(s + 16); s += sStride;
        c7a.Store(s); c7b.Store(s + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scores8x16(float* a, long aStride, int rows, float* bT, long bStride, int depth, float* s, long sStride)
    {
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * aStride, a2 = a + Math.Min(2, rows - 1) * aStride, a3 = a + Math.Min(3, rows - 1) * aStride;
        float* a4 = a + Math.Min(4, rows - 1) * aStride, a5 = a + Math.Min(5, rows - 1) * aStride, a6 = a + Math.Min(6, rows - 1) * aStride, a7 = a + Math.Min(7, rows - 1) * aStride;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (nint d = 0; d < depth; d++, bT += bStride)
        {
            var b = Vector512.Load(bT);
            c0 = VectorIsa.MultiplyAdd(Vector512.Create(a0[d]), b, c0);
            c1 = VectorIsa.MultiplyAdd(Vector512.Create(a1[d]), b, c1);
            c2 = VectorIsa.MultiplyAdd(Vector512.Create(a2[d]), b, c2);
            c3 = VectorIsa.MultiplyAdd(Vector512.Create(a3[d]), b, c3);
            c4 = VectorIsa.MultiplyAdd(Vector512.Create(a4[d]), b, c4);
            c5 = VectorIsa.MultiplyAdd(Vector512.Create(a5[d]), b, c5);
            c6 = VectorIsa.MultiplyAdd(Vector512.Create(a6[d]), b, c6);
            c7 = VectorIsa.MultiplyAdd(Vector512.Create(a7[d]), b, c7);
        }
        c0.Store(s); c1.Store(s + sStride); c2.Store(s + 2 * sStride); c3.Store(s + 3 * sStride);
        c4.Store(s + 4 * sStride); c5.Store(s + 5 * sStride); c6.Store(s + 6 * sStride); c7.Store(s + 7 * sStride);
    }

    /// <summary>
    /// o[r, c] (+)= sum_t w[r * wRow + t * wStep] b[t, c] for r &lt; rows (at most 8) and c &lt; 16 * vectors: a weighted sum
    /// of <paramref name="count"/> rows of b (bStride apart, 16 * vectors readable floats each) per output row
    /// (oStride apart). With wRow = 1 and wStep = a row stride, w is read down columns: the transposed product.
    /// </summary>
    public static void RowSums(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int vectors, float* o, long oStride, bool accumulate)
    {
        int v = 0;
        for (; v + 4 <= vectors; v += 4)
        {
            RowSums4x64(w, wRow, wStep, Math.Min(rows, 4), b + 16 * v, bStride, count, o + 16 * v, oStride, accumulate);
            if (rows > 4) RowSums4x64(w + 4 * wRow, wRow, wStep, rows - 4, b + 16 * v, bStride, count, o + 16 * v + 4 * oStride, oStride, accumulate);
        }
        for (; v + 2 <= vectors; v += 2) RowSums8x32(w, wRow, wStep, rows, b + 16 * v, bStride, count, o + 16 * v, oStride, accumulate);
        if (v < vectors) RowSums8x16(w, wRow, wStep, rows, b + 16 * v, bStride, count, o + 16 * v, oStride, accumulate);
    }

    // Terms alternate between two sets of 8 accumulators: 16 independent FMA chains keep both FMA pipes busy.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowSums8x16(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, float* o, long oStride, bool accumulate)
    {
        float* w0 = w, w1 = w + Math.Min(1, rows - 1) * wRow, w2 = w + Math.Min(2, rows - 1) * wRow, w3 = w + Math.Min(3, rows - 1) * wRow;
        float* w4 = w + Math.Min(4, rows - 1) * wRow, w5 = w + Math.Min(5, rows - 1) * wRow, w6 = w + Math.Min(6, rows - 1) * wRow, w7 = w + Math.Min(7, rows - 1) * wRow;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default;
        nint at = 0, next = (nint)wStep;
        int t = 0;
        for (; t + 2 <= count; t += 2, at += 2 * (nint)wStep, next += 2 * (nint)wStep, b += 2 * bStride)
        {
            var x = Vector512.Load(b);
            var y = Vector512.Load(b + bStride);
            c0 = VectorIsa.MultiplyAdd(Vector512.Create(w0[at]), x, c0); d0 = VectorIsa.MultiplyAdd(Vector512.Create(w0[next]), y, d0);
            c1 = VectorIsa.MultiplyAdd(Vector512.Create(w1[at]), x, c1); d1 = VectorIsa.MultiplyAdd(Vector512.Create(w1[next]), y, d1);
            c2 = VectorIsa.MultiplyAdd(Vector512.Create(w2[at]), x, c2); d2 = VectorIsa.MultiplyAdd(Vector512.Create(w2[next]), y, d2);
            c3 = VectorIsa.MultiplyAdd(Vector512.Create(w3[at]), x, c3); d3 = VectorIsa.MultiplyAdd(Vector512.Create(w3[next]), y, d3);
            c4 = VectorIsa.MultiplyAdd(Vector512.Create(w4[at]), x, c4); d4 = VectorIsa.MultiplyAdd(Vector512.Create(w4[next]), y, d4);
            c5 = VectorIsa.MultiplyAdd(Vector512.Create(w5[at]), x, c5); d5 = VectorIsa.MultiplyAdd(Vector512.Create(w5[next]), y, d5);
            c6 = VectorIsa.MultiplyAdd(Vector512.Create(w6[at]), x, c6); d6 = VectorIsa.MultiplyAdd(Vector512.Create(w6[next]), y, d6);
            c7 = VectorIsa.MultiplyAdd(Vector512.Create(w7[at]), x, c7); d7 = VectorIsa.MultiplyAdd(Vector512.Create(w7[next]), y, d7);
        }
        if (t < count)
        {
            var x = Vector512.Load(b);
            c0 = VectorIsa.MultiplyAdd(Vector512.Create(w0[at]), x, c0);
            c1 = VectorIsa.MultiplyAdd(Vector512.Create(w1[at]), x, c1);
            c2 = VectorIsa.MultiplyAdd(Vector512.Create(w2[at]), x, c2);
            c3 = VectorIsa.MultiplyAdd(Vector512.Create(w3[at]), x, c3);
            c4 = VectorIsa.MultiplyAdd(Vector512.Create(w4[at]), x, c4);
            c5 = VectorIsa.MultiplyAdd(Vector512.Create(w5[at]), x, c5);
            c6 = VectorIsa.MultiplyAdd(Vector512.Create(w6[at]), x, c6);
            c7 = VectorIsa.MultiplyAdd(Vector512.Create(w7[at]), x, c7);
        }
        Put(c0 + d0, o, accumulate);
        if (rows > 1) Put(c1 + d1, o + oStride, accumulate);
        if (rows > 2) Put(c2 + d2, o + 2 * oStride, accumulate);
        if (rows > 3) Put(c3 + d3, o + 3 * oStride, accumulate);
        if (rows > 4) Put(c4 + d4, o + 4 * oStride, accumulate);
        if (rows > 5) Put(c5 + d5, o + 5 * oStride, accumulate);
        if (rows > 6) Put(c6 + d6, o + 6 * oStride, accumulate);
        if (rows > 7) Put(c7 + d7, o + 7 * oStride, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowSums8x32(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, float* o, long oStride, bool accumulate)
    {
        float* w0 = w, w1 = w + Math.Min(1, rows - 1) * wRow, w2 = w + Math.Min(2, rows - 1) * wRow, w3 = w + Math.Min(3, rows - 1) * wRow;
        float* w4 = w + Math.Min(4, rows - 1) * wRow, w5 = w + Math.Min(5, rows - 1) * wRow, w6 = w + Math.Min(6, rows - 1) * wRow, w7 = w + Math.Min(7, rows - 1) * wRow;
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
        nint at = 0;
        for (int t = 0; t < count; t++, at += (nint)wStep, b += bStride)
        {
            var xa = Vector512.Load(b);
            var xb = Vector512.Load(b + 16);
            var y = Vector512.Create(w0[at]); c0a = VectorIsa.MultiplyAdd(y, xa, c0a); c0b = VectorIsa.MultiplyAdd(y, xb, c0b);
            y = Vector512.Create(w1[at]); c1a = VectorIsa.MultiplyAdd(y, xa, c1a); c1b = VectorIsa.MultiplyAdd(y, xb, c1b);
            y = Vector512.Create(w2[at]); c2a = VectorIsa.MultiplyAdd(y, xa, c2a); c2b = VectorIsa.MultiplyAdd(y, xb, c2b);
            y = Vector512.Create(w3[at]); c3a = VectorIsa.MultiplyAdd(y, xa, c3a); c3b = VectorIsa.MultiplyAdd(y, xb, c3b);
            y = Vector512.Create(w4[at]); c4a = VectorIsa.MultiplyAdd(y, xa, c4a); c4b = VectorIsa.MultiplyAdd(y, xb, c4b);
            y = Vector512.Create(w5[at]); c5a = VectorIsa.MultiplyAdd(y, xa, c5a); c5b = VectorIsa.MultiplyAdd(y, xb, c5b);
            y = Vector512.Create(w6[at]); c6a = VectorIsa.MultiplyAdd(y, xa, c6a); c6b = VectorIsa.MultiplyAdd(y, xb, c6b);
            y = Vector512.Create(w7[at]); c7a = VectorIsa.MultiplyAdd(y, xa, c7a); c7b = VectorIsa.MultiplyAdd(y, xb, c7b);
        }
        Put(c0a, o, accumulate); Put(c0b, o + 16, accumulate);
        if (rows > 1) { Put(c1a, o + oStride, accumulate); Put(c1b, o + oStride + 16, accumulate); }
        if (rows > 2) { Put(c2a, o + 2 * oStride, accumulate); Put(c2b, o + 2 * oStride + 16, accumulate); }
        if (rows > 3) { Put(c3a, o + 3 * oStride, accumulate); Put(c3b, o + 3 * oStride + 16, accumulate); }
        if (rows > 4) { Put(c4a, o + 4 * oStride, accumulate); Put(c4b, o + 4 * oStride + 16, accumulate); }
        if (rows > 5) { Put(c5a, o + 5 * oStride, accumulate); Put(c5b, o + 5 * oStride + 16, accumulate); }
        if (rows > 6) { Put(c6a, o + 6 * oStride, accumulate); Put(c6b, o + 6 * oStride + 16, accumulate); }
        if (rows > 7) { Put(c7a, o + 7 * oStride, accumulate); Put(c7b, o + 7 * oStride + 16, accumulate); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowSums4x64(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, float* o, long oStride, bool accumulate)
    {
        float* w0 = w, w1 = w + Math.Min(1, rows - 1) * wRow, w2 = w + Math.Min(2, rows - 1) * wRow, w3 = w + Math.Min(3, rows - 1) * wRow;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        nint at = 0;
        for (int t = 0; t < count; t++, at += (nint)wStep, b += bStride)
        {
            var x0 = Vector512.Load(b);
            var x1 = Vector512.Load(b + 16);
            var x2 = Vector512.Load(b + 32);
            var x3 = Vector512.Load(b + 48);
            var y = Vector512.Create(w0[at]);
            c00 = VectorIsa.MultiplyAdd(y, x0, c00); c01 = VectorIsa.MultiplyAdd(y, x1, c01); c02 = VectorIsa.MultiplyAdd(y, x2, c02); c03 = VectorIsa.MultiplyAdd(y, x3, c03);
            y = Vector512.Create(w1[at]);
            c10 = VectorIsa.MultiplyAdd(y, x0, c10); c11 = VectorIsa.MultiplyAdd(y, x1, c11); c12 = VectorIsa.MultiplyAdd(y, x2, c12); c13 = VectorIsa.MultiplyAdd(y, x3, c13);
            y = Vector512.Create(w2[at]);
            c20 = VectorIsa.MultiplyAdd(y, x0, c20); c21 = VectorIsa.MultiplyAdd(y, x1, c21); c22 = VectorIsa.MultiplyAdd(y, x2, c22); c23 = VectorIsa.MultiplyAdd(y, x3, c23);
            y = Vector512.Create(w3[at]);
            c30 = VectorIsa.MultiplyAdd(y, x0, c30); c31 = VectorIsa.MultiplyAdd(y, x1, c31); c32 = VectorIsa.MultiplyAdd(y, x2, c32); c33 = VectorIsa.MultiplyAdd(y, x3, c33);
        }
        Put(c00, o, accumulate); Put(c01, o + 16, accumulate); Put(c02, o + 32, accumulate); Put(c03, o + 48, accumulate);
        if (rows > 1) { o += oStride; Put(c10, o, accumulate); Put(c11, o + 16, accumulate); Put(c12, o + 32, accumulate); Put(c13, o + 48, accumulate); }
        if (rows > 2) { o += oStride; Put(c20, o, accumulate); Put(c21, o + 16, accumulate); Put(c22, o + 32, accumulate); Put(c23, o + 48, accumulate); }
        if (rows > 3) { o += oStride; Put(c30, o, accumulate); Put(c31, o + 16, accumulate); Put(c32, o + 32, accumulate); Put(c33, o + 48, accumulate); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(Vector512<float> value, float* o, bool accumulate) => (accumulate ? value + Vector512.Load(o) : value).Store(o);

    /// <summary>The largest lane of <paramref name="x"/>, in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaxAcross(Vector512<float> x)
    {
        if (!Avx512F.IsSupported) return Vector512.Create(Max(x));
        x = Avx512F.Max(x, Avx512F.Shuffle4x128(x, x, 0b01_00_11_10));
        x = Avx512F.Max(x, Avx512F.Shuffle4x128(x, x, 0b10_11_00_01));
        x = Avx512F.Max(x, Avx512F.Permute4x32(x, 0b01_00_11_10));
        return Avx512F.Max(x, Avx512F.Permute4x32(x, 0b10_11_00_01));
    }

    /// <summary>The sum of the lanes of <paramref name="x"/>, in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SumAcross(Vector512<float> x)
    {
        if (!Avx512F.IsSupported) return Vector512.Create(Vector512.Sum(x));
        x += Avx512F.Shuffle4x128(x, x, 0b01_00_11_10);
        x += Avx512F.Shuffle4x128(x, x, 0b10_11_00_01);
        x += Avx512F.Permute4x32(x, 0b01_00_11_10);
        return x + Avx512F.Permute4x32(x, 0b10_11_00_01);
    }

    /// <summary>Lane-wise max; vmaxps where available (no NaN or signed-zero fix-ups needed for scores).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Avx512F.IsSupported ? Avx512F.Max(a, b) : Vector512.Max(a, b);

    static float Max(Vector512<float> x)
    {
        float m = x[0];
        for (int i = 1; i < 16; i++) m = MathF.Max(m, x[i]);
        return m;
    }

    /// <summary>
    /// xT[d, t] = x[t, d] for t &lt; time, d &lt; depth: x rows rowStride apart, xT rows stride apart (stride &gt;= time rounded
    /// up to 16); columns time..stride of xT are zeroed so whole vectors can be read. 16 x 16 blocks in registers.
    /// </summary>
    public static void Transpose(float* x, long rowStride, int time, int depth, float* xT, long stride)
    {
        int t0 = 0, fullDepth = Avx512F.IsSupported ? depth & ~15 : 0;
        for (; t0 + 16 <= time && fullDepth > 0; t0 += 16)
            for (int d0 = 0; d0 < fullDepth; d0 += 16) Transpose16(x + t0 * rowStride + d0, rowStride, xT + d0 * stride + t0, stride);
        for (int d = 0; d < depth; d++)
        {
            float* row = xT + d * stride;
            for (int t = d < fullDepth ? t0 : 0; t < time; t++) row[t] = x[t * rowStride + d];
            for (int t = time; t < stride; t++) row[t] = 0f;
        }
    }

    /// <summary>A 16 x 16 block transposed with 64 shuffles: 32-bit and 64-bit interleaves within 128-bit lanes, then lane moves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Transpose16(float* x, long rowStride, float* xT, long stride)
    {
        // Four rows at a time: u{m}, 128-bit lane L, holds column 4L + m of those rows.
        Interleave(x, rowStride, out var u0, out var u1, out var u2, out var u3);
        Interleave(x + 4 * rowStride, rowStride, out var u4, out var u5, out var u6, out var u7);
        Interleave(x + 8 * rowStride, rowStride, out var u8, out var u9, out var u10, out var u11);
        Interleave(x + 12 * rowStride, rowStride, out var u12, out var u13, out var u14, out var u15);
        // Output row 4L + m gathers lane L of u{m}, u{4+m}, u{8+m}, u{12+m}.
        GatherLanes(u0, u4, u8, u12, xT, stride);
        GatherLanes(u1, u5, u9, u13, xT + stride, stride);
        GatherLanes(u2, u6, u10, u14, xT + 2 * stride, stride);
        GatherLanes(u3, u7, u11, u15, xT + 3 * stride, stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Interleave(float* x, long rowStride, out Vector512<float> u0, out Vector512<float> u1, out Vector512<float> u2, out Vector512<float> u3)
    {
        Vector512<float> r0 = Vector512.Load(x), r1 = Vector512.Load(x + rowStride), r2 = Vector512.Load(x + 2 * rowStride), r3 = Vector512.Load(x + 3 * rowStride);
        Vector512<double> t0 = Avx512F.UnpackLow(r0, r1).AsDouble(), t1 = Avx512F.UnpackHigh(r0, r1).AsDouble();
        Vector512<double> t2 = Avx512F.UnpackLow(r2, r3).AsDouble(), t3 = Avx512F.UnpackHigh(r2, r3).AsDouble();
        u0 = Avx512F.UnpackLow(t0, t2).AsSingle();
        u1 = Avx512F.UnpackHigh(t0, t2).AsSingle();
        u2 = Avx512F.UnpackLow(t1, t3).AsSingle();
        u3 = Avx512F.UnpackHigh(t1, t3).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void GatherLanes(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float* xT, long stride)
    {
        Vector512<float> s0 = Avx512F.Shuffle4x128(a, b, 0x44), s1 = Avx512F.Shuffle4x128(a, b, 0xEE);
        Vector512<float> s2 = Avx512F.Shuffle4x128(c, d, 0x44), s3 = Avx512F.Shuffle4x128(c, d, 0xEE);
        Avx512F.Shuffle4x128(s0, s2, 0x88).Store(xT);
        Avx512F.Shuffle4x128(s0, s2, 0xDD).Store(xT + 4 * stride);
        Avx512F.Shuffle4x128(s1, s3, 0x88).Store(xT + 8 * stride);
        Avx512F.Shuffle4x128(s1, s3, 0xDD).Store(xT + 12 * stride);
    }

    /// <summary>dst (rows, width; rows dstStride apart) = src's first <paramref name="columns"/> columns, zero beyond.</summary>
    public static void CopyPadded(float* src, long srcStride, int rows, int columns, float* dst, int width)
    {
        for (int r = 0; r < rows; r++)
        {
            float* d = dst + (long)r * width, s = src + r * srcStride;
            for (int c = 0; c < columns; c++) d[c] = s[c];
            for (int c = columns; c < width; c++) d[c] = 0f;
        }
    }
}
