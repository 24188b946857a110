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

    static TrainerState ReadEdited(string from, string to)
    {
        string text = File.ReadAllText(OldState);
        Assert.Contains(from, text);
        return TrainerState.Read(System.Text.Encoding.UTF8.GetBytes(text.Replace(from, to)), "trainer_state.json");
    }

    /// <summary>Each check of Read at its edge: the edit refused with the field and the words the message must hold.</summary>
    [Theory]
    [InlineData("\"step\": 2,", "\"step\": -1,", "step", "is -1, out of range: must be between 0 and 2147483647")]
    [InlineData("\"optimizer_step\": 2", "\"optimizer_step\": -1", "optimizer_step", "is -1, out of range")]
    [InlineData("\"epoch\": 0", "\"epoch\": -1", "sampler.epoch", "is -1, out of range")]
    [InlineData("\"position\": 8", "\"position\": -1", "sampler.position", "is -1, out of range")]
    [InlineData("\"kind\": \"sliding-windows\"", "\"kind\": \"shuffled\"", "sampler.kind", "must be one of: random-offsets, sliding-windows")]
    [InlineData("\"kind\": \"sliding-windows\"", "\"kind\": \"random-offsets\"", "sampler.kind", "is \"random-offsets\" but the spec samples with \"windows\"")]
    [InlineData("\"step\": 2,", "\"step\": 2, \"ranks\": 1048577,", "ranks", "is 1048577, out of range: must be between 2 and 1048576")]
    [InlineData("\"step\": 2,", "\"step\": 2, \"extra\": 1,", "extra", "")]
    [InlineData("\"position\": 8", "\"position\": 8, \"extra\": 1", "sampler.extra", "")]
    [InlineData("\"step\": 2,", "\"step\": \"two\",", "step", "is not valid")]
    [InlineData("\"corpus_characters\": 20000", "\"corpus_characters\": \"many\"", "spec.corpus_characters", "does not describe a run")]
    [InlineData("\"tokenizer\": \"char\"", "\"tokenizer\": 0", "spec.tokenizer", "does not describe a run")]
    [InlineData("\"steps\": 4", "\"steps\": 0", "spec", "Steps: must be a positive number, got 0")]
    public void Read_RefusesEachBadField(string from, string to, string field, string words)
    {
        var e = Assert.Throws<InvalidInputException>(() => ReadEdited(from, to));
        Assert.Equal("trainer_state.json", e.FilePath);
        Assert.Equal(field, e.Field);
        Assert.Contains(words, e.Reason);
        Assert.DoesNotContain(". ", e.Reason.TrimEnd('.'));   // the serializer's first sentence only
    }

    [Fact]
    public void Read_AcceptsEachEdgeValue()
    {
        Assert.Equal(0, ReadEdited("\"step\": 2,", "\"step\": 0,").Step);
        Assert.Equal(0, ReadEdited("\"optimizer_step\": 2", "\"optimizer_step\": 0").OptimizerStep);
        Assert.Equal(0, ReadEdited("\"position\": 8", "\"position\": 0").Sampler.Position);
        Assert.Equal(1 << 20, ReadEdited("\"step\": 2,", "\"step\": 2, \"ranks\": 1048576,").Ranks);
        Assert.Equal(2, ReadEdited("\"step\": 2,", "\"step\": 2, \"ranks\": 2,").Ranks);
        // One zero word is a valid state; only all four zero is refused.
        Assert.Equal(0UL, ReadEdited("\"746864960281422920\"", "\"0\"").ModelRng[0]);
        var e = Assert.Throws<InvalidInputException>(() => ReadEdited(
            "\"746864960281422920\",\n    \"10118834190891447976\",\n    \"2519674038945675563\",\n    \"1216997359335879548\"",
            "\"0\", \"0\", \"0\", \"0\""));
        Assert.Equal("model_rng", e.Field);
        Assert.Equal("an all-zero generator state is invalid", e.Reason);
    }

    [Fact]
    public void Read_ARequiredFieldMissing_OrNotAnObject_IsNamed()
    {
        var missing = Assert.Throws<InvalidInputException>(() => ReadEdited("\"optimizer_step\": 2,", ""));
        Assert.Equal("optimizer_step", missing.Field);
        Assert.Equal("is missing (required field)", missing.Reason);
        var inSampler = Assert.Throws<InvalidInputException>(() => ReadEdited("\"epoch\": 0,", ""));
        Assert.Equal("sampler.epoch", inSampler.Field);
        Assert.Equal("is missing (required field)", inSampler.Reason);
        var nothing = Assert.Throws<InvalidInputException>(() => TrainerState.Read("null"u8.ToArray(), "trainer_state.json"));
        Assert.Equal("trainer_state.json", nothing.FilePath);
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string folder in Directory.GetDirectories(from)) CopyDirectory(folder, Path.Combine(to, Path.GetFileName(folder)));
    }
}
