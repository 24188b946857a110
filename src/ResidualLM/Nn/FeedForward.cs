// The position-wise sublayers: GPT-2's MLP (Linear, GELU, Linear) and Llama's SwiGLU.
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Nn;

/// <summary>FFN(x) = Proj(GELU(Fc(x))), hidden width 4C by default; GELU in GPT-2's tanh form unless exact.</summary>
public sealed class FeedForward : Layer
{
    readonly bool exactGelu;

    /// <summary>GELU with erf rather than GPT-2's tanh approximation.</summary>
    public bool ExactGelu => exactGelu;

    /// <summary>(H, C): expands.</summary>
    public Linear Fc { get; }

    /// <summary>(C, H): projects back to the residual stream.</summary>
    public Linear Proj { get; }

    public FeedForward(int width, int hidden, bool bias, Rng rng, bool exactGelu = false)
    {
        this.exactGelu = exactGelu;
        Fc = Child("fc", new Linear(width, hidden, bias, rng));
        Proj = Child("proj", new Linear(hidden, width, bias, rng));
    }

    /// <summary>(B, T, C) -> (B, T, C).</summary>
    public override Tensor Forward(ComputeContext context, Tensor x) => Proj.Forward(context, O.Gelu(context.Threads, Fc.Forward(context, x), exactGelu));
}

/// <summary>SwiGLU (Shazeer 2020; Llama): FFN(x) = W2(silu(W1 x) * W3 x), without biases unless asked (Llama's <c>mlp_bias</c>).</summary>
public sealed class SwiGlu : Layer
{
    /// <summary>Gate projection (H, C).</summary>
    public Linear W1 { get; }

    /// <summary>Down projection (C, H).</summary>
    public Linear W2 { get; }

    /// <summary>Up projection (H, C).</summary>
    public Linear W3 { get; }

    public SwiGlu(int width, int hidden, Rng rng, bool bias = false)
    {
        W1 = Child("w1", new Linear(width, hidden, bias, rng));
        W2 = Child("w2", new Linear(hidden, width, bias, rng));
        W3 = Child("w3", new Linear(width, hidden, bias, rng));
    }

    /// <summary>(B, T, C) -> (B, T, C).</summary>
    public override Tensor Forward(ComputeContext context, Tensor x) => W2.Forward(context, O.Silu(W1.Forward(context, x)) * W3.Forward(context, x));
}
