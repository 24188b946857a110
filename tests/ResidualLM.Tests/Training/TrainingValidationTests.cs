// Every range TrainingOptions.Validate and TrainingSpec.Validate enforce, at its edges: the last value accepted and the
// first refused, the field the error names (the CLI maps it to its flag) and the value the message quotes. The bounds
// are written out here from the documented ranges, not read from the code under test.
using ResidualLM.Distributed;
using ResidualLM.Models;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class TrainingValidationTests
{
    static InvalidInputException Refused(TrainingOptions options) => Assert.Throws<InvalidInputException>(options.Validate);

    static InvalidInputException Refused(TrainingSpec spec) => Assert.Throws<InvalidInputException>(spec.Validate);

    static void AssertRefused(TrainingOptions options, string field, string quoted)
    {
        var e = Refused(options);
        Assert.Equal(field, e.Field);
        Assert.Contains(quoted, e.Reason);
    }

    static void AssertRefused(TrainingSpec spec, string field, string quoted)
    {
        var e = Refused(spec);
        Assert.Equal(field, e.Field);
        Assert.Contains(quoted, e.Reason);
    }

    [Fact]
    public void TheDefaults_AreValid()
    {
        new TrainingOptions().Validate();
        new TrainingSpec().Validate();
    }

    [Theory]
    [InlineData(nameof(TrainingOptions.Steps))]
    [InlineData(nameof(TrainingOptions.BatchSize))]
    [InlineData(nameof(TrainingOptions.Context))]
    [InlineData(nameof(TrainingOptions.GradientAccumulation))]
    [InlineData(nameof(TrainingOptions.EvalBatches))]
    public void Counts_MustBePositive(string field)
    {
        TrainingOptions With(int value) => field switch
        {
            nameof(TrainingOptions.Steps) => new() { Steps = value },
            nameof(TrainingOptions.BatchSize) => new() { BatchSize = value },
            nameof(TrainingOptions.Context) => new() { Context = value },
            nameof(TrainingOptions.GradientAccumulation) => new() { GradientAccumulation = value },
            _ => new() { EvalBatches = value },
        };
        With(1).Validate();
        AssertRefused(With(0), field, "positive number, got 0");
        AssertRefused(With(-3), field, "got -3");
    }

    [Fact]
    public void AMicroBatch_HoldsAtMost2To24Tokens()
    {
        new TrainingOptions { BatchSize = 4096, Context = 4096, EvalBatches = 1 }.Validate();   // exactly 2^24
        var e = Refused(new TrainingOptions { BatchSize = 4096, Context = 4097, EvalBatches = 1 });
        Assert.Equal(nameof(TrainingOptions.BatchSize), e.Field);
        Assert.Contains("4096 x 4097 = 16781312 tokens", e.Reason);
        // Neither factor alone decides: 2^12 sequences of 2^13 tokens are over the limit too.
        AssertRefused(new TrainingOptions { BatchSize = 4096, Context = 8192, EvalBatches = 1 }, nameof(TrainingOptions.BatchSize), "33554432 tokens");
    }

    [Fact]
    public void TheValidationBatches_HoldAtMost2To26Tokens()
    {
        new TrainingOptions { BatchSize = 4096, Context = 4096, EvalBatches = 4 }.Validate();   // exactly 2^26
        var e = Refused(new TrainingOptions { BatchSize = 4096, Context = 4096, EvalBatches = 5 });
        Assert.Equal(nameof(TrainingOptions.EvalBatches), e.Field);
        Assert.Contains("5 batches of 4096 x 4096 tokens", e.Reason);
        AssertRefused(new TrainingOptions { BatchSize = 2048, Context = 4096, EvalBatches = 9 }, nameof(TrainingOptions.EvalBatches), "9 batches");
    }

    [Fact]
    public void TheLearningRate_IsInZeroToTen()
    {
        new TrainingOptions { LearningRate = 1e-12 }.Validate();
        new TrainingOptions { LearningRate = 9.999 }.Validate();
        AssertRefused(new TrainingOptions { LearningRate = 0 }, nameof(TrainingOptions.LearningRate), "(0, 10), got 0");
        AssertRefused(new TrainingOptions { LearningRate = 10 }, nameof(TrainingOptions.LearningRate), "got 10");
        AssertRefused(new TrainingOptions { LearningRate = -1 }, nameof(TrainingOptions.LearningRate), "got -1");
        AssertRefused(new TrainingOptions { LearningRate = double.NaN }, nameof(TrainingOptions.LearningRate), "got NaN");
    }

    [Fact]
    public void TheFloor_IsBetweenZeroAndThePeak()
    {
        new TrainingOptions { LearningRate = 0.01, MinLearningRate = 0 }.Validate();
        new TrainingOptions { LearningRate = 0.01, MinLearningRate = 0.01 }.Validate();
        AssertRefused(new TrainingOptions { LearningRate = 0.01, MinLearningRate = -1e-9 }, nameof(TrainingOptions.MinLearningRate), "got -1E-09");
        AssertRefused(new TrainingOptions { LearningRate = 0.01, MinLearningRate = 0.011 }, nameof(TrainingOptions.MinLearningRate), "peak learning rate 0.01], got 0.011");
        AssertRefused(new TrainingOptions { MinLearningRate = double.NaN }, nameof(TrainingOptions.MinLearningRate), "got NaN");
    }

    [Theory]
    [InlineData(nameof(TrainingOptions.WarmupSteps))]
    [InlineData(nameof(TrainingOptions.EvalInterval))]
    [InlineData(nameof(TrainingOptions.CheckpointInterval))]
    public void Intervals_MayBeZero_NotNegative(string field)
    {
        TrainingOptions With(int value) => field switch
        {
            nameof(TrainingOptions.WarmupSteps) => new() { WarmupSteps = value },
            nameof(TrainingOptions.EvalInterval) => new() { EvalInterval = value },
            _ => new() { CheckpointInterval = value },
        };
        With(0).Validate();
        AssertRefused(With(-1), field, ">= 0, got -1");
    }

    [Fact]
    public void WeightDecay_IsInZeroToTen_ZeroIncluded()
    {
        new TrainingOptions { WeightDecay = 0 }.Validate();
        new TrainingOptions { WeightDecay = 9.999 }.Validate();
        AssertRefused(new TrainingOptions { WeightDecay = -1e-9 }, nameof(TrainingOptions.WeightDecay), "[0, 10), got -1E-09");
        AssertRefused(new TrainingOptions { WeightDecay = 10 }, nameof(TrainingOptions.WeightDecay), "got 10");
        AssertRefused(new TrainingOptions { WeightDecay = double.NaN }, nameof(TrainingOptions.WeightDecay), "got NaN");
    }

    [Fact]
    public void TheBetas_AreInZeroToOne_ZeroIncluded()
    {
        new TrainingOptions { Beta1 = 0, Beta2 = 0 }.Validate();
        new TrainingOptions { Beta1 = 0.999999, Beta2 = 0.999999 }.Validate();
        AssertRefused(new TrainingOptions { Beta1 = 1 }, nameof(TrainingOptions.Beta1), "[0, 1), got 1");
        AssertRefused(new TrainingOptions { Beta1 = -0.5 }, nameof(TrainingOptions.Beta1), "got -0.5");
        AssertRefused(new TrainingOptions { Beta1 = double.NaN }, nameof(TrainingOptions.Beta1), "got NaN");
        AssertRefused(new TrainingOptions { Beta2 = 1 }, nameof(TrainingOptions.Beta2), "[0, 1), got 1");
        AssertRefused(new TrainingOptions { Beta2 = -0.5 }, nameof(TrainingOptions.Beta2), "got -0.5");
        AssertRefused(new TrainingOptions { Beta2 = double.NaN }, nameof(TrainingOptions.Beta2), "got NaN");
    }

    [Fact]
    public void GradientClip_ZeroMeansOff_NegativeOrNaNIsRefused()
    {
        new TrainingOptions { GradientClip = 0 }.Validate();
        AssertRefused(new TrainingOptions { GradientClip = -1e-9 }, nameof(TrainingOptions.GradientClip), ">= 0, got -1E-09");
        AssertRefused(new TrainingOptions { GradientClip = double.NaN }, nameof(TrainingOptions.GradientClip), "got NaN");
    }

    [Fact]
    public void TheSchedule_FloorsAtATenthOfThePeak_AndWarmsUpAtMostForTheRun()
    {
        var s = new TrainingOptions { LearningRate = 0.02, WarmupSteps = 5, Steps = 100 }.Schedule();
        Assert.Equal(0.002, s.MinLearningRate, 15);
        Assert.Equal(0.02, s.MaxLearningRate);
        Assert.Equal(5, s.WarmupSteps);
        Assert.Equal(100, s.DecaySteps);
        Assert.True(s.Cosine);
        Assert.Equal(0.003, new TrainingOptions { LearningRate = 0.02, MinLearningRate = 0.003 }.Schedule().MinLearningRate);
        Assert.Equal(7, new TrainingOptions { WarmupSteps = 50, Steps = 7 }.Schedule().WarmupSteps);
        Assert.False(new TrainingOptions { CosineDecay = false }.Schedule().Cosine);
    }

    [Fact]
    public void AChoiceThatNamesNoMember_IsRefused()
    {
        AssertRefused(new TrainingSpec { Tokenizer = (TokenizerKind)42 }, nameof(TrainingSpec.Tokenizer), "char, byte, bpe or gpt2, got 42");
        AssertRefused(new TrainingSpec { Init = (WeightInit)42 }, nameof(TrainingSpec.Init), "gpt2, torch or admin, got 42");
        AssertRefused(new TrainingSpec { Sampler = (SamplerKind)42 }, nameof(TrainingSpec.Sampler), "random or windows, got 42");
        AssertRefused(new TrainingSpec { Architecture = (ModelArchitecture)42 }, nameof(TrainingSpec.Architecture), "gpt or llama, got 42");
        AssertRefused(new TrainingSpec { Preset = (ModelPreset)42 }, nameof(TrainingSpec.Preset), "got 42");
        AssertRefused(new TrainingSpec { Distributed = (DistributedKind)42 }, nameof(TrainingSpec.Distributed), "none or mpi, got 42");
        AssertRefused(new TrainingSpec { Residual = (ResidualMode)420 }, nameof(TrainingSpec.Residual), "not a residual policy (420)");
        AssertRefused(new TrainingSpec { Architecture = ModelArchitecture.Llama, Preset = ModelPreset.Gpt2Book124M }, nameof(TrainingSpec.Preset), "llama has no preset 'gpt2-124m'");
    }

    [Fact]
    public void TheCorpusAndMerges_StayInRange()
    {
        new TrainingSpec { CorpusCharacters = 1000 }.Validate();
        new TrainingSpec { CorpusCharacters = 100_000_000 }.Validate();
        AssertRefused(new TrainingSpec { CorpusCharacters = 999 }, nameof(TrainingSpec.CorpusCharacters), "between 1000 and 100000000, got 999");
        AssertRefused(new TrainingSpec { CorpusCharacters = 100_000_001 }, nameof(TrainingSpec.CorpusCharacters), "got 100000001");
        new TrainingSpec { BpeMerges = 1 }.Validate();
        new TrainingSpec { BpeMerges = 1 << 20 }.Validate();
        AssertRefused(new TrainingSpec { BpeMerges = 0 }, nameof(TrainingSpec.BpeMerges), "between 1 and 1048576, got 0");
        AssertRefused(new TrainingSpec { BpeMerges = (1 << 20) + 1 }, nameof(TrainingSpec.BpeMerges), "got 1048577");
    }

    [Fact]
    public void AdminInit_GoesOnlyWithTheAdminPolicy()
    {
        new TrainingSpec { Init = WeightInit.Admin }.Validate();
        new TrainingSpec { Init = WeightInit.Admin, Residual = ResidualMode.Admin }.Validate();
        new TrainingSpec { Init = WeightInit.Torch, Residual = ResidualMode.PostNorm }.Validate();
        var e = Refused(new TrainingSpec { Init = WeightInit.Admin, Residual = ResidualMode.PostNorm });
        Assert.Equal(nameof(TrainingSpec.Init), e.Field);
        Assert.Contains("not of " + ResidualPolicies.Get(ResidualMode.PostNorm).Name, e.Reason);
    }

    [Fact]
    public void TheSplitAndTheWindows_StayInRange()
    {
        new TrainingSpec { TrainFraction = 1e-9 }.Validate();
        new TrainingSpec { TrainFraction = 0.999999 }.Validate();
        AssertRefused(new TrainingSpec { TrainFraction = 0 }, nameof(TrainingSpec.TrainFraction), "(0, 1), got 0");
        AssertRefused(new TrainingSpec { TrainFraction = 1 }, nameof(TrainingSpec.TrainFraction), "got 1");
        AssertRefused(new TrainingSpec { TrainFraction = double.NaN }, nameof(TrainingSpec.TrainFraction), "got NaN");
        new TrainingSpec { Stride = 1 }.Validate();
        AssertRefused(new TrainingSpec { Stride = 0 }, nameof(TrainingSpec.Stride), "positive, got 0");
        AssertRefused(new TrainingSpec { Stride = -2 }, nameof(TrainingSpec.Stride), "got -2");
        new TrainingSpec { Sampler = SamplerKind.Windows, Epochs = 1 }.Validate();
        AssertRefused(new TrainingSpec { Sampler = SamplerKind.Windows, Epochs = 0 }, nameof(TrainingSpec.Epochs), "positive, got 0");
        AssertRefused(new TrainingSpec { Sampler = SamplerKind.Windows, Epochs = -1 }, nameof(TrainingSpec.Epochs), "got -1");
        AssertRefused(new TrainingSpec { Sampler = SamplerKind.Random, Epochs = 2 }, nameof(TrainingSpec.Epochs), "only to the windows sampler");
        new TrainingSpec { SampleTokens = 0 }.Validate();
        AssertRefused(new TrainingSpec { SampleTokens = -1 }, nameof(TrainingSpec.SampleTokens), ">= 0, got -1");
    }

    [Fact]
    public void Dropout_IsInZeroToOne_ZeroIncluded()
    {
        new TrainingSpec { Dropout = 0f }.Validate();
        new TrainingSpec { Dropout = 0.999f }.Validate();
        AssertRefused(new TrainingSpec { Dropout = 1f }, nameof(TrainingSpec.Dropout), "[0, 1), got 1");
        AssertRefused(new TrainingSpec { Dropout = -0.25f }, nameof(TrainingSpec.Dropout), "got -0.25");
        AssertRefused(new TrainingSpec { Dropout = float.NaN }, nameof(TrainingSpec.Dropout), "got NaN");
    }

    [Theory]
    [InlineData(nameof(TrainingSpec.Layers), 10_000)]
    [InlineData(nameof(TrainingSpec.Heads), 65_536)]
    [InlineData(nameof(TrainingSpec.Width), 65_536)]
    [InlineData(nameof(TrainingSpec.ModelContext), 1 << 20)]
    public void ModelSizes_AreBetweenOneAndTheirLimit(string field, int max)
    {
        TrainingSpec With(int value) => field switch
        {
            nameof(TrainingSpec.Layers) => new() { Layers = value },
            nameof(TrainingSpec.Heads) => new() { Heads = value },
            nameof(TrainingSpec.Width) => new() { Width = value },
            _ => new() { ModelContext = value },
        };
        With(1).Validate();
        With(max).Validate();
        AssertRefused(With(0), field, $"between 1 and {max}, got 0");
        AssertRefused(With(-1), field, "got -1");
        AssertRefused(With(max + 1), field, $"got {max + 1}");
    }

    [Fact]
    public void KeyValueHeads_AreLlamasAndAtLeastOne()
    {
        new TrainingSpec { Architecture = ModelArchitecture.Llama, KvHeads = 1 }.Validate();
        AssertRefused(new TrainingSpec { Architecture = ModelArchitecture.Llama, KvHeads = 0 }, nameof(TrainingSpec.KvHeads), "at least 1, got 0");
        AssertRefused(new TrainingSpec { Architecture = ModelArchitecture.Gpt, KvHeads = 2 }, nameof(TrainingSpec.KvHeads), "Llama architecture only");
    }

    [Fact]
    public void TheHeads_DivideTheWidth()
    {
        new TrainingSpec { Heads = 4, Width = 64 }.Validate();
        AssertRefused(new TrainingSpec { Heads = 3, Width = 64 }, nameof(TrainingSpec.Heads), "3 heads do not divide width 64");
    }

    [Fact]
    public void TheSpec_ValidatesItsOptions()
    {
        AssertRefused(new TrainingSpec { Options = new() { Steps = 0 } }, nameof(TrainingOptions.Steps), "got 0");
        AssertRefused(new TrainingSpec { Options = new() { Beta2 = 2 } }, nameof(TrainingOptions.Beta2), "got 2");
    }
}
