// Residual policies: how a block combines its input x with a sublayer f (attention or feed-forward).
// Each policy owns whatever that combination needs (a norm, a learned gain) and has a one-line Apply. The catalogue
// (ResidualPolicies) holds everything else about a policy: its name, description, equation, construction and init rule.
// Adding a policy means an enum value, a class and a catalogue entry in this file, and nothing outside it.
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

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

    /// <summary>y = x + diag(λ) f(norm(x)), λ a learned per-channel vector starting at a small ε (Touvron et al. 2021, CaiT).</summary>
    LayerScale,

    /// <summary>y = norm(x ⊙ ω + f(x)), ω a learned per-channel shortcut weight set by a profiling pass (Liu et al. 2020).</summary>
    Admin,

    /// <summary>Static hyper-connections, one stream copy (Zhu et al. 2025): pre-norm at init, with the three mixing weights learned.</summary>
    StaticHyper1,

    /// <summary>Static hyper-connections over 2 stream copies (Zhu et al. 2025).</summary>
    StaticHyper2,

    /// <summary>Static hyper-connections over 4 stream copies (Zhu et al. 2025).</summary>
    StaticHyper4,

    /// <summary>Dynamic hyper-connections, one stream copy: the mixing weights also depend on the token (Zhu et al. 2025).</summary>
    DynamicHyper1,

    /// <summary>Dynamic hyper-connections over 2 stream copies (Zhu et al. 2025).</summary>
    DynamicHyper2,

    /// <summary>Dynamic hyper-connections over 4 stream copies (Zhu et al. 2025).</summary>
    DynamicHyper4,

    /// <summary>Pre-norm blocks, each followed by a learned average of the embedding and every block output so far (Pagliardini et al. 2024).</summary>
    DenseFormer,

    /// <summary>Pre-norm blocks whose attention mixes its values with the first layer's, v = λ₁ v₁ + λ₂ v (Zhou et al. 2024, ResFormer).</summary>
    ValueResidual,

    /// <summary>Post-norm and pre-norm streams side by side, summed at the end (Xie et al. 2023, ResiDual).</summary>
    ResiDual,
}

/// <summary>
/// Builds the policy object for one sublayer of a block. <c>slot</c> (1 or 2) names its parameters within the block
/// (<c>norm1</c>, <c>gain2</c>); <c>width</c> is C, the stream width; <c>makeNorm</c> builds LayerNorm or RMSNorm;
/// <c>layerCount</c> is N (DeepNorm's alpha, LayerScale's ε); <c>block</c> is the block's index (hyper-connections' routing).
/// </summary>
public delegate Residual ResidualFactory(int slot, int width, Func<Layer> makeNorm, float dropout, Rng rng, int layerCount, int block);

/// <summary>
/// One block's weights as a policy's init rule sees them. Which feed-forward projections write into the stream is the
/// architecture's to say (GELU MLP: proj; SwiGLU: w2), so the model names them.
/// </summary>
/// <param name="Block">The block, freshly built: every weight already drawn from N(0, 0.02^2) or its module default.</param>
/// <param name="Writers">Projections whose output is added to the stream, in draw order: attention output, feed-forward output.</param>
/// <param name="Readers">Feed-forward projections that only read the stream (MLP fc; SwiGLU w1, w3), in draw order.</param>
/// <param name="Width">C, the stream width.</param>
/// <param name="LayerCount">N, the number of blocks.</param>
/// <param name="Rng">The model's generator. Draws come in a fixed order so that a seed gives the same weights.</param>
public sealed record BlockInit(TransformerBlock Block, IReadOnlyList<Linear> Writers, IReadOnlyList<Linear> Readers, int Width, int LayerCount, Rng Rng);

/// <summary>Everything about one residual policy except its arithmetic, which is its class's <see cref="Residual.Apply"/>.</summary>
/// <param name="Mode">The enum value it describes.</param>
/// <param name="Name">The spelling on the command line and in config.json (parsed case-insensitively).</param>
/// <param name="Title">How prose and charts name it ("pre-norm", "ReZero").</param>
/// <param name="Description">One line: what it does and where it comes from.</param>
/// <param name="Equation">The block output y for input x and sublayer f.</param>
/// <param name="Aliases">Other accepted spellings (kept for old command lines).</param>
/// <param name="Create">Builds the policy object for one sublayer.</param>
/// <param name="Initialize">The init the policy expects, applied to each block in order after construction.</param>
/// <param name="SlotParameters">Parameters one policy object holds, given its norm's count and the width C (for counts without building).</param>
/// <param name="InitializeFromBatch">
/// The part of the policy's init that needs data, given a built model and a batch of ids (B*T, B, T): Admin's profiling
/// pass. Run by <c>rlm train --init admin</c> and by the lab for every model it builds; null when there is none.
/// </param>
/// <param name="Depth">
/// Builds the connections across blocks for a model of width C and N blocks (<see cref="DepthConnections"/>, which also
/// says how many copies of the stream the blocks carry); null for the plain chain of blocks over one stream.
/// </param>
/// <param name="DepthParameters">Parameters the connections across blocks hold, given N and C (for counts without building).</param>
public sealed record ResidualPolicy(
    ResidualMode Mode, string Name, string Title, string Description, string Equation, IReadOnlyList<string> Aliases,
    ResidualFactory Create, Action<BlockInit> Initialize, Func<long, long, long> SlotParameters,
    Action<LanguageModel, int[], int, int>? InitializeFromBatch = null, Func<int, int, DepthConnections>? Depth = null,
    Func<long, long, long>? DepthParameters = null)
{
    /// <summary>Title and equation, for chart legends: "pre-norm: y = x + f(norm(x))".</summary>
    public string Legend => $"{Title}: {Equation}";

    /// <summary>The connections across blocks for a model of <paramref name="width"/> C and <paramref name="layerCount"/> blocks.</summary>
    public DepthConnections CreateDepth(int width, int layerCount) => Depth?.Invoke(width, layerCount) ?? new DepthConnections(copies: 1);

    /// <summary>Parameters of <see cref="CreateDepth"/>'s module for N blocks of width C.</summary>
    public long CountDepthParameters(long layerCount, long width) => DepthParameters?.Invoke(layerCount, width) ?? 0;
}

/// <summary>The catalogue of residual policies: one entry per <see cref="ResidualMode"/>, parsing and lookup.</summary>
public static class ResidualPolicies
{
    /// <summary>Every policy, in <see cref="ResidualMode"/> order.</summary>
    public static IReadOnlyList<ResidualPolicy> All { get; } =
    [
        new(ResidualMode.None, "none", "none",
            "No shortcut: a plain stack, the baseline that shows why residuals matter.",
            "y = f(x)", Aliases: ["plain"],
            Create: (slot, width, makeNorm, dropout, rng, layerCount, block) => new NoResidual(dropout, rng),
            Initialize: Gpt2Init, SlotParameters: (norm, width) => 0),
        new(ResidualMode.PreNorm, "prenorm", "pre-norm",
            "The sublayer reads a normalised copy and adds its edit to the stream (GPT-2; Xiong et al. 2020).",
            "y = x + f(norm(x))", Aliases: ["pre", "pre-norm"],
            Create: PreNormBlocks,
            Initialize: Gpt2Init, SlotParameters: (norm, width) => norm),
        new(ResidualMode.PostNorm, "postnorm", "post-norm",
            "The edit is added, then the sum is normalised (the original Transformer, Vaswani et al. 2017).",
            "y = norm(x + f(x))", Aliases: ["post", "post-norm"],
            Create: (slot, width, makeNorm, dropout, rng, layerCount, block) => new PostNormResidual(slot, makeNorm(), dropout, rng),
            Initialize: Gpt2Init, SlotParameters: (norm, width) => norm),
        new(ResidualMode.ReZero, "rezero", "ReZero",
            "A learned gain a, starting at 0, scales each edit; no norm, so every block starts as the identity (Bachlechner et al. 2020).",
            "y = x + a f(x)", Aliases: [],
            Create: (slot, width, makeNorm, dropout, rng, layerCount, block) => new ReZeroResidual(slot, dropout, rng),
            Initialize: ReZeroInit, SlotParameters: (norm, width) => 1),
        new(ResidualMode.DeepNorm, "deepnorm", "DeepNorm",
            "Post-norm with the shortcut weighted by α = (2N)^(1/4) and a β-scaled init, for very deep stacks (Wang et al. 2022).",
            "y = norm(αx + f(x))", Aliases: [],
            Create: (slot, width, makeNorm, dropout, rng, layerCount, block) =>
                new DeepNormResidual(slot, makeNorm(), DeepNormResidual.DecoderAlpha(layerCount), dropout, rng),
            Initialize: DeepNormInit, SlotParameters: (norm, width) => norm),
        new(ResidualMode.LayerScale, "layerscale", "LayerScale",
            "Pre-norm with each edit scaled channel by channel by a learned λ that starts at ε = 0.1 (N ≤ 18), 1e-5 (N ≤ 24) or 1e-6 (Touvron et al. 2021, CaiT).",
            "y = x + diag(λ) f(norm(x))", Aliases: [],
            Create: (slot, width, makeNorm, dropout, rng, layerCount, block) =>
                new LayerScaleResidual(slot, makeNorm(), width, LayerScaleResidual.CaitEpsilon(layerCount), dropout, rng),
            Initialize: Gpt2Init, SlotParameters: (norm, width) => norm + width),
        new(ResidualMode.Admin, "admin", "Admin",
            "Post-norm with a learned per-channel shortcut weight ω, 1 until --init admin (or the lab) sets it from one profiling pass to the stream's scale so far (Liu et al. 2020).",
            "y = norm(x ⊙ ω + f(x))", Aliases: [],
            Create: (slot, width, makeNorm, dropout, rng, layerCount, block) => new AdminResidual(slot, makeNorm(), width, dropout, rng),
            Initialize: Gpt2Init, SlotParameters: (norm, width) => norm + width,
            InitializeFromBatch: (model, ids, batch, time) => AdminResidual.Profile(model, ids, batch, time)),
        Hyper(ResidualMode.StaticHyper1, 1, dynamic: false),
        Hyper(ResidualMode.StaticHyper2, 2, dynamic: false),
        Hyper(ResidualMode.StaticHyper4, 4, dynamic: false),
        Hyper(ResidualMode.DynamicHyper1, 1, dynamic: true),
        Hyper(ResidualMode.DynamicHyper2, 2, dynamic: true),
        Hyper(ResidualMode.DynamicHyper4, 4, dynamic: true),
        new(ResidualMode.DenseFormer, "denseformer", "DenseFormer",
            "Pre-norm blocks; after block i the next one reads a learned average of the embedding and the outputs of blocks 0..i, weights starting at the identity (Pagliardini et al. 2024, DWA).",
            "y = x + f(norm(x)); next input Σ_j α_j x_j", Aliases: ["dense", "dwa"],
            Create: PreNormBlocks,
            Initialize: Gpt2Init, SlotParameters: (norm, width) => norm,
            Depth: (width, layerCount) => new DenseFormerConnections(layerCount),
            DepthParameters: (layerCount, width) => layerCount * (layerCount + 3) / 2),
        new(ResidualMode.ValueResidual, "value-residual", "value residual",
            "Pre-norm blocks whose attention uses λ₁ v₁ + λ₂ v: its own values mixed with the first layer's, λ learned from ½, ½ (Zhou et al. 2024, ResFormer).",
            "y = x + f(norm(x)), v ← λ₁v₁ + λ₂v", Aliases: ["resformer", "valueresidual"],
            Create: PreNormBlocks,
            Initialize: Gpt2Init, SlotParameters: (norm, width) => norm,
            Depth: (width, layerCount) => new ValueResidualConnections(layerCount),
            DepthParameters: (layerCount, width) => 2 * (layerCount - 1)),
        new(ResidualMode.ResiDual, "residual-post", "ResiDual",
            "Two streams: a post-norm one and an un-normalised sum of every edit, which the final norm reads and adds to it (Xie et al. 2023, ResiDual).",
            "y = (norm(a + f(a)), d + f(a)); out = a + norm(d)", Aliases: ["resi-dual"],
            Create: (slot, width, makeNorm, dropout, rng, layerCount, block) => new ResiDualResidual(slot, makeNorm(), width, dropout, rng),
            Initialize: Gpt2Init, SlotParameters: (norm, width) => norm,
            Depth: (width, layerCount) => new ResiDualConnections()),
    ];

    /// <summary>x + f(norm(x)) for each sublayer: pre-norm itself, and the blocks of the policies that add connections across depth to it.</summary>
    static Residual PreNormBlocks(int slot, int width, Func<Layer> makeNorm, float dropout, Rng rng, int layerCount, int block) =>
        new PreNormResidual(slot, makeNorm(), dropout, rng);

    /// <summary>The entry for hyper-connections over <paramref name="copies"/> stream copies, static or dynamic (Zhu et al. 2025).</summary>
    static ResidualPolicy Hyper(ResidualMode mode, int copies, bool dynamic) => new(
        mode, $"{(dynamic ? "dhc" : "shc")}{copies}", $"{(dynamic ? "DHC" : "SHC")}×{copies}",
        $"The stream widened to {copies} cop{(copies == 1 ? "y" : "ies")} H; each sublayer reads a learned mix of them and writes back into each with its own weight" +
        (dynamic ? ", the weights also depending on the token" : "") + $" (Zhu et al. 2025, hyper-connections{(copies == 1 && !dynamic ? "; pre-norm at init" : "")}).",
        "y = B f(norm(A_m H)) + A_r H", Aliases: [],
        Create: (slot, width, makeNorm, dropout, rng, layerCount, block) =>
            new HyperResidual(slot, makeNorm(), width, copies, 2 * block + slot - 1, dynamic ? makeNorm : null, dropout, rng),
        Initialize: Gpt2Init,
        SlotParameters: (norm, width) => norm + copies * (copies + 1) + copies + (dynamic ? norm + width * (copies + 1) + width + 2 : 0),
        Depth: (width, layerCount) => new DepthConnections(copies));

    /// <summary>The names, comma-separated: "none, prenorm, postnorm, rezero, deepnorm".</summary>
    public static string Names => string.Join(", ", All.Select(p => p.Name));

    /// <summary>The entry for <paramref name="mode"/>.</summary>
    /// <exception cref="InvalidInputException">No policy has that value.</exception>
    public static ResidualPolicy Get(ResidualMode mode) =>
        All.FirstOrDefault(p => p.Mode == mode) ?? throw new InvalidInputException($"unknown residual mode {(int)mode}", field: "Residual");

    /// <summary>
    /// The policy named <paramref name="text"/> (a name, an alias or the <see cref="ResidualMode"/> member's own name, as
    /// config.json files written before the catalogue hold; any case, surrounding spaces ignored), if any.
    /// </summary>
    public static bool TryParse(string? text, out ResidualMode mode)
    {
        string key = text?.Trim() ?? "";
        var match = All.FirstOrDefault(p => p.Name.Equals(key, StringComparison.OrdinalIgnoreCase) || p.Mode.ToString().Equals(key, StringComparison.OrdinalIgnoreCase) ||
                                            p.Aliases.Any(a => a.Equals(key, StringComparison.OrdinalIgnoreCase)));
        mode = match?.Mode ?? default;
        return match is not null;
    }

    /// <summary>The policy named <paramref name="text"/>; otherwise a one-line error naming <paramref name="field"/> and every valid name.</summary>
    public static ResidualMode Parse(string text, string field = "Residual") => TryParse(text, out var mode)
        ? mode
        : throw new InvalidInputException($"must be {string.Join(", ", All.SkipLast(1).Select(p => p.Name))} or {All[^1].Name}, got '{text?.Trim()}'", field: field);

    /// <summary>
    /// GPT-2 / nanoGPT (Radford et al. 2019): N(0, 0.02) everywhere, and the projections that write into the stream
    /// scaled by 1/sqrt(2N) because N blocks add 2N edits to it.
    /// </summary>
    static void Gpt2Init(BlockInit block)
    {
        foreach (var linear in block.Writers) Redraw(linear.Weight, 0.02f / MathF.Sqrt(2f * block.LayerCount), block.Rng);
    }

    /// <summary>GPT-2's init, and the gains a = 0 so that every block starts as the identity (Bachlechner et al. 2020).</summary>
    static void ReZeroInit(BlockInit block)
    {
        Gpt2Init(block);
        foreach (var residual in new[] { block.Block.Residual1, block.Block.Residual2 }) ((ReZeroResidual)residual).Gain.Data[0] = 0f;
    }

    /// <summary>
    /// DeepNet (Wang et al. 2022): Xavier-normal everywhere, with gain beta = (8N)^(-1/4) on the value, output and
    /// feed-forward weights and gain 1 on queries and keys.
    /// </summary>
    static void DeepNormInit(BlockInit block)
    {
        int width = block.Width;
        float beta = DeepNormResidual.DecoderBeta(block.LayerCount);
        var attention = block.Block.Attention;
        var qkv = attention.Qkv.Weight;                                              // rows [q; k; v], (C, C) each without grouped heads
        int queryKeyValues = (attention.HeadCount + attention.KvHeadCount) * attention.HeadSize * width;
        float xavierSquare = MathF.Sqrt(2f / (width + width));
        for (int i = 0; i < qkv.Size; i++)
            qkv.Data[i] = (i < queryKeyValues ? 1f : beta) * xavierSquare * block.Rng.NextGaussian();
        foreach (var linear in block.Writers.Concat(block.Readers))
            Redraw(linear.Weight, beta * MathF.Sqrt(2f / (linear.InFeatures + linear.OutFeatures)), block.Rng);
    }

    /// <summary>Refills a weight with N(0, std^2) draws.</summary>
    static void Redraw(Tensor weight, float std, Rng rng)
    {
        for (int i = 0; i < weight.Size; i++) weight.Data[i] = std * rng.NextGaussian();
    }
}

/// <summary>A residual policy: combines the stream x with a sublayer f. Dropout always acts on f's output.</summary>
public abstract class Residual : Module
{
    /// <summary>The block output for input <paramref name="x"/> and sublayer <paramref name="sublayer"/>, computing as <paramref name="context"/> says.</summary>
    public abstract Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer);

    /// <summary>Whether the policy has a shortcut path (counts as a residual connection).</summary>
    public virtual bool HasShortcut => true;

    /// <summary>
    /// The policy for <paramref name="mode"/>, built by its catalogue entry (see <see cref="ResidualFactory"/>).
    /// <paramref name="slot"/> (1 or 2) names its parameters within the block (<c>norm1</c>, <c>gain2</c>); <paramref name="width"/>
    /// is C; <paramref name="makeNorm"/> builds LayerNorm or RMSNorm; <paramref name="layerCount"/> is N (DeepNorm's alpha, LayerScale's ε);
    /// <paramref name="block"/> is the block's index.
    /// </summary>
    public static Residual Create(ResidualMode mode, int slot, int width, Func<Layer> makeNorm, float dropout, Rng rng, int layerCount, int block = 0) =>
        ResidualPolicies.Get(mode).Create(slot, width, makeNorm, dropout, rng, layerCount, block);
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
        Gain = Parameter($"gain{slot}", Tensor.Zeros(1));                   // the catalogue's init rule sets a = 0
        drop = Child("", new Dropout(dropout, rng));
    }

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => x + Gain * drop.Forward(context, sublayer(x));
}

/// <summary>
/// y = norm(alpha x + dropout(f(x))) (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers"). For an
/// N-layer decoder-only model alpha = (2N)^(1/4), and the value, output and feed-forward weights start Xavier-normal
/// with gain beta = (8N)^(-1/4) (see <see cref="DecoderBeta"/>; the catalogue's init rule applies it).
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

/// <summary>
/// y = x + diag(λ) dropout(f(norm(x))) (Touvron et al. 2021, "Going deeper with Image Transformers", CaiT): pre-norm whose
/// edit is scaled channel by channel by a learned λ of width C, every entry starting at ε (<see cref="CaitEpsilon"/>),
/// so that a deep stack starts near the identity while each channel can grow at its own rate.
/// </summary>
public sealed class LayerScaleResidual : Residual
{
    readonly Dropout drop;

    public Layer Norm { get; }

    /// <summary>λ, shape [C], named <c>scale1</c> / <c>scale2</c>.</summary>
    public Tensor Scale { get; }

    public LayerScaleResidual(int slot, Layer norm, int width, float epsilon, float dropout, Rng rng)
    {
        Norm = Child($"norm{slot}", norm);
        // Set here, as CaiT's module does, so that every init scheme (GPT-2's, PyTorch's defaults) starts λ at ε.
        Scale = Parameter($"scale{slot}", Tensor.Full(epsilon, width));
        drop = Child("", new Dropout(dropout, rng));
    }

    /// <summary>CaiT's ε for a stack of N blocks: 0.1 up to 18 blocks, 1e-5 up to 24, 1e-6 deeper.</summary>
    public static float CaitEpsilon(int layerCount) => layerCount switch
    {
        <= 18 => 0.1f,
        <= 24 => 1e-5f,
        _ => 1e-6f,
    };

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => x + Scale * drop.Forward(context, sublayer(Norm.Forward(context, x)));
}

/// <summary>
/// y = norm(x ⊙ ω + dropout(f(x))) (Liu et al. 2020, "Understanding the Difficulty of Training Transformers", Admin):
/// post-norm whose shortcut is weighted channel by channel by a learned ω. ω starts at 1 (post-norm itself);
/// <see cref="Profile"/> sets it as Admin prescribes, so that each block depends on its own edit no more than pre-norm would.
/// </summary>
public sealed class AdminResidual : Residual
{
    readonly Dropout drop;

    public Layer Norm { get; }

    /// <summary>ω, shape [C], named <c>omega1</c> / <c>omega2</c>.</summary>
    public Tensor Omega { get; }

    public AdminResidual(int slot, Layer norm, int width, float dropout, Rng rng)
    {
        Norm = Child($"norm{slot}", norm);
        Omega = Parameter($"omega{slot}", Tensor.Ones(width));
        drop = Child("", new Dropout(dropout, rng));
    }

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer) => Norm.Forward(context, x * Omega + drop.Forward(context, sublayer(x)));

    /// <summary>
    /// Admin's initialisation (Liu et al. 2020, section 5; the authors' "adaptive-profiling" code): one forward pass over
    /// <paramref name="ids"/> (B, T) without dropout, through the sublayers i = 1..2N in order, setting every channel of
    /// ω_i to r_i, where r_1 = 1 and r_{i+1} = sqrt(Var[x_{i-1} ⊙ ω_i] + Var[f_i(x_{i-1})]), the variances over every
    /// element of the batch. After a norm Var[x] is about 1, so r_i^2 = 1 + Σ_{j&lt;i} Var[f_j]: the paper's
    /// ω_i = sqrt(Σ_{j&lt;i} Var[f_j(x_{j-1})]) with the embedding counted as the first term, as pre-norm's stream would
    /// hold them. Returns the 2N values set.
    /// </summary>
    /// <exception cref="InvalidInputException">The model's policy is not Admin.</exception>
    public static IReadOnlyList<float> Profile(LanguageModel model, int[] ids, int batch, int time)
    {
        if (model.ResidualMode != ResidualMode.Admin)
            throw new InvalidInputException($"Admin's profiling sets the shortcut weights of the admin residual policy, not of {ResidualPolicies.Get(model.ResidualMode).Name}", field: "Residual");
        bool training = model.Training;
        model.Eval();
        using var _ = Autograd.Graph.NoGrad();
        var residuals = model.Blocks.Items.SelectMany(b => new[] { (AdminResidual)b.Residual1, (AdminResidual)b.Residual2 }).ToList();
        foreach (var residual in residuals) residual.Omega.Data.AsSpan().Fill(1f);
        var x = model.ForwardTrace(ids, batch, time).Blocks[0].Input;              // the embedding (B, T, C): ω plays no part in it
        var ratios = new List<float>();
        double ratio = 1.0;
        foreach (var block in model.Blocks.Items)
        {
            // A block runs twice: ω2 is set after the first sublayer's statistics, which the second run then sees.
            var trace = new BlockTrace();
            foreach (var (residual, second) in new[] { ((AdminResidual)block.Residual1, false), ((AdminResidual)block.Residual2, true) })
            {
                residual.Omega.Data.AsSpan().Fill((float)ratio);
                ratios.Add((float)ratio);
                block.Forward(model.Context, x, trace: trace);
                var (input, edit) = second ? (trace.Middle, trace.FeedForwardOutput) : (trace.Input, trace.AttentionOutput);
                ratio = Math.Sqrt(Variance(input, residual.Omega) + Variance(edit, null));
            }
            x = trace.Output;
        }
        if (training) model.Train();
        return ratios;
    }

    /// <summary>The population variance of every element of x (B, T, C), each channel first scaled by <paramref name="scale"/> (C) when given.</summary>
    static double Variance(Tensor x, Tensor? scale)
    {
        int width = x.Dim(-1);
        double sum = 0, squares = 0;
        for (int i = 0; i < x.Size; i++)
        {
            double v = x.Data[i] * (double)(scale?.Data[i % width] ?? 1f);
            sum += v;
            squares += v * v;
        }
        double mean = sum / x.Size;
        return squares / x.Size - mean * mean;
    }
}

/// <summary>
/// Hyper-connections (Zhu et al. 2025, "Hyper-Connections", ICLR): the stream is n copies H = (h_1 .. h_n) of width C,
/// carried as (B, T, n·C) with copy k in channels [kC, (k+1)C). Each sublayer reads h_0 = A_m^T H, a learned mix of the
/// copies, and writes back H' = B^T f(norm(h_0)) + A_r^T H: every copy gets the edit with its own weight β_k and its
/// own mix of the old copies. Static (SHC): A_m (n), A_r (n, n) and B (n) are learned, stored as <c>alpha</c> = the
/// rows [A_m | A_r] (n·(n+1), flat, so that weight decay leaves it alone as it leaves B) and <c>beta</c> = B. Dynamic
/// (DHC) adds per-token terms: with H̄ = norm(H), [A_m | A_r] += s_α tanh(H̄ W_α) and B += s_β tanh(H̄ W_β), where
/// W_α (C, n+1) and W_β (C) start at 0 and s_α = s_β = 0.01 (<c>alpha_fn</c>, <c>beta_fn</c>, <c>alpha_scale</c>,
/// <c>beta_scale</c>, <c>hnorm</c>). Init (the paper's, making the stack pre-norm's): A_m = e_(k mod n) for the k-th
/// sublayer, A_r = I, B = 1; with n = 1 the block is pre-norm exactly.
/// </summary>
public sealed class HyperResidual : Residual
{
    readonly Dropout drop;
    readonly int copies, width;

    public Layer Norm { get; }

    /// <summary>[A_m | A_r]: row j = (A_m[j], A_r[j, 0..n-1]), shape [n·(n+1)], named <c>alpha1</c> / <c>alpha2</c>.</summary>
    public Tensor Alpha { get; }

    /// <summary>B, shape [n], named <c>beta1</c> / <c>beta2</c>.</summary>
    public Tensor Beta { get; }

    /// <summary>The dynamic terms (norm, W_α (C, n+1), W_β (C), s_α, s_β), or null for static hyper-connections.</summary>
    public (Layer Norm, Tensor AlphaWeight, Tensor BetaWeight, Tensor AlphaScale, Tensor BetaScale)? Dynamic { get; }

    /// <param name="slot">1 or 2: names the parameters within the block.</param>
    /// <param name="norm">The sublayer's pre-norm.</param>
    /// <param name="width">C, the width of one copy.</param>
    /// <param name="copies">n, the expansion rate.</param>
    /// <param name="sublayer">k, the sublayer's index in the stack (2 per block): it first reads copy k mod n.</param>
    /// <param name="makeDynamicNorm">Builds the norm of H for dynamic hyper-connections; null for static ones.</param>
    /// <param name="dropout">Dropout on the sublayer's output.</param>
    /// <param name="rng">The dropout generator.</param>
    public HyperResidual(int slot, Layer norm, int width, int copies, int sublayer, Func<Layer>? makeDynamicNorm, float dropout, Rng rng)
    {
        this.copies = copies;
        this.width = width;
        Norm = Child($"norm{slot}", norm);
        var alpha = new float[copies * (copies + 1)];
        for (int j = 0; j < copies; j++)
        {
            alpha[j * (copies + 1)] = j == sublayer % copies ? 1f : 0f;                  // A_m = e_(k mod n)
            alpha[j * (copies + 1) + 1 + j] = 1f;                                        // A_r = I
        }
        Alpha = Parameter($"alpha{slot}", new Tensor(alpha, [alpha.Length]));
        Beta = Parameter($"beta{slot}", Tensor.Ones(copies));
        if (makeDynamicNorm is not null)
            Dynamic = (Child($"hnorm{slot}", makeDynamicNorm()), Parameter($"alpha_fn{slot}", Tensor.Zeros(width, copies + 1)),
                       Parameter($"beta_fn{slot}", Tensor.Zeros(width)), Parameter($"alpha_scale{slot}", Tensor.Full(0.01f, 1)),
                       Parameter($"beta_scale{slot}", Tensor.Full(0.01f, 1)));
        drop = Child("", new Dropout(dropout, rng));
    }

    /// <summary>H' = B^T f(norm(A_m^T H)) + A_r^T H for the stream H (B, T, n·C).</summary>
    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer)
    {
        int tokens = x.Size / (copies * width);
        var h = O.Reshape(x, tokens, copies, width);                                     // (M, n, C), M = B·T
        var (alpha, beta) = Weights(context, h, tokens);                                 // (M, n, n+1), (M, n, 1)
        // (M, n+1, C): row 0 is A_m^T H, the sublayer's input; rows 1..n are A_r^T H, the copies carried on.
        var mixed = O.Split(O.Reshape(O.MatMul(context.Threads, alpha, h, transposeA: true), tokens, (copies + 1) * width), width, copies * width);
        var edit = drop.Forward(context, sublayer(Norm.Forward(context, O.Reshape(mixed[0], [.. x.ShapeArray[..^1], width]))));
        var written = O.MatMul(context.Threads, beta, O.Reshape(edit, tokens, 1, width));   // (M, n, C): β_k f(...)
        return O.Reshape(written + O.Reshape(mixed[1], tokens, copies, width), x.ShapeArray);
    }

    // The per-token [A_m | A_r] (M, n, n+1) and B (M, n, 1): the static ones repeated, plus the dynamic terms.
    (Tensor Alpha, Tensor Beta) Weights(ComputeContext context, Tensor h, int tokens)
    {
        Tensor alpha = O.Reshape(Alpha, copies, copies + 1), beta = O.Reshape(Beta, copies, 1);
        if (Dynamic is not { } d) return (Tensor.Zeros(tokens, copies, copies + 1) + alpha, Tensor.Zeros(tokens, copies, 1) + beta);
        var normed = d.Norm.Forward(context, h);                                         // H̄ (M, n, C)
        return (O.Tanh(O.MatMul(context.Threads, normed, d.AlphaWeight)) * d.AlphaScale + alpha,
                O.Tanh(O.MatMul(context.Threads, normed, O.Reshape(d.BetaWeight, width, 1))) * d.BetaScale + beta);
    }
}

/// <summary>
/// ResiDual's sublayer (Xie et al. 2023, "ResiDual: Transformer with Dual Residual Connections"; the authors' code
/// microsoft/ResiDual): the stream is two copies (B, T, 2·C), a = channels [0, C) and d = [C, 2C), both starting at the
/// embedding. The sublayer reads a; its edit y = dropout(f(a)) goes into both: a' = norm(a + y) (post-norm's stream) and
/// d' = d + y (pre-norm's un-normalised sum of every edit). <see cref="ResiDualConnections"/> ends with a + norm(d).
/// </summary>
public sealed class ResiDualResidual : Residual
{
    readonly Dropout drop;
    readonly int width;

    public Layer Norm { get; }

    public ResiDualResidual(int slot, Layer norm, int width, float dropout, Rng rng)
    {
        this.width = width;
        Norm = Child($"norm{slot}", norm);
        drop = Child("", new Dropout(dropout, rng));
    }

    public override Tensor Apply(ComputeContext context, Tensor x, Func<Tensor, Tensor> sublayer)
    {
        var streams = O.Split(x, width, width);                                          // a (post-norm), d (sum of edits)
        var edit = drop.Forward(context, sublayer(streams[0]));
        return O.Concat(Norm.Forward(context, streams[0] + edit), streams[1] + edit);
    }
}

/// <summary>ResiDual's end (Xie et al. 2023): a + norm(d), the model's final norm applied to the sum of edits only.</summary>
public sealed class ResiDualConnections() : DepthConnections(copies: 2)
{
    public override Tensor Finish(ComputeContext context, Tensor stream, Layer finalNorm)
    {
        var streams = O.Split(stream, stream.Dim(-1) / 2, stream.Dim(-1) / 2);
        return streams[0] + finalNorm.Forward(context, streams[1]);
    }
}

/// <summary>
/// DenseFormer (Pagliardini et al. 2024, "DenseFormer: Enhancing Information Flow in Transformers via Depth Weighted
/// Averaging"): with x_0 the embedding and x_{i+1} the output of block i, block i+1 reads y_i = Σ_{j≤i+1} α_ij x_j
/// instead of x_{i+1}, and the final norm reads y_{N-1}. α_i (<c>depth.dwa{i}</c>, shape [i+2]) starts at (0, .., 0, 1), so
/// that the model starts as its pre-norm blocks alone. The outputs x_j are averaged, not the earlier averages y_j.
/// </summary>
public sealed class DenseFormerConnections : DepthConnections
{
    /// <summary>α_i for each block i, shape [i+2].</summary>
    public IReadOnlyList<Tensor> Weights { get; }

    public DenseFormerConnections(int layerCount) : base(copies: 1)
    {
        var weights = new Tensor[layerCount];
        for (int i = 0; i < layerCount; i++)
        {
            var alpha = Tensor.Zeros(i + 2);
            alpha.Data[i + 1] = 1f;
            weights[i] = Parameter($"dwa{i}", alpha);
        }
        Weights = weights;
    }

    public override Tensor Enter(DepthPass pass, Tensor embedded)
    {
        pass.Outputs.Add(embedded);
        return embedded;
    }

    public override Tensor Leave(ComputeContext context, DepthPass pass, int block, Tensor output)
    {
        pass.Outputs.Add(output);
        var alpha = O.Split(Weights[block], Enumerable.Repeat(1, block + 2).ToArray());  // the weights as [1] scalars
        var sum = alpha[0] * pass.Outputs[0];
        for (int j = 1; j <= block + 1; j++) sum = sum + alpha[j] * pass.Outputs[j];
        return sum;
    }
}

/// <summary>
/// Value residual learning (Zhou et al. 2024, "Value Residual Learning", ResFormer): block i ≥ 1's attention uses
/// v'_i = λ_i1 v_1 + λ_i2 v_i in place of its values v_i, where v_1 is the first attention layer's own values (its
/// value projection, before heads are split); gradients reach v_1 from every later layer. λ_i (<c>depth.value_mix{i}</c>,
/// shape [2]) starts at (½, ½), the paper's fixed ResFormer, and is learned. If block 0 is skipped (a lesion), the
/// first block that runs supplies v_1.
/// </summary>
public sealed class ValueResidualConnections : DepthConnections
{
    /// <summary>λ_i for blocks 1..N-1 (entry i-1), shape [2].</summary>
    public IReadOnlyList<Tensor> Mixes { get; }

    public ValueResidualConnections(int layerCount) : base(copies: 1) =>
        Mixes = Enumerable.Range(1, layerCount - 1).Select(i => Parameter($"value_mix{i}", Tensor.Full(0.5f, 2))).ToArray();

    public override Func<Tensor, Tensor>? Values(DepthPass pass, int block) => values =>
    {
        if (pass.FirstValues is null)
        {
            pass.FirstValues = values;
            return values;
        }
        var lambda = O.Split(Mixes[block - 1], 1, 1);
        return lambda[0] * pass.FirstValues + lambda[1] * values;
    };
}
