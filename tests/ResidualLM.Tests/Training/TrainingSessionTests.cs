// TrainingSession beyond exact resume (ResumeTests): the sample an evaluation writes (its prompt, its length, its
// generator restored on resume), metrics lines of an interrupted run dropped on resume, and the entropy floor given
// only where it is known (the built-in corpus at character level).
using System.Text.Json.Nodes;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public sealed class TrainingSessionTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "rlm-session-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, true);
    }

    static TrainingSpec Spec(string? folder, int sampleTokens = 8, int modelContext = 32) => new()
    {
        CorpusCharacters = 20_000, Layers = 1, Width = 16, Heads = 2, ModelContext = modelContext, Dropout = 0f, SampleTokens = sampleTokens,
        OutputDirectory = folder, DataParallel = 1,
        Options = new TrainingOptions { Steps = 8, BatchSize = 2, Context = 16, WarmupSteps = 1, EvalInterval = 4, EvalBatches = 1, Seed = 3 },
    };

    [Fact]
    public void TheSample_ContinuesTheValidationTextsFirst16Characters()
    {
        var session = TrainingSession.Create(Spec(null));
        var result = session.Evaluate();
        Assert.Equal(0, result.Step);
        Assert.True(double.IsFinite(result.ValidationLoss) && double.IsFinite(result.TrainLoss));
        Assert.NotNull(result.Sample);
        Assert.Equal(16 + 8, result.Sample!.Length);   // character tokenizer: 16 prompt tokens, 8 new ones
        // A second evaluation starts from the same prompt.
        Assert.Equal(result.Sample[..16], session.Evaluate().Sample![..16]);
        // No more than the context leaves room for: 32 - 16.
        Assert.Equal(32, TrainingSession.Create(Spec(null, sampleTokens: 100)).Evaluate().Sample!.Length);
        Assert.Null(TrainingSession.Create(Spec(null, sampleTokens: 0)).Evaluate().Sample);
        // A prompt that fills the context leaves no room: no sample.
        Assert.Null(TrainingSession.Create(Spec(null, modelContext: 16)).Evaluate().Sample);
    }

    [Fact]
    public void OnResume_TheSampleGeneratorContinuesWhereTheCheckpointLeftIt()
    {
        var first = TrainingSession.Create(Spec(folder));
        first.Trainer.TrainStep();
        first.Evaluate();                          // draws from the sample generator
        first.Trainer.TrainStep();
        first.SaveCheckpoint();
        string? expected = first.Evaluate().Sample;
        var resumed = TrainingSession.Resume(folder);
        Assert.Equal(2, resumed.Trainer.Step);
        Assert.Equal(expected, resumed.Evaluate().Sample);
    }

    [Fact]
    public void OnResume_MetricsWrittenAfterTheCheckpointAreDropped()
    {
        var session = TrainingSession.Create(Spec(folder));
        for (int step = 1; step <= 4; step++)
        {
            session.Trainer.TrainStep();
            session.LogMetrics(new { step, loss = 1.0 / step });
        }
        session.SaveCheckpoint();
        // The interrupted run went on: two more steps logged, then a torn line.
        session.LogMetrics(new { step = 5, loss = 0.2 });
        session.LogMetrics(new { step = 6, loss = 0.1 });
        string metrics = Path.Combine(folder, "metrics.jsonl");
        File.AppendAllText(metrics, "{\"step\": 7, \"lo");
        Assert.Equal(7, File.ReadAllLines(metrics).Length);

        TrainingSession.Resume(folder);
        string text = File.ReadAllText(metrics);
        Assert.EndsWith("}\n", text);
        var steps = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>());
        Assert.Equal([1, 2, 3, 4], steps);
    }

    [Fact]
    public void TheEntropyFloor_IsKnownOnlyForTheBuiltInCorpusAtCharacterLevel()
    {
        var chars = TrainingSession.Create(Spec(null));
        Assert.NotNull(chars.EntropyFloor);
        Assert.NotNull(chars.IdealWindowLoss);
        Assert.True(chars.IdealWindowLoss > chars.EntropyFloor, "a window that starts blind does worse than the generator's rate");
        var bytes = TrainingSession.Create(Spec(null) with { Tokenizer = TokenizerKind.Byte });
        Assert.Null(bytes.EntropyFloor);
        Assert.Null(bytes.IdealWindowLoss);
        string data = Path.Combine(Path.GetTempPath(), "rlm-session-data-" + Guid.NewGuid().ToString("N") + ".txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
        try { Assert.Null(TrainingSession.Create(Spec(null) with { DataPath = data }).EntropyFloor); }
        finally { File.Delete(data); }
    }

    [Fact]
    public void BadData_IsRefusedNamingTheFileAndTheField()
    {
        string missing = Path.Combine(folder, "missing.txt");
        var e = Assert.Throws<InvalidInputException>(() => TrainingSession.Create(Spec(null) with { DataPath = missing }));
        Assert.Equal((missing, nameof(TrainingSpec.DataPath), "file not found"), (e.FilePath, e.Field, e.Reason));
        Directory.CreateDirectory(folder);
        string empty = Path.Combine(folder, "empty.txt");
        File.WriteAllText(empty, "");
        e = Assert.Throws<InvalidInputException>(() => TrainingSession.Create(Spec(null) with { DataPath = empty }));
        Assert.Equal((empty, nameof(TrainingSpec.DataPath), "the file is empty; it needs text to train on"), (e.FilePath, e.Field, e.Reason));
        // The spec is validated before any work: a corpus below 1000 characters.
        Assert.Equal(nameof(TrainingSpec.CorpusCharacters), Assert.Throws<InvalidInputException>(() => TrainingSession.Create(Spec(null) with { CorpusCharacters = 999 })).Field);
    }

    [Fact]
    public void AContextLongerThanTheModels_IsRefused()
    {
        var spec = Spec(null, modelContext: 12);   // training context 16
        var e = Assert.Throws<InvalidInputException>(() => TrainingSession.Create(spec));
        Assert.Equal(nameof(TrainingOptions.Context), e.Field);
        Assert.StartsWith("16 is longer than the model's context length 12", e.Reason);
        TrainingSession.Create(Spec(null, modelContext: 16));   // equal is fine
    }

    [Fact]
    public void ResumingAFolderWithoutCheckpoint_SaysSo()
    {
        Directory.CreateDirectory(folder);
        var e = Assert.Throws<InvalidInputException>(() => TrainingSession.Resume(folder));
        Assert.Equal(folder, e.FilePath);
        Assert.Equal("has no checkpoint to resume from (no 'latest' file)", e.Reason);
    }

    [Fact]
    public void TheValidationBatches_AreTheFirstWindowsOfTheValidationSplit_WhateverTheSampler()
    {
        // Windows sampler, stride 4: training windows overlap, but validation takes non-overlapping windows of the context
        // (stride = context), in order, as many batches as the split holds (20 asked, clamped).
        var spec = Spec(null) with { Sampler = SamplerKind.Windows, Stride = 4, Options = Spec(null).Options with { EvalBatches = 1000 } };
        var session = TrainingSession.Create(spec);
        int windows = (session.ValidationTokens - 1) / 16;
        Assert.Equal(windows / 2, session.Trainer.Options.EvalBatches);
        Assert.True(double.IsFinite(session.Trainer.Evaluate()));
        // Random offsets can be drawn any number of times: no cap.
        Assert.Equal(1000, TrainingSession.Create(Spec(null) with { Options = Spec(null).Options with { EvalBatches = 1000 } }).Trainer.Options.EvalBatches);
        // A validation split shorter than one batch of windows (2 x 16 tokens and the shifted target): no validation.
        var tiny = TrainingSession.Create(Spec(null) with { CorpusCharacters = 3000, TrainFraction = 0.99 });
        Assert.True(tiny.ValidationTokens - 1 < 2 * 16, $"{tiny.ValidationTokens} validation tokens");
        Assert.False(tiny.Trainer.HasValidation);
        Assert.True(double.IsNaN(tiny.Trainer.Evaluate()));
        var enough = TrainingSession.Create(Spec(null) with { CorpusCharacters = 3400, TrainFraction = 0.99 });
        Assert.True(enough.ValidationTokens - 1 >= 2 * 16, $"{enough.ValidationTokens} validation tokens");
        Assert.True(enough.Trainer.HasValidation);
    }
}
