// The Llama family's configuration: RMSNorm, SwiGLU, rotary positions; grouped-query attention, an explicit head
// size, optional biases (Qwen2's q/k/v) and Llama 3's rotary frequency scaling, as the Hugging Face checkpoints use.
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

    /// <summary>Attention (query) heads (NH). Without <see cref="HeadSize"/> they must divide <see cref="Width"/>.</summary>
    public int HeadCount { get; init; } = 4;

    /// <summary>
    /// Key/value heads (grouped-query attention, Ainslie et al. 2023): each serves NH / NKV query heads. Null means one
    /// per query head (multi-head attention); 1 is multi-query attention.
    /// </summary>
    public int? KeyValueHeadCount { get; init; }

    /// <summary>Size of each head (HS, even for rotary pairs). Null means Width / NH; Hugging Face's <c>head_dim</c>.</summary>
    public int? HeadSize { get; init; }

    /// <summary>Biases on the query, key and value projections (Qwen2; Llama's <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }

    /// <summary>Bias on the attention output projection (Llama's <c>attention_bias</c> sets it with <see cref="QkvBias"/>).</summary>
    public bool OutputBias { get; init; }

    /// <summary>Biases on the three SwiGLU projections (Llama's <c>mlp_bias</c>).</summary>
    public bool MlpBias { get; init; }

    /// <summary>Llama 3's rotary frequency scaling for long contexts, or null for plain rotary frequencies.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>Key/value heads in use: <see cref="KeyValueHeadCount"/> or NH.</summary>
    public int KvHeads => KeyValueHeadCount ?? HeadCount;

    /// <summary>Head size in use: <see cref="HeadSize"/> or Width / NH.</summary>
    public int HeadDim => HeadSize ?? Width / HeadCount;

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
        ConfigChecks.Positive(HeadCount, nameof(HeadCount));
        if (HeadSize is int size)
        {
            ConfigChecks.Positive(size, nameof(HeadSize));
            if (size % 2 != 0) throw new InvalidInputException($"head size {size} must be even for rotary embeddings", field: nameof(HeadSize));
        }
        else
        {
            ConfigChecks.HeadsDivideWidth(Width, HeadCount);
            if (Width / HeadCount % 2 != 0) throw new InvalidInputException($"head size {Width / HeadCount} must be even for rotary embeddings", field: nameof(HeadCount));
        }
        if (KeyValueHeadCount is int kv)
        {
            ConfigChecks.Positive(kv, nameof(KeyValueHeadCount));
            if (HeadCount % kv != 0)
                throw new InvalidInputException($"{kv} key/value heads do not divide {HeadCount} query heads", field: nameof(KeyValueHeadCount));
        }
        RopeScaling?.Validate();
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

/// <summary>
/// Llama 3's rotary scaling (<c>rope_type: "llama3"</c>): frequencies whose wavelength exceeds
/// <see cref="OriginalContextLength"/> / <see cref="LowFrequencyFactor"/> are divided by <see cref="Factor"/>, those
/// shorter than <see cref="OriginalContextLength"/> / <see cref="HighFrequencyFactor"/> are kept, and those between are
/// interpolated smoothly.
/// </summary>
public sealed record RopeScaling(double Factor, double LowFrequencyFactor, double HighFrequencyFactor, int OriginalContextLength)
{
    /// <summary>Throws <see cref="InvalidInputException"/> naming the first field out of range.</summary>
    public RopeScaling Validate()
    {
        if (!(Factor >= 1)) throw new InvalidInputException($"must be at least 1, got {Factor}", field: "rope_scaling.factor");
        if (!(LowFrequencyFactor > 0)) throw new InvalidInputException($"must be positive, got {LowFrequencyFactor}", field: "rope_scaling.low_freq_factor");
        if (!(HighFrequencyFactor > LowFrequencyFactor))
            throw new InvalidInputException($"must exceed low_freq_factor {LowFrequencyFactor}, got {HighFrequencyFactor}", field: "rope_scaling.high_freq_factor");
        if (OriginalContextLength <= 0) throw new InvalidInputException($"must be positive, got {OriginalContextLength}", field: "rope_scaling.original_max_position_embeddings");
        return this;
    }

    /// <summary>The scaled inverse frequencies for unscaled <paramref name="inverseFrequencies"/> (radians per position).</summary>
    public double[] Apply(ReadOnlySpan<double> inverseFrequencies)
    {
        double lowWavelength = OriginalContextLength / LowFrequencyFactor, highWavelength = OriginalContextLength / HighFrequencyFactor;
        var scaled = new double[inverseFrequencies.Length];
        for (int i = 0; i < scaled.Length; i++)
        {
            double frequency = inverseFrequencies[i], wavelength = 2 * Math.PI / frequency;
            if (wavelength < highWavelength) scaled[i] = frequency;
            else if (wavelength > lowWavelength) scaled[i] = frequency / Factor;
            else
            {
                double smooth = (OriginalContextLength / wavelength - LowFrequencyFactor) / (HighFrequencyFactor - LowFrequencyFactor);
                scaled[i] = (1 - smooth) * frequency / Factor + smooth * frequency;
            }
        }
        return scaled;
    }
}
