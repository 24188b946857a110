// Element-wise activation kernels (GELU tanh/erf, SiLU, ReLU, tanh), forward and backward, SIMD with scalar tails.
// Forward kernels overwrite the destination; backward kernels ADD into dInput (llm.c convention), so a tensor used
// twice accumulates both gradients. No allocation; callers split work across threads.
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Activation functions and their derivatives over spans of equal length.</summary>
public static class Activations
{
    // sqrt(2/pi) and the cubic coefficient of GPT-2's tanh approximation of GELU.
    const float GeluScale = 0.7978845608028654f;
    const float GeluCubic = 0.044715f;

    /// <summary>
    /// y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3): the approximation GPT-2 uses. Evaluated as
    /// x sigmoid(2u) = x / (1 + exp(-2u)), the same function with one exp and no cancellation near 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void GeluTanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        fixed (float* px = x, py = y)
        {
            int n = x.Length, i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<float> k1 = Vector512.Create(-2f * GeluScale), k3 = Vector512.Create(-2f * GeluScale * GeluCubic);
                for (; i <= n - 16; i += 16)
                {
                    var v = Vector512.Load(px + i);
                    var e = SimdMath.Exp(v * VectorIsa.MultiplyAdd(k3, v * v, k1));          // exp(-2u)
                    (v / (Vector512<float>.One + e)).Store(py + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> k1 = Vector256.Create(-2f * GeluScale), k3 = Vector256.Create(-2f * GeluScale * GeluCubic);
                for (; i <= n - 8; i += 8)
                {
                    var v = Vector256.Load(px + i);
                    var e = SimdMath.Exp(v * VectorIsa.MultiplyAdd(k3, v * v, k1));
                    (v / (Vector256<float>.One + e)).Store(py + i);
                }
            }
            for (; i < n; i++)
            {
                float v = px[i];
                py[i] = v / (1f + SimdMath.Exp(v * VectorIsa.MultiplyAdd(-2f * GeluScale * GeluCubic, v * v, -2f * GeluScale)));
            }
        }
    }

    /// <summary>
    /// dx += dy * d/dx GELU_tanh(x). With s = sigmoid(2u) = 1 / (1 + e), e = exp(-2u): 0.5 (1 + tanh u) = s and
    /// 0.5 x (1 - tanh^2 u) = 2 x s (1 - s) = 2 x e s^2, so the derivative is s (1 + 2 x e s u'), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    /// </summary>
    public static void GeluTanhBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => GeluTanhBackward(x, dy, dx, accumulate: true);

    /// <summary>dx = dy * d/dx GELU_tanh(x): <see cref="GeluTanhBackward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> overwriting dx (a first gradient).</summary>
    public static void GeluTanhBackwardWrite(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => GeluTanhBackward(x, dy, dx, accumulate: false);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void GeluTanhBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        // exp(-2u) is capped where s is already below 1e-34: e s stays finite (no inf * 0) and the product is ~0 anyway.
        const float MaxExponent = 80f;
        fixed (float* px = x, pg = dy, pdx = dx)
        {
            int n = x.Length, i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<float> k1 = Vector512.Create(-2f * GeluScale), k3 = Vector512.Create(-2f * GeluScale * GeluCubic);
                Vector512<float> d1 = Vector512.Create(2f * GeluScale), d3 = Vector512.Create(2f * GeluScale * 3f * GeluCubic), cap = Vector512.Create(MaxExponent);
                for (; i <= n - 16; i += 16)
                {
                    var v = Vector512.Load(px + i);
                    var v2 = v * v;
                    var e = SimdMath.Exp(Vector512.Min(v * VectorIsa.MultiplyAdd(k3, v2, k1), cap));
                    var sig = Vector512<float>.One / (Vector512<float>.One + e);
                    var local = sig * VectorIsa.MultiplyAdd(v * e * sig, VectorIsa.MultiplyAdd(d3, v2, d1), Vector512<float>.One);
                    var g = Vector512.Load(pg + i);
                    (accumulate ? VectorIsa.MultiplyAdd(local, g, Vector512.Load(pdx + i)) : local * g).Store(pdx + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> k1 = Vector256.Create(-2f * GeluScale), k3 = Vector256.Create(-2f * GeluScale * GeluCubic);
                Vector256<float> d1 = Vector256.Create(2f * GeluScale), d3 = Vector256.Create(2f * GeluScale * 3f * GeluCubic), cap = Vector256.Create(MaxExponent);
                for (; i <= n - 8; i += 8)
                {
                    var v = Vector256.Load(px + i);
                    var v2 = v * v;
                    var e = SimdMath.Exp(Vector256.Min(v * VectorIsa.MultiplyAdd(k3, v2, k1), cap));
                    var sig = Vector256<float>.One / (Vector256<float>.One + e);
                    var local = sig * VectorIsa.MultiplyAdd(v * e * sig, VectorIsa.MultiplyAdd(d3, v2, d1), Vector256<float>.One);
                    var g = Vector256.Load(pg + i);
                    (accumulate ? VectorIsa.MultiplyAdd(local, g, Vector256.Load(pdx + i)) : local * g).Store(pdx + i);
                }
            }
            for (; i < n; i++)
            {
                float v = px[i], v2 = v * v;
                float e = SimdMath.Exp(MathF.Min(v * VectorIsa.MultiplyAdd(-2f * GeluScale * GeluCubic, v2, -2f * GeluScale), MaxExponent));
                float sig = 1f / (1f + e);
                float local = sig * VectorIsa.MultiplyAdd(v * e * sig, VectorIsa.MultiplyAdd(2f * GeluScale * 3f * GeluCubic, v2, 2f * GeluScale), 1f);
                pdx[i] = accumulate ? VectorIsa.MultiplyAdd(local, pg[i], pdx[i]) : local * pg[i];
            }
        }
    }

    /// <summary>y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU.</summary>
    public static void GeluErfForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++) y[i] = (float)(0.5 * x[i] * (1.0 + Erf(x[i] / Math.Sqrt(2.0))));
    }

    /// <summary>dx += dy (Phi(x) + x phi(x)).</summary>
    public static void GeluErfBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            double cdf = 0.5 * (1.0 + Erf(v / Math.Sqrt(2.0)));
            double pdf = Math.Exp(-0.5 * v * v) / Math.Sqrt(2.0 * Math.PI);
            dx[i] += (float)((cdf + v * pdf) * dy[i]);
        }
    }

    /// <summary>y = x sigmoid(x). y may be x itself (in place).</summary>
    public static void SiluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        // NOTE: TensorPrimitives throws on empty spans, and writing sigmoid(x) straight into y would destroy x when the
        // two alias; a small stack scratch per chunk avoids both without allocating.
        Span<float> sigmoid = stackalloc float[256];
        for (int i = 0; i < x.Length; i += sigmoid.Length)
        {
            int n = Math.Min(sigmoid.Length, x.Length - i);
            TensorPrimitives.Sigmoid(x.Slice(i, n), sigmoid[..n]);
            TensorPrimitives.Multiply(x.Slice(i, n), sigmoid[..n], y.Slice(i, n));
        }
    }

    /// <summary>dx += dy sigmoid(x) (1 + x (1 - sigmoid(x))).</summary>
    public static void SiluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        for (int i = 0; i < x.Length; i++)
        {
            float s = 1f / (1f + MathF.Exp(-x[i]));
            dx[i] += dy[i] * s * (1f + x[i] * (1f - s));
        }
    }

    /// <summary>y = max(x, 0).</summary>
    public static void ReluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        TensorPrimitives.Max(x, 0f, y);
    }

    /// <summary>dx += dy where x &gt; 0.</summary>
    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        for (int i = 0; i < x.Length; i++) if (x[i] > 0f) dx[i] += dy[i];
    }

    /// <summary>y = tanh(x), to a few ulp relative everywhere (including tiny x, where tanh x ~ x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        // NOTE: not TensorPrimitives.Tanh: in System.Numerics.Tensors 10.0.0 its error near 0 is ~eps absolute, not
        // relative (tanh(1e-6) = 9.5e-7, tanh(1e-10) = -6e-8 with the wrong sign).
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
                Tanh(Vector512.Create(x.Slice(i, Vector512<float>.Count))).CopyTo(y.Slice(i));
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                Tanh(Vector256.Create(x.Slice(i, Vector256<float>.Count))).CopyTo(y.Slice(i));
        for (; i < x.Length; i++) y[i] = MathF.Tanh(x[i]);
    }

    /// <summary>dx += dy (1 - y^2), from the forward output y = tanh(x).</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(y.Length, dy.Length); CheckLengths(y.Length, dx.Length);
        for (int i = 0; i < y.Length; i++) dx[i] += dy[i] * (1f - y[i] * y[i]);
    }

    // Taylor coefficients of tanh u = u + u^3 (C3 + u^2 (C5 + ...)), used for |u| < 0.3 where the next term (u^15) is
    // below 1e-10 relative; above 0.3, 1 - 2 / (exp(2|u|) + 1) loses at most ~2.4 eps to cancellation.
    const float C3 = -1f / 3, C5 = 2f / 15, C7 = -17f / 315, C9 = 62f / 2835, C11 = -1382f / 155925, C13 = 21844f / 6081075;
    const float TanhSmall = 0.3f;

    /// <summary>tanh(u), relative error a few ulp: odd series near 0, exp form (clamped so exp cannot overflow) elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Tanh(Vector512<float> u)
    {
        var a = Vector512.Abs(u);
        var one = Vector512.Create(1f);
        var far = one - Vector512.Create(2f) / (Vector512.Exp(Vector512.Min(a + a, Vector512.Create(80f))) + one);
        var u2 = u * u;
        var p = Vector512.Create(C11) + u2 * Vector512.Create(C13);
        p = Vector512.Create(C9) + u2 * p; p = Vector512.Create(C7) + u2 * p;
        p = Vector512.Create(C5) + u2 * p; p = Vector512.Create(C3) + u2 * p;
        var near = u + u * u2 * p;
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(TanhSmall)), near, Vector512.CopySign(far, u));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Tanh(Vector256<float> u)
    {
        var a = Vector256.Abs(u);
        var one = Vector256.Create(1f);
        var far = one - Vector256.Create(2f) / (Vector256.Exp(Vector256.Min(a + a, Vector256.Create(80f))) + one);
        var u2 = u * u;
        var p = Vector256.Create(C11) + u2 * Vector256.Create(C13);
        p = Vector256.Create(C9) + u2 * p; p = Vector256.Create(C7) + u2 * p;
        p = Vector256.Create(C5) + u2 * p; p = Vector256.Create(C3) + u2 * p;
        var near = u + u * u2 * p;
        return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(TanhSmall)), near, Vector256.CopySign(far, u));
    }

    /// <summary>erf(x) to double precision (Abramowitz-Stegun 7.1.26 is too coarse for gradient checks; this uses the series/continued fraction split).</summary>
    internal static double Erf(double x)
    {
        double ax = Math.Abs(x);
        double r;
        if (ax < 2.5)
        {
            // Maclaurin series: erf x = 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 60; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            r = 2.0 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // Continued fraction for erfc, converges fast for |x| >= 2.5.
            double f = 0;
            for (int n = 60; n >= 1; n--) f = n / 2.0 / (ax + f);
            r = 1.0 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + f);
        }
        return x < 0 ? -r : r;
    }

    static void CheckLengths(int expected, int actual)
    {
        if (actual != expected) throw new ArgumentException($"span lengths differ: {expected} vs {actual}");
    }
}
