// Softmax, log-softmax and the fused softmax cross-entropy over the last dimension, forward and backward.
// Glossary: R = rows, C = classes (columns). Parallel over rows. Backward kernels add into dInput.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Row-wise softmax family kernels.</summary>
public static class Softmax
{
    /// <summary>y = exp(x - max) / sum exp(x - max) per row. x, y: (R, C). A row of all -inf gives zeros (fully masked).</summary>
    public static unsafe void Forward(Parallelism threads, ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        CheckRows(x.Length, y.Length, rows, cols);
        fixed (float* px = x, py = y)
        {
            float* xs = px, ys = py;
            threads.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    SoftmaxRow(new ReadOnlySpan<float>(xs + (long)r * cols, cols), new Span<float>(ys + (long)r * cols, cols));
            }, costPerItem: 20L * cols);
        }
    }

    /// <summary>One row of softmax, with the max subtracted for stability.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        fixed (float* px = x, py = y)
        {
            int n = x.Length;
            float max = VectorOps.Max(px, n);
            if (float.IsNegativeInfinity(max)) { y.Clear(); return; }
            float sum = VectorOps.MapSum<ExpShiftedOperator>(px, py, n, new(max));
            VectorOps.Map<ScaleOperator>(py, py, n, new(1f / sum));
        }
    }

    /// <summary>dx += y (dy - sum(dy y)) per row, from the forward output y.</summary>
    public static unsafe void Backward(Parallelism threads, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols)
    {
        CheckRows(y.Length, dy.Length, rows, cols);
        CheckRows(y.Length, dx.Length, rows, cols);
        fixed (float* py = y, pdy = dy, pdx = dx)
        {
            float* ys = py, dys = pdy, dxs = pdx;
            threads.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    BackwardRow(ys + (long)r * cols, dys + (long)r * cols, dxs + (long)r * cols, cols);
            }, costPerItem: 6L * cols);
        }
    }

    /// <summary>y = x - max - log sum exp(x - max) per row.</summary>
    public static unsafe void LogForward(Parallelism threads, ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        CheckRows(x.Length, y.Length, rows, cols);
        fixed (float* px = x, py = y)
        {
            float* xs = px, ys = py;
            threads.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    LogRow(xs + (long)r * cols, ys + (long)r * cols, cols);
            }, costPerItem: 20L * cols);
        }
    }

    /// <summary>dx += dy - exp(y) sum(dy) per row, from the forward output y = log softmax(x).</summary>
    public static unsafe void LogBackward(Parallelism threads, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols)
    {
        CheckRows(y.Length, dy.Length, rows, cols);
        CheckRows(y.Length, dx.Length, rows, cols);
        fixed (float* py = y, pdy = dy, pdx = dx)
        {
            float* ys = py, dys = pdy, dxs = pdx;
            threads.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    LogBackwardRow(ys + (long)r * cols, dys + (long)r * cols, dxs + (long)r * cols, cols);
            }, costPerItem: 20L * cols);
        }
    }

    /// <summary>log sum exp of a row, stable (max subtracted); the exponentials are summed in float per 1024 and those sums in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float LogSumExp(ReadOnlySpan<float> x)
    {
        fixed (float* px = x)
        {
            int n = x.Length;
            float max = VectorOps.Max(px, n);
            if (float.IsNegativeInfinity(max)) return max;
            double sum = 0;
            for (int c = 0; c < n; c += 1024) sum += VectorOps.Sum<ExpShiftedOperator>(px + c, Math.Min(1024, n - c), new(max));
            return max + (float)Math.Log(sum);
        }
    }

    /// <summary>
    /// Fused cross-entropy: loss_r = logsumexp(logits_r) - logits_r[target_r], and 0 where target == ignoreIndex.
    /// logits: (R, C); targets: (R); losses, logSumExp: (R), the latter kept for backward. Returns the number of counted rows.
    /// Targets outside [0, C) other than ignoreIndex throw.
    /// </summary>
    public static unsafe int CrossEntropyForward(Parallelism threads, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> losses,
        Span<float> logSumExp, int rows, int cols, int ignoreIndex)
    {
        if (logits.Length != rows * cols || targets.Length != rows || losses.Length != rows || logSumExp.Length != rows)
            throw new ArgumentException("cross-entropy span lengths do not match rows x cols");
        int counted = 0;
        for (int r = 0; r < rows; r++)
        {
            int t = targets[r];
            if (t == ignoreIndex) continue;
            if ((uint)t >= (uint)cols) throw new ArgumentOutOfRangeException(nameof(targets), $"target {t} at row {r} is outside [0, {cols})");
            counted++;
        }
        fixed (float* pl = logits, plo = losses, plse = logSumExp)
        fixed (int* pt = targets)
        {
            float* ls = pl, los = plo, lses = plse; int* ts = pt;
            threads.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                {
                    var row = new ReadOnlySpan<float>(ls + (long)r * cols, cols);
                    float lse = LogSumExp(row);
                    lses[r] = lse;
                    los[r] = ts[r] == ignoreIndex ? 0f : lse - row[ts[r]];
                }
            }, costPerItem: 20L * cols);
        }
        return counted;
    }

    /// <summary>
    /// dlogits += dLoss_r (softmax(logits_r) - onehot(target_r)) for counted rows; ignored rows get nothing. With
    /// <paramref name="accumulate"/> false dlogits is overwritten instead (ignored rows become 0): a first gradient needs no zeroed buffer.
    /// </summary>
    public static unsafe void CrossEntropyBackward(Parallelism threads, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> logSumExp,
        ReadOnlySpan<float> dLoss, Span<float> dLogits, int rows, int cols, int ignoreIndex, bool accumulate = true)
    {
        if (logits.Length != rows * cols || dLogits.Length != rows * cols || targets.Length != rows || logSumExp.Length != rows || dLoss.Length != rows)
            throw new ArgumentException("cross-entropy span lengths do not match rows x cols");
        fixed (float* pl = logits, plse = logSumExp, pdl = dLoss, pdx = dLogits)
        fixed (int* pt = targets)
        {
            float* ls = pl, lses = plse, dls = pdl, dxs = pdx; int* ts = pt;
            threads.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                {
                    long o = (long)r * cols;
                    if (ts[r] == ignoreIndex)
                    {
                        if (!accumulate) new Span<float>(dxs + o, cols).Clear();
                        continue;
                    }
                    SoftmaxGradientRow(ls + o, lses[r], dls[r], dxs + o, cols, accumulate);
                    dxs[o + ts[r]] -= dls[r];
                }
            }, costPerItem: 20L * cols);
        }
    }

    // Row helpers: compiled optimised at once (the callers are lambdas run a few times per step, too few to tier up soon).

    /// <summary>One row of softmax backward: dx += y (dy - sum(y dy)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void BackwardRow(float* y, float* dy, float* dx, int cols)
    {
        float dot = VectorOps.Sum<MultiplyOperator>(y, dy, cols, default);
        VectorOps.Map<SoftmaxGradient>(y, dy, dx, dx, cols, new(dot));
    }

    /// <summary>One row of log-softmax: y = x - logsumexp(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void LogRow(float* x, float* y, int cols)
    {
        float lse = LogSumExp(new ReadOnlySpan<float>(x, cols));
        VectorOps.Map<ShiftOperator>(x, y, cols, new(lse));
    }

    /// <summary>One row of log-softmax backward: dx += dy - exp(y) sum(dy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void LogBackwardRow(float* y, float* dy, float* dx, int cols)
    {
        float sum = VectorOps.Sum<IdentityOperator>(dy, cols, default);
        VectorOps.Map<LogSoftmaxGradient>(y, dy, dx, dx, cols, new(sum));
    }

    /// <summary>d[c] (+)= g exp(x[c] - lse): one row of the softmax part of the cross-entropy gradient.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void SoftmaxGradientRow(float* x, float lse, float g, float* d, int cols, bool accumulate)
    {
        if (accumulate) VectorOps.Map<ScaledExp<AddInto>>(x, d, d, cols, new(lse, g));
        else VectorOps.Map<ScaledExp<WriteOver>>(x, d, d, cols, new(lse, g));
    }

    /// <summary>Softmax backward on (y, dy, dx): dx + y (dy - p.A), p.A = sum(y dy).</summary>
    readonly struct SoftmaxGradient : ITernaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float y, float dy, float dx, in Splat<float> p) => VectorIsa.MultiplyAdd(y, dy - p.A, dx);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> y, Vector128<float> dy, Vector128<float> dx, in Splat<Vector128<float>> p) => VectorIsa.MultiplyAdd(y, dy - p.A, dx);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> y, Vector256<float> dy, Vector256<float> dx, in Splat<Vector256<float>> p) => VectorIsa.MultiplyAdd(y, dy - p.A, dx);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> y, Vector512<float> dy, Vector512<float> dx, in Splat<Vector512<float>> p) => VectorIsa.MultiplyAdd(y, dy - p.A, dx);
    }

    /// <summary>Log-softmax backward on (y, dy, dx): dx + (dy - exp(y) p.A), p.A = sum(dy).</summary>
    readonly struct LogSoftmaxGradient : ITernaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float y, float dy, float dx, in Splat<float> p) => dx + VectorIsa.MultiplyAdd(-SimdMath.Exp(y), p.A, dy);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> y, Vector128<float> dy, Vector128<float> dx, in Splat<Vector128<float>> p) =>
            dx + VectorIsa.MultiplyAdd(-SimdMath.Exp(y), p.A, dy);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> y, Vector256<float> dy, Vector256<float> dx, in Splat<Vector256<float>> p) =>
            dx + VectorIsa.MultiplyAdd(-SimdMath.Exp(y), p.A, dy);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> y, Vector512<float> dy, Vector512<float> dx, in Splat<Vector512<float>> p) =>
            dx + VectorIsa.MultiplyAdd(-SimdMath.Exp(y), p.A, dy);
    }

    /// <summary>On (x, d): d (+)= p.B exp(x - p.A), p.A = the row's logsumexp, p.B = the row's loss gradient.</summary>
    readonly struct ScaledExp<TAccumulation> : IBinaryOperator where TAccumulation : struct, IAccumulation
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float x, float d, in Splat<float> p)
        { float e = SimdMath.Exp(x - p.A); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, e, d) : p.B * e; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> d, in Splat<Vector128<float>> p)
        { var e = SimdMath.Exp(x - p.A); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, e, d) : p.B * e; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> d, in Splat<Vector256<float>> p)
        { var e = SimdMath.Exp(x - p.A); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, e, d) : p.B * e; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> d, in Splat<Vector512<float>> p)
        { var e = SimdMath.Exp(x - p.A); return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, e, d) : p.B * e; }
    }

    static void CheckRows(int a, int b, int rows, int cols)
    {
        if (a != rows * cols || b != rows * cols) throw new ArgumentException($"span lengths must equal rows x cols = {rows * cols}");
    }
}
