// Rows of a matrix quantised to int8 with one scale per row (w_j ~ scale_j q_j, |q| <= 127), a vector quantised to
// uint8 around a zero point of 128, and their integer dot products: the cheap pass of a screened argmax, a quarter of
// the bytes of the float rows. The rounding is measured, not estimated (norms of w_j, of scale_j q_j and of
// w_j - scale_j q_j, exact in double and rounded up), so a caller can bound every approximate product rigorously.
// The dot products are exact int32 sums for k <= MaxLength on every path (AVX-VNNI; int16 widening multiply-add at 512,
// 256 or 128 bits; ARM64 SDOT; the scalar loop), hence equal to the scalar twin's bit for bit. Glossary: n rows, k columns.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

/// <summary>The loops <see cref="QuantizedRows.Dots"/> can take.</summary>
public enum IntDotPath
{
    /// <summary>Plain loop.</summary>
    Scalar,
    /// <summary>128 bits: ARM64 SDOT or widening multiply-add, x86 SSE pmaddwd.</summary>
    Vector128,
    /// <summary>AVX2: widen to int16, pmaddwd.</summary>
    Widen256,
    /// <summary>AVX-512BW: widen to int16, pmaddwd.</summary>
    Widen512,
    /// <summary>AVX-VNNI: vpdpbusd on 32 bytes.</summary>
    Vnni256,
}

/// <summary>Int8 rows with per-row scales, uint8 vectors, and exact integer dot products between them.</summary>
public static unsafe class QuantizedRows
{
    /// <summary>Longest row whose dot products cannot overflow int32 (255 * 127 * k &lt; 2^31).</summary>
    public const int MaxLength = 65536;

    /// <summary>The zero point of quantised vectors: stored byte = round(x / scale) + 128.</summary>
    public const int ZeroPoint = 128;

    /// <summary>
    /// Quantises rows [from, to) of w (n x k): q (n x k) = round(w_j * 127 / max|w_j|) clamped to [-127, 127] (ties to
    /// even), scales (n) = max|w_j| / 127, rowSums (n) = sum_p q_jp; norms (n) &gt;= ||w_j||, quantizedNorms (n) &gt;=
    /// ||scale_j q_j|| and errorNorms (n) &gt;= ||w_j - scale_j q_j|| (Euclidean). Rows must be finite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRows(ReadOnlySpan<float> w, int k, int from, int to, Span<sbyte> q, Span<float> scales, Span<int> rowSums,
        Span<float> norms, Span<float> quantizedNorms, Span<float> errorNorms)
    {
        if (k < 1 || k > MaxLength || from < 0 || to < from || w.Length < (long)to * k || q.Length < (long)to * k
            || scales.Length < to || rowSums.Length < to || norms.Length < to || quantizedNorms.Length < to || errorNorms.Length < to)
            throw new ArgumentException("quantised rows: spans do not match (n x k) and (n)");
        fixed (float* pw = w)
        fixed (sbyte* pq = q)
        {
            for (int j = from; j < to; j++)
            {
                float* row = pw + (long)j * k;
                sbyte* qRow = pq + (long)j * k;
                float max = VectorOps.Max<AbsOperator>(row, k, default);
                float scale = max / 127f, inverse = max > 0f ? 127f / max : 0f;
                int p = 0, sum = 0;
                // Sums of squares in double: w^2, (scale q)^2 and (w - scale q)^2; the differences are exact in double
                // (a 24-bit float minus a 24-bit scale times a 7-bit integer, within a factor 2^9 of each other).
                double ww = 0, qq = 0, ee = 0;
                if (Avx512F.IsSupported)
                {
                    var vInverse = Vector512.Create(inverse);
                    Vector512<int> lo = Vector512.Create(-127), hi = Vector512.Create(127), vSum = default;
                    Vector512<double> vScale = Vector512.Create((double)scale), vww = default, vqq = default, vee = default;
                    for (; p + 16 <= k; p += 16)
                    {
                        var x = Vector512.Load(row + p);
                        var qi = Avx512F.Min(Avx512F.Max(Avx512F.ConvertToVector512Int32(x * vInverse), lo), hi); // round to nearest even
                        Avx512F.ConvertToVector128SByte(qi).Store(qRow + p);
                        vSum += qi;
                        var qf = Avx512F.ConvertToVector512Single(qi);
                        Squares(Avx512F.ConvertToVector512Double(x.GetLower()), Avx512F.ConvertToVector512Double(qf.GetLower()), vScale, ref vww, ref vqq, ref vee);
                        Squares(Avx512F.ConvertToVector512Double(x.GetUpper()), Avx512F.ConvertToVector512Double(qf.GetUpper()), vScale, ref vww, ref vqq, ref vee);
                    }
                    sum = Vector512.Sum(vSum);
                    ww = Vector512.Sum(vww); qq = Vector512.Sum(vqq); ee = Vector512.Sum(vee);
                }
                for (; p < k; p++)
                {
                    int qi = Math.Clamp((int)MathF.Round(row[p] * inverse), -127, 127);
                    qRow[p] = (sbyte)qi;
                    sum += qi;
                    double x = row[p], sq = (double)scale * qi, e = x - sq;
                    ww += x * x; qq += sq * sq; ee += e * e;
                }
                scales[j] = scale;
                rowSums[j] = sum;
                norms[j] = NormUp(ww, k);
                quantizedNorms[j] = NormUp(qq, k);
                errorNorms[j] = NormUp(ee, k);
            }
        }
    }

    /// <summary>
    /// Quantises x (k) to q (k) = round(x / scale) + 128 with scale = max|x| / 127 (returned; 0 for x = 0), and returns
    /// through <paramref name="norm"/> and <paramref name="errorNorm"/> upper bounds on ||x|| and ||x - scale (q - 128)||.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float QuantizeVector(ReadOnlySpan<float> x, Span<byte> q, out double norm, out double errorNorm)
    {
        if (x.Length < 1 || q.Length != x.Length) throw new ArgumentException("quantised vector: spans differ in length");
        float max = 0f;
        foreach (float v in x) max = Math.Max(max, Math.Abs(v));
        float scale = max / 127f, inverse = max > 0f ? 127f / max : 0f;
        double xx = 0, ee = 0;
        for (int p = 0; p < x.Length; p++)
        {
            int qi = Math.Clamp((int)MathF.Round(x[p] * inverse), -127, 127);
            q[p] = (byte)(qi + ZeroPoint);
            double e = x[p] - (double)scale * qi;
            xx += (double)x[p] * x[p]; ee += e * e;
        }
        norm = NormUp(xx, x.Length);
        errorNorm = NormUp(ee, x.Length);
        return scale;
    }

    /// <summary>dots[j] = sum_p qx[p] q[j, p] (qx unsigned, q signed) for rows [from, to) of q (n x k), exactly.</summary>
    public static void Dots(ReadOnlySpan<byte> qx, ReadOnlySpan<sbyte> q, int from, int to, Span<int> dots) =>
        DotsOn(DotPath, qx, q, from, to, dots);

    /// <summary>
    /// The dot-product loop <see cref="Dots"/> takes here:
    /// AVX-VNNI wherever the runtime exposes it (.NET 10 has no 512-bit VNNI class; the 256-bit form already keeps up
    /// with memory), else the widest widening multiply-add of <see cref="VectorIsa.Path"/>.
    /// </summary>
    internal static readonly IntDotPath DotPath = VectorIsa.Path switch
    {
        VectorPath.Avx512 => AvxVnni.IsSupported ? IntDotPath.Vnni256 : IntDotPath.Widen512,
        VectorPath.Avx2 => AvxVnni.IsSupported ? IntDotPath.Vnni256 : IntDotPath.Widen256,
        VectorPath.Vector128 => IntDotPath.Vector128,
        _ => IntDotPath.Scalar,
    };

    /// <summary>Whether this machine can run <paramref name="path"/> (tests run every one that it can).</summary>
    internal static bool IsSupported(IntDotPath path) => path switch
    {
        IntDotPath.Vnni256 => AvxVnni.IsSupported,
        IntDotPath.Widen512 => Avx512BW.IsSupported,
        IntDotPath.Widen256 => Avx2.IsSupported,
        IntDotPath.Vector128 => Vector128.IsHardwareAccelerated && (Sse2.IsSupported || AdvSimd.IsSupported),
        _ => true,
    };

    /// <summary>Dots on a chosen path; every path gives the same exact integers.</summary>
    internal static void DotsOn(IntDotPath path, ReadOnlySpan<byte> qx, ReadOnlySpan<sbyte> q, int from, int to, Span<int> dots)
    {
        int k = qx.Length;
        if (k < 1 || k > MaxLength || from < 0 || to < from || q.Length < (long)to * k || dots.Length < to)
            throw new ArgumentException("quantised dots: spans do not match (k), (n x k) and (n)");
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"int8 dots: {path} is not available here");
        fixed (byte* x = qx)
        fixed (sbyte* pq = q)
        fixed (int* c = dots)
        {
            // One row at a time, front to back: a single sequential stream per thread keeps up with the memory where
            // interleaved rows did not (integer sums are exact and wrap modulo 2^32, so the order is free).
            for (int j = from; j < to; j++)
            {
                sbyte* r = pq + (long)j * k;
                c[j] = path switch
                {
                    IntDotPath.Vnni256 => DotVnni256(x, r, k),
                    IntDotPath.Widen512 => DotWiden512(x, r, k),
                    IntDotPath.Widen256 => DotWiden256(x, r, k),
                    IntDotPath.Vector128 => Dot128(x, r, k),
                    _ => ScalarDot(x, r, 0, k),
                };
            }
        }
    }

    // AVX-VNNI (vpdpbusd: four u8 x s8 products summed into each int32 lane, no intermediate saturation): four
    // independent chains of 32 bytes with a software prefetch 2 KiB ahead.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int DotVnni256(byte* x, sbyte* r, int k)
    {
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p + 128 <= k; p += 128)
        {
            Sse.Prefetch0(r + p + 2048);
            Sse.Prefetch0(r + p + 2048 + 64);
            s0 = AvxVnni.MultiplyWideningAndAdd(s0, Vector256.Load(x + p), Vector256.Load(r + p));
            s1 = AvxVnni.MultiplyWideningAndAdd(s1, Vector256.Load(x + p + 32), Vector256.Load(r + p + 32));
            s2 = AvxVnni.MultiplyWideningAndAdd(s2, Vector256.Load(x + p + 64), Vector256.Load(r + p + 64));
            s3 = AvxVnni.MultiplyWideningAndAdd(s3, Vector256.Load(x + p + 96), Vector256.Load(r + p + 96));
        }
        for (; p + 32 <= k; p += 32) s0 = AvxVnni.MultiplyWideningAndAdd(s0, Vector256.Load(x + p), Vector256.Load(r + p));
        return Vector256.Sum(s0 + s1 + (s2 + s3)) + ScalarDot(x, r, p, k);
    }

    // Without VNNI both operands are widened to int16 and multiplied pairwise into int32 (vpmaddwd): exact, where the
    // byte form vpmaddubsw would saturate (2 x 255 x 127 > 2^15). 32 bytes per step, two chains.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int DotWiden512(byte* x, sbyte* r, int k)
    {
        Vector512<int> s0 = default, s1 = default;
        int p = 0;
        for (; p + 64 <= k; p += 64)
        {
            Sse.Prefetch0(r + p + 2048);
            s0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(x + p)).AsInt16(), Avx512BW.ConvertToVector512Int16(Vector256.Load(r + p)));
            s1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(x + p + 32)).AsInt16(), Avx512BW.ConvertToVector512Int16(Vector256.Load(r + p + 32)));
        }
        for (; p + 32 <= k; p += 32)
            s0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(x + p)).AsInt16(), Avx512BW.ConvertToVector512Int16(Vector256.Load(r + p)));
        return Vector512.Sum(s0 + s1) + ScalarDot(x, r, p, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int DotWiden256(byte* x, sbyte* r, int k)
    {
        Vector256<int> s0 = default, s1 = default;
        int p = 0;
        for (; p + 32 <= k; p += 32)
        {
            Sse.Prefetch0(r + p + 2048);
            s0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(x + p).AsInt16(), Avx2.ConvertToVector256Int16(r + p));
            s1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(x + p + 16).AsInt16(), Avx2.ConvertToVector256Int16(r + p + 16));
        }
        for (; p + 16 <= k; p += 16)
            s0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(x + p).AsInt16(), Avx2.ConvertToVector256Int16(r + p));
        return Vector256.Sum(s0 + s1) + ScalarDot(x, r, p, k);
    }

    // 128 bits, 16 bytes per step. ARM64 with the dot-product extension: SDOT multiplies signed bytes only, so x is
    // taken as x - 128 (x ^ 0x80) and 128 sum q added back, as SDOT of q with -128 subtracted (each lane sums four
    // products of at most 128 x 127, and the int32 sums wrap exactly). Other ARM64: widen to int16 and multiply-add
    // widening (SMLAL, SMLAL2). x86 SSE: widen and multiply pairwise (pmaddwd), as the 256-bit path.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Dot128(byte* x, sbyte* r, int k)
    {
        Vector128<int> s0 = default, s1 = default;
        int p = 0;
        if (Dp.IsSupported)
        {
            Vector128<byte> flip = Vector128.Create((byte)0x80);
            Vector128<sbyte> minus128 = Vector128.Create(sbyte.MinValue);
            for (; p + 16 <= k; p += 16)
            {
                var qv = Vector128.Load(r + p);
                s0 = Dp.DotProduct(s0, (Vector128.Load(x + p) ^ flip).AsSByte(), qv);
                s1 = Dp.DotProduct(s1, minus128, qv);
            }
            return Vector128.Sum(s0) - Vector128.Sum(s1) + ScalarDot(x, r, p, k);
        }
        if (AdvSimd.IsSupported)
        {
            for (; p + 16 <= k; p += 16)
            {
                var xv = Vector128.Load(x + p);
                var qv = Vector128.Load(r + p);
                Vector128<short> xl = Vector128.WidenLower(xv).AsInt16(), xh = Vector128.WidenUpper(xv).AsInt16();
                Vector128<short> ql = Vector128.WidenLower(qv), qh = Vector128.WidenUpper(qv);
                s0 = AdvSimd.MultiplyWideningLowerAndAdd(s0, xl.GetLower(), ql.GetLower());
                s1 = AdvSimd.MultiplyWideningUpperAndAdd(s1, xl, ql);
                s0 = AdvSimd.MultiplyWideningLowerAndAdd(s0, xh.GetLower(), qh.GetLower());
                s1 = AdvSimd.MultiplyWideningUpperAndAdd(s1, xh, qh);
            }
            return Vector128.Sum(s0 + s1) + ScalarDot(x, r, p, k);
        }
        for (; p + 16 <= k; p += 16)
        {
            var xv = Vector128.Load(x + p);
            var qv = Vector128.Load(r + p);
            s0 += Sse2.MultiplyAddAdjacent(Vector128.WidenLower(xv).AsInt16(), Vector128.WidenLower(qv));
            s1 += Sse2.MultiplyAddAdjacent(Vector128.WidenUpper(xv).AsInt16(), Vector128.WidenUpper(qv));
        }
        return Vector128.Sum(s0 + s1) + ScalarDot(x, r, p, k);
    }

    static int ScalarDot(byte* x, sbyte* r, int from, int to)
    {
        int s = 0;
        for (int p = from; p < to; p++) s += x[p] * r[p];
        return s;
    }

    /// <summary>ww += x^2, qq += (scale q)^2, ee += (x - scale q)^2 on eight doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Squares(Vector512<double> x, Vector512<double> q, Vector512<double> scale, ref Vector512<double> ww, ref Vector512<double> qq,
        ref Vector512<double> ee)
    {
        var sq = q * scale;
        var e = x - sq;
        ww = Avx512F.FusedMultiplyAdd(x, x, ww);
        qq = Avx512F.FusedMultiplyAdd(sq, sq, qq);
        ee = Avx512F.FusedMultiplyAdd(e, e, ee);
    }

    /// <summary>
    /// sqrt(sum) rounded up to a float, inflated to cover the double round-off of a sum of k squares (relative
    /// k * 2^-53, far below 1e-9 for k &lt;= 65536).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float NormUp(double sumOfSquares, int k)
    {
        double value = Math.Sqrt(sumOfSquares) * (1 + 1e-9);
        float up = (float)value;
        return up < value ? MathF.BitIncrement(up) : up;
    }
}
