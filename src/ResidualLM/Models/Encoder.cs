// A bidirectional pre-norm encoder with a key padding mask and a mean-pooled classification head.
// B batch, T time, C width, K classes.
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Models;

/// <summary>Configuration of an <see cref="Encoder"/> classifier.</summary>
public sealed record EncoderConfig
{
    /// <summary>Number of token ids (V).</summary>
    public int VocabSize { get; init; } = 256;

    /// <summary>Longest sequence, and the size of the learned position table.</summary>
    public int ContextLength { get; init; } = 128;

    /// <summary>Width of the residual stream (C).</summary>
    public int Width { get; init; } = 128;

    /// <summary>Attention heads; must divide <see cref="Width"/>.</summary>
    public int HeadCount { get; init; } = 4;

    /// <summary>Number of encoder blocks.</summary>
    public int LayerCount { get; init; } = 4;

    /// <summary>Number of output classes (K).</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>Dropout on embeddings, attention weights and sublayer outputs, in [0, 1).</summary>
    public float Dropout { get; init; } = 0.1f;

    /// <summary>Throws <see cref="InvalidInputException"/> naming the first field that is out of range.</summary>
    public EncoderConfig Validate()
    {
        ConfigChecks.Positive(VocabSize, nameof(VocabSize));
        ConfigChecks.Positive(ContextLength, nameof(ContextLength));
        ConfigChecks.Positive(Width, nameof(Width));
        ConfigChecks.Positive(LayerCount, nameof(LayerCount));
        ConfigChecks.HeadsDivideWidth(Width, HeadCount);
        ConfigChecks.Positive(ClassCount, nameof(ClassCount));
        ConfigChecks.Probability(Dropout, nameof(Dropout));
        return this;
    }

    static readonly Dictionary<string, EncoderConfig> presets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["encoder-tiny"] = new(),
        ["test"] = new() { VocabSize = 11, ContextLength = 8, Width = 12, HeadCount = 2, LayerCount = 2, ClassCount = 3, Dropout = 0f },
    };

    /// <summary>Names accepted by <see cref="Preset"/>.</summary>
    public static IReadOnlyCollection<string> PresetNames => presets.Keys;

    /// <summary>A named preset (case-insensitive); throws <see cref="InvalidInputException"/> for an unknown name.</summary>
    public static EncoderConfig Preset(string name) => ConfigChecks.Preset(presets, name, "encoder");
}

/// <summary>
/// Bidirectional encoder: a = x + Attention(LayerNorm(x)); out = a + FFN(LayerNorm(a)) per block, padded keys masked,
/// then final LayerNorm, mean over the real positions and a linear classifier. Parameter names as <see cref="Gpt"/>'s,
/// with <c>classifier.weight</c> and <c>classifier.bias</c> for the head.
/// </summary>
public sealed class Encoder : Module
{
    readonly Rng rng;
    readonly Dropout embeddingDropout;

    public EncoderConfig Config { get; }
    public Embedding TokenEmbedding { get; }
    public Embedding PositionEmbedding { get; }
    public ModuleList<TransformerBlock> Blocks { get; }
    public LayerNorm FinalNorm { get; }
    public Linear Classifier { get; }

    public Encoder(EncoderConfig config, ulong seed = 1337)
    {
        Config = config.Validate();
        rng = new Rng(seed);
        int c = config.Width;
        TokenEmbedding = Child("token_embedding", new Embedding(config.VocabSize, c, rng));
        PositionEmbedding = Child("position_embedding", new Embedding(config.ContextLength, c, rng));
        embeddingDropout = Child("dropout", new Dropout(config.Dropout, rng));
        Blocks = Child("blocks", new ModuleList<TransformerBlock>(Enumerable.Range(0, config.LayerCount).Select(_ => new TransformerBlock(
            new PreNormResidual(1, new LayerNorm(c), config.Dropout, rng),
            new Attention(c, config.HeadCount, qkvBias: true, projBias: true, config.Dropout, rng, causal: false),
            new PreNormResidual(2, new LayerNorm(c), config.Dropout, rng),
            new FeedForward(c, 4 * c, bias: true, rng)))));
        FinalNorm = Child("final_norm", new LayerNorm(c));
        Classifier = Child("classifier", new Linear(c, config.ClassCount, bias: true, rng));
        NameParameters();
    }

    /// <summary>
    /// Class logits (B, K) for ids (B*T, row-major); sequence b has <paramref name="lengths"/>[b] real tokens
    /// (1..T), the rest is padding that no position attends to and the pooling ignores. Computed with <see cref="Module.Context"/>.
    /// </summary>
    public Tensor Forward(int[] ids, int batch, int time, int[] lengths)
    {
        var context = Context;
        if (batch <= 0 || time <= 0 || ids.Length != batch * time) throw new InvalidInputException($"{ids.Length} ids do not form a batch of {batch} x {time}", field: "ids");
        if (time > Config.ContextLength) throw new InvalidInputException($"sequence length {time} exceeds the context length {Config.ContextLength}", field: "time");
        if (lengths.Length != batch) throw new InvalidInputException($"{lengths.Length} lengths for a batch of {batch}", field: "lengths");
        var padding = new bool[batch * time];
        var pool = new Tensor(batch, 1, time);                                     // (B, 1, T): 1/length on real positions
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 1 || lengths[b] > time) throw new InvalidInputException($"length {lengths[b]} is outside [1, {time}]", field: "lengths");
            for (int t = 0; t < time; t++)
            {
                padding[b * time + t] = t >= lengths[b];
                pool.Data[b * time + t] = t < lengths[b] ? 1f / lengths[b] : 0f;
            }
        }
        var x = embeddingDropout.Forward(context, TokenEmbedding.Forward(ids, batch, time) + PositionEmbedding.Forward(Enumerable.Range(0, time).ToArray(), time));
        foreach (var block in Blocks.Items) x = block.Forward(context, x, padding);    // (B, T, C)
        x = FinalNorm.Forward(context, x);
        var pooled = O.MatMul(context.Threads, pool, x).Reshape(batch, Config.Width);                // (B, 1, T) x (B, T, C) -> (B, C)
        return Classifier.Forward(context, pooled);                                          // (B, K)
    }

    /// <summary>Mean cross-entropy of class logits (B, K) against labels (B).</summary>
    public static Tensor Loss(Kernels.Parallelism threads, Tensor logits, ReadOnlySpan<int> labels) => O.CrossEntropy(threads, logits, labels);
}
