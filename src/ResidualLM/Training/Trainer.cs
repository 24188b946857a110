// The optimisation loop: micro-batches with gradient accumulation, clipping, AdamW with a schedule, non-finite
// guards and evaluation on fixed validation batches. Knows nothing of files or terminals (see Checkpoint, the CLI).
using System.Diagnostics;
using ResidualLM.Autograd;
using ResidualLM.Models;
using ResidualLM.Nn;

namespace ResidualLM.Training;

/// <summary>What one optimizer step did.</summary>
/// <param name="Step">One-based index of the step just taken.</param>
/// <param name="Loss">Mean training loss over its micro-batches (nats per token).</param>
/// <param name="LearningRate">Rate used for this step.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
/// <param name="Tokens">Tokens processed.</param>
/// <param name="Seconds">Wall time of the step.</param>
/// <param name="Skipped">True when the step was skipped because of a non-finite loss or gradient.</param>
public sealed record StepResult(int Step, double Loss, double LearningRate, double GradientNorm, int Tokens, double Seconds, bool Skipped);

/// <summary>Raised when a loss or gradient is NaN or infinite and skipping is off.</summary>
public sealed class NonFiniteException(string message) : Exception(message);

/// <summary>Trains a language model: logits = forward(ids, batch, time), loss = cross-entropy against the next tokens.</summary>
public sealed class Trainer
{
    readonly Module model;
    readonly Func<ComputeContext, int[], int, int, Tensor> forward;
    readonly IBatchSampler trainBatches;
    readonly List<(int[] Inputs, int[] Targets)> validationBatches, trainEvaluationBatches;
    readonly LearningRateSchedule schedule;
    readonly IReadOnlyList<(string Name, Tensor Tensor)> parameters;

    /// <summary>The optimizer (its state is part of a checkpoint).</summary>
    public AdamW Optimizer { get; }

    /// <summary>The options this trainer runs with.</summary>
    public TrainingOptions Options { get; }

    /// <summary>Optimizer steps taken so far.</summary>
    public int Step { get; private set; }

    /// <summary>The training batch sampler (its state is part of a checkpoint).</summary>
    public IBatchSampler TrainBatches => trainBatches;

    /// <summary>Replicas each training batch is split into (1: every op uses the threads itself); see <see cref="DataParallel"/>.</summary>
    public int Shards => dataParallel?.Shards ?? 1;

    readonly DataParallel? dataParallel;

    /// <summary>
    /// A trainer of <paramref name="model"/> through <paramref name="forward"/> (context, ids, B, T) -> logits (B, T, V),
    /// called with the model's <see cref="Module.Context"/> (or a data-parallel replica's). With
    /// <paramref name="dataParallel"/> 0 the trainer chooses how many replicas a batch is split into
    /// (<see cref="DataParallel.ChooseShards"/>); 1 turns that off; N asks for N.
    /// </summary>
    public Trainer(Module model, Func<ComputeContext, int[], int, int, Tensor> forward, TrainingOptions options,
        IBatchSampler trainBatches, IBatchSampler? validationBatches, IBatchSampler? trainEvaluationBatches = null, int dataParallel = 0)
    {
        options.Validate();
        if (dataParallel < 0) throw new InvalidInputException($"must be >= 0, got {dataParallel}", field: nameof(TrainingSpec.DataParallel));
        int shards = DataParallel.ChooseShards(model, options.BatchSize, model.Context.Threads.ThreadCount, dataParallel);
        if (shards > 1) this.dataParallel = new DataParallel(model, shards);
        this.model = model;
        this.forward = forward;
        this.trainBatches = trainBatches;
        Options = options;
        schedule = options.Schedule();
        parameters = model.NamedParameters();
        Optimizer = new AdamW(parameters, new AdamWSettings
        {
            LearningRate = (float)options.LearningRate, Beta1 = (float)options.Beta1, Beta2 = (float)options.Beta2,
            Epsilon = 1e-8f, WeightDecay = (float)options.WeightDecay,
        }, threads: model.Context.Threads);
        // Fixed batches, drawn once, so every evaluation measures the same tokens.
        this.validationBatches = Draw(validationBatches, options);
        this.trainEvaluationBatches = Draw(trainEvaluationBatches, options);
    }

    static List<(int[] Inputs, int[] Targets)> Draw(IBatchSampler? sampler, TrainingOptions options)
    {
        var batches = new List<(int[] Inputs, int[] Targets)>();
        if (sampler is null) return batches;
        for (int i = 0; i < options.EvalBatches; i++)
        {
            var inputs = new int[options.BatchSize * options.Context];
            var targets = new int[inputs.Length];
            sampler.NextBatch(inputs, targets);
            batches.Add((inputs, targets));
        }
        return batches;
    }

    /// <summary>Restores the step counter after loading a checkpoint.</summary>
    public void RestoreStep(int step) => Step = step;

    /// <summary>Runs one optimizer step over <see cref="TrainingOptions.GradientAccumulation"/> micro-batches.</summary>
    public StepResult TrainStep()
    {
        var clock = Stopwatch.StartNew();
        model.Train();
        model.ZeroGrad();
        int b = Options.BatchSize, t = Options.Context, micro = Options.GradientAccumulation;
        var inputs = new int[b * t];
        var targets = new int[b * t];
        double lossSum = 0;
        for (int m = 0; m < micro; m++)
        {
            trainBatches.NextBatch(inputs, targets);
            if (dataParallel is not null)
            {
                lossSum += dataParallel.ForwardBackward(forward, inputs, targets, b, t, micro == 1 ? 1f : 1f / micro);
                continue;
            }
            var logits = forward(model.Context, inputs, b, t);
            var loss = LanguageModel.Loss(model.Context.Threads, logits.Reshape(b * t, -1), targets);
            lossSum += loss.Item();
            // Average over micro-batches: each contributes 1/micro of the gradient. The graph's buffers (logits,
            // activations) are reused by the next micro-batch: nothing here reads them after backward.
            (micro == 1 ? loss : loss * (1f / micro)).Backward(reuseBuffers: true);
        }
        double meanLoss = lossSum / micro;
        double lr = schedule.At(Step);
        double norm = GradientClipping.GlobalNorm(parameters.Select(p => p.Tensor), model.Context.Threads);
        bool finite = double.IsFinite(meanLoss) && double.IsFinite(norm);
        if (!finite)
        {
            string where = double.IsFinite(meanLoss) ? $"gradient of {FirstNonFinite(grad: true)} is not finite"
                : FirstNonFinite(grad: false) is var poisoned and not "(unknown)" ? $"loss is {meanLoss}: parameter {poisoned} holds non-finite values"
                : $"loss is {meanLoss}";
            if (!Options.SkipNonFinite)
                throw new NonFiniteException($"step {Step + 1}: {where}; stopping (the last checkpoint is kept)");
            model.ZeroGrad();
            Step++;
            return new StepResult(Step, meanLoss, lr, norm, b * t * micro, clock.Elapsed.TotalSeconds, Skipped: true);
        }
        if (Options.GradientClip > 0) GradientClipping.ClipByGlobalNorm(parameters.Select(p => p.Tensor).ToList(), Options.GradientClip, norm);
        Optimizer.LearningRate = (float)lr;
        Optimizer.Step();
        model.ZeroGrad(reuseBuffers: true);
        Step++;
        return new StepResult(Step, meanLoss, lr, norm, b * t * micro, clock.Elapsed.TotalSeconds, Skipped: false);
    }

    /// <summary>The first parameter (in model order, so the earliest layer) whose gradient or value is not finite.</summary>
    string FirstNonFinite(bool grad)
    {
        foreach (var (name, tensor) in parameters)
        {
            float[]? values = grad ? tensor.Grad?.Data : tensor.Data;
            if (values is not null && !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(values)) return name;
        }
        return "(unknown)";
    }

    /// <summary>Whether the trainer was given validation batches (else <see cref="Evaluate"/> is NaN).</summary>
    public bool HasValidation => validationBatches.Count > 0;

    /// <summary>Mean loss over the fixed validation batches, in evaluation mode; NaN when there is no validation data.</summary>
    public double Evaluate() => MeanLoss(validationBatches);

    /// <summary>
    /// Mean loss over fixed batches of the training split, in evaluation mode (no dropout), as nanoGPT's and the
    /// book's reported "train loss"; NaN when no such batches were given.
    /// </summary>
    public double EvaluateTrain() => MeanLoss(trainEvaluationBatches);

    double MeanLoss(List<(int[] Inputs, int[] Targets)> batches)
    {
        if (batches.Count == 0) return double.NaN;
        model.Eval();
        double sum = 0;
        using (Graph.NoGrad())
            foreach (var (inputs, targets) in batches)
            {
                var logits = forward(model.Context, inputs, Options.BatchSize, Options.Context);
                sum += LanguageModel.Loss(model.Context.Threads, logits.Reshape(inputs.Length, -1), targets).Item();
            }
        model.Train();
        return sum / batches.Count;
    }

    /// <summary>Whether an evaluation is due after the step just taken.</summary>
    public bool EvaluationDue => Step == Options.Steps || (Options.EvalInterval > 0 && Step % Options.EvalInterval == 0);
}
