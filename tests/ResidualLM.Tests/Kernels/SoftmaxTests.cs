// Softmax, log-softmax and fused cross-entropy kernels against their double-precision scalar twins:
// cols 1..257, several row counts, 1 and 2 threads, rows with +-30/+-100 values, partly and fully masked (-inf) rows.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class SoftmaxTests
{
    // Tolerance: rtol = 1e-5 (~170 eps32) of each element's scale (the size of the terms that produce it):
    // - softmax p = exp(z) / sum with z = x - max rounded to eps |z|; exp turns that into a relative error eps |z|, so
    //   the scale is |p| (1 + |z|), plus a 1e-35 floor for results in float32's subnormal range (z < -87);
    // - log-softmax x - lse: absolute round-off eps (|x| + |lse|);
    // - backward kernels add into dx: scale |dx_before| plus the sizes of the terms (y |dy|, y sum|y dy|, ...).
    // Sums run over C <= 257 terms whose random-signed round-off grows like sqrt(C) eps, well inside 170 eps.
    const double Rtol = 1e-5;
    const int IgnoreIndex = -100;

    /// <summary>Masking patterns by row: every 4th row (from row 2) fully masked, every 3rd (from row 1) causally masked.</summary>
    static float[] Logits(Rng rng, int rows, int cols, bool allowFullyMasked)
    {
        float[] x = KernelCheck.WithExtremes(rng, rows * cols);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                if (allowFullyMasked && r % 4 == 2) x[r * cols + c] = float.NegativeInfinity;
                else if (r % 3 == 1 && c > r % cols) x[r * cols + c] = float.NegativeInfinity;
            }
        return x;
    }

    [Fact]
    public void Softmax_OddShapes_MatchesReference() => ForEachShape((threads, rows, cols, rng, context) =>
    {
        float[] x = Logits(rng, rows, cols, allowFullyMasked: true);
        var y = new float[x.Length]; var yRef = new float[x.Length];
        Softmax.Forward(threads, x, y, rows, cols);
        SoftmaxReference.Forward(x, yRef, rows, cols);
        var yScale = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            float max = RowMax(x, r, cols);
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                yScale[i] = float.IsNegativeInfinity(x[i]) ? 0f : yRef[i] * Math.Abs(x[i] - max) + 1e-35f;
            }
        }
        KernelCheck.AssertClose(yRef, y, Rtol, $"softmax {context}", yScale);

        float[] dy = KernelCheck.Normal(rng, x.Length), dxBefore = KernelCheck.Normal(rng, x.Length);
        float[] dx = (float[])dxBefore.Clone(), dxRef = (float[])dxBefore.Clone();
        Softmax.Backward(threads, yRef, dy, dx, rows, cols);
        SoftmaxReference.Backward(yRef, dy, dxRef, rows, cols);
        var dxScale = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double dot = 0;
            for (int c = 0; c < cols; c++) dot += Math.Abs(yRef[r * cols + c] * dy[r * cols + c]);
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                dxScale[i] = (float)(Math.Abs(dxBefore[i]) + yRef[i] * (Math.Abs(dy[i]) + dot));
            }
        }
        KernelCheck.AssertClose(dxRef, dx, Rtol, $"softmax backward {context}", dxScale);
    });

    [Fact]
    public void LogSoftmax_OddShapes_MatchesReference() => ForEachShape((threads, rows, cols, rng, context) =>
    {
        float[] x = Logits(rng, rows, cols, allowFullyMasked: false);
        var y = new float[x.Length]; var yRef = new float[x.Length];
        Softmax.LogForward(threads, x, y, rows, cols);
        SoftmaxReference.LogForward(x, yRef, rows, cols);
        var yScale = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            float lseSize = Math.Abs(RowMax(x, r, cols)) + MathF.Log(cols) + 1f;
            for (int c = 0; c < cols; c++) yScale[r * cols + c] = Math.Abs(x[r * cols + c]) + lseSize;
        }
        KernelCheck.AssertClose(yRef, y, Rtol, $"log-softmax {context}", yScale);

        float[] dy = KernelCheck.Normal(rng, x.Length), dxBefore = KernelCheck.Normal(rng, x.Length);
        float[] dx = (float[])dxBefore.Clone(), dxRef = (float[])dxBefore.Clone();
        Softmax.LogBackward(threads, yRef, dy, dx, rows, cols);
        SoftmaxReference.LogBackward(yRef, dy, dxRef, rows, cols);
        var dxScale = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double sumAbs = 0;
            for (int c = 0; c < cols; c++) sumAbs += Math.Abs(dy[r * cols + c]);
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                dxScale[i] = (float)(Math.Abs(dxBefore[i]) + Math.Abs(dy[i]) + Math.Exp(yRef[i]) * sumAbs);
            }
        }
        KernelCheck.AssertClose(dxRef, dx, Rtol, $"log-softmax backward {context}", dxScale);
    });

    /// <summary>
    /// Targets cycle through 0, C-1 and random classes; every 4th row (from row 3) is ignored. With odd C the ignore
    /// index is 0, a real class (a padding token id), so rows aiming at class 0 are ignored too.
    /// </summary>
    [Fact]
    public void CrossEntropy_OddShapes_MatchesReference() => ForEachShape((threads, rows, cols, rng, context) =>
    {
        float[] x = Logits(rng, rows, cols, allowFullyMasked: false);
        int ignore = cols % 2 == 1 ? 0 : IgnoreIndex;
        var targets = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            targets[r] = (r % 4) switch { 0 => 0, 1 => cols - 1, 2 => rng.NextInt(cols), _ => ignore };
            // A causally masked row (see Logits) can only aim at an unmasked class, or its loss is +inf.
            if (r % 3 == 1 && targets[r] != ignore) targets[r] = Math.Min(targets[r], r % cols);
        }
        var losses = new float[rows]; var lse = new float[rows]; var lossesRef = new float[rows]; var lseRef = new float[rows];
        int counted = Softmax.CrossEntropyForward(threads, x, targets, losses, lse, rows, cols, ignore);
        int countedRef = SoftmaxReference.CrossEntropyForward(x, targets, lossesRef, lseRef, rows, cols, ignore);
        Assert.Equal(countedRef, counted);
        var lossScale = new float[rows]; var lseScale = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            lseScale[r] = Math.Abs(RowMax(x, r, cols)) + MathF.Log(cols) + 1f;
            lossScale[r] = targets[r] == ignore ? 0f : lseScale[r] + Math.Abs(x[r * cols + targets[r]]);
        }
        KernelCheck.AssertClose(lossesRef, losses, Rtol, $"cross-entropy losses {context}", lossScale);
        KernelCheck.AssertClose(lseRef, lse, Rtol, $"cross-entropy logsumexp {context}", lseScale);

        float[] dLoss = KernelCheck.Normal(rng, rows), dxBefore = KernelCheck.Normal(rng, x.Length);
        float[] dx = (float[])dxBefore.Clone(), dxRef = (float[])dxBefore.Clone();
        Softmax.CrossEntropyBackward(threads, x, targets, lseRef, dLoss, dx, rows, cols, ignore);
        SoftmaxReference.CrossEntropyBackward(x, targets, lseRef, dLoss, dxRef, rows, cols, ignore);
        var dxScale = new float[x.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                dxScale[i] = Math.Abs(dxBefore[i]) + 2f * Math.Abs(dLoss[r]);
            }
        KernelCheck.AssertClose(dxRef, dx, Rtol, $"cross-entropy backward {context}", dxScale);
        for (int r = 0; r < rows; r++)
            if (targets[r] == ignore)
                for (int c = 0; c < cols; c++) Assert.Equal(dxBefore[r * cols + c], dx[r * cols + c]);

        // Writing a first gradient: the buffer's old contents (NaN here) must not survive anywhere, ignored rows become 0.
        float[] written = Enumerable.Repeat(float.NaN, x.Length).ToArray(), fromZero = new float[x.Length];
        Softmax.CrossEntropyBackward(threads, x, targets, lseRef, dLoss, written, rows, cols, ignore, accumulate: false);
        SoftmaxReference.CrossEntropyBackward(x, targets, lseRef, dLoss, fromZero, rows, cols, ignore);
        for (int i = 0; i < dxScale.Length; i++) dxScale[i] = 2f * Math.Abs(dLoss[i / cols]);
        KernelCheck.AssertClose(fromZero, written, Rtol, $"cross-entropy backward, written {context}", dxScale);
    });

    [Fact]
    public void CrossEntropy_TargetOutOfRange_Throws()
    {
        float[] logits = new float[2 * 5];
        var losses = new float[2]; var lse = new float[2];
        foreach (int bad in new[] { -1, 5, int.MaxValue })
            Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.CrossEntropyForward(KernelCheck.Threads, logits, [0, bad], losses, lse, 2, 5, IgnoreIndex));
    }

    delegate void ShapeCase(Parallelism threads, int rows, int cols, Rng rng, string context);

    static void ForEachShape(ShapeCase body)
    {
        var rng = new Rng(31);
        KernelCheck.ForEachThreadCount(threads =>
        {
            for (int cols = 1; cols <= KernelCheck.MaxLength; cols++)
                foreach (int rows in KernelCheck.RowCounts(cols))
                    body(threads, rows, cols, rng, $"rows={rows} cols={cols} threads={threads.ThreadCount}");
        });
    }

    static float RowMax(float[] x, int r, int cols)
    {
        float m = float.NegativeInfinity;
        for (int c = 0; c < cols; c++) m = Math.Max(m, x[r * cols + c]);
        return m;
    }
}
