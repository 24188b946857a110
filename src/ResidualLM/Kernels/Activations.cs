// Element-wise activation kernels (GELU tanh/erf, SiLU, ReLU, tanh), forward and backward, as operators on VectorOps.
// Forward kernels overwrite the destination; backward kernels ADD into dInput (llm.c convention), so a tensor used
// twice accumulates both gradients. No allocation; callers split work across threads.
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
        fixed (float* px = x, py = y) VectorOps.Map<GeluTanh>(px, py, x.Length, default);
    }

    /// <summary>
    /// dx += dy * d/dx GELU_tanh(x). With s = sigmoid(2u) = 1 / (1 + e), e = exp(-2u): 0.5 (1 + tanh u) = s and
    /// 0.5 x (1 - tanh^2 u) = 2 x s (1 - s) = 2 x e s^2, so the derivative is s (1 + 2 x e s u'), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    /// </summary>
    public static void GeluTanhBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => Backward<GeluTanhDerivative, AddInto>(x, dy, dx);

    /// <summary>dx = dy * d/dx GELU_tanh(x): <see cref="GeluTanhBackward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> overwriting dx (a first gradient).</summary>
    public static void GeluTanhBackwardWrite(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => Backward<GeluTanhDerivative, WriteOver>(x, dy, dx);

    /// <summary>y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU.</summary>
    /// <remarks>Scalar, in double: there is no vector erf here yet (models with the exact GELU are rare and small).</remarks>
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void SiluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        fixed (float* px = x, py = y) VectorOps.Map<Silu>(px, py, x.Length, default);
    }

    /// <summary>dx += dy sigmoid(x) (1 + x (1 - sigmoid(x))).</summary>
    public static void SiluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => Backward<SiluDerivative, AddInto>(x, dy, dx);

    /// <summary>y = max(x, 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ReluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        fixed (float* px = x, py = y) VectorOps.Map<Relu>(px, py, x.Length, default);
    }

    /// <summary>dx += dy where x &gt; 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        fixed (float* px = x, pg = dy, pdx = dx) VectorOps.Map<ReluGradient>(px, pg, pdx, pdx, x.Length, default);
    }

    /// <summary>y = tanh(x), to a few ulp relative everywhere (including tiny x, where tanh x ~ x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void TanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        // NOTE: not TensorPrimitives.Tanh: in System.Numerics.Tensors 10.0.0 its error near 0 is ~eps absolute, not
        // relative (tanh(1e-6) = 9.5e-7, tanh(1e-10) = -6e-8 with the wrong sign).
        fixed (float* px = x, py = y) VectorOps.Map<Tanh>(px, py, x.Length, default);
    }

    /// <summary>dx += dy (1 - y^2), from the forward output y = tanh(x).</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) => Backward<TanhDerivativeFromOutput, AddInto>(y, dy, dx);

    /// <summary>dx (+)= f'(x) dy for the derivative operator <typeparamref name="TDerivative"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Backward<TDerivative, TAccumulation>(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
        where TDerivative : struct, IUnaryOperator where TAccumulation : struct, IAccumulation
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        fixed (float* px = x, pg = dy, pdx = dx) VectorOps.Map<ChainRule<TDerivative, TAccumulation>>(px, pg, pdx, pdx, x.Length, default);
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

    // Operators: each written once in four widths (float for tails, 128, 256, 512 bits); VectorOps runs them.

    /// <summary>GELU (tanh form) as x / (1 + exp(x (K1 + K3 x^2))) = x sigmoid(2u).</summary>
    readonly struct GeluTanh : IUnaryOperator
    {
        const float K1 = -2f * GeluScale, K3 = -2f * GeluScale * GeluCubic;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float v, in Splat<float> p) => v / (1f + SimdMath.Exp(v * VectorIsa.MultiplyAdd(K3, v * v, K1)));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> v, in Splat<Vector128<float>> p) =>
            v / (Vector128<float>.One + SimdMath.Exp(v * VectorIsa.MultiplyAdd(Vector128.Create(K3), v * v, Vector128.Create(K1))));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> v, in Splat<Vector256<float>> p) =>
            v / (Vector256<float>.One + SimdMath.Exp(v * VectorIsa.MultiplyAdd(Vector256.Create(K3), v * v, Vector256.Create(K1))));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> v, in Splat<Vector512<float>> p) =>
            v / (Vector512<float>.One + SimdMath.Exp(v * VectorIsa.MultiplyAdd(Vector512.Create(K3), v * v, Vector512.Create(K1))));
    }

    /// <summary>
    /// d/dx GELU_tanh = s (1 + x e s (D1 + D3 x^2)) with e = exp(-2u), s = 1 / (1 + e). exp(-2u) is capped at exp(80),
    /// where s is already below 1e-34: e s stays finite (no inf * 0) and the product is ~0 anyway.
    /// </summary>
    readonly struct GeluTanhDerivative : IUnaryOperator
    {
        const float K1 = -2f * GeluScale, K3 = -2f * GeluScale * GeluCubic, D1 = 2f * GeluScale, D3 = 2f * GeluScale * 3f * GeluCubic, Cap = 80f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float v, in Splat<float> p)
        {
            float v2 = v * v, e = SimdMath.Exp(MathF.Min(v * VectorIsa.MultiplyAdd(K3, v2, K1), Cap)), s = 1f / (1f + e);
            return s * VectorIsa.MultiplyAdd(v * e * s, VectorIsa.MultiplyAdd(D3, v2, D1), 1f);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> v, in Splat<Vector128<float>> p)
        {
            var v2 = v * v;
            var e = SimdMath.Exp(Vector128.Min(v * VectorIsa.MultiplyAdd(Vector128.Create(K3), v2, Vector128.Create(K1)), Vector128.Create(Cap)));
            var s = Vector128<float>.One / (Vector128<float>.One + e);
            return s * VectorIsa.MultiplyAdd(v * e * s, VectorIsa.MultiplyAdd(Vector128.Create(D3), v2, Vector128.Create(D1)), Vector128<float>.One);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> v, in Splat<Vector256<float>> p)
        {
            var v2 = v * v;
            var e = SimdMath.Exp(Vector256.Min(v * VectorIsa.MultiplyAdd(Vector256.Create(K3), v2, Vector256.Create(K1)), Vector256.Create(Cap)));
            var s = Vector256<float>.One / (Vector256<float>.One + e);
            return s * VectorIsa.MultiplyAdd(v * e * s, VectorIsa.MultiplyAdd(Vector256.Create(D3), v2, Vector256.Create(D1)), Vector256<float>.One);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> v, in Splat<Vector512<float>> p)
        {
            var v2 = v * v;
            var e = SimdMath.Exp(Vector512.Min(v * VectorIsa.MultiplyAdd(Vector512.Create(K3), v2, Vector512.Create(K1)), Vector512.Create(Cap)));
            var s = Vector512<float>.One / (Vector512<float>.One + e);
            return s * VectorIsa.MultiplyAdd(v * e * s, VectorIsa.MultiplyAdd(Vector512.Create(D3), v2, Vector512.Create(D1)), Vector512<float>.One);
        }
    }

    /// <summary>SiLU x / (1 + exp(-x)): exp(-x) = inf for x &lt; -88.7 gives -0, where the true value is below 1e-36.</summary>
    readonly struct Silu : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float v, in Splat<float> p) => v / (1f + SimdMath.Exp(-v));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> v, in Splat<Vector128<float>> p) => v / (Vector128<float>.One + SimdMath.Exp(-v));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> v, in Splat<Vector256<float>> p) => v / (Vector256<float>.One + SimdMath.Exp(-v));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> v, in Splat<Vector512<float>> p) => v / (Vector512<float>.One + SimdMath.Exp(-v));
    }

    /// <summary>d/dx SiLU = s (1 + x (1 - s)), s = sigmoid(x).</summary>
    readonly struct SiluDerivative : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float v, in Splat<float> p) { float s = 1f / (1f + SimdMath.Exp(-v)); return s * VectorIsa.MultiplyAdd(v, 1f - s, 1f); }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> v, in Splat<Vector128<float>> p)
        { var s = Vector128<float>.One / (Vector128<float>.One + SimdMath.Exp(-v)); return s * VectorIsa.MultiplyAdd(v, Vector128<float>.One - s, Vector128<float>.One); }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> v, in Splat<Vector256<float>> p)
        { var s = Vector256<float>.One / (Vector256<float>.One + SimdMath.Exp(-v)); return s * VectorIsa.MultiplyAdd(v, Vector256<float>.One - s, Vector256<float>.One); }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> v, in Splat<Vector512<float>> p)
        { var s = Vector512<float>.One / (Vector512<float>.One + SimdMath.Exp(-v)); return s * VectorIsa.MultiplyAdd(v, Vector512<float>.One - s, Vector512<float>.One); }
    }

    /// <summary>max(x, 0).</summary>
    readonly struct Relu : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float v, in Splat<float> p) => MathF.Max(v, 0f);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> v, in Splat<Vector128<float>> p) => Vector128.Max(v, Vector128<float>.Zero);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> v, in Splat<Vector256<float>> p) => Vector256.Max(v, Vector256<float>.Zero);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> v, in Splat<Vector512<float>> p) => Vector512.Max(v, Vector512<float>.Zero);
    }

    /// <summary>dx + dy where x &gt; 0, else dx unchanged (not dx + 0 dy: an infinite dy must not turn dx into NaN).</summary>
    readonly struct ReluGradient : ITernaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float x, float dy, float dx, in Splat<float> p) => x > 0f ? dx + dy : dx;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> dy, Vector128<float> dx, in Splat<Vector128<float>> p) =>
            Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), dx + dy, dx);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> dy, Vector256<float> dx, in Splat<Vector256<float>> p) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), dx + dy, dx);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> dy, Vector512<float> dx, in Splat<Vector512<float>> p) =>
            Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), dx + dy, dx);
    }

    // Taylor coefficients of tanh u = u + u^3 (C3 + u^2 (C5 + ...)), used for |u| < 0.3 where the next term (u^15) is
    // below 1e-10 relative; above 0.3, 1 - 2 / (exp(2|u|) + 1) loses at most ~2.4 eps to cancellation.
    const float C3 = -1f / 3, C5 = 2f / 15, C7 = -17f / 315, C9 = 62f / 2835, C11 = -1382f / 155925, C13 = 21844f / 6081075;
    const float TanhSmall = 0.3f, TanhCap = 80f;

    /// <summary>tanh(u), relative error a few ulp: odd series near 0, exp form (clamped so exp cannot overflow) elsewhere.</summary>
    readonly struct Tanh : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float u, in Splat<float> p)
        {
            float a = MathF.Abs(u);
            if (!(a < TanhSmall)) return MathF.CopySign(1f - 2f / (SimdMath.Exp(MathF.Min(a + a, TanhCap)) + 1f), u);
            float u2 = u * u, q = C11 + u2 * C13;
            q = C9 + u2 * q; q = C7 + u2 * q; q = C5 + u2 * q; q = C3 + u2 * q;
            return u + u * u2 * q;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> u, in Splat<Vector128<float>> p)
        {
            var a = Vector128.Abs(u);
            var far = Vector128<float>.One - Vector128.Create(2f) / (SimdMath.Exp(Vector128.Min(a + a, Vector128.Create(TanhCap))) + Vector128<float>.One);
            var u2 = u * u;
            var q = Vector128.Create(C11) + u2 * Vector128.Create(C13);
            q = Vector128.Create(C9) + u2 * q; q = Vector128.Create(C7) + u2 * q;
            q = Vector128.Create(C5) + u2 * q; q = Vector128.Create(C3) + u2 * q;
            return Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(TanhSmall)), u + u * u2 * q, Vector128.CopySign(far, u));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> u, in Splat<Vector256<float>> p)
        {
            var a = Vector256.Abs(u);
            var far = Vector256<float>.One - Vector256.Create(2f) / (SimdMath.Exp(Vector256.Min(a + a, Vector256.Create(TanhCap))) + Vector256<float>.One);
            var u2 = u * u;
            var q = Vector256.Create(C11) + u2 * Vector256.Create(C13);
            q = Vector256.Create(C9) + u2 * q; q = Vector256.Create(C7) + u2 * q;
            q = Vector256.Create(C5) + u2 * q; q = Vector256.Create(C3) + u2 * q;
            return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(TanhSmall)), u + u * u2 * q, Vector256.CopySign(far, u));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> u, in Splat<Vector512<float>> p)
        {
            var a = Vector512.Abs(u);
            var far = Vector512<float>.One - Vector512.Create(2f) / (SimdMath.Exp(Vector512.Min(a + a, Vector512.Create(TanhCap))) + Vector512<float>.One);
            var u2 = u * u;
            var q = Vector512.Create(C11) + u2 * Vector512.Create(C13);
            q = Vector512.Create(C9) + u2 * q; q = Vector512.Create(C7) + u2 * q;
            q = Vector512.Create(C5) + u2 * q; q = Vector512.Create(C3) + u2 * q;
            return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(TanhSmall)), u + u * u2 * q, Vector512.CopySign(far, u));
        }
    }

    /// <summary>d/dx tanh = 1 - y^2, from the output y.</summary>
    readonly struct TanhDerivativeFromOutput : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float y, in Splat<float> p) => 1f - y * y;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> y, in Splat<Vector128<float>> p) => Vector128<float>.One - y * y;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> y, in Splat<Vector256<float>> p) => Vector256<float>.One - y * y;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> y, in Splat<Vector512<float>> p) => Vector512<float>.One - y * y;
    }

    /// <summary>The chain rule on (x, dy, dx): dx (+)= f'(x) dy, f' given by <typeparamref name="TDerivative"/>.</summary>
    readonly struct ChainRule<TDerivative, TAccumulation> : ITernaryOperator
        where TDerivative : struct, IUnaryOperator where TAccumulation : struct, IAccumulation
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float x, float dy, float dx, in Splat<float> p)
        { float local = TDerivative.Invoke(x, p); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(local, dy, dx) : local * dy; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> dy, Vector128<float> dx, in Splat<Vector128<float>> p)
        { var local = TDerivative.Invoke(x, p); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(local, dy, dx) : local * dy; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> dy, Vector256<float> dx, in Splat<Vector256<float>> p)
        { var local = TDerivative.Invoke(x, p); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(local, dy, dx) : local * dy; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> dy, Vector512<float> dx, in Splat<Vector512<float>> p)
        { var local = TDerivative.Invoke(x, p); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(local, dy, dx) : local * dy; }
    }

    static void CheckLengths(int expected, int actual)
    {
        if (actual != expected) throw new ArgumentException($"span lengths differ: {expected} vs {actual}");
    }
}
