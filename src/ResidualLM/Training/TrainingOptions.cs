// Hyper-parameters of a training run, validated before any work starts.
namespace ResidualLM.Training;

/// <summary>
/// Everything that controls the optimisation loop (not the model's shape, not the data source). The defaults are
/// those of <c>rlm train</c> (the command reads them from here) and of the README's table.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Optimizer steps to run in total.</summary>
    public int Steps { get; init; } = 2000;

    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Tokens per sequence (at most the model's context length).</summary>
    public int Context { get; init; } = 64;

    /// <summary>Micro-batches whose gradients are summed (averaged) before each optimizer step.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Floor of the cosine decay; by default a tenth of the peak (nanoGPT).</summary>
    public double? MinLearningRate { get; init; }

    /// <summary>Linear warmup steps.</summary>
    public int WarmupSteps { get; init; } = 50;

    /// <summary>False keeps the rate constant after warmup (the book's chapter-5 run).</summary>
    public bool CosineDecay { get; init; } = true;

    /// <summary>Decoupled weight decay, applied to matrices (not to biases, norm weights or scalars).</summary>
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>AdamW first-moment decay.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW second-moment decay (nanoGPT uses 0.99 for small models, 0.95 for GPT-2).</summary>
    public double Beta2 { get; init; } = 0.99;

    /// <summary>Clip gradients to this global norm (0: no clipping).</summary>
    public double GradientClip { get; init; } = 1.0;

    /// <summary>Evaluate on the validation split every N steps (and at the end); 0 only at the end.</summary>
    public int EvalInterval { get; init; } = 500;

    /// <summary>Validation batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 20;

    /// <summary>Save a checkpoint every N steps (0: at each evaluation).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Skip (instead of stopping at) steps whose loss or gradient is not finite.</summary>
    public bool SkipNonFinite { get; init; }

    /// <summary>Seed for initialisation, data order, dropout and sampling.</summary>
    public int Seed { get; init; } = 1337;

    // Every micro-batch and the fixed validation batches are allocated up front: limits keep those sizes in range.
    const long MaxBatchTokens = 1 << 24, MaxValidationTokens = 1 << 26;

    /// <summary>Throws <see cref="InvalidInputException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        Positive(Steps, nameof(Steps)); Positive(BatchSize, nameof(BatchSize)); Positive(Context, nameof(Context));
        Positive(GradientAccumulation, nameof(GradientAccumulation));
        if ((long)BatchSize * Context > MaxBatchTokens)
            throw new InvalidInputException($"{BatchSize} x {Context} = {(long)BatchSize * Context} tokens per micro-batch, more than the limit of {MaxBatchTokens}", field: nameof(BatchSize));
        if (!(LearningRate > 0 && LearningRate < 10)) throw new InvalidInputException($"must be in (0, 10), got {LearningRate}", field: nameof(LearningRate));
        if (MinLearningRate is double min && !(min >= 0 && min <= LearningRate)) throw new InvalidInputException($"must be in [0, the peak learning rate {LearningRate}], got {min}", field: nameof(MinLearningRate));
        if (WarmupSteps < 0) throw new InvalidInputException($"must be >= 0, got {WarmupSteps}", field: nameof(WarmupSteps));
        if (!(WeightDecay >= 0 && WeightDecay < 10)) throw new InvalidInputException($"must be in [0, 10), got {WeightDecay}", field: nameof(WeightDecay));
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new InvalidInputException($"must be in [0, 1), got {Beta1}", field: nameof(Beta1));
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new InvalidInputException($"must be in [0, 1), got {Beta2}", field: nameof(Beta2));
        if (!(GradientClip >= 0)) throw new InvalidInputException($"must be >= 0, got {GradientClip}", field: nameof(GradientClip));
        if (EvalInterval < 0) throw new InvalidInputException($"must be >= 0, got {EvalInterval}", field: nameof(EvalInterval));
        Positive(EvalBatches, nameof(EvalBatches));
        if ((long)EvalBatches * BatchSize * Context > MaxValidationTokens)
            throw new InvalidInputException($"{EvalBatches} batches of {BatchSize} x {Context} tokens are more than the limit of {MaxValidationTokens} validation tokens", field: nameof(EvalBatches));
        if (CheckpointInterval < 0) throw new InvalidInputException($"must be >= 0, got {CheckpointInterval}", field: nameof(CheckpointInterval));
    }

    /// <summary>The schedule these options describe.</summary>
    public LearningRateSchedule Schedule() =>
        new(LearningRate, MinLearningRate ?? LearningRate / 10, Math.Min(WarmupSteps, Steps), Steps, CosineDecay);

    static void Positive(int value, string field)
    {
        if (value <= 0) throw new InvalidInputException($"must be a positive number, got {value}", field: field);
    }
}
