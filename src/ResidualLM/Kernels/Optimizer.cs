// The AdamW update as one vectorised pass over a parameter and its state (memory-bound: 4 streams read, 3 written).
// Limits: float32; the same operations in the same order as the scalar twin (no FMA), so results are bit-identical.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Optimizer update kernels.</summary>
public static class Optimizer
{
    /// <summary>
    /// For every i: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p = p shrink - stepSize m / (sqrt(v) / rootCorrection + eps).
    /// gradient, parameter, firstMoment, secondMoment: same length. shrink = 1 - lr wd (1 without decay),
    /// stepSize = lr / (1 - b1^t), rootCorrection = sqrt(1 - b2^t).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void AdamWUpdate(ReadOnlySpan<float> gradient, Span<float> parameter, Span<float> firstMoment, Span<float> secondMoment,
        float beta1, float beta2, float shrink, float stepSize, float rootCorrection, float eps)
    {
        int n = parameter.Length;
        if (gradient.Length != n || firstMoment.Length != n || secondMoment.Length != n) throw new ArgumentException("AdamW spans differ in length");
        float c1 = 1f - beta1, c2 = 1f - beta2;
        fixed (float* g = gradient, p = parameter, m = firstMoment, v = secondMoment)
        {
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var vb1 = Vector512.Create(beta1); var vc1 = Vector512.Create(c1);
                var vb2 = Vector512.Create(beta2); var vc2 = Vector512.Create(c2);
                var vShrink = Vector512.Create(shrink); var vStep = Vector512.Create(stepSize);
                var vRoot = Vector512.Create(rootCorrection); var vEps = Vector512.Create(eps);
                for (; i <= n - 16; i += 16)
                {
                    var gi = Vector512.Load(g + i);
                    var mi = vb1 * Vector512.Load(m + i) + vc1 * gi;
                    var vi = vb2 * Vector512.Load(v + i) + vc2 * gi * gi;
                    mi.Store(m + i);
                    vi.Store(v + i);
                    (Vector512.Load(p + i) * vShrink - vStep * mi / (Vector512.Sqrt(vi) / vRoot + vEps)).Store(p + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vb1 = Vector256.Create(beta1); var vc1 = Vector256.Create(c1);
                var vb2 = Vector256.Create(beta2); var vc2 = Vector256.Create(c2);
                var vShrink = Vector256.Create(shrink); var vStep = Vector256.Create(stepSize);
                var vRoot = Vector256.Create(rootCorrection); var vEps = Vector256.Create(eps);
                for (; i <= n - 8; i += 8)
                {
                    var gi = Vector256.Load(g + i);
                    var mi = vb1 * Vector256.Load(m + i) + vc1 * gi;
                    var vi = vb2 * Vector256.Load(v + i) + vc2 * gi * gi;
                    mi.Store(m + i);
                    vi.Store(v + i);
                    (Vector256.Load(p + i) * vShrink - vStep * mi / (Vector256.Sqrt(vi) / vRoot + vEps)).Store(p + i);
                }
            }
            for (; i < n; i++)
            {
                float gi = g[i];
                float mi = m[i] = beta1 * m[i] + c1 * gi;
                float vi = v[i] = beta2 * v[i] + c2 * gi * gi;
                p[i] = p[i] * shrink - stepSize * mi / (MathF.Sqrt(vi) / rootCorrection + eps);
            }
        }
    }
}
