// The decoder skeleton shared by GPT and Llama: embed, run the blocks, final norm, output head (tied or not).
// B batch, T time, C width, V vocabulary.
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Models;

/// <summary>
/// A causal language model: ids (B, T) -> logits (B, T, V). Subclasses supply the embedding (with or without
/// learned positions) and the blocks; this class runs them and the head.
/// </summary>
public abstract class LanguageModel : Module
{
    /// <summary>The model's own generator: initialisation first, then dropout masks.</summary>
    protected Rng Rng { get; }

    protected LanguageModel(ulong seed) => Rng = new Rng(seed);

    /// <summary>The state of the model's generator (dropout masks), saved in checkpoints for exact resume.</summary>
    public ulong[] GetRngState() => Rng.GetState();

    /// <summary>Restores <see cref="GetRngState"/>.</summary>
    public void SetRngState(ReadOnlySpan<ulong> state) => Rng.SetState(state);

    public abstract int VocabSize { get; }
    public abstract int ContextLength { get; }
    public abstract ResidualMode ResidualMode { get; }

    /// <summary>Token embedding (V, C); also the output matrix when weights are tied.</summary>
    public abstract Embedding TokenEmbedding { get; }

    public abstract ModuleList<TransformerBlock> Blocks { get; }

    public abstract Layer FinalNorm { get; }

    /// <summary>The output head (V, C), or null when it is tied to <see cref="TokenEmbedding"/>.</summary>
    public abstract Linear? Head { get; }

    /// <summary>
    /// Blocks to skip (lesion studies, Veit et al. 2016): a skipped block passes its input through unchanged, as if its
    /// edits were removed (for pre-norm, output = input). Empty by default.
    /// </summary>
    public ISet<int> SkippedBlocks { get; } = new HashSet<int>();

    /// <summary>ids (B*T, row-major) -> the stream entering block 0 (B, T, C).</summary>
    protected abstract Tensor Embed(ComputeContext context, ReadOnlySpan<int> ids, int batch, int time, int startPosition);

    /// <summary>Logits (B, T, V) for <paramref name="ids"/> given row-major as (B, T), computed with the model's <see cref="Module.Context"/>.</summary>
    public Tensor Forward(int[] ids, int batch, int time) => Run(Context, ids, batch, time, null, null);

    /// <summary>
    /// <see cref="Forward(int[], int, int)"/> computed as <paramref name="context"/> says (a data-parallel replica's, say).
    /// </summary>
    public Tensor Forward(ComputeContext context, int[] ids, int batch, int time) => Run(context, ids, batch, time, null, null);

    /// <summary>
    /// Incremental decoding: logits (B, T, V) for <paramref name="ids"/> (B, T) placed after the positions already in
    /// <paramref name="cache"/>, which then holds them too. Same results as a full forward over the whole sequence.
    /// </summary>
    public Tensor Forward(int[] ids, int batch, int time, KvCache cache) => Run(Context, ids, batch, time, null, cache);

    /// <summary>A cache sized for this model's layers and context.</summary>
    public KvCache CreateCache() => new(Blocks.Count, ContextLength);

    /// <summary>Like <see cref="Forward(int[], int, int)"/>, keeping every block's input, output and sublayer outputs.</summary>
    public ForwardTrace ForwardTrace(int[] ids, int batch, int time)
    {
        var traces = new List<BlockTrace>();
        var logits = Run(Context, ids, batch, time, traces, null);
        return new ForwardTrace(logits, traces);
    }

    /// <summary>Mean cross-entropy (nats) of logits (B, T, V) against targets (B*T); targets of -100 are ignored.</summary>
    public static Tensor Loss(Kernels.Parallelism threads, Tensor logits, ReadOnlySpan<int> targets) => O.CrossEntropy(threads, logits, targets);

    /// <summary>
    /// Incremental decoding without the head: the final-normed stream (B, T, C) for <paramref name="ids"/> placed after
    /// the positions in <paramref name="cache"/>. A decoder applies the head to the rows it needs, with the arithmetic
    /// <see cref="Unembed(Tensor)"/> would use for them.
    /// </summary>
    internal Tensor ForwardNormed(int[] ids, int batch, int time, KvCache cache) => Depth.Finish(Context, RunBlocks(Context, ids, batch, time, null, cache), FinalNorm);

    Tensor Run(ComputeContext context, int[] ids, int batch, int time, List<BlockTrace>? traces, KvCache? cache) =>
        ApplyHead(context, Depth.Finish(context, RunBlocks(context, ids, batch, time, traces, cache), FinalNorm));

    // The embedding and every block: the stream leaving the last block (B, T, n·C).
    Tensor RunBlocks(ComputeContext context, int[] ids, int batch, int time, List<BlockTrace>? traces, KvCache? cache)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (batch <= 0 || time <= 0 || ids.Length != batch * time)
            throw new InvalidInputException($"{ids.Length} ids do not form a batch of {batch} x {time}", field: "ids");
        int start = cache?.Length ?? 0;
        if (start + time > ContextLength) throw new InvalidInputException($"sequence length {start + time} exceeds the context length {ContextLength}", field: "time");
        var pass = new DepthPass();
        var x = Depth.Enter(pass, Embed(context, ids, batch, time, start));
        for (int i = 0; i < Blocks.Count; i++)
        {
            var block = Blocks[i];
            BlockTrace? trace = traces is null ? null : new BlockTrace();
            if (SkippedBlocks.Contains(i))
                trace?.RecordSkipped(x);
            else
                x = block.Forward(context, x, trace: trace, startPosition: start, cache: cache?.Layer(i), values: Depth.Values(pass, i));
            if (trace is not null) traces!.Add(trace);
            x = Depth.Leave(context, pass, i, x);
        }
        cache?.Advance(time);
        return x;
    }

    /// <summary>
    /// The connections across blocks of the model's residual policy (<see cref="ResidualPolicy.CreateDepth"/>), parameters
    /// <c>depth.*</c>: the plain chain for most policies.
    /// </summary>
    public DepthConnections Depth { get; private set; } = null!;

    /// <summary>Registers <see cref="Depth"/> for <paramref name="mode"/>; subclasses call it after the blocks, before the final norm.</summary>
    protected void AddDepth(ResidualMode mode, int width, int layerCount) => Depth = Child("depth", ResidualPolicies.Get(mode).CreateDepth(width, layerCount));

    /// <summary>n, the copies of the stream the blocks carry (hyper-connections, ResiDual; 1 for every other policy).</summary>
    public int StreamCopies => Depth.Copies;

    /// <summary>
    /// The stream (B, T, n·C) decoded to logits (B, T, V) through the final norm and the output head, as the model's own
    /// end does (n copies summed first; ResiDual's two streams combined). Applied to the stream after an intermediate
    /// block, this is the "logit lens" (nostalgebraist 2020).
    /// </summary>
    public Tensor Unembed(Tensor x) => ApplyHead(Context, Depth.Finish(Context, x, FinalNorm));

    // The output head on the final-normed stream (B, T, C) -> (B, T, V).
    Tensor ApplyHead(ComputeContext context, Tensor x)
    {
        // Tied weights (Press and Wolf 2017): the head reuses the token table, logits = x E^T.
        if (Head is not null) return Head.Forward(context, x);                             // (B, T, V)
        return TokenEmbedding.Quantized is { } table
            ? O.QuantizedLinear(context.Threads, x, table, TokenEmbedding.Weight, null, context.QuantizedFloatRows)
            : O.MatMul(context.Threads, x, TokenEmbedding.Weight, transposeB: true);
    }

    /// <summary>
    /// Puts every matrix of the blocks and the output head (the token table when tied) in <paramref name="format"/>, with
    /// ggml's rounding, for inference; norms, biases and position tables stay float32, as llama.cpp keeps them. The float
    /// weights are replaced by the values the blocks stand for, so a later float computation uses the same model.
    /// </summary>
    /// <exception cref="InvalidInputException">A matrix whose rows are not whole blocks of 32 values.</exception>
    public void Quantize(Kernels.BlockFormat format)
    {
        foreach (var linear in Linears())
            if (linear.InFeatures % Kernels.BlockQuant.BlockSize != 0)
                throw new InvalidInputException($"{Kernels.BlockQuant.Name(format)} needs matrix rows that are a multiple of {Kernels.BlockQuant.BlockSize} values; this model has a ({linear.OutFeatures}, {linear.InFeatures}) matrix", field: "weights");
        if (Head is null && TokenEmbedding.Weight.Dim(1) % Kernels.BlockQuant.BlockSize != 0)
            throw new InvalidInputException($"{Kernels.BlockQuant.Name(format)} needs a width that is a multiple of {Kernels.BlockQuant.BlockSize}; this model is {TokenEmbedding.Weight.Dim(1)} wide", field: "weights");
        foreach (var linear in Linears()) linear.Quantize(format);
        if (Head is null) TokenEmbedding.Quantize(format);
    }

    /// <summary>The linear layers of the blocks and the head, in order.</summary>
    public IEnumerable<Linear> Linears() => Linears(this);

    static IEnumerable<Linear> Linears(Module module)
    {
        if (module is Linear linear) yield return linear;
        foreach (var (_, child) in module.Children)
            foreach (var inner in Linears(child)) yield return inner;
    }

    /// <summary>How the matrices are stored: "f32", "q8_0", "q4_0", or "mixed (...)" when they differ.</summary>
    public string WeightFormat
    {
        get
        {
            var names = Linears().Select(l => l.Quantized is null ? "f32" : Kernels.BlockQuant.Name(l.Quantized.Format)).ToList();
            if (Head is null) names.Add(TokenEmbedding.Quantized is null ? "f32" : Kernels.BlockQuant.Name(TokenEmbedding.Quantized.Format));
            var distinct = names.Distinct().ToList();
            return distinct.Count == 1 ? distinct[0] : $"mixed ({string.Join(", ", distinct)})";
        }
    }

    /// <summary>Refills a weight with N(0, std^2) draws from the model's generator.</summary>
    protected void Redraw(Tensor weight, float std)
    {
        for (int i = 0; i < weight.Size; i++) weight.Data[i] = std * Rng.NextGaussian();
    }

    /// <summary>
    /// The init each policy expects (<see cref="ResidualPolicy.Initialize"/>: GPT-2's scaled projections, ReZero's zero
    /// gains, DeepNorm's beta-scaled Xavier), applied block by block with the model's generator.
    /// </summary>
    protected void InitializeBlocks(ResidualMode mode, int width)
    {
        var policy = ResidualPolicies.Get(mode);
        foreach (var block in Blocks.Items)
        {
            // The projections that write into the stream, and the ones that only read from it.
            var (writers, reads) = block.FeedForward switch
            {
                FeedForward f => (new[] { block.Attention.Proj, f.Proj }, new[] { f.Fc }),
                SwiGlu g => (new[] { block.Attention.Proj, g.W2 }, new[] { g.W1, g.W3 }),
                _ => throw new InvalidOperationException($"no init rule for {block.FeedForward.GetType().Name}"),
            };
            policy.Initialize(new BlockInit(block, writers, reads, width, Blocks.Count, Rng));
        }
    }
}
