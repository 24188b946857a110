// Vector exp for the kernels (softmax, attention, GELU, cross-entropy): float arithmetic only, no calls, within ~2 ulp
// over the whole float range. .NET's Vector512.Exp(float) widens to double internally: twice the work needed here.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

/// <summary>Element-wise math on SIMD vectors, with a scalar twin giving the same values for loop tails.</summary>
public static class SimdMath
{
    // exp(x) = 2^n e^r, n = round(x log2 e), r = x - n ln 2 with ln 2 split in two (Cody and Waite: n * Ln2Hi is exact),
    // |r| <= ln(2)/2, and e^r = 1 + r + r^2 P(r) with Cephes' degree-5 minimax P (expf).
    const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    // exp is 0 in float below -104 and +inf above 88.73: clamping keeps n small enough to build 2^n.
    const float MinArgument = -127f, MaxArgument = 88.8f;

    /// <summary>e^x per element: a few ulp for normal results, gradual underflow to 0, +inf above ~88.72, NaN for NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        if (!Avx512F.IsSupported) return ExpPortable(x);
        // vmaxps/vminps return the second operand when one is NaN: x stays NaN through both clamps.
        x = Avx512F.Min(Vector512.Create(MaxArgument), Avx512F.Max(Vector512.Create(MinArgument), x));
        var n = Avx512F.RoundScale(x * Vector512.Create(Log2E), 0x08);               // nearest, no exceptions
        var r = VectorIsa.MultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = VectorIsa.MultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        return Avx512F.Scale(Polynomial(r), n);                                        // p 2^n in one rounding, denormals included
    }

    /// <summary>
    /// <see cref="Exp(Vector512{float})"/> of two vectors with the steps interleaved: each exp is a chain of ~15 dependent
    /// operations, and two side by side keep both FMA pipes busy. Same results as two calls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp2(ref Vector512<float> x, ref Vector512<float> y)
    {
        if (!Avx512F.IsSupported) { x = ExpPortable(x); y = ExpPortable(y); return; }
        Vector512<float> low = Vector512.Create(MinArgument), high = Vector512.Create(MaxArgument), log2e = Vector512.Create(Log2E);
        x = Avx512F.Min(high, Avx512F.Max(low, x)); y = Avx512F.Min(high, Avx512F.Max(low, y));
        var n = Avx512F.RoundScale(x * log2e, 0x08); var m = Avx512F.RoundScale(y * log2e, 0x08);
        Vector512<float> hi = Vector512.Create(-Ln2Hi), lo = Vector512.Create(-Ln2Lo);
        var r = VectorIsa.MultiplyAdd(n, hi, x); var u = VectorIsa.MultiplyAdd(m, hi, y);
        r = VectorIsa.MultiplyAdd(n, lo, r); u = VectorIsa.MultiplyAdd(m, lo, u);
        Vector512<float> c1 = Vector512.Create(P1), c2 = Vector512.Create(P2), c3 = Vector512.Create(P3), c4 = Vector512.Create(P4), c5 = Vector512.Create(P5);
        var p = VectorIsa.MultiplyAdd(Vector512.Create(P0), r, c1); var q = VectorIsa.MultiplyAdd(Vector512.Create(P0), u, c1);
        p = VectorIsa.MultiplyAdd(p, r, c2); q = VectorIsa.MultiplyAdd(q, u, c2);
        p = VectorIsa.MultiplyAdd(p, r, c3); q = VectorIsa.MultiplyAdd(q, u, c3);
        p = VectorIsa.MultiplyAdd(p, r, c4); q = VectorIsa.MultiplyAdd(q, u, c4);
        p = VectorIsa.MultiplyAdd(p, r, c5); q = VectorIsa.MultiplyAdd(q, u, c5);
        p = VectorIsa.MultiplyAdd(p, r * r, r) + Vector512<float>.One; q = VectorIsa.MultiplyAdd(q, u * u, u) + Vector512<float>.One;
        x = Avx512F.Scale(p, n); y = Avx512F.Scale(q, m);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Polynomial(Vector512<float> r)
    {
        var p = VectorIsa.MultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = VectorIsa.MultiplyAdd(p, r, Vector512.Create(P2));
        p = VectorIsa.MultiplyAdd(p, r, Vector512.Create(P3));
        p = VectorIsa.MultiplyAdd(p, r, Vector512.Create(P4));
        p = VectorIsa.MultiplyAdd(p, r, Vector512.Create(P5));
        return VectorIsa.MultiplyAdd(p, r * r, r) + Vector512<float>.One;
    }

    /// <summary>The same steps without AVX-512 instructions: 2^n built as 2^(n/2) 2^(n - n/2), two exact products.</summary>
    static Vector512<float> ExpPortable(Vector512<float> x)
    {
        var c = Vector512.Min(Vector512.Max(x, Vector512.Create(MinArgument)), Vector512.Create(MaxArgument));
        var n = Vector512.Round(c * Vector512.Create(Log2E));
        var r = VectorIsa.MultiplyAdd(n, Vector512.Create(-Ln2Hi), c);
        r = VectorIsa.MultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var ni = Vector512.ConvertToInt32(n);
        var half = Vector512.ShiftRightArithmetic(ni, 1);
        var s1 = Vector512.ShiftLeft(half + Vector512.Create(127), 23).AsSingle();
        var s2 = Vector512.ShiftLeft(ni - half + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), Polynomial(r) * s1 * s2, x);
    }

    /// <summary>The 256-bit twin of <see cref="Exp(Vector512{float})"/> (same values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var c = Vector256.Min(Vector256.Max(x, Vector256.Create(MinArgument)), Vector256.Create(MaxArgument));
        var n = Vector256.Round(c * Vector256.Create(Log2E));
        var r = VectorIsa.MultiplyAdd(n, Vector256.Create(-Ln2Hi), c);
        r = VectorIsa.MultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = VectorIsa.MultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = VectorIsa.MultiplyAdd(p, r, Vector256.Create(P2));
        p = VectorIsa.MultiplyAdd(p, r, Vector256.Create(P3));
        p = VectorIsa.MultiplyAdd(p, r, Vector256.Create(P4));
        p = VectorIsa.MultiplyAdd(p, r, Vector256.Create(P5));
        p = VectorIsa.MultiplyAdd(p, r * r, r) + Vector256<float>.One;
        var ni = Vector256.ConvertToInt32(n);
        var half = Vector256.ShiftRightArithmetic(ni, 1);
        var s1 = Vector256.ShiftLeft(half + Vector256.Create(127), 23).AsSingle();
        var s2 = Vector256.ShiftLeft(ni - half + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), p * s1 * s2, x);
    }

    /// <summary>The 128-bit twin (SSE4.1 or NEON; multiply then add where there is no FMA) of <see cref="Exp(Vector512{float})"/> (same values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        var c = Vector128.Min(Vector128.Max(x, Vector128.Create(MinArgument)), Vector128.Create(MaxArgument));
        var n = Vector128.Round(c * Vector128.Create(Log2E));
        var r = VectorIsa.MultiplyAdd(n, Vector128.Create(-Ln2Hi), c);
        r = VectorIsa.MultiplyAdd(n, Vector128.Create(-Ln2Lo), r);
        var p = VectorIsa.MultiplyAdd(Vector128.Create(P0), r, Vector128.Create(P1));
        p = VectorIsa.MultiplyAdd(p, r, Vector128.Create(P2));
        p = VectorIsa.MultiplyAdd(p, r, Vector128.Create(P3));
        p = VectorIsa.MultiplyAdd(p, r, Vector128.Create(P4));
        p = VectorIsa.MultiplyAdd(p, r, Vector128.Create(P5));
        p = VectorIsa.MultiplyAdd(p, r * r, r) + Vector128<float>.One;
        var ni = Vector128.ConvertToInt32(n);
        var half = Vector128.ShiftRightArithmetic(ni, 1);
        var s1 = Vector128.ShiftLeft(half + Vector128.Create(127), 23).AsSingle();
        var s2 = Vector128.ShiftLeft(ni - half + Vector128.Create(127), 23).AsSingle();
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), p * s1 * s2, x);
    }

    /// <summary>The scalar twin of the vector exp (same steps, same values), for loop tails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        float c = Math.Clamp(x, MinArgument, MaxArgument);
        float n = MathF.Round(c * Log2E);
        float r = VectorIsa.MultiplyAdd(n, -Ln2Hi, c);
        r = VectorIsa.MultiplyAdd(n, -Ln2Lo, r);
        float p = VectorIsa.MultiplyAdd(P0, r, P1);
        p = VectorIsa.MultiplyAdd(p, r, P2);
        p = VectorIsa.MultiplyAdd(p, r, P3);
        p = VectorIsa.MultiplyAdd(p, r, P4);
        p = VectorIsa.MultiplyAdd(p, r, P5);
        p = VectorIsa.MultiplyAdd(p, r * r, r) + 1f;
        return MathF.ScaleB(p, (int)n);
    }
}
