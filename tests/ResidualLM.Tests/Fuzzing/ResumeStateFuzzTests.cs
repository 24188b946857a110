// Seeded fuzzing of trainer_state.json, the state --resume reads: every mutated file goes through the parser, and the
// first few hundred it accepts go on through the whole resume path (rebuilding the run from a tiny saved checkpoint,
// then one training step). The only exception allowed is InvalidInputException.
using ResidualLM.IO;
using ResidualLM.Tests.Text;
using ResidualLM.Training;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Fuzzing;

public sealed class ResumeStateFuzzTests(ITestOutputHelper output) : IDisposable
{
    readonly TemporaryDirectory directory = new();

    public void Dispose() => directory.Dispose();

    /// <summary>A two-step run of a one-block model, checkpointed; returns the checkpoint's state file.</summary>
    string SaveTinyRun()
    {
        var spec = new TrainingSpec
        {
            CorpusCharacters = 3000, Layers = 1, Width = 8, Heads = 2, ModelContext = 8, SampleTokens = 0, OutputDirectory = directory.File("run"),
            Options = new TrainingOptions { Steps = 4, BatchSize = 2, Context = 8, WarmupSteps = 1, EvalInterval = 0, EvalBatches = 1, Seed = 3 },
        };
        var session = TrainingSession.Create(spec);
        session.Trainer.TrainStep();
        session.Trainer.TrainStep();
        return Path.Combine(session.SaveCheckpoint()!, "trainer_state.json");
    }

    [Fact]
    public void Resume_MutatedTrainerState_OnlyInvalidInputException()
    {
        string statePath = SaveTinyRun();
        byte[] original = File.ReadAllBytes(statePath);
        Assert.Equal(2, TrainerState.Read(original, statePath).Step);

        // The parser alone, on every case; keep the accepted ones small enough to run whole.
        var runnable = new List<byte[]>();
        FuzzLoop.Run(output, "trainer_state.json (parser)", ByteMutator.CaseCount(10_000), ByteMutator.Seed(21),
            random => [ByteMutator.Mutate(original, [original], random)],
            inputs =>
            {
                var state = TrainerState.Read(inputs[0], "trainer_state.json");
                var options = state.Spec.Options;
                bool small = state.Spec.CorpusCharacters <= 100_000 && state.Spec.DataPath is null
                    && (long)options.BatchSize * options.Context * Math.Max(options.EvalBatches, options.GradientAccumulation) <= 4096;
                if (small && runnable.Count < 300) runnable.Add(inputs[0]);
            });

        // The whole resume path on the accepted files: session rebuilt from the checkpoint, then one step.
        int next = 0;
        FuzzLoop.Run(output, "trainer_state.json (resume)", runnable.Count, 0,
            _ => [runnable[next++]],
            inputs =>
            {
                File.WriteAllBytes(statePath, inputs[0]);
                var session = TrainingSession.Resume(directory.File("run"));
                session.Trainer.TrainStep();
            },
            allocationLimit: 64 << 20, expectRejections: false);
        Assert.True(runnable.Count >= 50, $"only {runnable.Count} mutated states were accepted");
    }
}
