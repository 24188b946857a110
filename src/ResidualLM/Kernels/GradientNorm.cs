// The vector parts of global-norm gradient clipping: a sum of squares in double and an in-place scale.
// Limits: float32 input; the sum's order depends only on the length (chunking and threads are the caller's).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Kernels for <c>Training.GradientClipping</c>.</summary>
public static unsafe class GradientNorm
{
    /// <summary>
    /// sum of g^2 in double. Each float is widened exactly and its square is exact in double (24-bit significands give
    /// 48 bits), so only the additions round, and the same on every path: no multiply-add is needed or used.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double SumOfSquares(ReadOnlySpan<float> gradient)
    {
        double sum = 0;
        int i = 0, n = gradient.Length;
        fixed (float* g = gradient)
        {
            if (VectorIsa.Path == VectorPath.Avx512)
            {
                Vector512<double> a0 = default, a1 = default;
                for (; i <= n - 16; i += 16)
                {
                    var (lo, hi) = Vector512.Widen(Vector512.Load(g + i));
                    a0 += lo * lo; a1 += hi * hi;
                }
                sum = Vector512.Sum(a0 + a1);
            }
            if (VectorIsa.Path >= VectorPath.Avx2)
            {
                Vector256<double> a0 = default, a1 = default;
                for (; i <= n - 8; i += 8)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Load(g + i));
                    a0 += lo * lo; a1 += hi * hi;
                }
                sum += Vector256.Sum(a0 + a1);
            }
            if (VectorIsa.Path >= VectorPath.Vector128)
            {
                Vector128<double> a0 = default, a1 = default;
                for (; i <= n - 4; i += 4)
                {
                    var (lo, hi) = Vector128.Widen(Vector128.Load(g + i));
                    a0 += lo * lo; a1 += hi * hi;
                }
                sum += Vector128.Sum(a0 + a1);
            }
            for (; i < n; i++) sum += (double)g[i] * g[i];
        }
        return sum;
    }

    /// <summary>gradient *= scale, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scale(Span<float> gradient, float scale)
    {
        fixed (float* g = gradient) VectorOps.Map<ScaleOperator>(g, g, gradient.Length, new(scale));
    }
}
