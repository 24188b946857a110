// Matrix products with autograd: 2-D and batched, either operand transposed, no transpose ever materialised.
// For C = op(A) op(B): d op(A) = dC op(B)^T and d op(B) = op(A)^T dC, each folded into one GEMM call's flags.
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Tensors;

namespace ResidualLM.Ops;

public static partial class Ops
{
    /// <summary>
    /// C = op(A) op(B). A: (..., M, K), or (..., K, M) when <paramref name="transposeA"/>. B: (K, N) shared by every batch,
    /// or (..., K, N) with the same leading dimensions as A; (N, K) / (..., N, K) when <paramref name="transposeB"/>.
    /// C: (..., M, N).
    /// </summary>
    public static Tensor MatMul(Parallelism threads, Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        if (a.Rank < 2 || b.Rank < 2) throw new ArgumentException($"matmul needs matrices, got {a.ShapeString} and {b.ShapeString}");
        int m = transposeA ? a.Dim(-1) : a.Dim(-2), k = transposeA ? a.Dim(-2) : a.Dim(-1);
        int kb = transposeB ? b.Dim(-1) : b.Dim(-2), n = transposeB ? b.Dim(-2) : b.Dim(-1);
        if (k != kb) throw new ArgumentException($"matmul inner dimensions differ: {a.ShapeString}{(transposeA ? "^T" : "")} x {b.ShapeString}{(transposeB ? "^T" : "")}");
        int batch = a.Size / Math.Max(1, m * k);
        if (m * k == 0) batch = ShapeProduct(a.ShapeArray, a.Rank - 2);
        bool broadcastB = b.Rank == 2;
        if (!broadcastB)
        {
            if (b.Rank != a.Rank) throw new ArgumentException($"batched matmul needs equal ranks or a 2-D right operand: {a.ShapeString} x {b.ShapeString}");
            for (int i = 0; i < a.Rank - 2; i++)
                if (a.Dim(i) != b.Dim(i)) throw new ArgumentException($"batched matmul batch dimensions differ: {a.ShapeString} x {b.ShapeString}");
        }
        var outShape = a.ShapeArray.ToArray();
        outShape[^2] = m; outShape[^1] = n;
        var c = Tensor.Uninitialized(outShape);                                  // every element written by the GEMM
        // A shared B with an untransposed A is one big (batch*M, K) x (K, N) product: better for the GEMM.
        bool flatten = broadcastB && !transposeA;
        if (flatten) Gemm.Multiply(threads, a.Data, b.Data, c.Data, batch * m, k, n, false, transposeB);
        else Gemm.MultiplyBatched(threads, a.Data, b.Data, c.Data, batch, m, k, n, transposeA, transposeB, broadcastB: broadcastB);
        if (!Graph.ShouldRecord(a, b)) return c;
        return Graph.Record(c, [a, b], sink =>
        {
            float[] dC = c.Grad!.Data;
            if (flatten && a.RequiresGrad && b.RequiresGrad && !ReferenceEquals(a, b))
            {
                // One big product each way (e.g. the tied head): independent, the same flops, one thread each.
                float[] dA = sink.Buffer(a, out bool addA), dB = sink.Buffer(b, out bool addB);
                InParallel(threads, limit => Gemm.MultiplyWithThreads(threads, dC, b.Data, dA, batch * m, n, k, false, !transposeB, addA, limit),
                    limit =>
                    {
                        if (!transposeB) Gemm.MultiplyWithThreads(threads, a.Data, dC, dB, k, batch * m, n, true, false, addB, limit);
                        else Gemm.MultiplyWithThreads(threads, dC, a.Data, dB, n, batch * m, k, true, false, addB, limit);
                    });
                return;
            }
            if (a.RequiresGrad)
            {
                float[] dA = sink.OrZeros(a).Data;
                if (flatten) Gemm.Multiply(threads, dC, b.Data, dA, batch * m, n, k, false, !transposeB, accumulate: true);
                else if (!transposeA) Gemm.MultiplyBatched(threads, dC, b.Data, dA, batch, m, n, k, false, !transposeB, accumulate: true, broadcastB: broadcastB);
                else if (!broadcastB) Gemm.MultiplyBatched(threads, b.Data, dC, dA, batch, k, n, m, transposeB, true, accumulate: true);
                else
                    for (int i = 0; i < batch; i++)
                        Gemm.Multiply(threads, b.Data, dC.AsSpan(i * m * n, m * n), dA.AsSpan(i * m * k, m * k), k, n, m, transposeB, true, accumulate: true);
            }
            if (b.RequiresGrad)
            {
                float[] dB = sink.OrZeros(b).Data;
                if (flatten)
                {
                    if (!transposeB) Gemm.Multiply(threads, a.Data, dC, dB, k, batch * m, n, true, false, accumulate: true);
                    else Gemm.Multiply(threads, dC, a.Data, dB, n, batch * m, k, true, false, accumulate: true);
                }
                else if (broadcastB)
                {
                    // Shared B with transposed A: sum the per-batch gradients.
                    for (int i = 0; i < batch; i++)
                    {
                        var ai = a.Data.AsSpan(i * m * k, m * k); var ci = dC.AsSpan(i * m * n, m * n);
                        if (!transposeB) Gemm.Multiply(threads, ai, ci, dB, k, m, n, !transposeA, false, accumulate: true);
                        else Gemm.Multiply(threads, ci, ai, dB, n, m, k, true, transposeA, accumulate: true);
                    }
                }
                else if (!transposeB) Gemm.MultiplyBatched(threads, a.Data, dC, dB, batch, k, m, n, !transposeA, false, accumulate: true);
                else Gemm.MultiplyBatched(threads, dC, a.Data, dB, batch, n, m, k, true, transposeA, accumulate: true);
            }
        });
    }

    /// <summary>
    /// y = x W^T + b as one op: x (..., in), W (out, in), b (out) or null; y (..., out). The GEMM adds into rows that
    /// start as the bias, so there is no separate broadcast add (one pass and one graph node fewer per layer).
    /// Equals MatMul(x, W, transposeB: true) + b up to float32 round-off (the bias is added first, not last).
    /// </summary>
    public static Tensor Linear(Parallelism threads, Tensor x, Tensor weight, Tensor? bias)
    {
        if (weight.Rank != 2 || x.Rank < 1 || x.Dim(-1) != weight.Dim(1))
            throw new ArgumentException($"linear: input {x.ShapeString} does not match weight {weight.ShapeString} (out, in)");
        int inFeatures = weight.Dim(1), outFeatures = weight.Dim(0), rows = x.Size / Math.Max(1, inFeatures);
        if (bias is not null && (bias.Rank != 1 || bias.Size != outFeatures)) throw new ArgumentException($"linear: bias {bias.ShapeString} does not match {outFeatures} outputs");
        var shape = x.ShapeArray.ToArray(); shape[^1] = outFeatures;
        var y = Tensor.Uninitialized(shape);
        if (bias is not null)
            for (int r = 0; r < rows; r++) bias.Data.CopyTo(y.Data, r * outFeatures);
        Gemm.Multiply(threads, x.Data, weight.Data, y.Data, rows, inFeatures, outFeatures, false, true, accumulate: bias is not null);
        Tensor[] parents = bias is null ? [x, weight] : [x, weight, bias];
        if (!Graph.ShouldRecord(parents)) return y;
        return Graph.Record(y, parents, sink =>
        {
            float[] dY = y.Grad!.Data;
            // A first gradient is written by the GEMM (accumulate false) rather than added to a zeroed buffer.
            bool addX = false, addW = false;
            float[]? dX = x.RequiresGrad ? sink.Buffer(x, out addX) : null, dW = weight.RequiresGrad ? sink.Buffer(weight, out addW) : null;
            // dX = dY W and dW = dY^T x: the same flops, independent, so with two threads each gets one.
            InParallel(threads, dX is null ? null : limit => Gemm.MultiplyWithThreads(threads, dY, weight.Data, dX, rows, outFeatures, inFeatures, false, false, addX, limit),
                       dW is null ? null : limit => Gemm.MultiplyWithThreads(threads, dY, x.Data, dW, outFeatures, rows, inFeatures, true, false, addW, limit));
            if (bias is not null && bias.RequiresGrad)
            {
                // The bias gradient is the column sum of dY.
                var dB = sink.Buffer(bias, out bool addB).AsSpan();
                if (!addB) dB.Clear();
                for (int r = 0; r < rows; r++) System.Numerics.Tensors.TensorPrimitives.Add(dB, dY.AsSpan(r * outFeatures, outFeatures), dB);
            }
        });
    }

    /// <summary>
    /// (..., in) x W^T (+ bias) with W block-quantised (Q8_0 or Q4_0). Up to <see cref="QuantizedFloatRows"/> - 1 rows (a
    /// decode step, a short prompt) go through int8 products as llama.cpp computes them: the activations quantised to
    /// Q8_0 per block, each block's products summed in int32. Longer prompts, where the product is bound by arithmetic
    /// rather than by reading W, go through the float GEMM on <paramref name="values"/> (W's values as float32), as
    /// llama.cpp's BLAS backends do from 32 rows on. For inference only: no gradient is recorded, so it refuses to run
    /// where one would be (outside <see cref="Graph.NoGrad"/> with an input or bias that needs one).
    /// </summary>
    public static Tensor QuantizedLinear(Parallelism threads, Tensor x, QuantizedMatrix weight, Tensor values, Tensor? bias) =>
        QuantizedLinear(threads, x, weight, values, bias, QuantizedFloatRows);

    /// <summary><see cref="QuantizedLinear(Parallelism, Tensor, QuantizedMatrix, Tensor, Tensor?)"/> with the float route from <paramref name="floatRows"/> rows on.</summary>
    public static Tensor QuantizedLinear(Parallelism threads, Tensor x, QuantizedMatrix weight, Tensor values, Tensor? bias, int floatRows)
    {
        if (x.Rank < 1 || x.Dim(-1) != weight.Columns)
            throw new ArgumentException($"quantized linear: input {x.ShapeString} does not match weight ({weight.Rows}, {weight.Columns})");
        if (values.Rank != 2 || values.Dim(0) != weight.Rows || values.Dim(1) != weight.Columns)
            throw new ArgumentException($"quantized linear: values {values.ShapeString} do not match weight ({weight.Rows}, {weight.Columns})");
        if (bias is not null && (bias.Rank != 1 || bias.Size != weight.Rows)) throw new ArgumentException($"quantized linear: bias {bias.ShapeString} does not match {weight.Rows} outputs");
        Tensor[] parents = bias is null ? [x] : [x, bias];
        if (Graph.ShouldRecord(parents))
            throw new InvalidOperationException("quantized weights are for inference: a quantized linear layer records no gradients (run it under Graph.NoGrad)");
        int rows = x.Size / weight.Columns;
        var shape = x.ShapeArray.ToArray(); shape[^1] = weight.Rows;
        var y = Tensor.Uninitialized(shape);
        if (rows >= floatRows)
        {
            if (bias is not null)
                for (int r = 0; r < rows; r++) bias.Data.AsSpan(0, weight.Rows).CopyTo(y.Data.AsSpan(r * weight.Rows));
            Gemm.Multiply(threads, x.Data, values.Data, y.Data, rows, weight.Columns, weight.Rows, false, true, accumulate: bias is not null);
            return y;
        }
        using var scratch = new QuantizedActivations();                      // its buffers come from the shared array pool
        BlockDot.Multiply(threads, x.Data.AsSpan(0, x.Size), rows, weight, bias is null ? default : bias.Data.AsSpan(0, bias.Size), y.Data.AsSpan(0, y.Size), scratch);
        return y;
    }

    /// <summary>Rows from which <see cref="QuantizedLinear(Parallelism, Tensor, QuantizedMatrix, Tensor, Tensor?)"/> multiplies in float32 (llama.cpp's BLAS threshold).</summary>
    public const int QuantizedFloatRows = 32;

    /// <summary>
    /// Runs two independent products (either may be null), each given its thread limit. With exactly two threads they
    /// run concurrently, one thread each: no synchronisation inside either product and no packing done twice. The GEMM's
    /// K blocking does not depend on the split, so each element is summed in the same order either way.
    /// </summary>
    static void InParallel(Parallelism threads, Action<int>? first, Action<int>? second)
    {
        int count = threads.ThreadCount;
        if (first is null || second is null || count != 2)
        {
            first?.Invoke(count);
            second?.Invoke(count);
            return;
        }
        threads.For(0, 2, (start, end) =>
        {
            for (int i = start; i < end; i++) (i == 0 ? first : second)(1);
        }, costPerItem: 1 << 20);
    }

    static int ShapeProduct(int[] shape, int count)
    {
        int p = 1;
        for (int i = 0; i < count; i++) p *= shape[i];
        return p;
    }
}
