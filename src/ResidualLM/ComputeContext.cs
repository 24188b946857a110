// How a model computes, passed explicitly: a model owns one (Module.Context) and its forward hands it to every module,
// which hands it to the ops. Two models in one process can therefore run with different settings at the same time.
using ResidualLM.Autograd;
using ResidualLM.Tensors;

namespace ResidualLM;

/// <summary>
/// The settings and per-run state a forward and backward pass computes with: fused or reference kernels and, for a
/// data-parallel replica, the dropout generator it draws from and the gradient slots its backward writes. Immutable;
/// a replica's is derived with <c>with</c>.
/// </summary>
public sealed record ComputeContext
{
    /// <summary>
    /// Linear layers use the fused op (bias folded into the GEMM, default) or the composition MatMul + broadcast add.
    /// Both give the same values and gradients up to round-off (a test checks it); the unfused path is the readable reference.
    /// </summary>
    public bool FusedLinear { get; init; } = true;

    /// <summary>
    /// Attention uses the fused op (default) or the composition MatMul, mask, Softmax, MatMul. Both give the same values
    /// and gradients (a test checks it); the unfused path is kept as the readable reference.
    /// </summary>
    public bool FusedAttention { get; init; } = true;

    /// <summary>
    /// The generator every dropout layer draws its masks from in a data-parallel replica (replicas run at once and must
    /// not share one generator); null: each layer's own, the model's.
    /// </summary>
    internal Rng? DropoutGenerator { get; init; }

    /// <summary>Where the backward pass of a data-parallel replica writes the parameters' gradients (default: their own).</summary>
    internal GradientSink Gradients { get; init; }
}
