// The drivers of the vector layer: run an operator (VectorOperators.cs) over float streams at the width of
// VectorIsa.Path, two vectors per step, then one vector of each narrower width, then floats. Limits: no allocation;
// a destination may be one of the inputs (in place) but must not otherwise overlap them.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>
/// Maps, sums and fused updates over equal-length streams. Generic over the operator struct, so each use is compiled to
/// its own loop with the operator inlined; the width tests read <see cref="VectorIsa.Path"/>, a constant to the JIT.
/// </summary>
/// <remarks>
/// Every width section has the same shape: while two vectors fit, two (independent, for the pipelines); then one if it
/// fits. On the AVX-512 path the 256- and 128-bit sections take at most one vector each of the tail, so at most 3 floats
/// go through the scalar form. On ARM64 the path is Vector128 and the wider sections are dead code.
/// </remarks>
public static unsafe class VectorOps
{
    static bool Has512 => VectorIsa.Path == VectorPath.Avx512;
    static bool Has256 => VectorIsa.Path >= VectorPath.Avx2;
    static bool Has128 => VectorIsa.Path >= VectorPath.Vector128;

    /// <summary>destination[i] = op(x[i]). x, destination: (n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Map<TOp>(float* x, float* destination, int n, in Splat<float> p) where TOp : struct, IUnaryOperator
    {
        int i = 0;
        if (Has512)
        {
            var q = Splat.To512(p);
            for (; i <= n - 32; i += 32)
            {
                var a = TOp.Invoke(Vector512.Load(x + i), q); var b = TOp.Invoke(Vector512.Load(x + i + 16), q);
                a.Store(destination + i); b.Store(destination + i + 16);
            }
            if (i <= n - 16) { TOp.Invoke(Vector512.Load(x + i), q).Store(destination + i); i += 16; }
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            for (; i <= n - 16; i += 16)
            {
                var a = TOp.Invoke(Vector256.Load(x + i), q); var b = TOp.Invoke(Vector256.Load(x + i + 8), q);
                a.Store(destination + i); b.Store(destination + i + 8);
            }
            if (i <= n - 8) { TOp.Invoke(Vector256.Load(x + i), q).Store(destination + i); i += 8; }
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            for (; i <= n - 8; i += 8)
            {
                var a = TOp.Invoke(Vector128.Load(x + i), q); var b = TOp.Invoke(Vector128.Load(x + i + 4), q);
                a.Store(destination + i); b.Store(destination + i + 4);
            }
            if (i <= n - 4) { TOp.Invoke(Vector128.Load(x + i), q).Store(destination + i); i += 4; }
        }
        for (; i < n; i++) destination[i] = TOp.Invoke(x[i], p);
    }

    /// <summary>destination[i] = op(x[i], y[i]). x, y, destination: (n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Map<TOp>(float* x, float* y, float* destination, int n, in Splat<float> p) where TOp : struct, IBinaryOperator
    {
        int i = 0;
        if (Has512)
        {
            var q = Splat.To512(p);
            for (; i <= n - 32; i += 32)
            {
                var a = TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), q);
                var b = TOp.Invoke(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), q);
                a.Store(destination + i); b.Store(destination + i + 16);
            }
            if (i <= n - 16) { TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), q).Store(destination + i); i += 16; }
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            for (; i <= n - 16; i += 16)
            {
                var a = TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), q);
                var b = TOp.Invoke(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), q);
                a.Store(destination + i); b.Store(destination + i + 8);
            }
            if (i <= n - 8) { TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), q).Store(destination + i); i += 8; }
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            for (; i <= n - 8; i += 8)
            {
                var a = TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), q);
                var b = TOp.Invoke(Vector128.Load(x + i + 4), Vector128.Load(y + i + 4), q);
                a.Store(destination + i); b.Store(destination + i + 4);
            }
            if (i <= n - 4) { TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), q).Store(destination + i); i += 4; }
        }
        for (; i < n; i++) destination[i] = TOp.Invoke(x[i], y[i], p);
    }

    /// <summary>destination[i] = op(x[i], y[i], z[i]). All: (n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Map<TOp>(float* x, float* y, float* z, float* destination, int n, in Splat<float> p) where TOp : struct, ITernaryOperator
    {
        int i = 0;
        if (Has512)
        {
            var q = Splat.To512(p);
            for (; i <= n - 32; i += 32)
            {
                var a = TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), Vector512.Load(z + i), q);
                var b = TOp.Invoke(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), Vector512.Load(z + i + 16), q);
                a.Store(destination + i); b.Store(destination + i + 16);
            }
            if (i <= n - 16) { TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), Vector512.Load(z + i), q).Store(destination + i); i += 16; }
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            for (; i <= n - 16; i += 16)
            {
                var a = TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), Vector256.Load(z + i), q);
                var b = TOp.Invoke(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), Vector256.Load(z + i + 8), q);
                a.Store(destination + i); b.Store(destination + i + 8);
            }
            if (i <= n - 8) { TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), Vector256.Load(z + i), q).Store(destination + i); i += 8; }
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            for (; i <= n - 8; i += 8)
            {
                var a = TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), Vector128.Load(z + i), q);
                var b = TOp.Invoke(Vector128.Load(x + i + 4), Vector128.Load(y + i + 4), Vector128.Load(z + i + 4), q);
                a.Store(destination + i); b.Store(destination + i + 4);
            }
            if (i <= n - 4) { TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), Vector128.Load(z + i), q).Store(destination + i); i += 4; }
        }
        for (; i < n; i++) destination[i] = TOp.Invoke(x[i], y[i], z[i], p);
    }

    /// <summary>destination[i] = op(x[i], y[i], z[i], w[i]). All: (n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Map<TOp>(float* x, float* y, float* z, float* w, float* destination, int n, in Splat<float> p) where TOp : struct, IQuaternaryOperator
    {
        int i = 0;
        if (Has512)
        {
            var q = Splat.To512(p);
            for (; i <= n - 32; i += 32)
            {
                var a = TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), Vector512.Load(z + i), Vector512.Load(w + i), q);
                var b = TOp.Invoke(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), Vector512.Load(z + i + 16), Vector512.Load(w + i + 16), q);
                a.Store(destination + i); b.Store(destination + i + 16);
            }
            if (i <= n - 16) { TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), Vector512.Load(z + i), Vector512.Load(w + i), q).Store(destination + i); i += 16; }
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            for (; i <= n - 16; i += 16)
            {
                var a = TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), Vector256.Load(z + i), Vector256.Load(w + i), q);
                var b = TOp.Invoke(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), Vector256.Load(z + i + 8), Vector256.Load(w + i + 8), q);
                a.Store(destination + i); b.Store(destination + i + 8);
            }
            if (i <= n - 8) { TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), Vector256.Load(z + i), Vector256.Load(w + i), q).Store(destination + i); i += 8; }
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            for (; i <= n - 8; i += 8)
            {
                var a = TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), Vector128.Load(z + i), Vector128.Load(w + i), q);
                var b = TOp.Invoke(Vector128.Load(x + i + 4), Vector128.Load(y + i + 4), Vector128.Load(z + i + 4), Vector128.Load(w + i + 4), q);
                a.Store(destination + i); b.Store(destination + i + 4);
            }
            if (i <= n - 4) { TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), Vector128.Load(z + i), Vector128.Load(w + i), q).Store(destination + i); i += 4; }
        }
        for (; i < n; i++) destination[i] = TOp.Invoke(x[i], y[i], z[i], w[i], p);
    }

    /// <summary>
    /// sum_i op(x[i]), in float: two accumulators of the widest width, their horizontal sum, then those of each narrower
    /// width and the floats, in that order (a fixed order per length, so a row's sum does not depend on its neighbours).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum<TOp>(float* x, int n, in Splat<float> p) where TOp : struct, IUnaryOperator
    {
        int i = 0;
        float sum = 0f;
        if (Has512)
        {
            var q = Splat.To512(p);
            Vector512<float> a0 = default, a1 = default;
            for (; i <= n - 32; i += 32) { a0 += TOp.Invoke(Vector512.Load(x + i), q); a1 += TOp.Invoke(Vector512.Load(x + i + 16), q); }
            if (i <= n - 16) { a0 += TOp.Invoke(Vector512.Load(x + i), q); i += 16; }
            sum = Vector512.Sum(a0 + a1);
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            Vector256<float> a0 = default, a1 = default;
            for (; i <= n - 16; i += 16) { a0 += TOp.Invoke(Vector256.Load(x + i), q); a1 += TOp.Invoke(Vector256.Load(x + i + 8), q); }
            if (i <= n - 8) { a0 += TOp.Invoke(Vector256.Load(x + i), q); i += 8; }
            sum += Vector256.Sum(a0 + a1);
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            Vector128<float> a0 = default, a1 = default;
            for (; i <= n - 8; i += 8) { a0 += TOp.Invoke(Vector128.Load(x + i), q); a1 += TOp.Invoke(Vector128.Load(x + i + 4), q); }
            if (i <= n - 4) { a0 += TOp.Invoke(Vector128.Load(x + i), q); i += 4; }
            sum += Vector128.Sum(a0 + a1);
        }
        for (; i < n; i++) sum += TOp.Invoke(x[i], p);
        return sum;
    }

    /// <summary>sum_i op(x[i], y[i]) (a dot product with <see cref="MultiplyOperator"/>), summed as <see cref="Sum{TOp}(float*, int, in Splat{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum<TOp>(float* x, float* y, int n, in Splat<float> p) where TOp : struct, IBinaryOperator
    {
        int i = 0;
        float sum = 0f;
        if (Has512)
        {
            var q = Splat.To512(p);
            Vector512<float> a0 = default, a1 = default;
            for (; i <= n - 32; i += 32)
            {
                a0 += TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), q);
                a1 += TOp.Invoke(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), q);
            }
            if (i <= n - 16) { a0 += TOp.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), q); i += 16; }
            sum = Vector512.Sum(a0 + a1);
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            Vector256<float> a0 = default, a1 = default;
            for (; i <= n - 16; i += 16)
            {
                a0 += TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), q);
                a1 += TOp.Invoke(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), q);
            }
            if (i <= n - 8) { a0 += TOp.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), q); i += 8; }
            sum += Vector256.Sum(a0 + a1);
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            Vector128<float> a0 = default, a1 = default;
            for (; i <= n - 8; i += 8)
            {
                a0 += TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), q);
                a1 += TOp.Invoke(Vector128.Load(x + i + 4), Vector128.Load(y + i + 4), q);
            }
            if (i <= n - 4) { a0 += TOp.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), q); i += 4; }
            sum += Vector128.Sum(a0 + a1);
        }
        for (; i < n; i++) sum += TOp.Invoke(x[i], y[i], p);
        return sum;
    }

    /// <summary>destination[i] = op(x[i]) and returns the sum of the destination (softmax's exponentials), summed as <see cref="Sum{TOp}(float*, int, in Splat{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MapSum<TOp>(float* x, float* destination, int n, in Splat<float> p) where TOp : struct, IUnaryOperator
    {
        int i = 0;
        float sum = 0f;
        if (Has512)
        {
            var q = Splat.To512(p);
            Vector512<float> a0 = default, a1 = default;
            for (; i <= n - 32; i += 32)
            {
                var u = TOp.Invoke(Vector512.Load(x + i), q); var v = TOp.Invoke(Vector512.Load(x + i + 16), q);
                u.Store(destination + i); v.Store(destination + i + 16);
                a0 += u; a1 += v;
            }
            if (i <= n - 16) { var u = TOp.Invoke(Vector512.Load(x + i), q); u.Store(destination + i); a0 += u; i += 16; }
            sum = Vector512.Sum(a0 + a1);
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            Vector256<float> a0 = default, a1 = default;
            for (; i <= n - 16; i += 16)
            {
                var u = TOp.Invoke(Vector256.Load(x + i), q); var v = TOp.Invoke(Vector256.Load(x + i + 8), q);
                u.Store(destination + i); v.Store(destination + i + 8);
                a0 += u; a1 += v;
            }
            if (i <= n - 8) { var u = TOp.Invoke(Vector256.Load(x + i), q); u.Store(destination + i); a0 += u; i += 8; }
            sum += Vector256.Sum(a0 + a1);
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            Vector128<float> a0 = default, a1 = default;
            for (; i <= n - 8; i += 8)
            {
                var u = TOp.Invoke(Vector128.Load(x + i), q); var v = TOp.Invoke(Vector128.Load(x + i + 4), q);
                u.Store(destination + i); v.Store(destination + i + 4);
                a0 += u; a1 += v;
            }
            if (i <= n - 4) { var u = TOp.Invoke(Vector128.Load(x + i), q); u.Store(destination + i); a0 += u; i += 4; }
            sum += Vector128.Sum(a0 + a1);
        }
        for (; i < n; i++) { float u = TOp.Invoke(x[i], p); destination[i] = u; sum += u; }
        return sum;
    }

    /// <summary>max_i x[i] (-inf for n = 0); NaN if any element is NaN, as <see cref="MathF.Max"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(float* x, int n) => Max<IdentityOperator>(x, n, default);

    /// <summary>max_i op(x[i]) (-inf for n = 0), reduced as <see cref="Max(float*, int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max<TOp>(float* x, int n, in Splat<float> p) where TOp : struct, IUnaryOperator
    {
        int i = 0;
        float max = float.NegativeInfinity;
        // NOTE: Vector*.Max (not MaxNative) propagates NaN like MathF.Max, whatever the instruction set.
        if (Has512 && n >= 16)
        {
            var q = Splat.To512(p);
            Vector512<float> a0 = TOp.Invoke(Vector512.Load(x), q), a1 = a0;
            for (i = 16; i <= n - 32; i += 32) { a0 = Vector512.Max(a0, TOp.Invoke(Vector512.Load(x + i), q)); a1 = Vector512.Max(a1, TOp.Invoke(Vector512.Load(x + i + 16), q)); }
            if (i <= n - 16) { a0 = Vector512.Max(a0, TOp.Invoke(Vector512.Load(x + i), q)); i += 16; }
            a0 = Vector512.Max(a0, a1);
            var m256 = Vector256.Max(a0.GetLower(), a0.GetUpper());
            var m128 = Vector128.Max(m256.GetLower(), m256.GetUpper());
            max = MaxAcross(m128);
        }
        if (Has256 && i <= n - 8)
        {
            var q = Splat.To256(p);
            Vector256<float> a0 = TOp.Invoke(Vector256.Load(x + i), q), a1 = a0;
            for (i += 8; i <= n - 16; i += 16) { a0 = Vector256.Max(a0, TOp.Invoke(Vector256.Load(x + i), q)); a1 = Vector256.Max(a1, TOp.Invoke(Vector256.Load(x + i + 8), q)); }
            if (i <= n - 8) { a0 = Vector256.Max(a0, TOp.Invoke(Vector256.Load(x + i), q)); i += 8; }
            a0 = Vector256.Max(a0, a1);
            max = MathF.Max(max, MaxAcross(Vector128.Max(a0.GetLower(), a0.GetUpper())));
        }
        if (Has128 && i <= n - 4)
        {
            var q = Splat.To128(p);
            Vector128<float> a0 = TOp.Invoke(Vector128.Load(x + i), q), a1 = a0;
            for (i += 4; i <= n - 8; i += 8) { a0 = Vector128.Max(a0, TOp.Invoke(Vector128.Load(x + i), q)); a1 = Vector128.Max(a1, TOp.Invoke(Vector128.Load(x + i + 4), q)); }
            if (i <= n - 4) { a0 = Vector128.Max(a0, TOp.Invoke(Vector128.Load(x + i), q)); i += 4; }
            max = MathF.Max(max, MaxAcross(Vector128.Max(a0, a1)));
        }
        for (; i < n; i++) max = MathF.Max(max, TOp.Invoke(x[i], p));
        return max;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float MaxAcross(Vector128<float> v) => MathF.Max(MathF.Max(v.GetElement(0), v.GetElement(1)), MathF.Max(v.GetElement(2), v.GetElement(3)));

    /// <summary>
    /// One fused pass of an <see cref="IUpdateOperator"/>: reads x, y, z, updates a, b, c in place (only the streams the
    /// operator declares; pass null for the others) and returns its two sums, reduced as in <see cref="Sum{TOp}(float*, int, in Splat{float})"/>.
    /// One vector per step: these passes are memory-bound and keep several streams in flight already.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Sum0, float Sum1) Update<TOp>(float* x, float* y, float* z, float* a, float* b, float* c, int n, in Splat<float> p)
        where TOp : struct, IUpdateOperator
    {
        int i = 0;
        float sum0 = 0f, sum1 = 0f;
        if (Has512)
        {
            var q = Splat.To512(p);
            Vector512<float> s0 = default, s1 = default;
            for (; i <= n - 16; i += 16)
            {
                var vy = TOp.Inputs > 1 ? Vector512.Load(y + i) : default; var vz = TOp.Inputs > 2 ? Vector512.Load(z + i) : default;
                var va = Vector512.Load(a + i);
                var vb = TOp.Updates > 1 ? Vector512.Load(b + i) : default; var vc = TOp.Updates > 2 ? Vector512.Load(c + i) : default;
                TOp.Invoke(Vector512.Load(x + i), vy, vz, ref va, ref vb, ref vc, ref s0, ref s1, q);
                va.Store(a + i);
                if (TOp.Updates > 1) vb.Store(b + i);
                if (TOp.Updates > 2) vc.Store(c + i);
            }
            sum0 = Vector512.Sum(s0); sum1 = Vector512.Sum(s1);
        }
        if (Has256)
        {
            var q = Splat.To256(p);
            Vector256<float> s0 = default, s1 = default;
            for (; i <= n - 8; i += 8)
            {
                var vy = TOp.Inputs > 1 ? Vector256.Load(y + i) : default; var vz = TOp.Inputs > 2 ? Vector256.Load(z + i) : default;
                var va = Vector256.Load(a + i);
                var vb = TOp.Updates > 1 ? Vector256.Load(b + i) : default; var vc = TOp.Updates > 2 ? Vector256.Load(c + i) : default;
                TOp.Invoke(Vector256.Load(x + i), vy, vz, ref va, ref vb, ref vc, ref s0, ref s1, q);
                va.Store(a + i);
                if (TOp.Updates > 1) vb.Store(b + i);
                if (TOp.Updates > 2) vc.Store(c + i);
            }
            sum0 += Vector256.Sum(s0); sum1 += Vector256.Sum(s1);
        }
        if (Has128)
        {
            var q = Splat.To128(p);
            Vector128<float> s0 = default, s1 = default;
            for (; i <= n - 4; i += 4)
            {
                var vy = TOp.Inputs > 1 ? Vector128.Load(y + i) : default; var vz = TOp.Inputs > 2 ? Vector128.Load(z + i) : default;
                var va = Vector128.Load(a + i);
                var vb = TOp.Updates > 1 ? Vector128.Load(b + i) : default; var vc = TOp.Updates > 2 ? Vector128.Load(c + i) : default;
                TOp.Invoke(Vector128.Load(x + i), vy, vz, ref va, ref vb, ref vc, ref s0, ref s1, q);
                va.Store(a + i);
                if (TOp.Updates > 1) vb.Store(b + i);
                if (TOp.Updates > 2) vc.Store(c + i);
            }
            sum0 += Vector128.Sum(s0); sum1 += Vector128.Sum(s1);
        }
        for (; i < n; i++)
        {
            float fy = TOp.Inputs > 1 ? y[i] : 0f, fz = TOp.Inputs > 2 ? z[i] : 0f, fb = TOp.Updates > 1 ? b[i] : 0f, fc = TOp.Updates > 2 ? c[i] : 0f;
            TOp.Invoke(x[i], fy, fz, ref a[i], ref fb, ref fc, ref sum0, ref sum1, p);
            if (TOp.Updates > 1) b[i] = fb;
            if (TOp.Updates > 2) c[i] = fc;
        }
        return (sum0, sum1);
    }
}
