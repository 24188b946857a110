// The optimisation loop: micro-batches with gradient accumulation, clipping, AdamW with a schedule, non-finite
// guards and evaluation on fixed validation batches. Knows nothing of files or terminals (see Checkpoint, the CLI).
using System.Diagnostics;
using ResidualLM.Autograd;
using ResidualLM.Distributed;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;

namespace ResidualLM.Training;

/// <summary>What one optimizer step did.</summary>
/// <param name="Step">One-based index of the step just taken.</param>
/// <param name="Loss">Mean training loss over its micro-batches (nats per token).</param>
/// <param name="LearningRate">Rate used for this step.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
/// <param name="Tokens">Tokens processed (by all ranks of a distributed run).</param>
/// <param name="Seconds">Wall time of the step.</param>
/// <param name="Skipped">True when the step was skipped because of a non-finite loss or gradient.</param>
/// <param name="ReduceSeconds">Of a distributed run: seconds inside the gradient all-reduce (partly hidden behind backward when overlapped).</param>
/// <param name="ExposedReduceSeconds">Of a distributed run: seconds the step waited for the gradient all-reduce after backward.</param>
public sealed record StepResult(int Step, double Loss, double LearningRate, double GradientNorm, int Tokens, double Seconds, bool Skipped,
    double ReduceSeconds = 0, double ExposedReduceSeconds = 0);

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

    /// <summary>The processes this run is shared with (a single process unless distributed).</summary>
    public ICommunicator Communicator { get; }

    readonly GradientAverager? averager;
    readonly Rng? sharedMasks;

    /// <summary>The gradient all-reduce of a distributed run (null in one process).</summary>
    public GradientAverager? Averager => averager;

    /// <summary>Bucket size of the gradient all-reduce when none is given: PyTorch DDP's default of 25 MB.</summary>
    public const double DefaultBucketMegabytes = 25;

    /// <summary>
    /// A trainer of <paramref name="model"/> through <paramref name="forward"/> (context, ids, B, T) -> logits (B, T, V),
    /// called with the model's <see cref="Module.Context"/> (or a data-parallel replica's). With
    /// <paramref name="dataParallel"/> 0 the trainer chooses how many replicas a batch is split into
    /// (<see cref="DataParallel.ChooseShards"/>); 1 turns that off; N asks for N.
    /// With a <paramref name="communicator"/> of N ranks, every sampler must draw global batches of N x
    /// <see cref="TrainingOptions.BatchSize"/> sequences (the same ones on every rank: same data, same seed); this rank
    /// trains and evaluates on its slice [rank x B, (rank + 1) x B) of each, gradients and losses are averaged over the
    /// ranks, and every rank must start from the same weights (checked here).
    /// </summary>
    public Trainer(Module model, Func<ComputeContext, int[], int, int, Tensor> forward, TrainingOptions options,
        IBatchSampler trainBatches, IBatchSampler? validationBatches, IBatchSampler? trainEvaluationBatches = null, int dataParallel = 0,
        ICommunicator? communicator = null, double bucketMegabytes = DefaultBucketMegabytes)
    {
        Communicator = communicator ?? SingleProcessCommunicator.Instance;
        int ranks = Communicator.Size;
        foreach (var sampler in new[] { trainBatches, validationBatches, trainEvaluationBatches })
            if (sampler is not null && sampler.BatchSize != options.BatchSize * ranks)
                throw new ArgumentException($"a sampler draws batches of {sampler.BatchSize} sequences; {ranks} rank(s) of {options.BatchSize} need {options.BatchSize * ranks}");
        if (ranks > 1) RequireSameWeights(model, Communicator);
        if (!(bucketMegabytes >= 0 && bucketMegabytes <= 1 << 20))
            throw new InvalidInputException($"must be between 0 and {1 << 20} (megabytes per all-reduce bucket; 0: one all-reduce after backward), got {bucketMegabytes}", field: nameof(TrainingSpec.BucketMegabytes));
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
        if (ranks > 1)
        {
            // Buckets reduced while backward runs (bucket 0: one all-reduce of everything after backward).
            averager = GradientAverager.WithBuckets(parameters.Select(p => p.Tensor), Communicator, bucketMegabytes);
            sharedMasks = DataParallel.ActiveDropout(model)?.Generator(model.Context);
        }
        // Fixed batches, drawn once, so every evaluation measures the same tokens.
        this.validationBatches = Draw(validationBatches, options, Communicator);
        this.trainEvaluationBatches = Draw(trainEvaluationBatches, options, Communicator);
    }

    /// <summary>The fixed evaluation batches: this rank's slice of each global batch the sampler draws.</summary>
    static List<(int[] Inputs, int[] Targets)> Draw(IBatchSampler? sampler, TrainingOptions options, ICommunicator communicator)
    {
        var batches = new List<(int[] Inputs, int[] Targets)>();
        if (sampler is null) return batches;
        int local = options.BatchSize * options.Context;
        var inputs = new int[local * communicator.Size];
        var targets = new int[inputs.Length];
        for (int i = 0; i < options.EvalBatches; i++)
        {
            sampler.NextBatch(inputs, targets);
            batches.Add((inputs.AsSpan(communicator.Rank * local, local).ToArray(), targets.AsSpan(communicator.Rank * local, local).ToArray()));
        }
        return batches;
    }

    /// <summary>
    /// Fails unless every rank holds the same initial weights: a hash of the bits of all parameters, rank 0's broadcast
    /// and compared on each rank (a rank that differs throws, and the caller aborts the job).
    /// </summary>
    static void RequireSameWeights(Module model, ICommunicator communicator)
    {
        ulong hash = 14695981039346656037UL;   // FNV-1a, over 32-bit words
        foreach (var (_, tensor) in model.NamedParameters())
            foreach (float value in tensor.Data.AsSpan(0, tensor.Size))
                hash = (hash ^ BitConverter.SingleToUInt32Bits(value)) * 1099511628211UL;
        Span<ulong> root = [hash];
        communicator.Broadcast(System.Runtime.InteropServices.MemoryMarshal.AsBytes(root));
        if (root[0] != hash)
            throw new InvalidInputException($"rank {communicator.Rank}'s initial weights (hash {hash:x16}) differ from rank 0's ({root[0]:x16}): " +
                "every rank must read the same data and options (the same seed)", field: nameof(TrainingSpec.Distributed));
    }

    /// <summary>Restores the step counter after loading a checkpoint.</summary>
    public void RestoreStep(int step) => Step = step;

    /// <summary>Runs one optimizer step over <see cref="TrainingOptions.GradientAccumulation"/> micro-batches.</summary>
    public StepResult TrainStep()
    {
        var clock = Stopwatch.StartNew();
        model.Train();
        model.ZeroGrad();
        int b = Options.BatchSize, t = Options.Context, micro = Options.GradientAccumulation, ranks = Communicator.Size;
        var inputs = new int[b * t];
        var targets = new int[b * t];
        var globalInputs = ranks > 1 ? new int[ranks * b * t] : inputs;
        var globalTargets = ranks > 1 ? new int[ranks * b * t] : targets;
        double lossSum = 0;
        for (int m = 0; m < micro; m++)
        {
            // Every rank draws the same global batch and keeps its own slice of it.
            trainBatches.NextBatch(globalInputs, globalTargets);
            var context = model.Context;
            Rng? rankMasks = null;
            if (ranks > 1)
            {
                globalInputs.AsSpan(Communicator.Rank * b * t, b * t).CopyTo(inputs);
                globalTargets.AsSpan(Communicator.Rank * b * t, b * t).CopyTo(targets);
                // Dropout: every rank draws one seed per rank from the shared generator (so all stay in step and a
                // checkpoint's one state resumes them all) and masks its slice from its own seed's stream.
                if (sharedMasks is not null)
                {
                    ulong mine = 0;
                    for (int r = 0; r < ranks; r++) { ulong seed = sharedMasks.NextUInt64(); if (r == Communicator.Rank) mine = seed; }
                    rankMasks = new Rng(mine);
                    context = context with { DropoutGenerator = rankMasks };
                }
            }
            bool last = m == micro - 1;
            if (dataParallel is not null)
            {
                lossSum += dataParallel.ForwardBackward(forward, inputs, targets, b, t, micro == 1 ? 1f : 1f / micro, rankMasks);
                continue;
            }
            var logits = forward(context, inputs, b, t);
            var loss = LanguageModel.Loss(context.Threads, logits.Reshape(b * t, -1), targets);
            lossSum += loss.Item();
            // Average over micro-batches: each contributes 1/micro of the gradient. The graph's buffers (logits,
            // activations) are reused by the next micro-batch: nothing here reads them after backward.
            var scaled = micro == 1 ? loss : loss * (1f / micro);
            // The last micro-batch's backward hands each finished gradient to the all-reduce as it goes.
            if (averager is not null && last) averager.Backward(scaled);
            else scaled.Backward(reuseBuffers: true);
        }
        double meanLoss = lossSum / micro;
        double reduceSeconds = 0, exposedSeconds = 0;
        if (averager is not null)
        {
            // The global batch's gradient and loss are the means of the ranks' (equal slices, no ignored targets in a
            // sampled batch). Clipping below then sees the global gradient and its norm.
            averager.Complete();
            reduceSeconds = averager.ReduceSeconds;
            exposedSeconds = averager.ExposedSeconds;
            Span<double> loss = [meanLoss];
            Communicator.AllReduceSum(loss);
            meanLoss = loss[0] / ranks;
        }
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
            return new StepResult(Step, meanLoss, lr, norm, b * t * micro * ranks, clock.Elapsed.TotalSeconds, Skipped: true, reduceSeconds, exposedSeconds);
        }
        if (Options.GradientClip > 0) GradientClipping.ClipByGlobalNorm(parameters.Select(p => p.Tensor).ToList(), Options.GradientClip, norm);
        Optimizer.LearningRate = (float)lr;
        Optimizer.Step();
        model.ZeroGrad(reuseBuffers: true);
        Step++;
        return new StepResult(Step, meanLoss, lr, norm, b * t * micro * ranks, clock.Elapsed.TotalSeconds, Skipped: false, reduceSeconds, exposedSeconds);
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
        // Each rank evaluated its slice of the same global batches: the mean over ranks is the global batches' loss.
        if (Communicator.Size > 1)
        {
            Span<double> total = [sum];
            Communicator.AllReduceSum(total);
            sum = total[0] / Communicator.Size;
        }
        return sum / batches.Count;
    }

    /// <summary>Whether an evaluation is due after the step just taken.</summary>
    public bool EvaluationDue => Step == Options.Steps || (Options.EvalInterval > 0 && Step % Options.EvalInterval == 0);
}
