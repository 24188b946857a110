// GptConfig, LlamaConfig and RopeScaling validation at the edge of every range (the field named, the value quoted),
// their derived sizes, the presets' lookup, and Llama 3's rotary frequency scaling at points worked out by hand from
// its published definition (keep the high frequencies, divide the low ones by the factor, blend in between).
using ResidualLM.Models;
using Xunit;
using static ResidualLM.Tests.InputErrors;

namespace ResidualLM.Tests.Models;

public class ModelConfigValidationTests
{
    static readonly GptConfig Gpt = GptConfig.Preset("test");
    static readonly LlamaConfig Llama = LlamaConfig.Preset("test");

    [Fact]
    public void GptSizes_MustBePositive()
    {
        Gpt.Validate();
        AssertRefused(() => (Gpt with { VocabSize = 0 }).Validate(), nameof(GptConfig.VocabSize), "must be positive, got 0");
        AssertRefused(() => (Gpt with { ContextLength = -1 }).Validate(), nameof(GptConfig.ContextLength), "got -1");
        AssertRefused(() => (Gpt with { Width = 0 }).Validate(), nameof(GptConfig.Width), "got 0");
        AssertRefused(() => (Gpt with { LayerCount = 0 }).Validate(), nameof(GptConfig.LayerCount), "got 0");
        AssertRefused(() => (Gpt with { HeadCount = 0 }).Validate(), nameof(GptConfig.HeadCount), "got 0");
        AssertRefused(() => (Gpt with { HeadCount = 5 }).Validate(), nameof(GptConfig.HeadCount), "5 heads do not divide width 12");
        AssertRefused(() => (Gpt with { FeedForwardWidth = 0 }).Validate(), nameof(GptConfig.FeedForwardWidth), "got 0");
        (Gpt with { VocabSize = 1, ContextLength = 1, LayerCount = 1, HeadCount = 12, FeedForwardWidth = 1 }).Validate();
    }

    [Fact]
    public void GptDropoutNormAndPolicy_AreChecked()
    {
        (Gpt with { Dropout = 0f }).Validate();
        (Gpt with { Dropout = 0.999f }).Validate();
        AssertRefused(() => (Gpt with { Dropout = 1f }).Validate(), nameof(GptConfig.Dropout), "must be in [0, 1), got 1");
        AssertRefused(() => (Gpt with { Dropout = -0.5f }).Validate(), nameof(GptConfig.Dropout), "got -0.5");
        AssertRefused(() => (Gpt with { Dropout = float.NaN }).Validate(), nameof(GptConfig.Dropout), "got NaN");
        (Gpt with { NormEps = 1e-30f }).Validate();
        AssertRefused(() => (Gpt with { NormEps = 0f }).Validate(), nameof(GptConfig.NormEps), "must be positive, got 0");
        AssertRefused(() => (Gpt with { NormEps = float.PositiveInfinity }).Validate(), nameof(GptConfig.NormEps), "got Infinity");
        AssertRefused(() => (Gpt with { NormEps = float.NaN }).Validate(), nameof(GptConfig.NormEps), "got NaN");
        AssertRefused(() => (Gpt with { Residual = (ResidualMode)77 }).Validate(), nameof(GptConfig.Residual), "unknown residual mode 77");
    }

    [Fact]
    public void LlamaSizes_AreChecked()
    {
        Llama.Validate();
        AssertRefused(() => (Llama with { VocabSize = 0 }).Validate(), nameof(LlamaConfig.VocabSize), "must be positive, got 0");
        AssertRefused(() => (Llama with { ContextLength = 0 }).Validate(), nameof(LlamaConfig.ContextLength), "got 0");
        AssertRefused(() => (Llama with { Width = -4 }).Validate(), nameof(LlamaConfig.Width), "got -4");
        AssertRefused(() => (Llama with { LayerCount = 0 }).Validate(), nameof(LlamaConfig.LayerCount), "got 0");
        AssertRefused(() => (Llama with { HeadCount = 0 }).Validate(), nameof(LlamaConfig.HeadCount), "got 0");
        AssertRefused(() => (Llama with { FeedForwardWidth = 0 }).Validate(), nameof(LlamaConfig.FeedForwardWidth), "got 0");
        // Rotary embeddings rotate pairs of channels: the head size is even.
        AssertRefused(() => (Llama with { HeadCount = 5 }).Validate(), nameof(LlamaConfig.HeadCount), "5 heads do not divide width 12");
        AssertRefused(() => (Llama with { HeadCount = 4 }).Validate(), nameof(LlamaConfig.HeadCount), "head size 3 must be even");
        (Llama with { HeadCount = 6 }).Validate();   // head size 2
        (Llama with { HeadCount = 4, HeadSize = 4 }).Validate();   // an explicit head size need not divide the width
        AssertRefused(() => (Llama with { HeadSize = 5 }).Validate(), nameof(LlamaConfig.HeadSize), "head size 5 must be even");
        AssertRefused(() => (Llama with { HeadSize = 0 }).Validate(), nameof(LlamaConfig.HeadSize), "must be positive, got 0");
        AssertRefused(() => (Llama with { HeadSize = -2 }).Validate(), nameof(LlamaConfig.HeadSize), "got -2");
    }

    [Fact]
    public void LlamaKeyValueHeads_DivideTheQueryHeads()
    {
        (Llama with { KeyValueHeadCount = 1 }).Validate();
        (Llama with { KeyValueHeadCount = 2 }).Validate();
        AssertRefused(() => (Llama with { KeyValueHeadCount = 0 }).Validate(), nameof(LlamaConfig.KeyValueHeadCount), "must be positive, got 0");
        AssertRefused(() => (Llama with { HeadCount = 6, KeyValueHeadCount = 4 }).Validate(), nameof(LlamaConfig.KeyValueHeadCount), "4 key/value heads do not divide 6 query heads");
        Assert.Equal(2, (Llama with { KeyValueHeadCount = 2 }).KvHeads);
        Assert.Equal(1, (Llama with { KeyValueHeadCount = 1 }).KvHeads);
        Assert.Equal(Llama.HeadCount, Llama.KvHeads);
        Assert.Equal(6, Llama.HeadDim);   // width 12 over 2 heads
        Assert.Equal(4, (Llama with { HeadSize = 4 }).HeadDim);
    }

    [Fact]
    public void LlamaNormThetaDropoutAndPolicy_AreChecked()
    {
        AssertRefused(() => (Llama with { NormEps = 0f }).Validate(), nameof(LlamaConfig.NormEps), "must be positive, got 0");
        AssertRefused(() => (Llama with { NormEps = float.NaN }).Validate(), nameof(LlamaConfig.NormEps), "got NaN");
        (Llama with { RopeTheta = 1.0001f }).Validate();
        AssertRefused(() => (Llama with { RopeTheta = 1f }).Validate(), nameof(LlamaConfig.RopeTheta), "must exceed 1, got 1");
        AssertRefused(() => (Llama with { RopeTheta = float.NaN }).Validate(), nameof(LlamaConfig.RopeTheta), "got NaN");
        AssertRefused(() => (Llama with { Dropout = 1f }).Validate(), nameof(LlamaConfig.Dropout), "got 1");
        AssertRefused(() => (Llama with { Residual = (ResidualMode)77 }).Validate(), nameof(LlamaConfig.Residual), "unknown residual mode 77");
        AssertRefused(() => (Llama with { RopeScaling = new RopeScaling(0.5, 1, 4, 8192) }).Validate(), "rope_scaling.factor", "at least 1, got 0.5");
    }

    [Fact]
    public void RopeScaling_IsChecked()
    {
        new RopeScaling(1, 1e-9, 2e-9, 1).Validate();
        AssertRefused(() => new RopeScaling(0.999, 1, 4, 8192).Validate(), "rope_scaling.factor", "must be at least 1, got 0.999");
        AssertRefused(() => new RopeScaling(double.NaN, 1, 4, 8192).Validate(), "rope_scaling.factor", "got NaN");
        AssertRefused(() => new RopeScaling(8, 0, 4, 8192).Validate(), "rope_scaling.low_freq_factor", "must be positive, got 0");
        AssertRefused(() => new RopeScaling(8, double.NaN, 4, 8192).Validate(), "rope_scaling.low_freq_factor", "got NaN");
        AssertRefused(() => new RopeScaling(8, 2, 2, 8192).Validate(), "rope_scaling.high_freq_factor", "must exceed low_freq_factor 2, got 2");
        AssertRefused(() => new RopeScaling(8, 2, 1, 8192).Validate(), "rope_scaling.high_freq_factor", "got 1");
        AssertRefused(() => new RopeScaling(8, 1, 4, 0).Validate(), "rope_scaling.original_max_position_embeddings", "must be positive, got 0");
        AssertRefused(() => new RopeScaling(8, 1, 4, -1).Validate(), "rope_scaling.original_max_position_embeddings", "got -1");
    }

    [Fact]
    public void RopeScaling_KeepsHighDividesLowAndBlendsBetween()
    {
        // Llama 3.1's values: factor 8, low 1, high 4, 8192 original positions, so wavelengths below 8192 / 4 = 2048 keep
        // their frequency, above 8192 / 1 are divided by 8, and at 4096 the blend weight is (8192 / 4096 - 1) / (4 - 1) = 1/3:
        // (2/3) f / 8 + (1/3) f = 5 f / 12.
        var scaling = new RopeScaling(8, 1, 4, 8192);
        double F(double wavelength) => 2 * Math.PI / wavelength;
        double[] input = [F(1024), F(2047), F(4096), F(8193), F(16384), F(6144)];
        var scaled = scaling.Apply(input);
        Assert.Equal(input.Length, scaled.Length);
        Assert.Equal(input[0], scaled[0], 15);
        Assert.Equal(input[1], scaled[1], 15);
        Assert.Equal(input[2] * 5 / 12, scaled[2], 15);
        Assert.Equal(input[3] / 8, scaled[3], 15);
        Assert.Equal(input[4] / 8, scaled[4], 15);
        // At 6144: weight (8192 / 6144 - 1) / 3 = 1/9, so (8/9) f / 8 + (1/9) f = 2 f / 9.
        Assert.Equal(input[5] * 2 / 9, scaled[5], 15);
        Assert.Empty(scaling.Apply([]));
    }

    [Fact]
    public void Presets_AreFoundByNameInAnyCase_AndUnknownNamesListTheKnownOnes()
    {
        Assert.Equal(GptConfig.Preset("tiny"), GptConfig.Preset("TINY"));
        Assert.Equal(LlamaConfig.Preset("llama-tiny"), LlamaConfig.Preset("Llama-Tiny"));
        Assert.Contains("llama-tiny", LlamaConfig.PresetNames);
        Assert.Contains("gpt2-124m", GptConfig.PresetNames);
        var e = Assert.Throws<InvalidInputException>(() => GptConfig.Preset("gpt5"));
        Assert.Equal("preset", e.Field);
        Assert.Contains("unknown GPT preset 'gpt5'; known: gpt2-124m, gpt2,", e.Reason);
        var l = Assert.Throws<InvalidInputException>(() => LlamaConfig.Preset("gpt2"));
        Assert.Contains("unknown Llama preset 'gpt2'; known: llama-tiny, test", l.Reason);
    }
}
