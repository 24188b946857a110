// A run stopped at a checkpoint and resumed gives exactly the losses of the same run left alone.
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class ResumeTests
{
    static TrainingSpec Spec(string folder, SamplerKind sampler, int dataParallel) => new()
    {
        DataParallel = dataParallel,
        CorpusCharacters = 20_000, Layers = 2, Width = 32, Heads = 2, ModelContext = 16, Dropout = 0.1f, Sampler = sampler,
        SampleTokens = 8, OutputDirectory = folder,
        Options = new TrainingOptions { Steps = 16, BatchSize = 4, Context = 16, WarmupSteps = 3, EvalInterval = 8, EvalBatches = 2, Seed = 5, LearningRate = 3e-3 },
    };

    [Theory]
    [InlineData(SamplerKind.Random, 1)]
    [InlineData(SamplerKind.Windows, 1)]
    [InlineData(SamplerKind.Random, 2)]
    public void StopAndResume_GivesIdenticalLosses(SamplerKind sampler, int dataParallel)
    {
        string a = Temp(), b = Temp();
        var whole = TrainingSession.Create(Spec(a, sampler, dataParallel));
        var expected = new List<double>();
        while (whole.Trainer.Step < 16) expected.Add(whole.Trainer.TrainStep().Loss);
        double expectedValidation = whole.Trainer.Evaluate();

        var first = TrainingSession.Create(Spec(b, sampler, dataParallel));
        var actual = new List<double>();
        while (first.Trainer.Step < 7) actual.Add(first.Trainer.TrainStep().Loss);
        first.SaveCheckpoint();
        // The interrupted process would have gone on a little before dying; those steps are lost.
        first.Trainer.TrainStep();

        var resumed = TrainingSession.Resume(b, dataParallel: dataParallel);
        Assert.Equal(dataParallel, resumed.Trainer.Shards);
        Assert.Equal(7, resumed.Trainer.Step);
        while (resumed.Trainer.Step < 16) actual.Add(resumed.Trainer.TrainStep().Loss);
        Assert.Equal(expected, actual);
        Assert.Equal(expectedValidation, resumed.Trainer.Evaluate());
        foreach (string folder in new[] { a, b }) if (Directory.Exists(folder)) Directory.Delete(folder, true);
    }

    [Fact]
    public void ResumeWithoutCheckpoint_IsAClearError()
    {
        string folder = Temp();
        Directory.CreateDirectory(folder);
        var e = Assert.Throws<InvalidInputException>(() => TrainingSession.Resume(folder));
        Assert.Contains(folder, e.Message);
        Directory.Delete(folder, true);
    }

    [Theory]
    [InlineData(2, "was written by 2 ranks (global batch 8 = 2 x 4) but 1 process resumes it")]
    [InlineData(1, "trainer_state.json: ranks: is 1, out of range: must be between 2 and")]
    public void ResumeByAnotherRankCount_IsRefusedBeforeAnyWork(int ranks, string expected)
    {
        // A single-process checkpoint relabelled as written by `ranks` MPI ranks (what a 2-rank run's rank 0 saves).
        string folder = Temp();
        var session = TrainingSession.Create(Spec(folder, SamplerKind.Random, 1) with { Options = Spec(folder, SamplerKind.Random, 1).Options with { Steps = 2 } });
        session.Trainer.TrainStep();
        string checkpoint = session.SaveCheckpoint()!;
        string state = Path.Combine(checkpoint, "trainer_state.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(state))!.AsObject();
        Assert.False(json.ContainsKey("ranks"));   // one process writes no rank count: older checkpoints read the same
        json["ranks"] = ranks;
        File.WriteAllText(state, json.ToJsonString());
        var e = Assert.Throws<InvalidInputException>(() => TrainingSession.Resume(folder));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Directory.Delete(folder, true);
    }

    static string Temp() => Path.Combine(Path.GetTempPath(), "rlm-resume-" + Guid.NewGuid().ToString("N"));
}
