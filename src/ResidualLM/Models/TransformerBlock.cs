// One transformer block: two residual applications, attention then feed-forward, under a chosen policy.
using ResidualLM.Nn;

namespace ResidualLM.Models;

/// <summary>
/// x = Residual1.Apply(x, Attention); x = Residual2.Apply(x, FeedForward). With pre-norm this is GPT-2's
/// x = x + Attention(Norm1(x)); x = x + FeedForward(Norm2(x)).
/// </summary>
public sealed class TransformerBlock : Module
{
    public Residual Residual1 { get; }
    public Attention Attention { get; }
    public Residual Residual2 { get; }
    public Layer FeedForward { get; }

    /// <summary>Parameters are named norm1/gain1 (from the first policy), attn.*, norm2/gain2, ffn.*.</summary>
    public TransformerBlock(Residual residual1, Attention attention, Residual residual2, Layer feedForward)
    {
        Residual1 = Child("", residual1);
        Attention = Child("attn", attention);
        Residual2 = Child("", residual2);
        FeedForward = Child("ffn", feedForward);
    }

    /// <summary>
    /// (B, T, C) -> (B, T, C). When <paramref name="trace"/> is given, the block's stream and edits are recorded in it;
    /// <paramref name="values"/> is what the policy does to the attention's values (<see cref="DepthConnections.Values"/>).
    /// </summary>
    public Tensor Forward(ComputeContext context, Tensor x, bool[]? keyPadding = null, BlockTrace? trace = null, int startPosition = 0, KvCache.LayerCache? cache = null,
        Func<Tensor, Tensor>? values = null)
    {
        Tensor input = x;
        Tensor? attentionOut = null, feedForwardOut = null;
        x = Residual1.Apply(context, x, h => attentionOut = Attention.Forward(context, h, keyPadding, startPosition, cache, values));
        Tensor middle = x;
        x = Residual2.Apply(context, x, h => feedForwardOut = FeedForward.Forward(context, h));
        if (trace is not null)
        {
            trace.Input = input;
            trace.AttentionOutput = attentionOut!;
            trace.Middle = middle;
            trace.FeedForwardOutput = feedForwardOut!;
            trace.Output = x;
        }
        return x;
    }
}

/// <summary>
/// The residual stream around one block, as live graph tensors (set <see cref="Tensor.RetainGrad"/> on them before
/// backward to read their gradients). For pre-norm, Middle = Input + AttentionOutput and Output = Middle +
/// FeedForwardOutput (without dropout); other policies transform the stream, so the net change is Middle - Input.
/// </summary>
public sealed class BlockTrace
{
    /// <summary>The block input x (B, T, C).</summary>
    public Tensor Input { get; internal set; } = null!;

    /// <summary>The attention sublayer's output f(...) before dropout and gain (B, T, C).</summary>
    public Tensor AttentionOutput { get; internal set; } = null!;

    /// <summary>The stream after the first residual application (B, T, C).</summary>
    public Tensor Middle { get; internal set; } = null!;

    /// <summary>The feed-forward sublayer's output f(...) before dropout and gain (B, T, C).</summary>
    public Tensor FeedForwardOutput { get; internal set; } = null!;

    /// <summary>The block output (B, T, C).</summary>
    public Tensor Output { get; internal set; } = null!;

    /// <summary>A block that was skipped: the stream passes through unchanged and both edits are zero.</summary>
    internal void RecordSkipped(Tensor x)
    {
        Input = Middle = Output = x;
        AttentionOutput = FeedForwardOutput = Tensor.Zeros(x.Shape.ToArray());
    }
}

/// <summary>A forward pass that kept the residual stream: logits plus one <see cref="BlockTrace"/> per block.</summary>
public sealed record ForwardTrace(Tensor Logits, IReadOnlyList<BlockTrace> Blocks);
