// The Llama family's configuration: RMSNorm, SwiGLU, rotary positions, no biases.
namespace ResidualLM.Models;

/// <summary>Configuration of a <see cref="Llama"/> decoder.</summary>
public sealed record LlamaConfig
{
    /// <summary>Number of token ids (V).</summary>
    public int VocabSize { get; init; } = 256;

    /// <summary>Longest sequence (rotary tables are built for it).</summary>
    public int ContextLength { get; init; } = 128;

    /// <summary>Width of the residual stream (C).</summary>
    public int Width { get; init; } = 128;

    /// <summary>Attention heads (NH); must divide <see cref="Width"/> into an even head size.</summary>
    public int HeadCount { get; init; } = 4;

    /// <summary>Number of transformer blocks (N).</summary>
    public int LayerCount { get; init; } = 4;

    /// <summary>SwiGLU hidden width (Llama: about 8/3 C rounded up to a multiple of 32).</summary>
    public int FeedForwardWidth { get; init; } = 352;

    /// <summary>RMSNorm epsilon.</summary>
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>Rotary base: pair i turns by base^(-2i/HS) radians per position.</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>Dropout on attention weights and sublayer outputs, in [0, 1) (Llama uses 0).</summary>
    public float Dropout { get; init; }

    /// <summary>Share the token embedding with the output head.</summary>
    public bool TieWeights { get; init; }

    /// <summary>How each block combines its stream with its sublayers (Llama: pre-norm).</summary>
    public ResidualMode Residual { get; init; } = ResidualMode.PreNorm;

    /// <summary>Throws <see cref="InvalidInputException"/> naming the first field that is out of range.</summary>
    public LlamaConfig Validate()
    {
        ConfigChecks.Positive(VocabSize, nameof(VocabSize));
        ConfigChecks.Positive(ContextLength, nameof(ContextLength));
        ConfigChecks.Positive(Width, nameof(Width));
        ConfigChecks.Positive(LayerCount, nameof(LayerCount));
        ConfigChecks.HeadsDivideWidth(Width, HeadCount);
        if (Width / HeadCount % 2 != 0) throw new InvalidInputException($"head size {Width / HeadCount} must be even for rotary embeddings", field: nameof(HeadCount));
        ConfigChecks.Positive(FeedForwardWidth, nameof(FeedForwardWidth));
        if (!(NormEps > 0f)) throw new InvalidInputException($"must be positive, got {NormEps}", field: nameof(NormEps));
        if (!(RopeTheta > 1f)) throw new InvalidInputException($"must exceed 1, got {RopeTheta}", field: nameof(RopeTheta));
        ConfigChecks.Probability(Dropout, nameof(Dropout));
        ConfigChecks.Defined(Residual);
        return this;
    }

    static readonly Dictionary<string, LlamaConfig> presets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["llama-tiny"] = new(),
        ["test"] = new() { VocabSize = 11, ContextLength = 8, Width = 12, HeadCount = 2, LayerCount = 2, FeedForwardWidth = 20 },
    };

    /// <summary>Names accepted by <see cref="Preset"/>.</summary>
    public static IReadOnlyCollection<string> PresetNames => presets.Keys;

    /// <summary>A named preset (case-insensitive); throws <see cref="InvalidInputException"/> for an unknown name.</summary>
    public static LlamaConfig Preset(string name) => ConfigChecks.Preset(presets, name, "Llama");
}
