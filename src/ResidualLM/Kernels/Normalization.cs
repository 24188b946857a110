// LayerNorm and RMSNorm over the last dimension: forward saves per-row statistics (mean, rstd) for backward.
// Glossary: R = rows (B*T), C = channels. Rows are independent and run in parallel; the weight and bias gradients are
// summed per fixed block of rows, then block after block, so their value does not depend on the thread count.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Row-wise normalisation kernels.</summary>
public static unsafe class Normalization
{
    /// <summary>Rows per partial sum of the weight and bias gradients.</summary>
    const int BlockRows = 32;

    [ThreadStatic] static float[]? partialScratch;

    /// <summary>
    /// y = (x - mean) * rstd * weight + bias per row, with the biased variance (as PyTorch) and rstd = 1/sqrt(var + eps).
    /// x, y: (R, C); weight, bias: (C); mean, rstd: (R), written for backward.
    /// </summary>
    public static void LayerNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> y, Span<float> mean, Span<float> rstd, int rows, int cols, float eps)
    {
        Check(x.Length, rows * cols, y.Length, weight.Length, cols, mean.Length, rstd.Length, rows);
        if (bias.Length != cols) throw new ArgumentException("bias length must equal cols");
        fixed (float* px = x, pw = weight, pb = bias, py = y, pm = mean, pr = rstd)
        {
            float* xs = px, ws = pw, bs = pb, ys = py, ms = pm, rs = pr;
            Parallelism.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    NormalizeRow(xs + (long)r * cols, ws, bs, ys + (long)r * cols, cols, eps, layerNorm: true, out ms[r], out rs[r]);
            }, costPerItem: 8L * cols);
        }
    }

    /// <summary>
    /// One row of <see cref="LayerNormForward"/> with the same arithmetic, so a row normalised alone (batch-1 decoding)
    /// equals that row of a batch: x, weight, bias, y (C); y may not overlap x.
    /// </summary>
    public static void LayerNormRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, float eps,
        out float mean, out float rstd)
    {
        int cols = x.Length;
        if (cols == 0 || weight.Length != cols || bias.Length != cols || y.Length != cols) throw new ArgumentException("layer norm row lengths differ");
        fixed (float* px = x, pw = weight, pb = bias, py = y)
            NormalizeRow(px, pw, pb, py, cols, eps, layerNorm: true, out mean, out rstd);
    }

    /// <summary>One row of <see cref="RmsNormForward"/>, the same arithmetic: x, weight, y (C).</summary>
    public static void RmsNormRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps, out float rstd)
    {
        int cols = x.Length;
        if (cols == 0 || weight.Length != cols || y.Length != cols) throw new ArgumentException("RMS norm row lengths differ");
        fixed (float* px = x, pw = weight, py = y)
            NormalizeRow(px, pw, null, py, cols, eps, layerNorm: false, out _, out rstd);
    }

    /// <summary>
    /// LayerNorm backward. With xhat = (x - mean) rstd and g = dy * weight:
    /// dx += rstd (g - mean(g) - xhat mean(g xhat)); dweight += sum_rows dy xhat; dbias += sum_rows dy.
    /// </summary>
    /// <remarks>With <paramref name="accumulateInput"/> false dx is overwritten (a first gradient) instead of added to.</remarks>
    public static void LayerNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias, int rows, int cols,
        bool accumulateInput = true)
    {
        Check(x.Length, rows * cols, dy.Length, weight.Length, cols, mean.Length, rstd.Length, rows);
        if (dx.Length != rows * cols || dWeight.Length != cols || dBias.Length != cols) throw new ArgumentException("gradient lengths do not match");
        Backward(dy, x, weight, mean, rstd, dx, dWeight, dBias, rows, cols, layerNorm: true, accumulateInput);
    }

    /// <summary>y = x * rstd * weight with rstd = 1/sqrt(mean(x^2) + eps) (Zhang and Sennrich, 2019). rstd: (R).</summary>
    public static void RmsNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, Span<float> rstd, int rows, int cols, float eps)
    {
        Check(x.Length, rows * cols, y.Length, weight.Length, cols, rstd.Length, rstd.Length, rows);
        fixed (float* px = x, pw = weight, py = y, pr = rstd)
        {
            float* xs = px, ws = pw, ys = py, rs = pr;
            Parallelism.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    NormalizeRow(xs + (long)r * cols, ws, null, ys + (long)r * cols, cols, eps, layerNorm: false, out _, out rs[r]);
            }, costPerItem: 6L * cols);
        }
    }

    /// <summary>RMSNorm backward: with xhat = x rstd, g = dy weight: dx += rstd (g - xhat mean(g xhat)); dweight += sum_rows dy xhat.</summary>
    public static void RmsNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, int rows, int cols)
    {
        Check(x.Length, rows * cols, dy.Length, weight.Length, cols, rstd.Length, rstd.Length, rows);
        if (dx.Length != rows * cols || dWeight.Length != cols) throw new ArgumentException("gradient lengths do not match");
        Backward(dy, x, weight, ReadOnlySpan<float>.Empty, rstd, dx, dWeight, Span<float>.Empty, rows, cols, layerNorm: false, accumulateInput: true);
    }

    static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias,
        int rows, int cols, bool layerNorm, bool accumulateInput)
    {
        if (rows == 0) return;
        int blocks = (rows + BlockRows - 1) / BlockRows;
        // Per block of rows: [dWeight (C) | dBias (C)], summed into the gradients in block order below.
        int needed = blocks * 2 * cols;
        float[] partial = partialScratch is { } p && p.Length >= needed ? p : partialScratch = new float[Math.Max(needed, 1024)];
        fixed (float* pdy = dy, px = x, pw = weight, pm = mean, pr = rstd, pdx = dx, pp = partial)
        {
            float* dys = pdy, xs = px, ws = pw, ms = pm, rs = pr, dxs = pdx, ps = pp;
            Parallelism.For(0, blocks, (b0, b1) =>
            {
                for (int block = b0; block < b1; block++)
                {
                    float* dw = ps + (long)block * 2 * cols, db = dw + cols;
                    new Span<float>(dw, 2 * cols).Clear();
                    int end = Math.Min(rows, (block + 1) * BlockRows);
                    for (int r = block * BlockRows; r < end; r++)
                    {
                        long o = (long)r * cols;
                        BackwardRow(dys + o, xs + o, ws, layerNorm ? ms[r] : 0f, rs[r], dxs + o, dw, db, cols, layerNorm, accumulateInput);
                    }
                }
            }, costPerItem: 14L * BlockRows * cols);
        }
        for (int block = 0; block < blocks; block++)
        {
            Add(partial.AsSpan(block * 2 * cols, cols), dWeight);
            if (layerNorm) Add(partial.AsSpan(block * 2 * cols + cols, cols), dBias);
        }
    }

    /// <summary>
    /// One row: LayerNorm (two-pass mean and variance, stable when |mean| &gt;&gt; std) or RMSNorm, y = xhat * w (+ b).
    /// Vector accumulators run over whole vectors and a scalar loop takes the tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void NormalizeRow(float* x, float* w, float* b, float* y, int cols, float eps, bool layerNorm, out float mean, out float rstd)
    {
        float m = 0f;
        if (layerNorm) m = Sum(x, cols) / cols;
        float s = 1f / MathF.Sqrt(SquaredDeviations(x, m, cols) / cols + eps);
        mean = m; rstd = s;
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vm = Vector512.Create(m), vs = Vector512.Create(s);
            for (; c <= cols - 16; c += 16)
            {
                var xhat = (Vector512.Load(x + c) - vm) * vs;
                var v = b is null ? xhat * Vector512.Load(w + c) : VectorIsa.MultiplyAdd(xhat, Vector512.Load(w + c), Vector512.Load(b + c));
                v.Store(y + c);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vm = Vector256.Create(m), vs = Vector256.Create(s);
            for (; c <= cols - 8; c += 8)
            {
                var xhat = (Vector256.Load(x + c) - vm) * vs;
                var v = b is null ? xhat * Vector256.Load(w + c) : VectorIsa.MultiplyAdd(xhat, Vector256.Load(w + c), Vector256.Load(b + c));
                v.Store(y + c);
            }
        }
        for (; c < cols; c++)
        {
            float xhat = (x[c] - m) * s;
            y[c] = b is null ? xhat * w[c] : VectorIsa.MultiplyAdd(xhat, w[c], b[c]);
        }
    }

    /// <summary>
    /// One row of backward: first the sums of g and g xhat (and this row's terms of the block's weight and bias
    /// gradients), then dx += rstd (g - mean(g) - xhat mean(g xhat)) (mean(g) only for LayerNorm).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardRow(float* dy, float* x, float* w, float m, float s, float* dx, float* dw, float* db, int cols, bool layerNorm, bool accumulate)
    {
        float sumG = 0f, sumGX = 0f;
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vm = Vector512.Create(m), vs = Vector512.Create(s), accG = default, accGX = default;
            for (; c <= cols - 16; c += 16)
            {
                var d = Vector512.Load(dy + c);
                var xhat = (Vector512.Load(x + c) - vm) * vs;
                var g = d * Vector512.Load(w + c);
                accG += g;
                accGX = VectorIsa.MultiplyAdd(g, xhat, accGX);
                VectorIsa.MultiplyAdd(d, xhat, Vector512.Load(dw + c)).Store(dw + c);
                (Vector512.Load(db + c) + d).Store(db + c);
            }
            sumG = Vector512.Sum(accG); sumGX = Vector512.Sum(accGX);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vm = Vector256.Create(m), vs = Vector256.Create(s), accG = default, accGX = default;
            for (; c <= cols - 8; c += 8)
            {
                var d = Vector256.Load(dy + c);
                var xhat = (Vector256.Load(x + c) - vm) * vs;
                var g = d * Vector256.Load(w + c);
                accG += g;
                accGX = VectorIsa.MultiplyAdd(g, xhat, accGX);
                VectorIsa.MultiplyAdd(d, xhat, Vector256.Load(dw + c)).Store(dw + c);
                (Vector256.Load(db + c) + d).Store(db + c);
            }
            sumG = Vector256.Sum(accG); sumGX = Vector256.Sum(accGX);
        }
        for (int t = c; t < cols; t++)
        {
            float xhat = (x[t] - m) * s, g = dy[t] * w[t];
            sumG += g;
            sumGX = VectorIsa.MultiplyAdd(g, xhat, sumGX);
            dw[t] = VectorIsa.MultiplyAdd(dy[t], xhat, dw[t]);
            db[t] += dy[t];
        }
        float meanG = layerNorm ? sumG / cols : 0f, meanGX = sumGX / cols;
        c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vm = Vector512.Create(m), vs = Vector512.Create(s), vg = Vector512.Create(meanG), vgx = Vector512.Create(meanGX);
            for (; c <= cols - 16; c += 16)
            {
                var xhat = (Vector512.Load(x + c) - vm) * vs;
                var g = Vector512.Load(dy + c) * Vector512.Load(w + c);
                var d = g - vg - xhat * vgx;
                (accumulate ? VectorIsa.MultiplyAdd(vs, d, Vector512.Load(dx + c)) : vs * d).Store(dx + c);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vm = Vector256.Create(m), vs = Vector256.Create(s), vg = Vector256.Create(meanG), vgx = Vector256.Create(meanGX);
            for (; c <= cols - 8; c += 8)
            {
                var xhat = (Vector256.Load(x + c) - vm) * vs;
                var g = Vector256.Load(dy + c) * Vector256.Load(w + c);
                var d = g - vg - xhat * vgx;
                (accumulate ? VectorIsa.MultiplyAdd(vs, d, Vector256.Load(dx + c)) : vs * d).Store(dx + c);
            }
        }
        for (; c < cols; c++)
        {
            float xhat = (x[c] - m) * s, g = dy[c] * w[c];
            dx[c] = accumulate ? VectorIsa.MultiplyAdd(s, g - meanG - xhat * meanGX, dx[c]) : s * (g - meanG - xhat * meanGX);
        }
    }

    /// <summary>Sum of a row: two vector accumulators, then the tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Sum(float* x, int n)
    {
        int c = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a0 = default, a1 = default;
            for (; c <= n - 32; c += 32) { a0 += Vector512.Load(x + c); a1 += Vector512.Load(x + c + 16); }
            if (c <= n - 16) { a0 += Vector512.Load(x + c); c += 16; }
            sum = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; c <= n - 16; c += 16) { a0 += Vector256.Load(x + c); a1 += Vector256.Load(x + c + 8); }
            if (c <= n - 8) { a0 += Vector256.Load(x + c); c += 8; }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; c < n; c++) sum += x[c];
        return sum;
    }

    /// <summary>sum_c (x_c - m)^2 over a row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float SquaredDeviations(float* x, float m, int n)
    {
        int c = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vm = Vector512.Create(m), a0 = default, a1 = default;
            for (; c <= n - 32; c += 32)
            {
                var d0 = Vector512.Load(x + c) - vm; var d1 = Vector512.Load(x + c + 16) - vm;
                a0 = VectorIsa.MultiplyAdd(d0, d0, a0); a1 = VectorIsa.MultiplyAdd(d1, d1, a1);
            }
            if (c <= n - 16) { var d = Vector512.Load(x + c) - vm; a0 = VectorIsa.MultiplyAdd(d, d, a0); c += 16; }
            sum = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vm = Vector256.Create(m), a0 = default, a1 = default;
            for (; c <= n - 16; c += 16)
            {
                var d0 = Vector256.Load(x + c) - vm; var d1 = Vector256.Load(x + c + 8) - vm;
                a0 = VectorIsa.MultiplyAdd(d0, d0, a0); a1 = VectorIsa.MultiplyAdd(d1, d1, a1);
            }
            if (c <= n - 8) { var d = Vector256.Load(x + c) - vm; a0 = VectorIsa.MultiplyAdd(d, d, a0); c += 8; }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; c < n; c++) { float d = x[c] - m; sum = VectorIsa.MultiplyAdd(d, d, sum); }
        return sum;
    }

    /// <summary>destination += source.</summary>
    static void Add(ReadOnlySpan<float> source, Span<float> destination) =>
        System.Numerics.Tensors.TensorPrimitives.Add(destination, source, destination);

    static void Check(int xLength, int expected, int yLength, int weightLength, int cols, int statLength1, int statLength2, int rows)
    {
        if (rows < 0 || cols <= 0) throw new ArgumentException($"bad sizes rows={rows} cols={cols}");
        if (xLength != expected || yLength != expected) throw new ArgumentException($"input/output length must be rows*cols = {expected}");
        if (weightLength != cols) throw new ArgumentException($"weight length {weightLength} must equal cols {cols}");
        if (statLength1 != rows || statLength2 != rows) throw new ArgumentException($"statistics length must equal rows {rows}");
    }
}
