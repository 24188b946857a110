// Connections across blocks: what a residual policy adds between blocks rather than inside one. Most policies chain the
// blocks (x_{i+1} = block_i(x_i)); hyper-connections and ResiDual carry a wider stream; DenseFormer feeds each block an
// average of the earlier outputs; value residuals hand the first layer's values to every later attention.
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Models;

/// <summary>
/// The model-level part of a residual policy, registered on the model as <c>depth</c> (its parameters are
/// <c>depth.*</c>). The base class is the plain chain over <see cref="Copies"/> copies of the stream: the embedding
/// repeated on entry, each block's output passed on, the copies summed before the final norm. Subclasses keep what they
/// need across blocks in the forward pass's <see cref="DepthPass"/>, never in themselves, so concurrent passes (data-parallel
/// replicas) do not interfere.
/// </summary>
public class DepthConnections(int copies) : Module
{
    /// <summary>n, the copies of the stream the blocks carry, (B, T, n·C).</summary>
    public int Copies { get; } = copies;

    /// <summary>The stream entering block 0, from the embedding (B, T, C).</summary>
    public virtual Tensor Enter(DepthPass pass, Tensor embedded) =>
        Copies == 1 ? embedded : O.Concat(Enumerable.Repeat(embedded, Copies).ToArray());

    /// <summary>The stream entering block <paramref name="block"/> + 1, given block <paramref name="block"/>'s output.</summary>
    public virtual Tensor Leave(ComputeContext context, DepthPass pass, int block, Tensor output) => output;

    /// <summary>The stream after the last block (B, T, n·C) through the final norm: (B, T, C), what the head reads.</summary>
    public virtual Tensor Finish(ComputeContext context, Tensor stream, Layer finalNorm)
    {
        if (Copies == 1) return finalNorm.Forward(context, stream);
        var copies = O.Split(stream, Enumerable.Repeat(stream.Dim(-1) / Copies, Copies).ToArray());
        return finalNorm.Forward(context, copies.Skip(1).Aggregate(copies[0], (sum, copy) => sum + copy));
    }

    /// <summary>
    /// What block <paramref name="block"/>'s attention does to its values (B, T, NKV·HS) before use, or null to use them
    /// as projected.
    /// </summary>
    public virtual Func<Tensor, Tensor>? Values(DepthPass pass, int block) => null;
}

/// <summary>What one forward pass keeps across blocks for its <see cref="DepthConnections"/>.</summary>
public sealed class DepthPass
{
    /// <summary>The embedding and every block output so far (DenseFormer).</summary>
    public List<Tensor> Outputs { get; } = [];

    /// <summary>The first attention layer's values (value residuals), once it has run.</summary>
    public Tensor? FirstValues { get; set; }
}
