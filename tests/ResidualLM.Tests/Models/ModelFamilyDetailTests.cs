// What the mutation run of Models/ found untested in the encoder, the MLP stack and the decoders' construction: config
// and input checks with their fields and values, PyTorch's default init where it is used (the MLP stack, a GPT with
// TorchDefaultInit, including its untied head), GPT-2's init of Llama blocks, parameter names, and the MSE loss.
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using Xunit;
using static ResidualLM.Tests.InputErrors;

namespace ResidualLM.Tests.Models;

public class ModelFamilyDetailTests
{
    [Fact]
    public void EncoderConfig_IsChecked()
    {
        var c = EncoderConfig.Preset("test");
        Assert.Equal(EncoderConfig.Preset("encoder-tiny"), new EncoderConfig());
        AssertRefused(() => (c with { VocabSize = 0 }).Validate(), nameof(EncoderConfig.VocabSize), "must be positive, got 0");
        AssertRefused(() => (c with { ContextLength = 0 }).Validate(), nameof(EncoderConfig.ContextLength), "got 0");
        AssertRefused(() => (c with { Width = -1 }).Validate(), nameof(EncoderConfig.Width), "got -1");
        AssertRefused(() => (c with { LayerCount = 0 }).Validate(), nameof(EncoderConfig.LayerCount), "got 0");
        AssertRefused(() => (c with { ClassCount = 0 }).Validate(), nameof(EncoderConfig.ClassCount), "got 0");
        AssertRefused(() => (c with { HeadCount = 5 }).Validate(), nameof(EncoderConfig.HeadCount), "5 heads do not divide width 12");
        AssertRefused(() => (c with { Dropout = 1f }).Validate(), nameof(EncoderConfig.Dropout), "must be in [0, 1), got 1");
        AssertRefused(() => EncoderConfig.Preset("bert"), "preset", "unknown encoder preset 'bert'");
    }

    [Fact]
    public void TheEncoder_ChecksItsInputs()
    {
        var encoder = new Encoder(EncoderConfig.Preset("test"));   // context 8
        encoder.Forward(new int[16], 2, 8, [8, 1]);                  // full and one-token sequences
        AssertRefused(() => encoder.Forward(new int[15], 2, 8, [8, 8]), "ids", "15 ids do not form a batch of 2 x 8");
        AssertRefused(() => encoder.Forward([], 0, 8, []), "ids", "a batch of 0 x 8");
        AssertRefused(() => encoder.Forward([], 2, 0, [1, 1]), "ids", "a batch of 2 x 0");
        AssertRefused(() => encoder.Forward(new int[18], 2, 9, [9, 9]), "time", "sequence length 9 exceeds the context length 8");
        AssertRefused(() => encoder.Forward(new int[16], 2, 8, [8]), "lengths", "1 lengths for a batch of 2");
        AssertRefused(() => encoder.Forward(new int[16], 2, 8, [8, 0]), "lengths", "length 0 is outside [1, 8]");
        AssertRefused(() => encoder.Forward(new int[16], 2, 8, [9, 8]), "lengths", "length 9 is outside [1, 8]");
    }

    [Fact]
    public void MlpStackConfig_IsChecked()
    {
        new MlpStackConfig { LayerSizes = [3, 1] }.Validate();
        AssertRefused(() => new MlpStackConfig { LayerSizes = [3] }.Validate(), nameof(MlpStackConfig.LayerSizes), "needs at least an input and an output width");
        AssertRefused(() => new MlpStackConfig { LayerSizes = [3, 0, 1] }.Validate(), "LayerSizes[1]", "must be positive, got 0");
        AssertRefused(() => new MlpStackConfig { Activation = (Activation)9 }.Validate(), nameof(MlpStackConfig.Activation), "unknown activation 9");
    }

    /// <summary>U(-1/sqrt(in), 1/sqrt(in)): every value inside the bound, the extremes near it, mean 0 and variance bound^2 / 3.</summary>
    static void AssertTorchUniform(float[] values, int inFeatures, string what)
    {
        double bound = 1 / Math.Sqrt(inFeatures);
        Assert.All(values, v => Assert.True(Math.Abs(v) <= bound, $"{what}: {v} outside ±{bound}"));
        Assert.True(values.Max() > 0.9 * bound && values.Min() < -0.9 * bound, $"{what}: extremes {values.Min()}, {values.Max()} against ±{bound}");
        double mean = values.Average(v => (double)v), variance = values.Average(v => (v - mean) * (v - mean));
        Assert.True(Math.Abs(mean) < 0.1 * bound, $"{what}: mean {mean}");
        Assert.True(Math.Abs(variance / (bound * bound / 3) - 1) < 0.15, $"{what}: variance {variance} against {bound * bound / 3}");
    }

    [Fact]
    public void TheMlpStack_DrawsPyTorchsDefaultInit()
    {
        var mlp = new MlpStack(new MlpStackConfig { LayerSizes = [64, 64, 32] });
        AssertTorchUniform(mlp.Layers[0].Weight.Data, 64, "layer 0 weight");
        AssertTorchUniform(mlp.Layers[1].Weight.Data, 64, "layer 1 weight");
        Assert.All(mlp.Layers[0].Bias!.Data, v => Assert.True(Math.Abs(v) <= 1 / 8.0));
    }

    [Fact]
    public void ATorchInitGpt_DrawsItsUntiedHeadUniformly()
    {
        var gpt = new Gpt(GptConfig.Preset("test") with { Width = 64, HeadCount = 4, VocabSize = 100, TorchDefaultInit = true });
        AssertTorchUniform(gpt.Head!.Weight.Data, 64, "head");
        AssertTorchUniform(gpt.Blocks[0].Attention.Qkv.Weight.Data, 64, "qkv");
    }

    [Fact]
    public void LlamaBlocks_GetGpt2sScaledInit()
    {
        // 8 blocks: output projections 0.02 / sqrt(16) = 0.005, the others 0.02.
        var llama = new Llama(LlamaConfig.Preset("test") with { Width = 64, HeadCount = 4, FeedForwardWidth = 128, LayerCount = 8 });
        double Std(float[] values) => Math.Sqrt(values.Average(v => (double)v * v));
        Assert.Equal(0.02, Std(llama.Blocks[0].Attention.Qkv.Weight.Data), 0.002);
        Assert.Equal(0.005, Std(llama.Blocks[0].Attention.Proj.Weight.Data), 0.0005);
    }

    [Fact]
    public void EveryParameter_CarriesItsName()
    {
        Module[] models =
        [
            new Gpt(GptConfig.Preset("test")), new Llama(LlamaConfig.Preset("test")), new Encoder(EncoderConfig.Preset("test")),
            new MlpStack(new MlpStackConfig()),
        ];
        foreach (var model in models)
            foreach (var (name, tensor) in model.NamedParameters())
                Assert.Equal(name, tensor.Name);
    }

    [Fact]
    public void MseLoss_IsTheMeanSquaredDifference()
    {
        var output = new Tensor([1f, 2f, 3f, 4f], 2, 2);
        var target = new Tensor([1f, 0f, 5f, 1f], 2, 2);
        Assert.Equal((0 + 4 + 4 + 9) / 4f, MlpStack.MseLoss(output, target).Item());
    }

    [Fact]
    public void Quantize_NeedsWholeBlocks_AndWeightFormatSaysWhatIsStored()
    {
        var narrow = new Gpt(GptConfig.Preset("test"));   // width 12: rows of 12 values
        var e = Assert.Throws<InvalidInputException>(() => narrow.Quantize(ResidualLM.Kernels.BlockFormat.Q8_0));
        Assert.Equal("weights", e.Field);
        Assert.Contains("q8_0 needs matrix rows that are a multiple of 32 values; this model has a (36, 12) matrix", e.Reason);
        Assert.Equal("f32", narrow.WeightFormat);

        var tied = new Gpt(GptConfig.Preset("test") with { Width = 32, HeadCount = 2, TieWeights = true });
        Assert.Equal("f32", tied.WeightFormat);
        tied.Linears().First().Quantize(ResidualLM.Kernels.BlockFormat.Q4_0);
        Assert.Equal("mixed (q4_0, f32)", tied.WeightFormat);
        tied.Quantize(ResidualLM.Kernels.BlockFormat.Q8_0);
        Assert.Equal("q8_0", tied.WeightFormat);
        Assert.NotNull(tied.TokenEmbedding.Quantized);     // the tied head is the token table
        // Only the token table left in float: the format says so.
        var tableInFloat = new Gpt(GptConfig.Preset("test") with { Width = 32, HeadCount = 2, TieWeights = true });
        foreach (var linear in tableInFloat.Linears()) linear.Quantize(ResidualLM.Kernels.BlockFormat.Q8_0);
        Assert.Equal("mixed (q8_0, f32)", tableInFloat.WeightFormat);
    }

    [Fact]
    public void AnExplicitHeadSize_StillNeedsAPositiveHeadCount()
    {
        var e = Assert.Throws<InvalidInputException>(() => (LlamaConfig.Preset("test") with { HeadSize = 4, HeadCount = 0 }).Validate());
        Assert.Equal(nameof(LlamaConfig.HeadCount), e.Field);
        Assert.Contains("must be positive, got 0", e.Reason);
    }

    [Fact]
    public void RopeScaling_UsesTheLowFactorForTheLowBoundary()
    {
        // low 2: wavelengths above 8192 / 2 = 4096 are divided by the factor; at 3072 the weight is (8192 / 3072 - 2) / 2 = 1/3.
        var scaling = new RopeScaling(8, 2, 4, 8192);
        double F(double wavelength) => 2 * Math.PI / wavelength;
        var scaled = scaling.Apply([F(5000), F(3072), F(1000)]);
        Assert.Equal(F(5000) / 8, scaled[0], 15);
        Assert.Equal(F(3072) * 5 / 12, scaled[1], 15);
        Assert.Equal(F(1000), scaled[2], 15);
    }

    [Fact]
    public void AnyOtherModule_IsSummarisedByItsType()
    {
        var info = ModelInfo.Of(new Linear(4, 3, bias: true, new Rng(1)));
        Assert.Equal("Linear", info.Architecture);
        Assert.Equal(15, info.Parameters);
        Assert.False(info.Tied);
        Assert.Equal(0, info.Blocks);
        Assert.Equal(0, info.ResidualConnections);
    }

    [Theory]
    [InlineData(ResidualMode.DenseFormer)]
    [InlineData(ResidualMode.ValueResidual)]
    [InlineData(ResidualMode.StaticHyper2)]
    [InlineData(ResidualMode.DynamicHyper4)]
    public void TheClosedFormCount_MatchesTheModel_AtFourBlocks(ResidualMode mode)
    {
        var config = GptConfig.Preset("test") with { LayerCount = 4, Residual = mode };
        Assert.Equal(new Gpt(config).ParameterCount(), config.CountParameters());
    }
}
