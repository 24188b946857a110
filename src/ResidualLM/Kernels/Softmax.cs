// Softmax, log-softmax and the fused softmax cross-entropy over the last dimension, forward and backward.
// Glossary: R = rows, C = classes (columns). Parallel over rows. Backward kernels add into dInput.
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Row-wise softmax family kernels.</summary>
public static class Softmax
{
    /// <summary>y = exp(x - max) / sum exp(x - max) per row. x, y: (R, C). A row of all -inf gives zeros (fully masked).</summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        CheckRows(x.Length, y.Length, rows, cols);
        fixed (float* px = x, py = y)
        {
            float* xs = px, ys = py;
            Parallelism.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    SoftmaxRow(new ReadOnlySpan<float>(xs + (long)r * cols, cols), new Span<float>(ys + (long)r * cols, cols));
            }, costPerItem: 20L * cols);
        }
    }

    /// <summary>One row of softmax, with the max subtracted for stability.</summary>
    internal static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max)) { y.Clear(); return; }
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        float sum = TensorPrimitives.Sum(y);
        TensorPrimitives.Multiply(y, 1f / sum, y);
    }

    /// <summary>dx += y (dy - sum(dy y)) per row, from the forward output y.</summary>
    public static unsafe void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols)
    {
        CheckRows(y.Length, dy.Length, rows, cols);
        CheckRows(y.Length, dx.Length, rows, cols);
        fixed (float* py = y, pdy = dy, pdx = dx)
        {
            float* ys = py, dys = pdy, dxs = pdx;
            Parallelism.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                {
                    long o = (long)r * cols;
                    var yr = new ReadOnlySpan<float>(ys + o, cols); var dyr = new ReadOnlySpan<float>(dys + o, cols);
                    float dot = TensorPrimitives.Dot(yr, dyr);
                    float* dxr = dxs + o;
                    for (int c = 0; c < cols; c++) dxr[c] += yr[c] * (dyr[c] - dot);
                }
            }, costPerItem: 6L * cols);
        }
    }

    /// <summary>y = x - max - log sum exp(x - max) per row.</summary>
    public static unsafe void LogForward(ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        CheckRows(x.Length, y.Length, rows, cols);
        fixed (float* px = x, py = y)
        {
            float* xs = px, ys = py;
            Parallelism.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                {
                    var xr = new ReadOnlySpan<float>(xs + (long)r * cols, cols);
                    float lse = LogSumExp(xr);
                    TensorPrimitives.Subtract(xr, lse, new Span<float>(ys + (long)r * cols, cols));
                }
            }, costPerItem: 20L * cols);
        }
    }

    /// <summary>dx += dy - exp(y) sum(dy) per row, from the forward output y = log softmax(x).</summary>
    public static unsafe void LogBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols)
    {
        CheckRows(y.Length, dy.Length, rows, cols);
        CheckRows(y.Length, dx.Length, rows, cols);
        fixed (float* py = y, pdy = dy, pdx = dx)
        {
            float* ys = py, dys = pdy, dxs = pdx;
            Parallelism.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                {
                    long o = (long)r * cols;
                    float sum = TensorPrimitives.Sum(new ReadOnlySpan<float>(dys + o, cols));
                    for (int c = 0; c < cols; c++) dxs[o + c] += dys[o + c] - MathF.Exp(ys[o + c]) * sum;
                }
            }, costPerItem: 20L * cols);
        }
    }

    /// <summary>log sum exp of a row, stable (max subtracted); the exponentials are summed in float per 1024 and those sums in double.</summary>
    internal static unsafe float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max)) return max;
        double sum = 0;
        int n = x.Length, c = 0;
        fixed (float* px = x)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var vmax = Vector512.Create(max);
                while (c <= n - 64)
                {
                    Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    for (int end = Math.Min(n - 63, c + 1024); c < end; c += 64)
                    {
                        a0 += SimdMath.Exp(Vector512.Load(px + c) - vmax);
                        a1 += SimdMath.Exp(Vector512.Load(px + c + 16) - vmax);
                        a2 += SimdMath.Exp(Vector512.Load(px + c + 32) - vmax);
                        a3 += SimdMath.Exp(Vector512.Load(px + c + 48) - vmax);
                    }
                    sum += Vector512.Sum((a0 + a1) + (a2 + a3));
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vmax = Vector256.Create(max);
                while (c <= n - 32)
                {
                    Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    for (int end = Math.Min(n - 31, c + 1024); c < end; c += 32)
                    {
                        a0 += SimdMath.Exp(Vector256.Load(px + c) - vmax);
                        a1 += SimdMath.Exp(Vector256.Load(px + c + 8) - vmax);
                        a2 += SimdMath.Exp(Vector256.Load(px + c + 16) - vmax);
                        a3 += SimdMath.Exp(Vector256.Load(px + c + 24) - vmax);
                    }
                    sum += Vector256.Sum((a0 + a1) + (a2 + a3));
                }
            }
            for (; c < n; c++) sum += SimdMath.Exp(px[c] - max);
        }
        return max + (float)Math.Log(sum);
    }

    /// <summary>
    /// Fused cross-entropy: loss_r = logsumexp(logits_r) - logits_r[target_r], and 0 where target == ignoreIndex.
    /// logits: (R, C); targets: (R); losses, logSumExp: (R), the latter kept for backward. Returns the number of counted rows.
    /// Targets outside [0, C) other than ignoreIndex throw.
    /// </summary>
    public static unsafe int CrossEntropyForward(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> losses,
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
            Parallelism.For(0, rows, (start, end) =>
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
    public static unsafe void CrossEntropyBackward(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> logSumExp,
        ReadOnlySpan<float> dLoss, Span<float> dLogits, int rows, int cols, int ignoreIndex, bool accumulate = true)
    {
        if (logits.Length != rows * cols || dLogits.Length != rows * cols || targets.Length != rows || logSumExp.Length != rows || dLoss.Length != rows)
            throw new ArgumentException("cross-entropy span lengths do not match rows x cols");
        fixed (float* pl = logits, plse = logSumExp, pdl = dLoss, pdx = dLogits)
        fixed (int* pt = targets)
        {
            float* ls = pl, lses = plse, dls = pdl, dxs = pdx; int* ts = pt;
            Parallelism.For(0, rows, (start, end) =>
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

    /// <summary>d[c] (+)= g exp(x[c] - lse): one row of the softmax part of the cross-entropy gradient.</summary>
    static unsafe void SoftmaxGradientRow(float* x, float lse, float g, float* d, int cols, bool accumulate)
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vl = Vector512.Create(lse), vg = Vector512.Create(g);
            for (; c <= cols - 16; c += 16)
            {
                var p = SimdMath.Exp(Vector512.Load(x + c) - vl);
                (accumulate ? VectorIsa.MultiplyAdd(vg, p, Vector512.Load(d + c)) : vg * p).Store(d + c);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vl = Vector256.Create(lse), vg = Vector256.Create(g);
            for (; c <= cols - 8; c += 8)
            {
                var p = SimdMath.Exp(Vector256.Load(x + c) - vl);
                (accumulate ? VectorIsa.MultiplyAdd(vg, p, Vector256.Load(d + c)) : vg * p).Store(d + c);
            }
        }
        for (; c < cols; c++)
        {
            float p = SimdMath.Exp(x[c] - lse);
            d[c] = accumulate ? VectorIsa.MultiplyAdd(g, p, d[c]) : g * p;
        }
    }

    static void CheckRows(int a, int b, int rows, int cols)
    {
        if (a != rows * cols || b != rows * cols) throw new ArgumentException($"span lengths must equal rows x cols = {rows * cols}");
    }
}
