// The bounds of a screened argmax (Generation/ScreenedHead, which derives them in its header): for each int8 row j the
// approximate logit a_j from exact integer dot products and the half-width B_j of an interval that holds the float32
// logit, giving upper[j] = a_j + B_j and the largest a_j - B_j. Every width computes the scalar twin's operations in the
// same order in double (int and float inputs convert exactly; no fused multiply-adds), so the bounds are the twin's bit
// for bit on every path. Glossary: V rows (the vocabulary).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

/// <summary>What one pass of the screen knows about the head input x (see ScreenedHead's header for the terms).</summary>
/// <param name="ScaleX">Scale of the uint8 copy of x.</param>
/// <param name="Scale2">Scale of the second copy (the residual x - x^), when <paramref name="Refined"/>.</param>
/// <param name="Norm">An upper bound on ||x||.</param>
/// <param name="ErrorNorm">An upper bound on the distance from x to its quantised copy (both copies when refined).</param>
/// <param name="Slack">Absolute slack for float32 underflow in the head's products.</param>
/// <param name="Refined">Whether a_j adds the products with the second copy.</param>
readonly record struct ScreenPass(double ScaleX, double Scale2, double Norm, double ErrorNorm, double Slack, bool Refined);

/// <summary>Interval bounds on the logits of int8 rows, at every vector width.</summary>
static unsafe class ScreenBounds
{
    /// <summary>Relative round-off of a_j in double (at most five roundings).</summary>
    public const double Relative = 1.0 / (1L << 50);

    /// <summary>Inflation of a computed bound for its own double round-off.</summary>
    public const double Inflate = 1 + 1.0 / (1 << 20);

    /// <summary>
    /// upper[j] = a_j + B_j for rows [from, to), and returns max_j (a_j - B_j) (-infinity for no rows). Inputs (V) each:
    /// dots (pass 1 integer products), refinedDots (pass 2's, read only when refined), rowSums, scales, quantizedNorms,
    /// deviations (&gt;= ||w_j - w^_j|| + gamma ||w_j||).
    /// </summary>
    public static double Bounds(in ScreenPass pass, ReadOnlySpan<int> dots, ReadOnlySpan<int> refinedDots, ReadOnlySpan<int> rowSums,
        ReadOnlySpan<float> scales, ReadOnlySpan<float> quantizedNorms, ReadOnlySpan<float> deviations, int from, int to, Span<double> upper) =>
        BoundsOn(VectorIsa.Path, pass, dots, refinedDots, rowSums, scales, quantizedNorms, deviations, from, to, upper);

    /// <summary>Whether this machine can run <paramref name="path"/> (tests run every one that it can).</summary>
    internal static bool IsSupported(VectorPath path) => path switch
    {
        VectorPath.Avx512 => Avx512F.IsSupported,
        VectorPath.Avx2 => Avx2.IsSupported,
        VectorPath.Vector128 => Vector128.IsHardwareAccelerated,
        _ => true,
    };

    /// <summary><see cref="Bounds"/> at a chosen width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double BoundsOn(VectorPath path, in ScreenPass pass, ReadOnlySpan<int> dots, ReadOnlySpan<int> refinedDots, ReadOnlySpan<int> rowSums,
        ReadOnlySpan<float> scales, ReadOnlySpan<float> quantizedNorms, ReadOnlySpan<float> deviations, int from, int to, Span<double> upper)
    {
        if (from < 0 || to < from || dots.Length < to || rowSums.Length < to || scales.Length < to || quantizedNorms.Length < to
            || deviations.Length < to || upper.Length < to || (pass.Refined && refinedDots.Length < to))
            throw new ArgumentException("screen bounds: spans shorter than the rows asked for");
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"screen bounds: {path} is not available here");
        fixed (int* d = dots, d2 = refinedDots, sums = rowSums)
        fixed (float* s = scales, qn = quantizedNorms, dev = deviations)
        fixed (double* u = upper)
        {
            var rows = new Rows(d, pass.Refined ? d2 : d, sums, s, qn, dev, u);
            int j = from;
            double lower = double.NegativeInfinity;
            if (path == VectorPath.Avx512) lower = Bounds512(in pass, in rows, ref j, to);
            else if (path == VectorPath.Avx2) lower = Bounds256(in pass, in rows, ref j, to);
            else if (path == VectorPath.Vector128) lower = Bounds128(in pass, in rows, ref j, to);
            for (; j < to; j++) lower = Math.Max(lower, Bound(in pass, in rows, j));
            return lower;
        }
    }

    readonly struct Rows(int* dots, int* refinedDots, int* rowSums, float* scales, float* quantizedNorms, float* deviations, double* upper)
    {
        public readonly int* Dots = dots, RefinedDots = refinedDots, RowSums = rowSums;
        public readonly float* Scales = scales, QuantizedNorms = quantizedNorms, Deviations = deviations;
        public readonly double* Upper = upper;
    }

    /// <summary>One row: the definition every width follows, operation for operation.</summary>
    static double Bound(in ScreenPass pass, in Rows r, int j)
    {
        double offset = QuantizedRows.ZeroPoint * (double)r.RowSums[j];
        double first = pass.ScaleX * r.Scales[j] * (r.Dots[j] - offset);
        double second = pass.Refined ? pass.Scale2 * r.Scales[j] * (r.RefinedDots[j] - offset) : 0;
        double a = first + second;
        double bound = (pass.ErrorNorm * r.QuantizedNorms[j] + pass.Norm * r.Deviations[j] + Relative * (Math.Abs(first) + Math.Abs(second)) + pass.Slack) * Inflate;
        r.Upper[j] = a + bound;
        return a - bound;
    }

    // Eight rows per step.
    static double Bounds512(in ScreenPass pass, in Rows r, ref int j, int to)
    {
        Vector512<double> scaleX = Vector512.Create(pass.ScaleX), scale2 = Vector512.Create(pass.Scale2), zero = Vector512.Create((double)QuantizedRows.ZeroPoint);
        Vector512<double> errorNorm = Vector512.Create(pass.ErrorNorm), norm = Vector512.Create(pass.Norm), relative = Vector512.Create(Relative);
        Vector512<double> slack = Vector512.Create(pass.Slack), inflate = Vector512.Create(Inflate), low = Vector512.Create(double.NegativeInfinity);
        for (; j + 8 <= to; j += 8)
        {
            var offset = zero * Avx512F.ConvertToVector512Double(Vector256.Load(r.RowSums + j));
            var scale = Avx512F.ConvertToVector512Double(Vector256.Load(r.Scales + j));
            var first = scaleX * scale * (Avx512F.ConvertToVector512Double(Vector256.Load(r.Dots + j)) - offset);
            var second = pass.Refined ? scale2 * scale * (Avx512F.ConvertToVector512Double(Vector256.Load(r.RefinedDots + j)) - offset) : Vector512<double>.Zero;
            var a = first + second;
            var bound = (errorNorm * Avx512F.ConvertToVector512Double(Vector256.Load(r.QuantizedNorms + j)) + norm * Avx512F.ConvertToVector512Double(Vector256.Load(r.Deviations + j))
                + relative * (Vector512.Abs(first) + Vector512.Abs(second)) + slack) * inflate;
            (a + bound).Store(r.Upper + j);
            low = Vector512.Max(low, a - bound);
        }
        return Math.Max(Math.Max(Math.Max(low[0], low[1]), Math.Max(low[2], low[3])), Math.Max(Math.Max(low[4], low[5]), Math.Max(low[6], low[7])));
    }

    // Four rows per step.
    static double Bounds256(in ScreenPass pass, in Rows r, ref int j, int to)
    {
        Vector256<double> scaleX = Vector256.Create(pass.ScaleX), scale2 = Vector256.Create(pass.Scale2), zero = Vector256.Create((double)QuantizedRows.ZeroPoint);
        Vector256<double> errorNorm = Vector256.Create(pass.ErrorNorm), norm = Vector256.Create(pass.Norm), relative = Vector256.Create(Relative);
        Vector256<double> slack = Vector256.Create(pass.Slack), inflate = Vector256.Create(Inflate), low = Vector256.Create(double.NegativeInfinity);
        for (; j + 4 <= to; j += 4)
        {
            var offset = zero * Avx.ConvertToVector256Double(Vector128.Load(r.RowSums + j));
            var scale = Avx.ConvertToVector256Double(Vector128.Load(r.Scales + j));
            var first = scaleX * scale * (Avx.ConvertToVector256Double(Vector128.Load(r.Dots + j)) - offset);
            var second = pass.Refined ? scale2 * scale * (Avx.ConvertToVector256Double(Vector128.Load(r.RefinedDots + j)) - offset) : Vector256<double>.Zero;
            var a = first + second;
            var bound = (errorNorm * Avx.ConvertToVector256Double(Vector128.Load(r.QuantizedNorms + j)) + norm * Avx.ConvertToVector256Double(Vector128.Load(r.Deviations + j))
                + relative * (Vector256.Abs(first) + Vector256.Abs(second)) + slack) * inflate;
            (a + bound).Store(r.Upper + j);
            low = Vector256.Max(low, a - bound);
        }
        return Math.Max(Math.Max(low[0], low[1]), Math.Max(low[2], low[3]));
    }

    // Two rows per step (ARM64 NEON or x86 SSE): the inputs converted one by one (exactly), the arithmetic in pairs.
    static double Bounds128(in ScreenPass pass, in Rows r, ref int j, int to)
    {
        Vector128<double> scaleX = Vector128.Create(pass.ScaleX), scale2 = Vector128.Create(pass.Scale2), zero = Vector128.Create((double)QuantizedRows.ZeroPoint);
        Vector128<double> errorNorm = Vector128.Create(pass.ErrorNorm), norm = Vector128.Create(pass.Norm), relative = Vector128.Create(Relative);
        Vector128<double> slack = Vector128.Create(pass.Slack), inflate = Vector128.Create(Inflate), low = Vector128.Create(double.NegativeInfinity);
        for (; j + 2 <= to; j += 2)
        {
            var offset = zero * Pair(r.RowSums + j);
            var scale = Pair(r.Scales + j);
            var first = scaleX * scale * (Pair(r.Dots + j) - offset);
            var second = pass.Refined ? scale2 * scale * (Pair(r.RefinedDots + j) - offset) : Vector128<double>.Zero;
            var a = first + second;
            var bound = (errorNorm * Pair(r.QuantizedNorms + j) + norm * Pair(r.Deviations + j) + relative * (Vector128.Abs(first) + Vector128.Abs(second)) + slack) * inflate;
            (a + bound).Store(r.Upper + j);
            low = Vector128.Max(low, a - bound);
        }
        return Math.Max(low[0], low[1]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<double> Pair(int* p) => Vector128.Create((double)p[0], p[1]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<double> Pair(float* p) => Vector128.Create((double)p[0], p[1]);
}
