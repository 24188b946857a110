// LayerNorm and RMSNorm kernels against their double-precision scalar twins: cols 1..257, several row counts, 1 and 2 threads.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class NormalizationTests
{
    // Tolerance. The kernels compute the mean in float32, so x - mean carries ~eps max|x| of absolute error; after scaling
    // by rstd that is eps * kappa with kappa = max|x| rstd (the row's condition number: 1-3 for normal rows, ~10 for rows
    // with +-100 outliers). Every compared element therefore gets scale = kappa times the size of its terms, and
    // rtol = 1e-5 (~170 eps) covers the few roundings per element plus float sums over C <= 257 terms (random-signed
    // round-off grows like sqrt(C) eps). Weight/bias gradients are float sums over up to 11,000 rows per thread:
    // their scale is the sum of |terms| (round-off ~ sqrt(rows) eps of it, ~6e-6 at most), so the same rtol holds.
    const double Rtol = 1e-5;
    const float Eps = 1e-5f;

    [Fact]
    public void LayerNorm_OddShapes_MatchesReference() => ForEachShape((threads, rows, cols, rng, context) =>
    {
        float[] x = KernelCheck.WithExtremes(rng, rows * cols), w = KernelCheck.Normal(rng, cols), b = KernelCheck.Normal(rng, cols);
        var y = new float[rows * cols]; var mean = new float[rows]; var rstd = new float[rows];
        var yRef = new float[rows * cols]; var meanRef = new float[rows]; var rstdRef = new float[rows];
        Normalization.LayerNormForward(threads, x, w, b, y, mean, rstd, rows, cols, Eps);
        NormalizationReference.LayerNormForward(x, w, b, yRef, meanRef, rstdRef, rows, cols, Eps);
        var kappa = Kappa(x, rstdRef, rows, cols);

        var yScale = new float[rows * cols]; var meanScale = new float[rows]; var rstdScale = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            meanScale[r] = MaxAbs(x.AsSpan(r * cols, cols));
            rstdScale[r] = kappa[r] * rstdRef[r];
            for (int c = 0; c < cols; c++) yScale[r * cols + c] = kappa[r] * Math.Abs(w[c]) + Math.Abs(b[c]);
        }
        KernelCheck.AssertClose(yRef, y, Rtol, $"{context} y", yScale);
        KernelCheck.AssertClose(meanRef, mean, Rtol, $"{context} mean", meanScale);
        KernelCheck.AssertClose(rstdRef, rstd, Rtol, $"{context} rstd", rstdScale);

        // Backward from the reference statistics (so only the backward kernel is under test), into non-zero gradients.
        float[] dy = KernelCheck.Normal(rng, rows * cols);
        float[] dxBefore = KernelCheck.Normal(rng, rows * cols), dwBefore = KernelCheck.Normal(rng, cols), dbBefore = KernelCheck.Normal(rng, cols);
        float[] dx = (float[])dxBefore.Clone(), dw = (float[])dwBefore.Clone(), db = (float[])dbBefore.Clone();
        float[] dxRef = (float[])dxBefore.Clone(), dwRef = (float[])dwBefore.Clone(), dbRef = (float[])dbBefore.Clone();
        Normalization.LayerNormBackward(threads, dy, x, w, meanRef, rstdRef, dx, dw, db, rows, cols);
        NormalizationReference.LayerNormBackward(dy, x, w, meanRef, rstdRef, dxRef, dwRef, dbRef, rows, cols);
        var (dxScale, dwScale, dbScale) = BackwardScales(x, dy, w, meanRef, rstdRef, kappa, dxBefore, dwBefore, dbBefore, rows, cols);
        KernelCheck.AssertClose(dxRef, dx, Rtol, $"{context} dx", dxScale);
        KernelCheck.AssertClose(dwRef, dw, Rtol, $"{context} dWeight", dwScale);
        KernelCheck.AssertClose(dbRef, db, Rtol, $"{context} dBias", dbScale);

        // A first input gradient is written over whatever the buffer held (NaN here).
        float[] written = Enumerable.Repeat(float.NaN, rows * cols).ToArray(), fromZero = new float[rows * cols];
        Normalization.LayerNormBackward(threads, dy, x, w, meanRef, rstdRef, written, new float[cols], new float[cols], rows, cols, accumulateInput: false);
        NormalizationReference.LayerNormBackward(dy, x, w, meanRef, rstdRef, fromZero, new float[cols], new float[cols], rows, cols);
        var zero = new float[rows * cols];
        var (writtenScale, _, _) = BackwardScales(x, dy, w, meanRef, rstdRef, kappa, zero, new float[cols], new float[cols], rows, cols);
        KernelCheck.AssertClose(fromZero, written, Rtol, $"{context} dx written", writtenScale);
    });

    [Fact]
    public void RmsNorm_OddShapes_MatchesReference() => ForEachShape((threads, rows, cols, rng, context) =>
    {
        float[] x = KernelCheck.WithExtremes(rng, rows * cols), w = KernelCheck.Normal(rng, cols);
        var y = new float[rows * cols]; var rstd = new float[rows];
        var yRef = new float[rows * cols]; var rstdRef = new float[rows];
        Normalization.RmsNormForward(threads, x, w, y, rstd, rows, cols, Eps);
        NormalizationReference.RmsNormForward(x, w, yRef, rstdRef, rows, cols, Eps);
        // No mean is subtracted, so there is no cancellation: plain relative error, scale only for y's weight factor.
        var yScale = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) yScale[r * cols + c] = Math.Abs(x[r * cols + c] * rstdRef[r] * w[c]);
        KernelCheck.AssertClose(yRef, y, Rtol, $"{context} y", yScale);
        KernelCheck.AssertClose(rstdRef, rstd, Rtol, $"{context} rstd");

        float[] dy = KernelCheck.Normal(rng, rows * cols), dxBefore = KernelCheck.Normal(rng, rows * cols), dwBefore = KernelCheck.Normal(rng, cols);
        float[] dx = (float[])dxBefore.Clone(), dw = (float[])dwBefore.Clone();
        float[] dxRef = (float[])dxBefore.Clone(), dwRef = (float[])dwBefore.Clone();
        Normalization.RmsNormBackward(threads, dy, x, w, rstdRef, dx, dw, rows, cols);
        NormalizationReference.RmsNormBackward(dy, x, w, rstdRef, dxRef, dwRef, rows, cols);
        var zeroMean = new float[rows];
        var ones = Enumerable.Repeat(1f, rows).ToArray();
        var (dxScale, dwScale, _) = BackwardScales(x, dy, w, zeroMean, rstdRef, ones, dxBefore, dwBefore, new float[cols], rows, cols);
        KernelCheck.AssertClose(dxRef, dx, Rtol, $"{context} dx", dxScale);
        KernelCheck.AssertClose(dwRef, dw, Rtol, $"{context} dWeight", dwScale);
    });

    delegate void ShapeCase(Parallelism threads, int rows, int cols, Rng rng, string context);

    static void ForEachShape(ShapeCase body)
    {
        var rng = new Rng(21);
        KernelCheck.ForEachThreadCount(threads =>
        {
            for (int cols = 1; cols <= KernelCheck.MaxLength; cols++)
                foreach (int rows in KernelCheck.RowCounts(cols))
                    body(threads, rows, cols, rng, $"rows={rows} cols={cols} threads={threads.ThreadCount}");
        });
    }

    /// <summary>kappa_r = 1 + max|x_r| rstd_r: how much the float32 mean's round-off is amplified in row r.</summary>
    static float[] Kappa(float[] x, float[] rstd, int rows, int cols)
    {
        var kappa = new float[rows];
        for (int r = 0; r < rows; r++) kappa[r] = 1f + MaxAbs(x.AsSpan(r * cols, cols)) * rstd[r];
        return kappa;
    }

    /// <summary>Sizes of the terms of dx = rstd (g - mean g - xhat mean(g xhat)), dw = sum dy xhat, db = sum dy (plus what was there).</summary>
    static (float[] Dx, float[] Dw, float[] Db) BackwardScales(float[] x, float[] dy, float[] w, float[] mean, float[] rstd, float[] kappa,
        float[] dxBefore, float[] dwBefore, float[] dbBefore, int rows, int cols)
    {
        var dxScale = new float[rows * cols];
        var dwScale = dwBefore.Select(Math.Abs).ToArray(); var dbScale = dbBefore.Select(Math.Abs).ToArray();
        for (int r = 0; r < rows; r++)
        {
            double meanAbsG = 0, meanAbsGX = 0;
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                double xhat = (x[i] - mean[r]) * rstd[r], g = dy[i] * w[c];
                meanAbsG += Math.Abs(g) / cols; meanAbsGX += Math.Abs(g * xhat) / cols;
                dwScale[c] += (float)(kappa[r] * Math.Abs(dy[i] * xhat)); dbScale[c] += Math.Abs(dy[i]);
            }
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                double xhat = (x[i] - mean[r]) * rstd[r];
                dxScale[i] = (float)(Math.Abs(dxBefore[i]) + kappa[r] * rstd[r] * (Math.Abs(dy[i] * w[c]) + meanAbsG + Math.Abs(xhat) * meanAbsGX));
            }
        }
        return (dxScale, dwScale, dbScale);
    }

    static float MaxAbs(ReadOnlySpan<float> x)
    {
        float m = 0;
        foreach (float v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
