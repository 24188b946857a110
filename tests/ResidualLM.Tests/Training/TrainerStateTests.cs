// trainer_state.json: a checkpoint written before TrainerState existed (fixtures/checkpoints/v1-run, by the hand-built
// JSON writer, stopped at step 2 of 4) still reads, writes back byte for byte and resumes into the original run.
using System.Text.Json;
using ResidualLM.Tests.Text;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class TrainerStateTests
{
    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "fixtures", "checkpoints");
    static readonly string OldState = Path.Combine(Fixture, "v1-run", "step-0000002", "trainer_state.json");

    [Fact]
    public void OldTrainerState_ReadThenWritten_IsTheSameText()
    {
        string text = File.ReadAllText(OldState);
        var state = TrainerState.Read(File.ReadAllBytes(OldState), OldState);
        Assert.Equal(2, state.Step);
        Assert.Equal(2, state.OptimizerStep);
        Assert.Equal(SlidingWindowSampler.KindName, state.Sampler.Kind);
        Assert.Equal(8, state.Sampler.Position);
        Assert.Equal(3, state.Spec.Options.Seed);
        Assert.Equal(text, state.ToJson());
    }

    [Fact]
    public void OldCheckpoint_Resumes_IntoTheLossesOfTheUninterruptedRun()
    {
        using var directory = new TemporaryDirectory();
        string run = directory.File("run");
        CopyDirectory(Path.Combine(Fixture, "v1-run"), run);
        // What the run that wrote the fixture logged when it went on past its step-2 checkpoint.
        var expected = File.ReadAllLines(Path.Combine(Fixture, "v1-run-uninterrupted-metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(line => line.TryGetProperty("loss", out _) && line.GetProperty("step").GetInt32() > 2)
            .Select(line => line.GetProperty("loss").GetDouble()).ToList();

        var session = TrainingSession.Resume(run, dataParallel: 1);
        Assert.Equal(2, session.Trainer.Step);
        var losses = new List<double>();
        while (session.Trainer.Step < session.TotalSteps) losses.Add(session.Trainer.TrainStep().Loss);
        // Not bit for bit: the fixture was written on one vector path and may be resumed on another.
        Assert.Equal(expected.Count, losses.Count);
        for (int i = 0; i < losses.Count; i++) Assert.Equal(expected[i], losses[i], 1e-5);
    }

    [Fact]
    public void Read_CorruptGeneratorState_NamesTheField()
    {
        string text = File.ReadAllText(OldState);
        foreach (var (from, to, field) in new[]
                 {
                     ("\"746864960281422920\"", "746864960281422920", "model_rng"),
                     ("\"2092789425003139053\",", "", "sampler.rng"),
                     ("\"optimizer_step\": 2", "\"optimizer_step\": -2", "optimizer_step"),
                 })
        {
            Assert.Contains(from, text);
            var error = Assert.Throws<InvalidInputException>(() =>
                TrainerState.Read(System.Text.Encoding.UTF8.GetBytes(text.Replace(from, to)), "trainer_state.json"));
            Assert.StartsWith(field, error.Field);
        }
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string folder in Directory.GetDirectories(from)) CopyDirectory(folder, Path.Combine(to, Path.GetFileName(folder)));
    }
}
