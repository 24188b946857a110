// The training loop, once: steps until the run's total, evaluations and checkpoints when due, metrics lines, a last
// evaluation and checkpoint, and a clean stop (with a checkpoint) when cancelled. Front ends only render what it
// reports: the CLI a progress line and evaluation lines, the lab its loss curves.
using System.Diagnostics;

namespace ResidualLM.Training;

/// <summary>What a run reports while it goes: one of the records below.</summary>
public abstract record TrainingProgress;

/// <summary>An optimizer step was taken.</summary>
/// <param name="Result">The step itself.</param>
/// <param name="SmoothedLoss">Exponential moving average of the step losses (weight 0.1 on the newest).</param>
/// <param name="Tokens">Tokens trained on since the run (or the resumed run) started.</param>
/// <param name="Seconds">Wall time since then.</param>
public sealed record StepTaken(StepResult Result, double SmoothedLoss, long Tokens, double Seconds) : TrainingProgress;

/// <summary>An evaluation was due and ran (losses on the fixed batches, and a sample when the session makes one).</summary>
public sealed record Evaluated(EvaluationResult Result) : TrainingProgress;

/// <summary>A checkpoint was saved into <paramref name="Folder"/>.</summary>
public sealed record CheckpointSaved(int Step, string Folder) : TrainingProgress;

/// <summary>How a run ended.</summary>
/// <param name="Cancelled">True when it stopped early because it was cancelled (after a checkpoint, when the run has a folder).</param>
/// <param name="Steps">Optimizer steps taken in all (a resumed run counts the steps before it).</param>
/// <param name="TrainLoss">Last evaluation-mode loss on the fixed training batches; NaN when cancelled before any.</param>
/// <param name="ValidationLoss">Last validation loss; NaN when there is no validation data or when cancelled before any.</param>
/// <param name="LastStepLoss">Loss of the last step taken; NaN when none was.</param>
/// <param name="Tokens">Tokens trained on by this call.</param>
/// <param name="Seconds">Wall time of this call, the final evaluation and checkpoint included.</param>
/// <param name="Checkpoint">The last checkpoint folder; null when the run has no output folder.</param>
/// <param name="StepSeconds">Wall time of the steps alone (no evaluation or checkpoint).</param>
/// <param name="ReduceSeconds">Of a distributed run: time inside the gradient all-reduce, summed over the steps.</param>
/// <param name="ExposedReduceSeconds">Of a distributed run: the part of it the steps waited for after backward.</param>
public sealed record TrainingSummary(bool Cancelled, int Steps, double TrainLoss, double ValidationLoss, double LastStepLoss,
    long Tokens, double Seconds, string? Checkpoint, double StepSeconds = 0, double ReduceSeconds = 0, double ExposedReduceSeconds = 0);

/// <summary>Runs a <see cref="Trainer"/> to the end of its steps, or a whole <see cref="TrainingSession"/> with its files.</summary>
public sealed class TrainingRun
{
    readonly Trainer trainer;
    readonly TrainingSession? session;

    /// <summary>A run of a session: metrics, evaluations with samples and checkpoints go to the session's folder.</summary>
    public TrainingRun(TrainingSession session) : this(session.Trainer, session) { }

    /// <summary>A bare run: steps, and evaluations when the trainer has validation batches; no files.</summary>
    public TrainingRun(Trainer trainer) : this(trainer, null) { }

    TrainingRun(Trainer trainer, TrainingSession? session)
    {
        this.trainer = trainer;
        this.session = session;
    }

    /// <summary>
    /// Trains until <see cref="TrainingOptions.Steps"/>, calling <paramref name="progress"/> on this thread after every
    /// step, evaluation and checkpoint. When <paramref name="cancellation"/> is signalled the current step finishes, a
    /// checkpoint is saved and the run returns with <see cref="TrainingSummary.Cancelled"/> set. Otherwise a run
    /// ends with an evaluation (unless the last step had one) and a checkpoint.
    /// </summary>
    /// <exception cref="NonFiniteException">A step's loss or gradient is not finite and the options do not skip such steps; the last checkpoint is kept.</exception>
    public TrainingSummary Run(Action<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var options = trainer.Options;
        double lastStepLoss = double.NaN, validation = double.NaN, trainLoss = double.NaN, smoothed = double.NaN;
        long tokens = 0;
        double stepSeconds = 0, reduceSeconds = 0, exposedSeconds = 0;
        bool distributed = trainer.Communicator.Size > 1;
        string? checkpoint = null;
        while (trainer.Step < options.Steps && !cancellation.IsCancellationRequested)
        {
            var step = trainer.TrainStep();
            tokens += step.Tokens;
            stepSeconds += step.Seconds;
            reduceSeconds += step.ReduceSeconds;
            exposedSeconds += step.ExposedReduceSeconds;
            lastStepLoss = step.Loss;
            smoothed = double.IsNaN(smoothed) ? step.Loss : 0.9 * smoothed + 0.1 * step.Loss;
            progress?.Invoke(new StepTaken(step, smoothed, tokens, clock.Elapsed.TotalSeconds));
            if (distributed)
                session?.LogMetrics(new
                {
                    step = step.Step, loss = step.Loss, lr = step.LearningRate, grad_norm = step.GradientNorm, seconds = clock.Elapsed.TotalSeconds, skipped = step.Skipped,
                    step_seconds = step.Seconds, allreduce_seconds = step.ReduceSeconds, allreduce_exposed_seconds = step.ExposedReduceSeconds,
                });
            else
                session?.LogMetrics(new { step = step.Step, loss = step.Loss, lr = step.LearningRate, grad_norm = step.GradientNorm, seconds = clock.Elapsed.TotalSeconds, skipped = step.Skipped });
            bool evaluate = trainer.EvaluationDue && CanEvaluate;
            if (evaluate)
            {
                var result = Evaluate();
                validation = result.ValidationLoss;
                trainLoss = result.TrainLoss;
                progress?.Invoke(new Evaluated(result));
                session?.LogMetrics(new { step = result.Step, train_eval_loss = result.TrainLoss, val_loss = result.ValidationLoss, sample = result.Sample });
            }
            int every = options.CheckpointInterval;
            if ((every > 0 && trainer.Step % every == 0) || (every == 0 && evaluate)) checkpoint = Save(progress) ?? checkpoint;
        }
        bool cancelled = trainer.Step < options.Steps;
        if (!cancelled && double.IsNaN(validation) && CanEvaluate)
        {
            validation = trainer.Evaluate();
            trainLoss = trainer.EvaluateTrain();
        }
        checkpoint = Save(progress) ?? checkpoint;
        return new TrainingSummary(cancelled, trainer.Step, trainLoss, validation, lastStepLoss, tokens, clock.Elapsed.TotalSeconds, checkpoint,
            stepSeconds, reduceSeconds, exposedSeconds);
    }

    // A bare trainer evaluates only when it was given validation batches; a session always (its losses are then NaN).
    bool CanEvaluate => session is not null || trainer.HasValidation;

    EvaluationResult Evaluate() => session?.Evaluate() ?? new EvaluationResult(trainer.Step, trainer.EvaluateTrain(), trainer.Evaluate(), null);

    string? Save(Action<TrainingProgress>? progress)
    {
        string? folder = session?.SaveCheckpoint();
        if (folder is not null) progress?.Invoke(new CheckpointSaved(trainer.Step, folder));
        return folder;
    }
}
