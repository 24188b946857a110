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

    /// <summary>
    /// y = (x - mean) * rstd * weight + bias per row, with the biased variance (as PyTorch) and rstd = 1/sqrt(var + eps).
    /// x, y: (R, C); weight, bias: (C); mean, rstd: (R), written for backward.
    /// </summary>
    public static void LayerNormForward(Parallelism threads, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> y, Span<float> mean, Span<float> rstd, int rows, int cols, float eps)
    {
        Check(x.Length, rows * cols, y.Length, weight.Length, cols, mean.Length, rstd.Length, rows);
        if (bias.Length != cols) throw new ArgumentException("bias length must equal cols");
        fixed (float* px = x, pw = weight, pb = bias, py = y, pm = mean, pr = rstd)
        {
            float* xs = px, ws = pw, bs = pb, ys = py, ms = pm, rs = pr;
            threads.For(0, rows, (start, end) =>
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
    public static void LayerNormBackward(Parallelism threads, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias, int rows, int cols,
        bool accumulateInput = true)
    {
        Check(x.Length, rows * cols, dy.Length, weight.Length, cols, mean.Length, rstd.Length, rows);
        if (dx.Length != rows * cols || dWeight.Length != cols || dBias.Length != cols) throw new ArgumentException("gradient lengths do not match");
        Backward(threads, dy, x, weight, mean, rstd, dx, dWeight, dBias, rows, cols, layerNorm: true, accumulateInput);
    }

    /// <summary>y = x * rstd * weight with rstd = 1/sqrt(mean(x^2) + eps) (Zhang and Sennrich, 2019). rstd: (R).</summary>
    public static void RmsNormForward(Parallelism threads, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, Span<float> rstd, int rows, int cols, float eps)
    {
        Check(x.Length, rows * cols, y.Length, weight.Length, cols, rstd.Length, rstd.Length, rows);
        fixed (float* px = x, pw = weight, py = y, pr = rstd)
        {
            float* xs = px, ws = pw, ys = py, rs = pr;
            threads.For(0, rows, (start, end) =>
            {
                for (int r = start; r < end; r++)
                    NormalizeRow(xs + (long)r * cols, ws, null, ys + (long)r * cols, cols, eps, layerNorm: false, out _, out rs[r]);
            }, costPerItem: 6L * cols);
        }
    }

    /// <summary>RMSNorm backward: with xhat = x rstd, g = dy weight: dx += rstd (g - xhat mean(g xhat)); dweight += sum_rows dy xhat.</summary>
    public static void RmsNormBackward(Parallelism threads, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, int rows, int cols)
    {
        Check(x.Length, rows * cols, dy.Length, weight.Length, cols, rstd.Length, rstd.Length, rows);
        if (dx.Length != rows * cols || dWeight.Length != cols) throw new ArgumentException("gradient lengths do not match");
        Backward(threads, dy, x, weight, ReadOnlySpan<float>.Empty, rstd, dx, dWeight, Span<float>.Empty, rows, cols, layerNorm: false, accumulateInput: true);
    }

    static void Backward(Parallelism threads, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias,
        int rows, int cols, bool layerNorm, bool accumulateInput)
    {
        if (rows == 0) return;
        int blocks = (rows + BlockRows - 1) / BlockRows;
        // Per block of rows: [dWeight (C) | dBias (C)], summed into the gradients in block order below.
        int needed = blocks * 2 * cols;
        var scratch = threads.RentScratch();
        float[] partial = scratch.Partials(needed);
        fixed (float* pdy = dy, px = x, pw = weight, pm = mean, pr = rstd, pdx = dx, pp = partial)
        {
            float* dys = pdy, xs = px, ws = pw, ms = pm, rs = pr, dxs = pdx, ps = pp;
            threads.For(0, blocks, (b0, b1) =>
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
        threads.ReturnScratch(scratch);
    }

    /// <summary>
    /// One row: LayerNorm (two-pass mean and variance, stable when |mean| &gt;&gt; std) or RMSNorm, y = xhat * w (+ b).
    /// The batched kernels and the single-row forms both come here, so a decoded row equals that row of a batch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void NormalizeRow(float* x, float* w, float* b, float* y, int cols, float eps, bool layerNorm, out float mean, out float rstd)
    {
        float m = 0f;
        if (layerNorm) m = VectorOps.Sum<IdentityOperator>(x, cols, default) / cols;
        float s = 1f / MathF.Sqrt(VectorOps.Sum<SquaredDeviation>(x, cols, new(m)) / cols + eps);
        mean = m; rstd = s;
        if (b is null) VectorOps.Map<ScaledProduct>(x, w, y, cols, new(s));
        else VectorOps.Map<Normalized>(x, w, b, y, cols, new(m, s));
    }

    /// <summary>
    /// One row of backward: first the sums of g and g xhat (and this row's terms of the block's weight and bias
    /// gradients), then dx (+)= rstd (g - mean(g) - xhat mean(g xhat)) (mean(g) only for LayerNorm).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardRow(float* dy, float* x, float* w, float m, float s, float* dx, float* dw, float* db, int cols, bool layerNorm, bool accumulate)
    {
        var (sumG, sumGX) = VectorOps.Update<GradientSums>(dy, x, w, dw, db, null, cols, new(m, s));
        float meanG = layerNorm ? sumG / cols : 0f, meanGX = sumGX / cols;
        var p = new Splat<float>(m, s, meanG, meanGX);
        if (accumulate) VectorOps.Map<InputGradient<AddInto>>(dy, x, w, dx, dx, cols, p);
        else VectorOps.Map<InputGradient<WriteOver>>(dy, x, w, dx, dx, cols, p);
    }

    /// <summary>destination += source.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Add(ReadOnlySpan<float> source, Span<float> destination)
    {
        fixed (float* ps = source, pd = destination) VectorOps.Map<AddOperator>(ps, pd, pd, source.Length, default);
    }

    /// <summary>(x - p.A)^2: one term of the variance about the mean p.A.</summary>
    readonly struct SquaredDeviation : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, in Splat<float> p) { float d = x - p.A; return d * d; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, in Splat<Vector128<float>> p) { var d = x - p.A; return d * d; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, in Splat<Vector256<float>> p) { var d = x - p.A; return d * d; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, in Splat<Vector512<float>> p) { var d = x - p.A; return d * d; }
    }

    /// <summary>RMSNorm's output x rstd w, rstd = p.A.</summary>
    readonly struct ScaledProduct : IBinaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float w, in Splat<float> p) => x * p.A * w;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> w, in Splat<Vector128<float>> p) => x * p.A * w;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> w, in Splat<Vector256<float>> p) => x * p.A * w;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> w, in Splat<Vector512<float>> p) => x * p.A * w;
    }

    /// <summary>LayerNorm's output (x - mean) rstd w + b; mean = p.A, rstd = p.B.</summary>
    readonly struct Normalized : ITernaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float x, float w, float b, in Splat<float> p) => VectorIsa.MultiplyAdd((x - p.A) * p.B, w, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> w, Vector128<float> b, in Splat<Vector128<float>> p) => VectorIsa.MultiplyAdd((x - p.A) * p.B, w, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> w, Vector256<float> b, in Splat<Vector256<float>> p) => VectorIsa.MultiplyAdd((x - p.A) * p.B, w, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> w, Vector512<float> b, in Splat<Vector512<float>> p) => VectorIsa.MultiplyAdd((x - p.A) * p.B, w, b);
    }

    /// <summary>
    /// Backward's first pass over a row (x = dy, y = x, z = w; mean = p.A, rstd = p.B): with xhat = (x - mean) rstd and
    /// g = dy w, sum0 += g, sum1 += g xhat, and the block's partial gradients dWeight (a) += dy xhat, dBias (b) += dy.
    /// </summary>
    readonly struct GradientSums : IUpdateOperator
    {
        public static int Inputs => 3;
        public static int Updates => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(float dy, float x, float w, ref float dw, ref float db, ref float unused, ref float sumG, ref float sumGX, in Splat<float> p)
        {
            float xhat = (x - p.A) * p.B, g = dy * w;
            sumG += g; sumGX = VectorIsa.MultiplyAdd(g, xhat, sumGX);
            dw = VectorIsa.MultiplyAdd(dy, xhat, dw); db += dy;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(Vector128<float> dy, Vector128<float> x, Vector128<float> w, ref Vector128<float> dw, ref Vector128<float> db,
            ref Vector128<float> unused, ref Vector128<float> sumG, ref Vector128<float> sumGX, in Splat<Vector128<float>> p)
        {
            var xhat = (x - p.A) * p.B; var g = dy * w;
            sumG += g; sumGX = VectorIsa.MultiplyAdd(g, xhat, sumGX);
            dw = VectorIsa.MultiplyAdd(dy, xhat, dw); db += dy;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(Vector256<float> dy, Vector256<float> x, Vector256<float> w, ref Vector256<float> dw, ref Vector256<float> db,
            ref Vector256<float> unused, ref Vector256<float> sumG, ref Vector256<float> sumGX, in Splat<Vector256<float>> p)
        {
            var xhat = (x - p.A) * p.B; var g = dy * w;
            sumG += g; sumGX = VectorIsa.MultiplyAdd(g, xhat, sumGX);
            dw = VectorIsa.MultiplyAdd(dy, xhat, dw); db += dy;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(Vector512<float> dy, Vector512<float> x, Vector512<float> w, ref Vector512<float> dw, ref Vector512<float> db,
            ref Vector512<float> unused, ref Vector512<float> sumG, ref Vector512<float> sumGX, in Splat<Vector512<float>> p)
        {
            var xhat = (x - p.A) * p.B; var g = dy * w;
            sumG += g; sumGX = VectorIsa.MultiplyAdd(g, xhat, sumGX);
            dw = VectorIsa.MultiplyAdd(dy, xhat, dw); db += dy;
        }
    }

    /// <summary>
    /// dx (+)= rstd (g - mean(g) - xhat mean(g xhat)) from (dy, x, w, dx); mean = p.A, rstd = p.B, mean(g) = p.C (0 for
    /// RMSNorm), mean(g xhat) = p.D.
    /// </summary>
    readonly struct InputGradient<TAccumulation> : IQuaternaryOperator where TAccumulation : struct, IAccumulation
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float dy, float x, float w, float dx, in Splat<float> p)
        {
            float d = dy * w - p.C - (x - p.A) * p.B * p.D;
            return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, d, dx) : p.B * d;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> dy, Vector128<float> x, Vector128<float> w, Vector128<float> dx, in Splat<Vector128<float>> p)
        {
            var d = dy * w - p.C - (x - p.A) * p.B * p.D;
            return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, d, dx) : p.B * d;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> dy, Vector256<float> x, Vector256<float> w, Vector256<float> dx, in Splat<Vector256<float>> p)
        {
            var d = dy * w - p.C - (x - p.A) * p.B * p.D;
            return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, d, dx) : p.B * d;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> dy, Vector512<float> x, Vector512<float> w, Vector512<float> dx, in Splat<Vector512<float>> p)
        {
            var d = dy * w - p.C - (x - p.A) * p.B * p.D;
            return TAccumulation.Adds ? VectorIsa.MultiplyAdd(p.B, d, dx) : p.B * d;
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
