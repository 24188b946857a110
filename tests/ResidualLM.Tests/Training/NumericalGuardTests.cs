// Non-finite guards of the trainer: a NaN/inf loss or gradient stops the run with a message naming the step and the
// parameter at fault, without touching the weights or the last checkpoint; SkipNonFinite skips such steps and goes on.
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using ResidualLM.Tests.Text;
using ResidualLM.Training;
using Xunit;

using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Training;

public class NumericalGuardTests
{
    /// <summary>
    /// A GPT whose logits get (offset / scale) / scale added. With offset = 0 and scale = 1e-30 the forward adds
    /// exactly zero, but offset's gradient is upstream / scale^2 = inf: a finite loss with a non-finite gradient.
    /// <see cref="Armed"/> turns the trap on only for chosen steps.
    /// </summary>
    sealed class Trapped : Module
    {
        public readonly Gpt Model;
        readonly Tensor offset, scale;
        public Func<bool> Armed = () => true;

        public Trapped()
        {
            Model = Child("model", new Gpt(GptConfig.Preset("test"), seed: 4));
            offset = Parameter("offset", Tensor.Zeros(Model.VocabSize));
            scale = Parameter("scale", Tensor.FromArray(Enumerable.Repeat(1e-30f, Model.VocabSize).ToArray(), Model.VocabSize));
        }

        public Tensor Forward(ComputeContext context, int[] ids, int batch, int time)
        {
            Tensor logits = Model.Forward(context, ids, batch, time);
            return Armed() ? logits + O.Divide(O.Divide(offset, scale), scale) : logits;
        }
    }

    static Trainer TrainerFor(Trapped module, bool skip)
    {
        var tokens = new TokenDataset(Enumerable.Range(0, 400).Select(i => i * 7 % 11).ToArray());
        var options = new TrainingOptions { Steps = 5, BatchSize = 2, Context = 8, WarmupSteps = 0, EvalInterval = 0, EvalBatches = 1, SkipNonFinite = skip, Seed = 1 };
        // One forward call per step (no data-parallel shards): the trap counts calls to pick its step.
        return new Trainer(module, module.Forward, options, tokens.RandomOffsets(8, 2, seed: 1), null, dataParallel: 1);
    }

    static float[] Weights(Module module) => module.NamedParameters().SelectMany(p => p.Tensor.Data).ToArray();

    [Fact]
    public void NonFiniteGradient_StopsNamingStepAndParameter_WeightsUntouched()
    {
        var module = new Trapped();
        int calls = 0;
        module.Armed = () => ++calls == 3;
        var trainer = TrainerFor(module, skip: false);
        Assert.True(double.IsFinite(trainer.TrainStep().Loss));
        Assert.True(double.IsFinite(trainer.TrainStep().Loss));
        float[] before = Weights(module);
        var error = Assert.Throws<NonFiniteException>(() => trainer.TrainStep());
        Assert.StartsWith("step 3: gradient of offset is not finite", error.Message);
        Assert.Equal(before, Weights(module));
        Assert.Equal(2, trainer.Step);
    }

    [Fact]
    public void NonFiniteLoss_NamesThePoisonedParameter()
    {
        var module = new Trapped { Armed = () => false };
        var trainer = TrainerFor(module, skip: false);
        trainer.TrainStep();
        module.Model.NamedParameters().First(p => p.Name == "blocks.1.ffn.fc.weight").Tensor.Data[5] = float.PositiveInfinity;
        var error = Assert.Throws<NonFiniteException>(() => trainer.TrainStep());
        Assert.StartsWith("step 2: loss is NaN: parameter model.blocks.1.ffn.fc.weight holds non-finite values", error.Message);
    }

    [Fact]
    public void SkipNonFinite_SkipsTheBadStepAndContinues()
    {
        var module = new Trapped();
        int calls = 0;
        module.Armed = () => ++calls == 2;
        var trainer = TrainerFor(module, skip: true);
        Assert.False(trainer.TrainStep().Skipped);
        float[] before = Weights(module);
        StepResult skipped = trainer.TrainStep();
        Assert.True(skipped.Skipped);
        Assert.False(double.IsFinite(skipped.GradientNorm));
        Assert.Equal(2, skipped.Step);
        Assert.Equal(2 * 8, skipped.Tokens);                     // the tokens were read, though not learned from
        // The rate of step index 1: no warmup, a cosine over 5 steps from 2e-3 to its tenth.
        Assert.Equal(2e-4 + 0.5 * (1 + Math.Cos(Math.PI / 5)) * 1.8e-3, skipped.LearningRate, 12);
        foreach (var (_, p) in module.NamedParameters()) Assert.True(p.Grad is null || p.Grad.Data.All(g => g == 0f), "a skipped step leaves no gradient behind");
        Assert.Equal(before, Weights(module));
        StepResult after = trainer.TrainStep();
        Assert.False(after.Skipped);
        Assert.Equal(3, trainer.Step);
        Assert.NotEqual(before, Weights(module));
        Assert.All(Weights(module), value => Assert.True(float.IsFinite(value)));
    }

    [Fact]
    public void NonFiniteStep_LeavesTheLastCheckpointLoadable()
    {
        using var directory = new TemporaryDirectory();
        var spec = new TrainingSpec
        {
            CorpusCharacters = 3000, Layers = 1, Width = 8, Heads = 2, ModelContext = 8, SampleTokens = 0, OutputDirectory = directory.File("run"),
            Options = new TrainingOptions { Steps = 6, BatchSize = 2, Context = 8, WarmupSteps = 0, EvalInterval = 0, EvalBatches = 1, Seed = 2 },
        };
        var session = TrainingSession.Create(spec);
        session.Trainer.TrainStep();
        session.Trainer.TrainStep();
        string saved = session.SaveCheckpoint()!;
        session.Model.NamedParameters()[0].Tensor.Data[0] = float.NaN;   // the run diverges after its checkpoint
        var error = Assert.Throws<NonFiniteException>(() => session.Trainer.TrainStep());
        Assert.Contains("step 3", error.Message);

        Assert.Equal(saved, new CheckpointDirectory(directory.File("run")).Current());
        var resumed = TrainingSession.Resume(directory.File("run"));
        Assert.Equal(2, resumed.Trainer.Step);
        Assert.All(Weights(resumed.Model), value => Assert.True(float.IsFinite(value)));
        Assert.True(double.IsFinite(resumed.Trainer.TrainStep().Loss));
    }
}
