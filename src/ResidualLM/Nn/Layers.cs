// The basic layers: Linear, Embedding, LayerNorm, RmsNorm and Dropout, each a thin module over one op.
// Weights follow PyTorch's layout, so a state dict maps name for name.
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Nn;

/// <summary>A module that maps one tensor to one tensor.</summary>
public abstract class Layer : Module
{
    /// <summary>Applies the layer, computing as <paramref name="context"/> says.</summary>
    public abstract Tensor Forward(ComputeContext context, Tensor x);
}

/// <summary>y = x W^T + b, with W of shape (out, in) as in PyTorch. Initialised N(0, std^2), bias 0.</summary>
public sealed class Linear : Layer
{
    /// <summary>(out, in).</summary>
    public Tensor Weight { get; }

    /// <summary>(out), or null without bias.</summary>
    public Tensor? Bias { get; }

    public int InFeatures { get; }
    public int OutFeatures { get; }

    public Linear(int inFeatures, int outFeatures, bool bias, Rng rng, float std = 0.02f)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = Parameter("weight", Tensor.Normal(rng, 0f, std, outFeatures, inFeatures));
        if (bias) Bias = Parameter("bias", Tensor.Zeros(outFeatures));
    }

    /// <summary>
    /// The weight in a block format (Q8_0, Q4_0) for inference, or null. While set, <see cref="Weight"/> holds the values
    /// it stands for (dequantised), so every float path computes the same model.
    /// </summary>
    public QuantizedMatrix? Quantized { get; private set; }

    /// <summary>Quantises the weight with ggml's rounding (see <see cref="QuantizedMatrix.Quantize"/>).</summary>
    public void Quantize(BlockFormat format) => SetQuantized(QuantizedMatrix.Quantize(Weight.Data.AsSpan(0, Weight.Size), OutFeatures, InFeatures, format));

    /// <summary>Uses <paramref name="weight"/> (out x in) as this layer's weight; <see cref="Weight"/> gets its dequantised values.</summary>
    public void SetQuantized(QuantizedMatrix weight)
    {
        if (weight.Rows != OutFeatures || weight.Columns != InFeatures)
            throw new ArgumentException($"a ({weight.Rows}, {weight.Columns}) quantized weight does not fit a linear layer ({OutFeatures}, {InFeatures})");
        weight.Dequantize(Weight.Data.AsSpan(0, Weight.Size));
        Quantized = weight;
    }

    /// <summary>(..., in) -> (..., out), fused or not as <see cref="ComputeContext.FusedLinear"/> says; quantised when <see cref="Quantized"/> is set.</summary>
    public override Tensor Forward(ComputeContext context, Tensor x)
    {
        if (Quantized is not null) return O.QuantizedLinear(context.Threads, x, Quantized, Weight, Bias, context.QuantizedFloatRows);
        if (context.FusedLinear) return O.Linear(context.Threads, x, Weight, Bias);
        var y = O.MatMul(context.Threads, x, Weight, transposeB: true);
        return Bias is null ? y : y + Bias;
    }
}

/// <summary>A table of learned vectors (V, C), looked up by integer ids. Initialised N(0, std^2).</summary>
public sealed class Embedding : Module
{
    /// <summary>(V, C).</summary>
    public Tensor Weight { get; }

    public Embedding(int count, int width, Rng rng, float std = 0.02f) =>
        Weight = Parameter("weight", Tensor.Normal(rng, 0f, std, count, width));

    /// <summary>
    /// The table in a block format, or null: used where the table is a tied output head. While set, <see cref="Weight"/>
    /// holds the values it stands for, which lookups read.
    /// </summary>
    public QuantizedMatrix? Quantized { get; private set; }

    /// <summary>Quantises the table with ggml's rounding.</summary>
    public void Quantize(BlockFormat format) => SetQuantized(QuantizedMatrix.Quantize(Weight.Data.AsSpan(0, Weight.Size), Weight.Dim(0), Weight.Dim(1), format));

    /// <summary>Uses <paramref name="table"/> (count x width) as the table; <see cref="Weight"/> gets its dequantised values.</summary>
    public void SetQuantized(QuantizedMatrix table)
    {
        if (table.Rows != Weight.Dim(0) || table.Columns != Weight.Dim(1))
            throw new ArgumentException($"a ({table.Rows}, {table.Columns}) quantized table does not fit an embedding ({Weight.Dim(0)}, {Weight.Dim(1)})");
        table.Dequantize(Weight.Data.AsSpan(0, Weight.Size));
        Quantized = table;
    }

    /// <summary>ids -> (leadingShape..., C), e.g. ids (B*T, row-major) with leading shape (B, T) -> (B, T, C).</summary>
    public Tensor Forward(ReadOnlySpan<int> ids, params int[] leadingShape)
    {
        int count = Weight.Dim(0);
        foreach (int id in ids)
            if ((uint)id >= (uint)count) throw new InvalidInputException($"id {id} is outside [0, {count})", field: "ids");
        return O.Embedding(Weight, ids, leadingShape);
    }
}

/// <summary>LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * weight + bias, biased variance, eps 1e-5.</summary>
public sealed class LayerNorm : Layer
{
    public Tensor Weight { get; }
    public Tensor Bias { get; }
    public float Eps { get; }

    public LayerNorm(int width, float eps = 1e-5f)
    {
        Eps = eps;
        Weight = Parameter("weight", Tensor.Ones(width));
        Bias = Parameter("bias", Tensor.Zeros(width));
    }

    public override Tensor Forward(ComputeContext context, Tensor x) => O.LayerNorm(context.Threads, x, Weight, Bias, Eps);
}

/// <summary>RMSNorm over the last dimension: x / sqrt(mean(x^2) + eps) * weight (Zhang and Sennrich 2019; Llama).</summary>
public sealed class RmsNorm : Layer
{
    public Tensor Weight { get; }
    public float Eps { get; }

    public RmsNorm(int width, float eps = 1e-5f)
    {
        Eps = eps;
        Weight = Parameter("weight", Tensor.Ones(width));
    }

    public override Tensor Forward(ComputeContext context, Tensor x) => O.RmsNorm(context.Threads, x, Weight, Eps);
}

/// <summary>
/// Inverted dropout with probability <see cref="P"/>, active only in training mode. Masks come from the model's
/// <see cref="Rng"/> (a data-parallel replica's own, see <see cref="ComputeContext"/>), so a seed fixes them.
/// </summary>
public sealed class Dropout : Layer
{
    readonly Rng rng;

    public float P { get; }

    public Dropout(float p, Rng rng)
    {
        if (p < 0f || p >= 1f) throw new InvalidInputException($"must be in [0, 1), got {p}", field: "dropout");
        P = p;
        this.rng = rng;
    }

    /// <summary>The generator the masks are drawn from under <paramref name="context"/>: the model's, or a data-parallel replica's.</summary>
    public Rng Generator(ComputeContext context) => context.DropoutGenerator ?? rng;

    public override Tensor Forward(ComputeContext context, Tensor x) => O.Dropout(x, P, Generator(context), Training);
}
