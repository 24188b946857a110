// TrainingRun owns the loop: the same steps as calling the Trainer by hand, evaluations and checkpoints when due,
// and a cancellation that stops after the current step with a checkpoint the run resumes from exactly.
using System.Text.Json;
using ResidualLM.Tests.Text;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class TrainingRunTests
{
    static TrainingSpec Spec(string? folder, int steps = 6) => new()
    {
        CorpusCharacters = 6000, Layers = 1, Width = 16, Heads = 2, ModelContext = 32, Dropout = 0.1f, SampleTokens = 4, OutputDirectory = folder,
        DataParallel = 1,
        Options = new TrainingOptions { Steps = steps, BatchSize = 2, Context = 8, WarmupSteps = 1, EvalInterval = 2, EvalBatches = 1, Seed = 9 },
    };

    [Fact]
    public void Run_TakesTheStepsOfTheTrainerCalledByHand()
    {
        var byHand = TrainingSession.Create(Spec(null));
        var expected = new List<double>();
        while (byHand.Trainer.Step < byHand.TotalSteps)
        {
            expected.Add(byHand.Trainer.TrainStep().Loss);
            if (byHand.Trainer.EvaluationDue) byHand.Evaluate();   // samples draw from the generators too
        }

        var losses = new List<double>();
        var summary = new TrainingRun(TrainingSession.Create(Spec(null))).Run(report =>
        {
            if (report is StepTaken step) losses.Add(step.Result.Loss);
        });
        Assert.Equal(expected, losses);
        Assert.False(summary.Cancelled);
        Assert.Equal(6, summary.Steps);
        Assert.Equal(expected[^1], summary.LastStepLoss);
        Assert.Equal(byHand.Trainer.Evaluate(), summary.ValidationLoss);
        Assert.Equal(6L * 2 * 8, summary.Tokens);
        Assert.Null(summary.Checkpoint);
    }

    [Fact]
    public void Run_EvaluatesAndSavesWhenDue_AndLogsEveryStep()
    {
        using var directory = new TemporaryDirectory();
        var session = TrainingSession.Create(Spec(directory.File("run"), steps: 5));
        var reports = new List<TrainingProgress>();
        var summary = new TrainingRun(session).Run(reports.Add);

        // Evaluations every 2 steps and at the last; a checkpoint with each, and once more at the end.
        Assert.Equal([2, 4, 5], reports.OfType<Evaluated>().Select(e => e.Result.Step));
        Assert.Equal([2, 4, 5, 5], reports.OfType<CheckpointSaved>().Select(c => c.Step));
        Assert.Equal(reports.OfType<CheckpointSaved>().Last().Folder, summary.Checkpoint);
        Assert.Equal(reports.OfType<Evaluated>().Last().Result.ValidationLoss, summary.ValidationLoss);
        Assert.All(reports.OfType<Evaluated>(), e => Assert.NotNull(e.Result.Sample));
        var lines = File.ReadAllLines(directory.File("run/metrics.jsonl")).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal([1, 2, 3, 4, 5], lines.Where(l => l.TryGetProperty("loss", out _)).Select(l => l.GetProperty("step").GetInt32()));
        Assert.Equal([2, 4, 5], lines.Where(l => l.TryGetProperty("val_loss", out _)).Select(l => l.GetProperty("step").GetInt32()));
    }

    [Fact]
    public void Cancel_StopsAfterTheCurrentStep_WithACheckpointThatResumesExactly()
    {
        using var directory = new TemporaryDirectory();
        var whole = new List<double>();
        new TrainingRun(TrainingSession.Create(Spec(directory.File("whole")))).Run(r => { if (r is StepTaken s) whole.Add(s.Result.Loss); });

        using var stop = new CancellationTokenSource();
        var losses = new List<double>();
        var first = new TrainingRun(TrainingSession.Create(Spec(directory.File("run")))).Run(report =>
        {
            if (report is not StepTaken step) return;
            losses.Add(step.Result.Loss);
            if (step.Result.Step == 3) stop.Cancel();   // as Ctrl-C during step 3
        }, stop.Token);
        Assert.True(first.Cancelled);
        Assert.Equal(3, first.Steps);
        Assert.EndsWith("step-0000003", first.Checkpoint);

        var resumed = TrainingSession.Resume(directory.File("run"), dataParallel: 1);
        Assert.Equal(3, resumed.Trainer.Step);
        var rest = new TrainingRun(resumed).Run(r => { if (r is StepTaken s) losses.Add(s.Result.Loss); });
        Assert.False(rest.Cancelled);
        Assert.Equal(whole, losses);
    }

    [Fact]
    public void TheSmoothedLoss_IsAnExponentialAverage_AndTheTimesAddUp()
    {
        var steps = new List<StepTaken>();
        var summary = new TrainingRun(TrainingSession.Create(Spec(null))).Run(r => { if (r is StepTaken s) steps.Add(s); });
        double smoothed = steps[0].Result.Loss;
        Assert.Equal(smoothed, steps[0].SmoothedLoss);
        for (int i = 1; i < steps.Count; i++)
        {
            smoothed = 0.9 * smoothed + 0.1 * steps[i].Result.Loss;
            Assert.Equal(smoothed, steps[i].SmoothedLoss, 12);
            Assert.Equal(2L * 8 * (i + 1), steps[i].Tokens);
        }
        Assert.Equal(steps.Sum(s => s.Result.Seconds), summary.StepSeconds, 9);
        Assert.True(summary.StepSeconds > 0 && summary.StepSeconds <= summary.Seconds);
        Assert.Equal(0, summary.ReduceSeconds);
        Assert.Equal(0, summary.ExposedReduceSeconds);
    }

    [Fact]
    public void ACheckpointInterval_SavesOnItsOwnSchedule()
    {
        using var directory = new TemporaryDirectory();
        var spec = Spec(directory.File("run")) with { Options = Spec(null).Options with { CheckpointInterval = 3 } };
        var reports = new List<TrainingProgress>();
        new TrainingRun(TrainingSession.Create(spec)).Run(reports.Add);
        Assert.Equal([2, 4, 6], reports.OfType<Evaluated>().Select(e => e.Result.Step));
        Assert.Equal([3, 6, 6], reports.OfType<CheckpointSaved>().Select(c => c.Step));
    }

    static Trainer BareTrainer(bool validation, int evalInterval)
    {
        var model = new ResidualLM.Models.Gpt(ResidualLM.Models.GptConfig.Preset("test") with { Dropout = 0f });
        var options = new TrainingOptions { Steps = 4, BatchSize = 2, Context = 8, WarmupSteps = 1, EvalInterval = evalInterval, EvalBatches = 1, Seed = 2 };
        var tokens = Enumerable.Range(0, 400).Select(i => i * 7 % 11).ToArray();
        var data = new TokenDataset(tokens);
        return new Trainer(model, model.Forward, options, data.RandomOffsets(8, 2, 1), validation ? data.RandomOffsets(8, 2, 2) : null, dataParallel: 1);
    }

    [Fact]
    public void ABareTrainer_EvaluatesOnlyWithValidationBatches_AndWritesNothing()
    {
        var reports = new List<TrainingProgress>();
        var summary = new TrainingRun(BareTrainer(validation: true, evalInterval: 2)).Run(reports.Add);
        Assert.Equal([2, 4], reports.OfType<Evaluated>().Select(e => e.Result.Step));
        Assert.All(reports.OfType<Evaluated>(), e => Assert.Null(e.Result.Sample));
        Assert.Empty(reports.OfType<CheckpointSaved>());
        Assert.Null(summary.Checkpoint);
        Assert.True(double.IsFinite(summary.ValidationLoss));

        reports.Clear();
        summary = new TrainingRun(BareTrainer(validation: false, evalInterval: 2)).Run(reports.Add);
        Assert.Empty(reports.OfType<Evaluated>());
        Assert.True(double.IsNaN(summary.ValidationLoss));
        Assert.Equal(4, summary.Steps);
    }

    [Fact]
    public void AFinalEvaluation_ComesOnlyAtTheEndOfAWholeRun()
    {
        // Evaluations only at the end: a whole run evaluates once after its loop; a cancelled one does not.
        var trainer = BareTrainer(validation: true, evalInterval: 0);
        var whole = new TrainingRun(trainer).Run();
        Assert.True(double.IsFinite(whole.ValidationLoss));
        Assert.True(double.IsNaN(whole.TrainLoss), "a bare trainer has no training-split evaluation batches");
        // Run again, finished: no step, and the evaluation the loop did not make.
        var reports = new List<TrainingProgress>();
        var again = new TrainingRun(trainer).Run(reports.Add);
        Assert.Empty(reports);
        Assert.False(again.Cancelled);
        Assert.Equal(whole.ValidationLoss, again.ValidationLoss);
        using var stop = new CancellationTokenSource();
        var cancelled = new TrainingRun(BareTrainer(validation: true, evalInterval: 0)).Run(r => { if (r is StepTaken { Result.Step: 2 }) stop.Cancel(); }, stop.Token);
        Assert.True(cancelled.Cancelled);
        Assert.Equal(2, cancelled.Steps);
        Assert.True(double.IsNaN(cancelled.ValidationLoss), "a cancelled run is not evaluated");
    }
}
