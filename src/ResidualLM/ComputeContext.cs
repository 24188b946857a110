// How a model computes, passed explicitly: a model owns one (Module.Context) and its forward hands it to every module,
// which hands its threads to the ops and kernels. Two models in one process can therefore run with different settings
// at the same time.
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Tensors;

namespace ResidualLM;

/// <summary>
/// The settings and per-run state a forward and backward pass computes with: the kernels' threads, fused or reference
/// kernels and, for a data-parallel replica, the dropout generator it draws from and the gradient slots its backward
/// writes. Immutable; a replica's is derived with <c>with</c> (and shares the threads).
/// </summary>
public sealed record ComputeContext
{
    /// <summary>
    /// Threads of a context made without <see cref="Threads"/>: RLM_THREADS when set (the CLI's <c>--threads</c> sets it
    /// for its process), else every core. Read when a context is made, never kept.
    /// </summary>
    public static int DefaultThreadCount
    {
        get
        {
            string? text = Environment.GetEnvironmentVariable("RLM_THREADS");
            return text is not null && int.TryParse(text, out int n) && n >= 1 ? n : Environment.ProcessorCount;
        }
    }

    /// <summary>The threads (and their workers) every kernel of a pass runs on; by default <see cref="DefaultThreadCount"/> of them.</summary>
    public Parallelism Threads { get; init; } = new(DefaultThreadCount);

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
    /// Rows from which a linear layer with block-quantised weights multiplies in float32 on the dequantised weights (the
    /// float GEMM, as llama.cpp's BLAS backends do from 32 rows on); below it, int8 products as llama.cpp's CPU backend
    /// computes them. <see cref="int.MaxValue"/>: int8 products for any number of rows, i.e. every row computed as a decode
    /// step computes it (what <c>rlm eval --weights</c> measures).
    /// </summary>
    public int QuantizedFloatRows { get; init; } = Ops.Ops.QuantizedFloatRows;

    /// <summary>
    /// The generator every dropout layer draws its masks from in a data-parallel replica (replicas run at once and must
    /// not share one generator); null: each layer's own, the model's.
    /// </summary>
    internal Rng? DropoutGenerator { get; init; }

    /// <summary>Where the backward pass of a data-parallel replica writes the parameters' gradients (default: their own).</summary>
    internal GradientSink Gradients { get; init; }
}
