// Scalar twins of the LayerNorm/RMSNorm kernels: direct formulas in double, one row at a time, single-threaded.
// Glossary: R = rows, C = channels. Backward ADDS into dx, dWeight, dBias, like Kernels.Normalization.
namespace ResidualLM.Kernels.Reference;

/// <summary>Obviously-correct double-precision versions of <see cref="Normalization"/>.</summary>
public static class NormalizationReference
{
    /// <summary>y = (x - mean) rstd weight + bias, biased variance. x, y: (R, C); weight, bias: (C); mean, rstd: (R).</summary>
    public static void LayerNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> y, Span<float> mean, Span<float> rstd, int rows, int cols, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            double m = 0;
            for (int c = 0; c < cols; c++) m += row[c];
            m /= cols;
            double v = 0;
            for (int c = 0; c < cols; c++) v += (row[c] - m) * (row[c] - m);
            double s = 1.0 / Math.Sqrt(v / cols + eps);
            mean[r] = (float)m; rstd[r] = (float)s;
            for (int c = 0; c < cols; c++) y[r * cols + c] = (float)((row[c] - m) * s * weight[c] + bias[c]);
        }
    }

    /// <summary>
    /// LayerNorm backward from the saved statistics. With xhat = (x - mean) rstd and g = dy weight:
    /// dx += rstd (g - mean(g) - xhat mean(g xhat)); dWeight += sum_rows dy xhat; dBias += sum_rows dy.
    /// </summary>
    public static void LayerNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias, int rows, int cols)
    {
        var dw = new double[cols]; var db = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            double m = mean[r], s = rstd[r], meanG = 0, meanGX = 0;
            for (int c = 0; c < cols; c++)
            {
                double xhat = (x[r * cols + c] - m) * s, g = (double)dy[r * cols + c] * weight[c];
                meanG += g / cols; meanGX += g * xhat / cols;
                dw[c] += dy[r * cols + c] * xhat; db[c] += dy[r * cols + c];
            }
            for (int c = 0; c < cols; c++)
            {
                double xhat = (x[r * cols + c] - m) * s, g = (double)dy[r * cols + c] * weight[c];
                dx[r * cols + c] = (float)(dx[r * cols + c] + s * (g - meanG - xhat * meanGX));
            }
        }
        for (int c = 0; c < cols; c++) { dWeight[c] = (float)(dWeight[c] + dw[c]); dBias[c] = (float)(dBias[c] + db[c]); }
    }

    /// <summary>y = x rstd weight with rstd = 1/sqrt(mean(x^2) + eps). rstd: (R).</summary>
    public static void RmsNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, Span<float> rstd, int rows, int cols, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            double ms = 0;
            for (int c = 0; c < cols; c++) ms += (double)x[r * cols + c] * x[r * cols + c];
            double s = 1.0 / Math.Sqrt(ms / cols + eps);
            rstd[r] = (float)s;
            for (int c = 0; c < cols; c++) y[r * cols + c] = (float)(x[r * cols + c] * s * weight[c]);
        }
    }

    /// <summary>RMSNorm backward: xhat = x rstd, g = dy weight: dx += rstd (g - xhat mean(g xhat)); dWeight += sum_rows dy xhat.</summary>
    public static void RmsNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, int rows, int cols)
    {
        var dw = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            double s = rstd[r], meanGX = 0;
            for (int c = 0; c < cols; c++) meanGX += (double)dy[r * cols + c] * weight[c] * x[r * cols + c] * s / cols;
            for (int c = 0; c < cols; c++)
            {
                double xhat = x[r * cols + c] * s, g = (double)dy[r * cols + c] * weight[c];
                dx[r * cols + c] = (float)(dx[r * cols + c] + s * (g - xhat * meanGX));
                dw[c] += dy[r * cols + c] * xhat;
            }
        }
        for (int c = 0; c < cols; c++) dWeight[c] = (float)(dWeight[c] + dw[c]);
    }
}
