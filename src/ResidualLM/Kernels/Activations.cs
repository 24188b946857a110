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

    /// <summary>
    /// y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU, in float32 at every width: Phi from erfc (see
    /// <see cref="NormalCdf(float, out float)"/>), so the tail x -&gt; -inf keeps its relative accuracy (no 1 + erf cancellation).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void GeluErfForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        fixed (float* px = x, py = y) VectorOps.Map<GeluErf>(px, py, x.Length, default);
    }

    /// <summary>dx += dy (Phi(x) + x phi(x)).</summary>
    public static void GeluErfBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => Backward<GeluErfDerivative, AddInto>(x, dy, dx);

    /// <summary>dx = dy (Phi(x) + x phi(x)): <see cref="GeluErfBackward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> overwriting dx (a first gradient).</summary>
    public static void GeluErfBackwardWrite(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => Backward<GeluErfDerivative, WriteOver>(x, dy, dx);

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

    // The normal tail q(x) = Phi(-|x|) = 0.5 erfc(z), z = |x| / sqrt 2, as 0.5 t exp(P(t - 1) - x^2 / 2) with
    // t = 1 / (1 + 0.4 z) and P of degree 10: a minimax fit of ln(erfc(z) / t) + z^2 over 0 <= z <= 10.6 (relative error
    // of erfc below 5e-9; tools/reference/fit_erfc.py). Past z = 10.6, q is below 1e-50 and exp underflows to 0.
    // In float32 the result is within 6 + x^2 ulp (ActivationsTests): the exponent P - x^2/2 carries x^2/2 rounded, as a
    // one-ulp change of x would (GELU's condition number there is ~x^2). Phi = q for x < 0, 1 - q otherwise.
    const float TailA = 0.4f, InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.39894228040143268f;
    const float T0 = 4.090279226431903e-09f, T1 = 1.8209491968154907f, T2 = -0.04975181072950363f, T3 = -0.44737470149993896f,
        T4 = 0.1874224692583084f, T5 = 0.2557203769683838f, T6 = 0.15720754861831665f, T7 = 0.8522522449493408f,
        T8 = 1.34493887424469f, T9 = 0.8397497534751892f, T10 = 0.19283053278923035f;

    /// <summary>Phi(x) from the tail q = Phi(-|x|) (q below 0, 1 - q from 0 up, so x = -0 gives 0.5), and x^2 / 2 for the density.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float NormalCdf(float x, out float halfSquare)
    {
        halfSquare = 0.5f * (x * x);
        float t = 1f / VectorIsa.MultiplyAdd(TailA * InvSqrt2, MathF.Abs(x), 1f), u = t - 1f;
        float p = VectorIsa.MultiplyAdd(T10, u, T9);
        p = VectorIsa.MultiplyAdd(p, u, T8); p = VectorIsa.MultiplyAdd(p, u, T7); p = VectorIsa.MultiplyAdd(p, u, T6);
        p = VectorIsa.MultiplyAdd(p, u, T5); p = VectorIsa.MultiplyAdd(p, u, T4); p = VectorIsa.MultiplyAdd(p, u, T3);
        p = VectorIsa.MultiplyAdd(p, u, T2); p = VectorIsa.MultiplyAdd(p, u, T1); p = VectorIsa.MultiplyAdd(p, u, T0);
        float q = 0.5f * t * SimdMath.Exp(p - halfSquare);
        return x < 0f ? q : 1f - q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> NormalCdf(Vector128<float> x, out Vector128<float> halfSquare)
    {
        halfSquare = Vector128.Create(0.5f) * (x * x);
        var t = Vector128<float>.One / VectorIsa.MultiplyAdd(Vector128.Create(TailA * InvSqrt2), Vector128.Abs(x), Vector128<float>.One);
        var u = t - Vector128<float>.One;
        var p = VectorIsa.MultiplyAdd(Vector128.Create(T10), u, Vector128.Create(T9));
        p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T8)); p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T7)); p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T6));
        p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T5)); p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T4)); p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T3));
        p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T2)); p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T1)); p = VectorIsa.MultiplyAdd(p, u, Vector128.Create(T0));
        var q = Vector128.Create(0.5f) * t * SimdMath.Exp(p - halfSquare);
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), q, Vector128<float>.One - q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> NormalCdf(Vector256<float> x, out Vector256<float> halfSquare)
    {
        halfSquare = Vector256.Create(0.5f) * (x * x);
        var t = Vector256<float>.One / VectorIsa.MultiplyAdd(Vector256.Create(TailA * InvSqrt2), Vector256.Abs(x), Vector256<float>.One);
        var u = t - Vector256<float>.One;
        var p = VectorIsa.MultiplyAdd(Vector256.Create(T10), u, Vector256.Create(T9));
        p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T8)); p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T7)); p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T6));
        p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T5)); p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T4)); p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T3));
        p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T2)); p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T1)); p = VectorIsa.MultiplyAdd(p, u, Vector256.Create(T0));
        var q = Vector256.Create(0.5f) * t * SimdMath.Exp(p - halfSquare);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), q, Vector256<float>.One - q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> NormalCdf(Vector512<float> x, out Vector512<float> halfSquare)
    {
        halfSquare = Vector512.Create(0.5f) * (x * x);
        var t = Vector512<float>.One / VectorIsa.MultiplyAdd(Vector512.Create(TailA * InvSqrt2), Vector512.Abs(x), Vector512<float>.One);
        var u = t - Vector512<float>.One;
        var p = VectorIsa.MultiplyAdd(Vector512.Create(T10), u, Vector512.Create(T9));
        p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T8)); p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T7)); p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T6));
        p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T5)); p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T4)); p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T3));
        p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T2)); p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T1)); p = VectorIsa.MultiplyAdd(p, u, Vector512.Create(T0));
        var q = Vector512.Create(0.5f) * t * SimdMath.Exp(p - halfSquare);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), q, Vector512<float>.One - q);
    }

    /// <summary>Exact GELU x Phi(x) (x = -0 gives -0).</summary>
    readonly struct GeluErf : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float v, in Splat<float> p) => v * NormalCdf(v, out _);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> v, in Splat<Vector128<float>> p)
        => v * NormalCdf(v, out _);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> v, in Splat<Vector256<float>> p)
        => v * NormalCdf(v, out _);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> v, in Splat<Vector512<float>> p)
        => v * NormalCdf(v, out _);
    }

    /// <summary>d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi) (0 once x^2 / 2 is past exp's range).</summary>
    readonly struct GeluErfDerivative : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float v, in Splat<float> p)
        {
            float cdf = NormalCdf(v, out float h);
            return VectorIsa.MultiplyAdd(v * InvSqrt2Pi, SimdMath.Exp(-h), cdf);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> v, in Splat<Vector128<float>> p)
        {
            var cdf = NormalCdf(v, out var h);
            return VectorIsa.MultiplyAdd(v * Vector128.Create(InvSqrt2Pi), SimdMath.Exp(-h), cdf);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> v, in Splat<Vector256<float>> p)
        {
            var cdf = NormalCdf(v, out var h);
            return VectorIsa.MultiplyAdd(v * Vector256.Create(InvSqrt2Pi), SimdMath.Exp(-h), cdf);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> v, in Splat<Vector512<float>> p)
        {
            var cdf = NormalCdf(v, out var h);
            return VectorIsa.MultiplyAdd(v * Vector512.Create(InvSqrt2Pi), SimdMath.Exp(-h), cdf);
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
