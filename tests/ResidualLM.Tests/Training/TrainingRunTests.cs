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
}
