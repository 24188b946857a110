// Differentiable reductions, activations, softmax family, fused cross-entropy and normalisations.
// Each op: output from a kernel, then one closure that calls the matching backward kernel.
using System.Numerics.Tensors;
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Tensors;

namespace ResidualLM.Ops;

public static partial class Ops
{
    // ---- reductions ------------------------------------------------------------------------------

    /// <summary>Sum of all elements, shape [].</summary>
    public static Tensor Sum(Tensor x)
    {
        double s = 0;
        foreach (float v in x.Data) s += v;
        var y = Tensor.Scalar((float)s);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink =>
        {
            var dx = sink.OrZeros(x).Data;
            TensorPrimitives.Add(dx, y.Grad!.Data[0], dx);
        });
    }

    /// <summary>Mean of all elements, shape [].</summary>
    public static Tensor Mean(Tensor x) => MultiplyScalar(Sum(x), 1f / Math.Max(1, x.Size));

    /// <summary>Sum over the last dimension: (..., C) -> (...).</summary>
    public static Tensor SumLastDim(Tensor x) => ReduceLastDim(x, 1f);

    /// <summary>Mean over the last dimension: (..., C) -> (...).</summary>
    public static Tensor MeanLastDim(Tensor x) => ReduceLastDim(x, 1f / Math.Max(1, x.Dim(-1)));

    static Tensor ReduceLastDim(Tensor x, float scale)
    {
        int cols = x.Dim(-1), rows = x.Size / Math.Max(1, cols);
        var y = new Tensor(x.ShapeArray[..^1]);
        for (int r = 0; r < rows; r++) y.Data[r] = TensorPrimitives.Sum(x.Data.AsSpan(r * cols, cols)) * scale;
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink =>
        {
            var dx = sink.OrZeros(x).Data; var g = y.Grad!.Data;
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(dx.AsSpan(r * cols, cols), g[r] * scale, dx.AsSpan(r * cols, cols));
        });
    }

    // ---- activations ----------------------------------------------------------------------------

    /// <summary>GELU on <paramref name="threads"/>. <paramref name="exact"/> false: GPT-2's tanh approximation; true: x Phi(x) with erf.</summary>
    public static Tensor Gelu(Parallelism threads, Tensor x, bool exact = false) => exact
        ? Gelu(threads, x, Activations.GeluErfForward, Activations.GeluErfBackward, Activations.GeluErfBackwardWrite)
        : Gelu(threads, x, Activations.GeluTanhForward, Activations.GeluTanhBackward, Activations.GeluTanhBackwardWrite);

    /// <summary>Either GELU; its backward writes a first gradient instead of adding it to zeros.</summary>
    static Tensor Gelu(Parallelism threads, Tensor x, ForwardKernel forward, GradKernel backward, GradKernel backwardWrite)
    {
        var y = NewLike(x);
        ParallelMap(threads, forward)(x.Data, y.Data);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink =>
        {
            float[] dx = sink.Buffer(x, out bool accumulate);
            ParallelBackward(threads, x.Data, y.Grad!.Data, dx, accumulate ? backward : backwardWrite);
        });
    }

    /// <summary>tanh(x).</summary>
    public static Tensor Tanh(Tensor x) => Unary(x, Activations.TanhForward, (xv, yv, g, dx) => Activations.TanhBackward(yv, g, dx));

    /// <summary>SiLU (swish): x sigmoid(x).</summary>
    public static Tensor Silu(Tensor x) => Unary(x, Activations.SiluForward, (xv, yv, g, dx) => Activations.SiluBackward(xv, g, dx));

    /// <summary>ReLU: max(x, 0).</summary>
    public static Tensor Relu(Tensor x) => Unary(x, Activations.ReluForward, (xv, yv, g, dx) => Activations.ReluBackward(xv, g, dx));

    delegate void ForwardKernel(ReadOnlySpan<float> x, Span<float> y);
    delegate void BackwardKernel(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx);
    delegate void GradKernel(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx);

    static Tensor Unary(Tensor x, ForwardKernel forward, BackwardKernel backward)
    {
        var y = NewLike(x);
        forward(x.Data, y.Data);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink => backward(x.Data, y.Data, y.Grad!.Data, sink.OrZeros(x).Data));
    }

    /// <summary>Splits an element-wise kernel over threads in 4096-element chunks.</summary>
    static ForwardKernel ParallelMap(Parallelism threads, ForwardKernel kernel) => (x, y) =>
    {
        unsafe
        {
            fixed (float* px = x, py = y)
            {
                float* xs = px, ys = py; int n = x.Length;
                const int Chunk = 4096;
                threads.For(0, (n + Chunk - 1) / Chunk, (s, e) =>
                {
                    int from = s * Chunk, to = Math.Min(n, e * Chunk);
                    kernel(new ReadOnlySpan<float>(xs + from, to - from), new Span<float>(ys + from, to - from));
                }, costPerItem: 30L * Chunk);
            }
        }
    };

    static unsafe void ParallelBackward(Parallelism threads, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, GradKernel kernel)
    {
        fixed (float* px = x, pg = dy, pdx = dx)
        {
            float* xs = px, gs = pg, dxs = pdx; int n = x.Length;
            const int Chunk = 4096;
            threads.For(0, (n + Chunk - 1) / Chunk, (s, e) =>
            {
                int from = s * Chunk, to = Math.Min(n, e * Chunk);
                kernel(new ReadOnlySpan<float>(xs + from, to - from), new ReadOnlySpan<float>(gs + from, to - from), new Span<float>(dxs + from, to - from));
            }, costPerItem: 40L * Chunk);
        }
    }

    // ---- softmax family ---------------------------------------------------------------------------

    /// <summary>Softmax over the last dimension.</summary>
    public static Tensor Softmax(Parallelism threads, Tensor x)
    {
        int cols = x.Dim(-1), rows = x.Size / Math.Max(1, cols);
        var y = NewLike(x);
        Kernels.Softmax.Forward(threads, x.Data, y.Data, rows, cols);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink => Kernels.Softmax.Backward(threads, y.Data, y.Grad!.Data, sink.OrZeros(x).Data, rows, cols));
    }

    /// <summary>Log-softmax over the last dimension.</summary>
    public static Tensor LogSoftmax(Parallelism threads, Tensor x)
    {
        int cols = x.Dim(-1), rows = x.Size / Math.Max(1, cols);
        var y = NewLike(x);
        Kernels.Softmax.LogForward(threads, x.Data, y.Data, rows, cols);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink => Kernels.Softmax.LogBackward(threads, y.Data, y.Grad!.Data, sink.OrZeros(x).Data, rows, cols));
    }

    /// <summary>
    /// Mean cross-entropy of softmax(logits) against integer targets, in nats, fused (no probability tensor kept).
    /// logits: (..., V); targets: one per row. Rows whose target is <paramref name="ignoreIndex"/> count for nothing,
    /// as in PyTorch; if every row is ignored the loss is 0.
    /// </summary>
    public static Tensor CrossEntropy(Parallelism threads, Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex = -100)
    {
        int cols = logits.Dim(-1), rows = logits.Size / Math.Max(1, cols);
        if (targets.Length != rows) throw new ArgumentException($"cross-entropy: {targets.Length} targets for {rows} rows of logits {logits.ShapeString}");
        int[] t = targets.ToArray();
        var losses = new float[rows]; var lse = new float[rows];
        int counted = Kernels.Softmax.CrossEntropyForward(threads, logits.Data, t, losses, lse, rows, cols, ignoreIndex);
        double total = 0;
        foreach (float l in losses) total += l;
        var y = Tensor.Scalar(counted == 0 ? 0f : (float)(total / counted));
        if (!Graph.ShouldRecord(logits)) return y;
        return Graph.Record(y, [logits], sink =>
        {
            // Every row ignored (e.g. a batch of padding): the loss is the constant 0, so the gradient is zero.
            if (counted == 0) { sink.OrZeros(logits); return; }
            var dLoss = new float[rows];
            Array.Fill(dLoss, y.Grad!.Data[0] / counted);
            float[] dLogits = sink.Buffer(logits, out bool accumulate);
            Kernels.Softmax.CrossEntropyBackward(threads, logits.Data, t, lse, dLoss, dLogits, rows, cols, ignoreIndex, accumulate);
        });
    }

    // ---- normalisation --------------------------------------------------------------------------

    /// <summary>LayerNorm over the last dimension with weight and bias (C), biased variance (as PyTorch).</summary>
    public static Tensor LayerNorm(Parallelism threads, Tensor x, Tensor weight, Tensor bias, float eps = 1e-5f)
    {
        int cols = x.Dim(-1), rows = x.Size / Math.Max(1, cols);
        if (weight.Size != cols || bias.Size != cols) throw new ArgumentException($"layer norm of {x.ShapeString} needs weight and bias of {cols}");
        var y = NewLike(x);
        var mean = new float[rows]; var rstd = new float[rows];
        Normalization.LayerNormForward(threads, x.Data, weight.Data, bias.Data, y.Data, mean, rstd, rows, cols, eps);
        if (!Graph.ShouldRecord([x, weight, bias])) return y;
        return Graph.Record(y, [x, weight, bias], sink =>
        {
            bool accumulate = true;
            float[] dx = x.RequiresGrad ? sink.Buffer(x, out accumulate) : new float[x.Size];
            float[] dw = weight.RequiresGrad ? sink.OrZeros(weight).Data : new float[cols];
            float[] db = bias.RequiresGrad ? sink.OrZeros(bias).Data : new float[cols];
            Normalization.LayerNormBackward(threads, y.Grad!.Data, x.Data, weight.Data, mean, rstd, dx, dw, db, rows, cols, accumulate);
        });
    }

    /// <summary>RMSNorm over the last dimension with weight (C).</summary>
    public static Tensor RmsNorm(Parallelism threads, Tensor x, Tensor weight, float eps = 1e-5f)
    {
        int cols = x.Dim(-1), rows = x.Size / Math.Max(1, cols);
        if (weight.Size != cols) throw new ArgumentException($"RMS norm of {x.ShapeString} needs a weight of {cols}");
        var y = NewLike(x);
        var rstd = new float[rows];
        Normalization.RmsNormForward(threads, x.Data, weight.Data, y.Data, rstd, rows, cols, eps);
        if (!Graph.ShouldRecord(x, weight)) return y;
        return Graph.Record(y, [x, weight], sink =>
        {
            float[] dx = x.RequiresGrad ? sink.OrZeros(x).Data : new float[x.Size];
            float[] dw = weight.RequiresGrad ? sink.OrZeros(weight).Data : new float[cols];
            Normalization.RmsNormBackward(threads, y.Grad!.Data, x.Data, weight.Data, rstd, dx, dw, rows, cols);
        });
    }
}
