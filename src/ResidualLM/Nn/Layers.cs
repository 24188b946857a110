// The basic layers: Linear, Embedding, LayerNorm, RmsNorm and Dropout, each a thin module over one op.
// Weights follow PyTorch's layout, so a state dict maps name for name.
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Nn;

/// <summary>A module that maps one tensor to one tensor.</summary>
public abstract class Layer : Module
{
    /// <summary>Applies the layer.</summary>
    public abstract Tensor Forward(Tensor x);
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
    /// Use the fused op (bias folded into the GEMM, default) or the composition MatMul + broadcast add. Both give the
    /// same values and gradients up to round-off (a test checks it); the unfused path is the readable reference.
    /// </summary>
    public static bool UseFusedKernel { get; set; } = true;

    /// <summary>(..., in) -> (..., out).</summary>
    public override Tensor Forward(Tensor x)
    {
        if (UseFusedKernel) return O.Linear(x, Weight, Bias);
        var y = O.MatMul(x, Weight, transposeB: true);
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

    public override Tensor Forward(Tensor x) => O.LayerNorm(x, Weight, Bias, Eps);
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

    public override Tensor Forward(Tensor x) => O.RmsNorm(x, Weight, Eps);
}

/// <summary>
/// Inverted dropout with probability <see cref="P"/>, active only in training mode. Masks come from the model's
/// <see cref="Rng"/>, so a seed fixes them.
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

    [ThreadStatic] static Rng? shardGenerator;

    /// <summary>
    /// While a data-parallel shard runs on this thread: the shard's own generator, which every dropout layer draws its
    /// masks from instead of the model's (replicas run at once and must not share one generator). Null otherwise.
    /// </summary>
    internal static Rng? ShardGenerator
    {
        get => shardGenerator;
        set => shardGenerator = value;
    }

    /// <summary>The generator the masks are drawn from: the model's (shared), or the running data-parallel shard's.</summary>
    public Rng Generator => shardGenerator ?? rng;

    public override Tensor Forward(Tensor x) => O.Dropout(x, P, Generator, Training);
}
