// What the mutation run of Models/ found untested in the encoder, the MLP stack and the decoders' construction: config
// and input checks with their fields and values, PyTorch's default init where it is used (the MLP stack, a GPT with
// TorchDefaultInit, including its untied head), GPT-2's init of Llama blocks, parameter names, and the MSE loss.
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Models;

public class ModelFamilyDetailTests
{
    static void AssertRefused(Action action, string field, string quoted)
    {
        var e = Assert.Throws<InvalidInputException>(action);
        Assert.Equal(field, e.Field);
        Assert.Contains(quoted, e.Reason);
    }

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
}
