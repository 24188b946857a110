// The GPT-2 family's configuration: one record, named presets, and validation with the field named on failure.
namespace ResidualLM.Models;

/// <summary>Configuration of a <see cref="Gpt"/> decoder. Defaults are GPT_CONFIG_124M of "Build a Large Language Model (from Scratch)".</summary>
public sealed record GptConfig
{
    /// <summary>Number of token ids (V).</summary>
    public int VocabSize { get; init; } = 50257;

    /// <summary>Longest sequence, and the size of the learned position table (T max).</summary>
    public int ContextLength { get; init; } = 1024;

    /// <summary>Width of the residual stream, the embedding size (C; the book's emb_dim).</summary>
    public int Width { get; init; } = 768;

    /// <summary>Attention heads per block (NH); must divide <see cref="Width"/>.</summary>
    public int HeadCount { get; init; } = 12;

    /// <summary>Number of transformer blocks (N).</summary>
    public int LayerCount { get; init; } = 12;

    /// <summary>Dropout probability on embeddings, attention weights and every sublayer output, in [0, 1).</summary>
    public float Dropout { get; init; } = 0.1f;

    /// <summary>Bias on the fused qkv projection (false in the book, true in OpenAI's GPT-2). Other linears always have a bias.</summary>
    public bool QkvBias { get; init; }

    /// <summary>Share the token embedding with the output head (GPT-2 does; the book's 124M model does not).</summary>
    public bool TieWeights { get; init; }

    /// <summary>How each block combines its stream with its sublayers.</summary>
    public ResidualMode Residual { get; init; } = ResidualMode.PreNorm;

    /// <summary>Hidden width of the feed-forward sublayer; null means 4 x <see cref="Width"/>.</summary>
    public int? FeedForwardWidth { get; init; }

    /// <summary>Use exact (erf) GELU instead of GPT-2's tanh approximation.</summary>
    public bool ExactGelu { get; init; }

    /// <summary>Epsilon of every LayerNorm (GPT-2's layer_norm_epsilon; PyTorch's default 1e-5).</summary>
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>
    /// Initialise as PyTorch's modules do by default (embeddings N(0, 1); linear weights and biases
    /// U(-1/sqrt(in), 1/sqrt(in))), as the book's GPTModel is, instead of GPT-2's N(0, 0.02) scheme.
    /// </summary>
    public bool TorchDefaultInit { get; init; }

    /// <summary>The feed-forward hidden width in effect.</summary>
    public int HiddenWidth => FeedForwardWidth ?? 4 * Width;

    /// <summary>
    /// Parameter count from the config alone (no allocation), with the head counted once if tied. Per block:
    /// two policies (two LayerNorms 4C; ReZero 2, LayerScale 4C + 2C, none 0), qkv 3C^2 (+3C bias), proj C^2 + C, FFN 2CH + H + C; plus
    /// embeddings (V + T) C, the policy's connections across blocks (DenseFormer N(N+3)/2, value residual 2(N-1)), final norm 2C and,
    /// untied, the head V C.
    /// </summary>
    public long CountParameters()
    {
        long c = Width, h = HiddenWidth, norms = 2 * ResidualPolicies.Get(Residual).SlotParameters(2 * c, c);
        long block = norms + 3 * c * c + (QkvBias ? 3 * c : 0) + c * c + c + 2 * c * h + h + c;
        return (VocabSize + ContextLength) * c + LayerCount * block + ResidualPolicies.Get(Residual).CountDepthParameters(LayerCount, c) + 2 * c +
               (TieWeights ? 0 : (long)VocabSize * c);
    }

    /// <summary>Throws <see cref="InvalidInputException"/> naming the first field that is out of range.</summary>
    public GptConfig Validate()
    {
        ConfigChecks.Positive(VocabSize, nameof(VocabSize));
        ConfigChecks.Positive(ContextLength, nameof(ContextLength));
        ConfigChecks.Positive(Width, nameof(Width));
        ConfigChecks.Positive(LayerCount, nameof(LayerCount));
        ConfigChecks.HeadsDivideWidth(Width, HeadCount);
        ConfigChecks.Probability(Dropout, nameof(Dropout));
        ConfigChecks.Positive(HiddenWidth, nameof(FeedForwardWidth));
        ConfigChecks.Defined(Residual);
        if (!(NormEps > 0f && float.IsFinite(NormEps))) throw new InvalidInputException($"must be positive, got {NormEps}", field: nameof(NormEps));
        return this;
    }

    static readonly Dictionary<string, GptConfig> presets = new(StringComparer.OrdinalIgnoreCase)
    {
        // GPT_CONFIG_124M, chapter 4 of the book: untied head, no qkv bias.
        ["gpt2-124m"] = new(),
        // Hugging Face / OpenAI GPT-2 small: qkv bias, tied head (124,439,808 parameters).
        ["gpt2"] = new() { QkvBias = true, TieWeights = true },
        // nanoGPT's CPU Shakespeare-char run.
        ["shakespeare-char"] = new() { VocabSize = 65, ContextLength = 64, Width = 128, HeadCount = 4, LayerCount = 4, Dropout = 0f },
        // Deep and narrow: for residual-policy experiments at depth.
        ["deep-narrow"] = new() { VocabSize = 256, ContextLength = 64, Width = 64, HeadCount = 4, LayerCount = 48, Dropout = 0f },
        // Default of `rlm train`: byte vocabulary, trains in minutes on a CPU.
        ["tiny"] = new() { VocabSize = 256, ContextLength = 128, Width = 128, HeadCount = 4, LayerCount = 4, Dropout = 0f, TieWeights = true },
        // Tests: odd sizes so that transposed indices show.
        ["test"] = new() { VocabSize = 11, ContextLength = 8, Width = 12, HeadCount = 2, LayerCount = 2, Dropout = 0f, QkvBias = true },
        ["test-deep"] = new() { VocabSize = 11, ContextLength = 8, Width = 8, HeadCount = 2, LayerCount = 16, Dropout = 0f },
    };

    /// <summary>Names accepted by <see cref="Preset"/>.</summary>
    public static IReadOnlyCollection<string> PresetNames => presets.Keys;

    /// <summary>A named preset (case-insensitive); throws <see cref="InvalidInputException"/> for an unknown name.</summary>
    public static GptConfig Preset(string name) => ConfigChecks.Preset(presets, name, "GPT");
}
