// A depth sweep bounded in time and resumable: runs stop at the per-run time limit, and a journal lets a sweep that
// was stopped part-way continue without training again what it already finished.
using ResidualLM.Lab;
using ResidualLM.Lab.Experiments;
using ResidualLM.Models;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class DepthSweepJournalTests
{
    static DepthSweepOptions Tiny(string journal, IReadOnlyList<int> depths, List<string> progress) => new()
    {
        Depths = depths, Policies = [ResidualMode.PreNorm], Width = 8, Heads = 2, CorpusCharacters = 4000, EvalWindows = 2,
        Training = new LabTraining { Steps = 3, BatchSize = 2, Context = 8, WarmupSteps = 1 },
        JournalPath = journal, Progress = progress.Add,
    };

    static List<TableCell[]> Rows(ExperimentResult result) => [.. result.Tables[0].Rows.Select(r => r.ToArray())];

    [Fact]
    public void Journal_ResumesASweep_WithoutTrainingFinishedRunsAgain()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rlm-journal-" + Guid.NewGuid().ToString("N"));
        string journal = Path.Combine(dir, "sweep.jsonl");
        var first = new List<string>();
        var stopped = new DepthSweepExperiment(Tiny(journal, [1], first)).Run();   // a sweep that "stopped" after depth 1
        Assert.Single(File.ReadAllLines(journal));

        var second = new List<string>();
        var resumed = new DepthSweepExperiment(Tiny(journal, [1, 2], second)).Run();
        Assert.Single(second, l => l.Contains("depth   1") && l.Contains("(from the journal)"));
        Assert.Single(second, l => l.Contains("depth   2") && l.Contains("(total"));
        Assert.Equal(2, File.ReadAllLines(journal).Length);
        // The journal's run is the first sweep's, value for value (NaN-free here, seconds included).
        Assert.Equal(Rows(stopped)[0], Rows(resumed)[0]);

        // Other settings (more steps) do not match the journal's runs: everything is trained again.
        var third = new List<string>();
        new DepthSweepExperiment(Tiny(journal, [1], third) with { Training = new LabTraining { Steps = 4, BatchSize = 2, Context = 8, WarmupSteps = 1 } }).Run();
        Assert.DoesNotContain(third, l => l.Contains("(from the journal)"));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Journal_TornLastLineIsDropped_OtherBadLinesAreAnError()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rlm-journal-" + Guid.NewGuid().ToString("N"));
        string journal = Path.Combine(dir, "sweep.jsonl");
        new DepthSweepExperiment(Tiny(journal, [1], [])).Run();
        string line = File.ReadAllLines(journal)[0];
        File.WriteAllText(journal, line + "\n" + line[..(line.Length / 2)]);   // a crash in the middle of a write
        var progress = new List<string>();
        new DepthSweepExperiment(Tiny(journal, [1], progress)).Run();
        Assert.Contains(progress, l => l.Contains("(from the journal)"));

        File.WriteAllText(journal, "not json\n" + line + "\n");
        var e = Assert.Throws<InvalidInputException>(() => new DepthSweepExperiment(Tiny(journal, [1], [])).Run());
        Assert.Contains("line 1 is not a run of the sweep", e.Message);
        Assert.Contains(journal, e.Message);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void TimeLimit_StopsARunEarly_AndRecordsItsSteps()
    {
        var progress = new List<string>();
        var options = Tiny(null!, [1], progress) with { JournalPath = null, Training = new LabTraining { Steps = 100_000, BatchSize = 2, Context = 8, WarmupSteps = 1 }, TimeLimitSeconds = 0.5 };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = new DepthSweepExperiment(options).Run();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the sweep took {clock.Elapsed}: the time limit did not stop it");
        int steps = (int)result.Tables[0].Rows[0][result.Tables[0].Columns.FindIndex(c => c.Name == "steps")].Number!.Value;
        Assert.InRange(steps, 1, 99_999);
        Assert.Contains(progress, l => l.Contains($"stopped by the time limit at step {steps}"));
        Assert.Contains(result.Parameters, p => p.Name == "time limit");
    }
}
