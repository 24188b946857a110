// LayerNorm and RMSNorm over the last dimension: forward saves per-row statistics (mean, rstd) for backward.
// Glossary: R = rows (B*T), C = channels. Parallel over rows; weight gradients are reduced per thread, then summed.
using System.Numerics.Tensors;

namespace ResidualLM.Kernels;

/// <summary>Row-wise normalisation kernels.</summary>
public static class Normalization
{
    /// <summary>
    /// y = (x - mean) * rstd * weight + bias per row, with the biased variance (as PyTorch) and rstd = 1/sqrt(var + eps).
    /// x, y: (R, C); weight, bias: (C); mean, rstd: (R), written for backward.
    /// </summary>
    public static void LayerNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> y, Span<float> mean, Span<float> rstd, int rows, int cols, float eps)
    {
        Check(x.Length, rows * cols, y.Length, weight.Length, cols, mean.Length, rstd.Length, rows);
        if (bias.Length != cols) throw new ArgumentException("bias length must equal cols");
        unsafe
        {
            fixed (float* px = x, pw = weight, pb = bias, py = y, pm = mean, pr = rstd)
            {
                float* xs = px, ws = pw, bs = pb, ys = py, ms = pm, rs = pr;
                Parallelism.For(0, rows, (start, end) =>
                {
                    for (int r = start; r < end; r++)
                        LayerNormRow(new ReadOnlySpan<float>(xs + (long)r * cols, cols), new ReadOnlySpan<float>(ws, cols), new ReadOnlySpan<float>(bs, cols),
                            new Span<float>(ys + (long)r * cols, cols), eps, out ms[r], out rs[r]);
                }, costPerItem: 8L * cols);
            }
        }
    }

    /// <summary>
    /// One row of <see cref="LayerNormForward"/> (the same arithmetic, so a row normalised alone equals that row of a
    /// batch): x, weight, bias, y (C); y may not overlap x.
    /// </summary>
    public static void LayerNormRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, float eps,
        out float mean, out float rstd)
    {
        int cols = x.Length;
        float m = TensorPrimitives.Sum(x) / cols;
        // Two-pass variance: sum (x - m)^2, stable when |m| >> std.
        double v = 0;
        for (int c = 0; c < cols; c++) { float d = x[c] - m; v += d * d; }
        float s = 1f / MathF.Sqrt((float)(v / cols) + eps);
        mean = m; rstd = s;
        for (int c = 0; c < cols; c++) y[c] = (x[c] - m) * s * weight[c] + bias[c];
    }

    /// <summary>One row of <see cref="RmsNormForward"/>, the same arithmetic: x, weight, y (C).</summary>
    public static void RmsNormRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps, out float rstd)
    {
        float s = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / x.Length + eps);
        rstd = s;
        TensorPrimitives.Multiply(x, s, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>
    /// LayerNorm backward. With xhat = (x - mean) rstd and g = dy * weight:
    /// dx += rstd (g - mean(g) - xhat mean(g xhat)); dweight += sum_rows dy xhat; dbias += sum_rows dy.
    /// </summary>
    public static void LayerNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias, int rows, int cols)
    {
        Check(x.Length, rows * cols, dy.Length, weight.Length, cols, mean.Length, rstd.Length, rows);
        if (dx.Length != rows * cols || dWeight.Length != cols || dBias.Length != cols) throw new ArgumentException("gradient lengths do not match");
        RowBackward(dy, x, weight, mean, rstd, dx, dWeight, dBias, rows, cols, layerNorm: true);
    }

    /// <summary>y = x * rstd * weight with rstd = 1/sqrt(mean(x^2) + eps) (Zhang and Sennrich, 2019). rstd: (R).</summary>
    public static void RmsNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, Span<float> rstd, int rows, int cols, float eps)
    {
        Check(x.Length, rows * cols, y.Length, weight.Length, cols, rstd.Length, rstd.Length, rows);
        unsafe
        {
            fixed (float* px = x, pw = weight, py = y, pr = rstd)
            {
                float* xs = px, ws = pw, ys = py, rs = pr;
                Parallelism.For(0, rows, (start, end) =>
                {
                    for (int r = start; r < end; r++)
                        RmsNormRow(new ReadOnlySpan<float>(xs + (long)r * cols, cols), new ReadOnlySpan<float>(ws, cols),
                            new Span<float>(ys + (long)r * cols, cols), eps, out rs[r]);
                }, costPerItem: 6L * cols);
            }
        }
    }

    /// <summary>RMSNorm backward: with xhat = x rstd, g = dy weight: dx += rstd (g - xhat mean(g xhat)); dweight += sum_rows dy xhat.</summary>
    public static void RmsNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, int rows, int cols)
    {
        Check(x.Length, rows * cols, dy.Length, weight.Length, cols, rstd.Length, rstd.Length, rows);
        if (dx.Length != rows * cols || dWeight.Length != cols) throw new ArgumentException("gradient lengths do not match");
        RowBackward(dy, x, weight, ReadOnlySpan<float>.Empty, rstd, dx, dWeight, Span<float>.Empty, rows, cols, layerNorm: false);
    }

    static unsafe void RowBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias,
        int rows, int cols, bool layerNorm)
    {
        int threads = Math.Max(1, Math.Min(Parallelism.ThreadCount, rows));
        // Per-thread partial sums of the weight and bias gradients: [thread][dWeight (C), dBias (C)]
        var partial = new float[threads * 2 * cols];
        fixed (float* pdy = dy, px = x, pw = weight, pm = mean, pr = rstd, pdx = dx, pp = partial)
        {
            float* dys = pdy, xs = px, ws = pw, ms = pm, rs = pr, dxs = pdx, ps = pp;
            int chunk = (rows + threads - 1) / threads;
            Parallelism.For(0, threads, (t0, t1) =>
            {
                for (int t = t0; t < t1; t++)
                {
                    var dw = new Span<float>(ps + (long)t * 2 * cols, cols);
                    var db = new Span<float>(ps + (long)t * 2 * cols + cols, cols);
                    int end = Math.Min(rows, (t + 1) * chunk);
                    for (int r = t * chunk; r < end; r++)
                    {
                        float m = layerNorm ? ms[r] : 0f, s = rs[r];
                        float* xr = xs + (long)r * cols, dyr = dys + (long)r * cols, dxr = dxs + (long)r * cols;
                        double sumG = 0, sumGX = 0;
                        for (int c = 0; c < cols; c++)
                        {
                            float xhat = (xr[c] - m) * s;
                            float g = dyr[c] * ws[c];
                            sumG += g; sumGX += g * xhat;
                            dw[c] += dyr[c] * xhat;
                            db[c] += dyr[c];
                        }
                        float meanG = layerNorm ? (float)(sumG / cols) : 0f, meanGX = (float)(sumGX / cols);
                        for (int c = 0; c < cols; c++)
                        {
                            float xhat = (xr[c] - m) * s;
                            dxr[c] += s * (dyr[c] * ws[c] - meanG - xhat * meanGX);
                        }
                    }
                }
            }, costPerItem: 1L << 20);
        }
        for (int t = 0; t < threads; t++)
        {
            TensorPrimitives.Add(dWeight, partial.AsSpan(t * 2 * cols, cols), dWeight);
            if (layerNorm) TensorPrimitives.Add(dBias, partial.AsSpan(t * 2 * cols + cols, cols), dBias);
        }
    }

    static void Check(int xLength, int expected, int yLength, int weightLength, int cols, int statLength1, int statLength2, int rows)
    {
        if (rows < 0 || cols <= 0) throw new ArgumentException($"bad sizes rows={rows} cols={cols}");
        if (xLength != expected || yLength != expected) throw new ArgumentException($"input/output length must be rows*cols = {expected}");
        if (weightLength != cols) throw new ArgumentException($"weight length {weightLength} must equal cols {cols}");
        if (statLength1 != rows || statLength2 != rows) throw new ArgumentException($"statistics length must equal rows {rows}");
    }
}
