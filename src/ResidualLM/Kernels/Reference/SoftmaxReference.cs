// Scalar twins of the softmax, log-softmax and fused cross-entropy kernels, in double, one row at a time.
// Glossary: R = rows, C = classes. Backward kernels ADD into dInput, like Kernels.Softmax.
namespace ResidualLM.Kernels.Reference;

/// <summary>Obviously-correct double-precision versions of <see cref="Softmax"/>.</summary>
public static class SoftmaxReference
{
    /// <summary>y = exp(x - max) / sum exp(x - max) per row; a row of all -inf gives zeros. x, y: (R, C).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            double max = Max(row);
            if (double.IsNegativeInfinity(max)) { y.Slice(r * cols, cols).Clear(); continue; }
            double sum = 0;
            for (int c = 0; c < cols; c++) sum += Math.Exp(row[c] - max);
            for (int c = 0; c < cols; c++) y[r * cols + c] = (float)(Math.Exp(row[c] - max) / sum);
        }
    }

    /// <summary>dx_c += sum_j dy_j dy_j/dx_c = y_c (dy_c - sum_j dy_j y_j), from the forward output y.</summary>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            int o = r * cols;
            double dot = 0;
            for (int c = 0; c < cols; c++) dot += (double)y[o + c] * dy[o + c];
            for (int c = 0; c < cols; c++) dx[o + c] = (float)(dx[o + c] + y[o + c] * (dy[o + c] - dot));
        }
    }

    /// <summary>y = x - logsumexp(x) per row (NaN for a row of all -inf, as PyTorch).</summary>
    public static void LogForward(ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            double lse = LogSumExp(x.Slice(r * cols, cols));
            for (int c = 0; c < cols; c++) y[r * cols + c] = (float)(x[r * cols + c] - lse);
        }
    }

    /// <summary>dx += dy - softmax(x) sum(dy) per row, with softmax(x) = exp(y).</summary>
    public static void LogBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            int o = r * cols;
            double sum = 0;
            for (int c = 0; c < cols; c++) sum += dy[o + c];
            for (int c = 0; c < cols; c++) dx[o + c] = (float)(dx[o + c] + dy[o + c] - Math.Exp(y[o + c]) * sum);
        }
    }

    /// <summary>
    /// loss_r = logsumexp(logits_r) - logits_r[target_r], 0 where target == ignoreIndex; logSumExp_r saved.
    /// Returns the number of counted rows; other targets outside [0, C) throw.
    /// </summary>
    public static int CrossEntropyForward(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> losses,
        Span<float> logSumExp, int rows, int cols, int ignoreIndex)
    {
        int counted = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = logits.Slice(r * cols, cols);
            double lse = LogSumExp(row);
            logSumExp[r] = (float)lse;
            int t = targets[r];
            if (t == ignoreIndex) { losses[r] = 0f; continue; }
            if (t < 0 || t >= cols) throw new ArgumentOutOfRangeException(nameof(targets), $"target {t} at row {r} is outside [0, {cols})");
            losses[r] = (float)(lse - row[t]);
            counted++;
        }
        return counted;
    }

    /// <summary>dlogits_r += dLoss_r (softmax(logits_r) - onehot(target_r)); ignored rows get nothing.</summary>
    public static void CrossEntropyBackward(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> logSumExp,
        ReadOnlySpan<float> dLoss, Span<float> dLogits, int rows, int cols, int ignoreIndex)
    {
        for (int r = 0; r < rows; r++)
        {
            if (targets[r] == ignoreIndex) continue;
            int o = r * cols;
            for (int c = 0; c < cols; c++)
            {
                double p = Math.Exp(logits[o + c] - (double)logSumExp[r]);
                double onehot = c == targets[r] ? 1.0 : 0.0;
                dLogits[o + c] = (float)(dLogits[o + c] + dLoss[r] * (p - onehot));
            }
        }
    }

    static double Max(ReadOnlySpan<float> row)
    {
        double max = double.NegativeInfinity;
        foreach (float v in row) if (v > max) max = v;
        return max;
    }

    static double LogSumExp(ReadOnlySpan<float> row)
    {
        double max = Max(row);
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (float v in row) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
