// What a training run is made of: data source, tokenizer, model shape and optimisation options, in one record that
// is saved with every checkpoint so `--resume` rebuilds exactly the same run.
using ResidualLM.Distributed;
using ResidualLM.Models;

namespace ResidualLM.Training;

/// <summary>
/// A complete description of a training run (the CLI's options, validated). The defaults are those of <c>rlm train</c>
/// (the command reads them from here) and of the README's table.
/// </summary>
public sealed record TrainingSpec
{
    /// <summary>Text file to train on; null for the built-in generated corpus.</summary>
    public string? DataPath { get; init; }

    /// <summary>Characters of built-in corpus to generate (train + validation).</summary>
    public int CorpusCharacters { get; init; } = 1_000_000;

    /// <summary>How text becomes token ids.</summary>
    public TokenizerKind Tokenizer { get; init; } = TokenizerKind.Char;

    /// <summary>Folder with encoder.json/vocab.bpe or vocab.json/merges.txt for the GPT-2 tokenizer (null: <see cref="Text.Gpt2Tokenizer.BuiltIn"/>).</summary>
    public string? VocabDirectory { get; init; }

    /// <summary>Merges to learn for the "bpe" tokenizer.</summary>
    public int BpeMerges { get; init; } = 512;

    /// <summary>Fraction of the tokens used for training; the rest validates.</summary>
    public double TrainFraction { get; init; } = 0.9;

    /// <summary>Random offsets (nanoGPT) or sliding windows shuffled per epoch (the book).</summary>
    public SamplerKind Sampler { get; init; } = SamplerKind.Random;

    /// <summary>Stride between sliding windows (default: the context, i.e. non-overlapping).</summary>
    public int? Stride { get; init; }

    /// <summary>With sliding windows: run this many epochs (overrides the step count).</summary>
    public int? Epochs { get; init; }

    /// <summary>Model family.</summary>
    public ModelArchitecture Architecture { get; init; } = ModelArchitecture.Gpt;

    /// <summary>Named model shape to start from (its vocabulary is replaced by the tokenizer's).</summary>
    public ModelPreset Preset { get; init; } = ModelPreset.Tiny;

    /// <summary>Overrides of the preset (null: keep the preset's value).</summary>
    public int? Layers { get; init; }
    public int? Heads { get; init; }

    /// <summary>Key/value heads of a Llama model (grouped-query attention; null: one per query head).</summary>
    /// <remarks>Left out of trainer_state.json when null, so states written before it existed read and write back unchanged.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? KvHeads { get; init; }
    public int? Width { get; init; }
    public int? ModelContext { get; init; }
    public float? Dropout { get; init; }
    public ResidualMode? Residual { get; init; }

    /// <summary>How a new model's weights are drawn.</summary>
    public WeightInit Init { get; init; } = WeightInit.Gpt2;

    /// <summary>Optimisation options.</summary>
    public TrainingOptions Options { get; init; } = new();

    /// <summary>Run folder for checkpoints, metrics and samples (null: no files).</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Tokens generated as a sample at each evaluation (0: none).</summary>
    public int SampleTokens { get; init; } = 120;

    /// <summary>
    /// Replicas each batch is split into (<see cref="Training.DataParallel"/>; 0: chosen from the model and threads,
    /// 1: off). How to run, like the thread count, not what to compute: not saved with the run.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int DataParallel { get; init; }

    /// <summary>
    /// How several processes share the run (<see cref="DistributedKind.Mpi"/>: one rank per process under mpirun, each
    /// taking <see cref="TrainingOptions.BatchSize"/> sequences of every global batch). How to run: not saved with the run.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public DistributedKind Distributed { get; init; }

    /// <summary>
    /// Megabytes of gradients per all-reduce of a distributed run, reduced while backward runs (0: one all-reduce of
    /// every gradient after backward). How to run: not saved with the run.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double BucketMegabytes { get; init; } = Trainer.DefaultBucketMegabytes;

    // Upper limits: far above what trains on a CPU, low enough that no size computed from them overflows.
    const int MaxCorpusCharacters = 100_000_000, MaxBpeMerges = 1 << 20, MaxLayers = 10_000, MaxWidth = 1 << 16, MaxContext = 1 << 20;

    /// <summary>Throws <see cref="InvalidInputException"/> naming the first bad field (file checks happen when data loads).</summary>
    public void Validate()
    {
        Defined(Tokenizer, nameof(Tokenizer));
        Defined(Init, nameof(Init));
        Defined(Sampler, nameof(Sampler));
        Defined(Architecture, nameof(Architecture));
        Defined(Preset, nameof(Preset));
        Defined(Distributed, nameof(Distributed));
        ModelFactory.RequirePreset(Architecture, Preset);
        if (CorpusCharacters is < 1000 or > MaxCorpusCharacters) throw new InvalidInputException($"must be between 1000 and {MaxCorpusCharacters}, got {CorpusCharacters}", field: nameof(CorpusCharacters));
        if (BpeMerges is < 1 or > MaxBpeMerges) throw new InvalidInputException($"must be between 1 and {MaxBpeMerges}, got {BpeMerges}", field: nameof(BpeMerges));
        if (Residual is ResidualMode mode && !Enum.IsDefined(mode)) throw new InvalidInputException($"is not a residual policy ({(int)mode})", field: nameof(Residual));
        if (Init == WeightInit.Admin && Residual is ResidualMode other && other != ResidualMode.Admin)
            throw new InvalidInputException($"admin sets the shortcut weights of the admin residual policy, not of {ResidualPolicies.Get(other).Name} (leave the policy out, or use it with another init)", field: nameof(Init));
        if (!(TrainFraction > 0 && TrainFraction < 1)) throw new InvalidInputException($"must be in (0, 1), got {TrainFraction}", field: nameof(TrainFraction));
        if (Stride is <= 0) throw new InvalidInputException($"must be positive, got {Stride}", field: nameof(Stride));
        if (Epochs is <= 0) throw new InvalidInputException($"must be positive, got {Epochs}", field: nameof(Epochs));
        if (Epochs is not null && Sampler != SamplerKind.Windows) throw new InvalidInputException("applies only to the windows sampler", field: nameof(Epochs));
        if (SampleTokens < 0) throw new InvalidInputException($"must be >= 0, got {SampleTokens}", field: nameof(SampleTokens));
        if (Dropout is float p && !(p >= 0f && p < 1f)) throw new InvalidInputException($"must be in [0, 1), got {p}", field: nameof(Dropout));
        foreach (var (value, name, max) in new[] { (Layers, nameof(Layers), MaxLayers), (Heads, nameof(Heads), MaxWidth), (Width, nameof(Width), MaxWidth), (ModelContext, nameof(ModelContext), MaxContext) })
            if (value is <= 0 || value > max) throw new InvalidInputException($"must be between 1 and {max}, got {value}", field: name);
        if (KvHeads is int kv)
        {
            if (Architecture != ModelArchitecture.Llama)
                throw new InvalidInputException("applies to the Llama architecture only (GPT has one key/value head per query head)", field: nameof(KvHeads));
            if (kv < 1) throw new InvalidInputException($"must be at least 1, got {kv}", field: nameof(KvHeads));
        }
        if (Heads is int heads && Width is int width && width % heads != 0)
            throw new InvalidInputException($"{heads} heads do not divide width {width} (each head gets width / heads channels)", field: nameof(Heads));
        // After the model's sizes: the default context comes from the model's, so a bad one is reported as itself.
        Options.Validate();
    }

    /// <summary>Refuses a value cast from a number that names no member (a value read from JSON is always a member).</summary>
    static void Defined<T>(T value, string field) where T : struct, Enum
    {
        if (!Enum.IsDefined(value)) throw new InvalidInputException($"must be {ChoiceNames.Alternatives<T>()}, got {value}", field: field);
    }
}
