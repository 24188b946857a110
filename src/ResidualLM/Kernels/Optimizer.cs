// The AdamW update as one vectorised pass over a parameter and its state (memory-bound: 4 streams read, 3 written).
// Limits: float32; the same operations in the same order as the scalar twin and no multiply-add contraction (none is
// written, and the JIT does not contract), so results are bit-identical on every path.
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
        var constants = new Splat<float>(beta1, 1f - beta1, beta2, 1f - beta2, shrink, stepSize, rootCorrection, eps);
        fixed (float* g = gradient, p = parameter, m = firstMoment, v = secondMoment)
            VectorOps.Update<AdamW>(g, null, null, m, v, p, n, constants);
    }

    /// <summary>
    /// One AdamW step on (g; m, v, p updated). Parameters: A = b1, B = 1 - b1, C = b2, D = 1 - b2, E = shrink,
    /// F = stepSize, G = rootCorrection, H = eps. NOTE: plain multiplies and adds only, never VectorIsa.MultiplyAdd:
    /// a fused form would round differently from the scalar twin (and between machines with and without FMA).
    /// </summary>
    readonly struct AdamW : IUpdateOperator
    {
        public static int Inputs => 1;
        public static int Updates => 3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(float g, float unusedY, float unusedZ, ref float m, ref float v, ref float p, ref float unused0, ref float unused1, in Splat<float> k)
        {
            m = k.A * m + k.B * g;
            v = k.C * v + k.D * g * g;
            p = p * k.E - k.F * m / (MathF.Sqrt(v) / k.G + k.H);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(Vector128<float> g, Vector128<float> unusedY, Vector128<float> unusedZ, ref Vector128<float> m, ref Vector128<float> v,
            ref Vector128<float> p, ref Vector128<float> unused0, ref Vector128<float> unused1, in Splat<Vector128<float>> k)
        {
            m = k.A * m + k.B * g;
            v = k.C * v + k.D * g * g;
            p = p * k.E - k.F * m / (Vector128.Sqrt(v) / k.G + k.H);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(Vector256<float> g, Vector256<float> unusedY, Vector256<float> unusedZ, ref Vector256<float> m, ref Vector256<float> v,
            ref Vector256<float> p, ref Vector256<float> unused0, ref Vector256<float> unused1, in Splat<Vector256<float>> k)
        {
            m = k.A * m + k.B * g;
            v = k.C * v + k.D * g * g;
            p = p * k.E - k.F * m / (Vector256.Sqrt(v) / k.G + k.H);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(Vector512<float> g, Vector512<float> unusedY, Vector512<float> unusedZ, ref Vector512<float> m, ref Vector512<float> v,
            ref Vector512<float> p, ref Vector512<float> unused0, ref Vector512<float> unused1, in Splat<Vector512<float>> k)
        {
            m = k.A * m + k.B * g;
            v = k.C * v + k.D * g * g;
            p = p * k.E - k.F * m / (Vector512.Sqrt(v) / k.G + k.H);
        }
    }
}
