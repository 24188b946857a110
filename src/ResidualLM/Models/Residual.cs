// Residual policies: how a block combines its input x with a sublayer f (attention or feed-forward).
// Each policy owns whatever that combination needs (a norm, a learned gain) and has a one-line Apply.
using ResidualLM.Nn;
using ResidualLM.Tensors;

namespace ResidualLM.Models;

/// <summary>The ways a transformer block can wrap its sublayers.</summary>
public enum ResidualMode
{
    /// <summary>No shortcut: y = f(x), a plain stack.</summary>
    None,

    /// <summary>y = x + f(norm(x)) (GPT-2).</summary>
    PreNorm,

    /// <summary>y = norm(x + f(x)) (Vaswani et al. 2017).</summary>
    PostNorm,

    /// <summary>y = x + a f(x), a learned and starting at 0, no norm (Bachlechner et al. 2020).</summary>
    ReZero,

    /// <summary>y = norm(alpha x + f(x)), alpha = (2N)^(1/4), beta-scaled init (Wang et al. 2022).</summary>
    DeepNorm,
}

/// <summary>A residual policy: combines the stream x with a sublayer f. Dropout always acts on f's output.</summary>
public abstract class Residual : Module
{
    /// <summary>The block output for input <paramref name="x"/> and sublayer <paramref name="sublayer"/>, computing as <paramref name="context"/> says.</summary>
    public abstract Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer);

    /// <summary>Whether the policy has a shortcut path (counts as a residual connection).</summary>
    public virtual bool HasShortcut => true;

    /// <summary>
    /// The policy for <paramref name="mode"/>. <paramref name="slot"/> (1 or 2) names its parameters within the block
    /// (<c>norm1</c>, <c>gain2</c>); <paramref name="makeNorm"/> builds LayerNorm or RMSNorm; <paramref name="layerCount"/>
    /// is N for DeepNorm's alpha.
    /// </summary>
    public static Residual Create(ResidualMode mode, int slot, Func<Layer> makeNorm, float dropout, Rng rng, int layerCount) => mode switch
    {
        ResidualMode.None => new NoResidual(dropout, rng),
        ResidualMode.PreNorm => new PreNormResidual(slot, makeNorm(), dropout, rng),
        ResidualMode.PostNorm => new PostNormResidual(slot, makeNorm(), dropout, rng),
        ResidualMode.ReZero => new ReZeroResidual(slot, dropout, rng),
        ResidualMode.DeepNorm => new DeepNormResidual(slot, makeNorm(), DeepNormResidual.DecoderAlpha(layerCount), dropout, rng),
        _ => throw new InvalidInputException($"unknown residual mode {mode}", field: "Residual"),
    };
}

/// <summary>y = dropout(f(x)): no shortcut, the baseline that shows why residuals matter.</summary>
public sealed class NoResidual : Residual
{
    readonly Dropout drop;

    public NoResidual(float dropout, Rng rng) => drop = Child("", new Dropout(dropout, rng));

    public override bool HasShortcut => false;

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => drop.Forward(context, sublayer(x));
}

/// <summary>y = x + dropout(f(norm(x))) (pre-LN; Radford et al. 2019, GPT-2; Xiong et al. 2020).</summary>
public sealed class PreNormResidual : Residual
{
    readonly Dropout drop;

    public Layer Norm { get; }

    public PreNormResidual(int slot, Layer norm, float dropout, Rng rng)
    {
        Norm = Child($"norm{slot}", norm);
        drop = Child("", new Dropout(dropout, rng));
    }

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => x + drop.Forward(context, sublayer(Norm.Forward(context, x)));
}

/// <summary>y = norm(x + dropout(f(x))) (post-LN; Vaswani et al. 2017, "Attention Is All You Need").</summary>
public sealed class PostNormResidual : Residual
{
    readonly Dropout drop;

    public Layer Norm { get; }

    public PostNormResidual(int slot, Layer norm, float dropout, Rng rng)
    {
        Norm = Child($"norm{slot}", norm);
        drop = Child("", new Dropout(dropout, rng));
    }

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => Norm.Forward(context, x + drop.Forward(context, sublayer(x)));
}

/// <summary>
/// y = x + a dropout(f(x)) with a learned scalar a initialised to 0, and no norm (Bachlechner et al. 2020, "ReZero is
/// All You Need"): every block starts as the identity.
/// </summary>
public sealed class ReZeroResidual : Residual
{
    readonly Dropout drop;

    /// <summary>The scalar a, shape [1], named <c>gain1</c> / <c>gain2</c>.</summary>
    public Tensor Gain { get; }

    public ReZeroResidual(int slot, float dropout, Rng rng)
    {
        Gain = Parameter($"gain{slot}", Tensor.Zeros(1));
        drop = Child("", new Dropout(dropout, rng));
    }

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => x + Gain * drop.Forward(context, sublayer(x));
}

/// <summary>
/// y = norm(alpha x + dropout(f(x))) (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers"). For an
/// N-layer decoder-only model alpha = (2N)^(1/4), and the value, output and feed-forward weights start Xavier-normal
/// with gain beta = (8N)^(-1/4) (see <see cref="DecoderBeta"/>; the model applies the init).
/// </summary>
public sealed class DeepNormResidual : Residual
{
    readonly Dropout drop;

    public Layer Norm { get; }

    /// <summary>The constant weight of the shortcut.</summary>
    public float Alpha { get; }

    public DeepNormResidual(int slot, Layer norm, float alpha, float dropout, Rng rng)
    {
        Norm = Child($"norm{slot}", norm);
        Alpha = alpha;
        drop = Child("", new Dropout(dropout, rng));
    }

    /// <summary>alpha = (2N)^(1/4) for a decoder-only (or encoder-only) model of N layers.</summary>
    public static float DecoderAlpha(int layerCount) => (float)Math.Pow(2.0 * layerCount, 0.25);

    /// <summary>beta = (8N)^(-1/4) for a decoder-only (or encoder-only) model of N layers.</summary>
    public static float DecoderBeta(int layerCount) => (float)Math.Pow(8.0 * layerCount, -0.25);

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => Norm.Forward(context, x * Alpha + drop.Forward(context, sublayer(x)));
}
