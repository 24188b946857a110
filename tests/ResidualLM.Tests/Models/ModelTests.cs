// Shapes, validation, parameter counts, residual counts, init and traces of the models.
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Models;

public class ModelTests
{
    static readonly GptConfig Test = GptConfig.Preset("test");

    static int[] Ids(int count, int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ => rng.NextInt(vocab)).ToArray();
    }

    public static TheoryData<GptConfig, string> BadGptConfigs => new()
    {
        { Test with { Width = 13 }, "HeadCount" },
        { Test with { HeadCount = 0 }, "HeadCount" },
        { Test with { VocabSize = 0 }, "VocabSize" },
        { Test with { ContextLength = -1 }, "ContextLength" },
        { Test with { Width = 0 }, "Width" },
        { Test with { LayerCount = 0 }, "LayerCount" },
        { Test with { Dropout = 1f }, "Dropout" },
        { Test with { Dropout = -0.1f }, "Dropout" },
        { Test with { Dropout = float.NaN }, "Dropout" },
        { Test with { FeedForwardWidth = 0 }, "FeedForwardWidth" },
        { Test with { Residual = (ResidualMode)42 }, "Residual" },
    };

    [Theory]
    [MemberData(nameof(BadGptConfigs))]
    public void GptConfig_Invalid_ThrowsNamingField(GptConfig config, string field)
    {
        var e = Assert.Throws<InvalidInputException>(() => new Gpt(config));
        Assert.Equal(field, e.Field);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void OtherConfigs_Invalid_ThrowNamingField()
    {
        var llama = LlamaConfig.Preset("test");
        Assert.Equal("HeadCount", Assert.Throws<InvalidInputException>(() => new Llama(llama with { Width = 10, HeadCount = 2 }).ToString()).Field); // head size 5 is odd
        Assert.Equal("FeedForwardWidth", Assert.Throws<InvalidInputException>(() => (llama with { FeedForwardWidth = 0 }).Validate()).Field);
        Assert.Equal("NormEps", Assert.Throws<InvalidInputException>(() => (llama with { NormEps = 0f }).Validate()).Field);
        var encoder = EncoderConfig.Preset("test");
        Assert.Equal("ClassCount", Assert.Throws<InvalidInputException>(() => (encoder with { ClassCount = 0 }).Validate()).Field);
        Assert.Equal("HeadCount", Assert.Throws<InvalidInputException>(() => (encoder with { HeadCount = 5 }).Validate()).Field);
        Assert.Equal("LayerSizes", Assert.Throws<InvalidInputException>(() => new MlpStackConfig { LayerSizes = [3] }.Validate()).Field);
        Assert.Equal("LayerSizes[2]", Assert.Throws<InvalidInputException>(() => new MlpStackConfig { LayerSizes = [3, 3, 0] }.Validate()).Field);
        Assert.Equal("preset", Assert.Throws<InvalidInputException>(() => GptConfig.Preset("gpt5")).Field);
    }

    [Fact]
    public void Presets_AreValid_AndMatchTheirSources()
    {
        foreach (var name in GptConfig.PresetNames) GptConfig.Preset(name).Validate();
        foreach (var name in LlamaConfig.PresetNames) LlamaConfig.Preset(name).Validate();
        foreach (var name in EncoderConfig.PresetNames) EncoderConfig.Preset(name).Validate();
        var book = GptConfig.Preset("gpt2-124m");
        Assert.Equal((50257, 1024, 768, 12, 12, 0.1f, false, false), (book.VocabSize, book.ContextLength, book.Width, book.HeadCount, book.LayerCount, book.Dropout, book.QkvBias, book.TieWeights));
        var sc = GptConfig.Preset("shakespeare-char");
        Assert.Equal((65, 64, 4, 4, 128, 0f), (sc.VocabSize, sc.ContextLength, sc.LayerCount, sc.HeadCount, sc.Width, sc.Dropout));
        var deep = GptConfig.Preset("deep-narrow");
        Assert.Equal((256, 64, 48, 4, 64), (deep.VocabSize, deep.ContextLength, deep.LayerCount, deep.HeadCount, deep.Width));
    }

    /// <summary>The closed-form count agrees with the modules actually built, over every policy, tying and bias.</summary>
    [Fact]
    public void CountParameters_MatchesBuiltModel()
    {
        foreach (ResidualMode mode in Enum.GetValues<ResidualMode>())
            foreach (bool tie in new[] { false, true })
                foreach (bool bias in new[] { false, true })
                {
                    var config = Test with { Residual = mode, TieWeights = tie, QkvBias = bias, FeedForwardWidth = 20 };
                    Assert.Equal(new Gpt(config).ParameterCount(), config.CountParameters());
                }
    }

    [Fact]
    public void Gpt2_124M_ParameterCounts_MatchTheBook()
    {
        // Book, chapter 4: 163,009,536 in total; 124,412,160 without the output head (i.e. with tied weights).
        var book = GptConfig.Preset("gpt2-124m");
        Assert.Equal(163_009_536, book.CountParameters());
        Assert.Equal(124_412_160, (book with { TieWeights = true }).CountParameters());
        Assert.Equal(124_439_808, GptConfig.Preset("gpt2").CountParameters()); // Hugging Face GPT-2 small (qkv bias)
    }

    [Theory]
    [InlineData(ResidualMode.PreNorm, 24)]
    [InlineData(ResidualMode.DeepNorm, 24)]
    [InlineData(ResidualMode.None, 0)]
    public void ModelInfo_CountsTwoResidualsPerBlock(ResidualMode mode, int expected)
    {
        var config = GptConfig.Preset("test-deep") with { LayerCount = 12, Residual = mode, TieWeights = true };
        var info = ModelInfo.Of(new Gpt(config));
        Assert.Equal(expected, info.ResidualConnections);
        Assert.Equal(12, info.Blocks);
        Assert.True(info.Tied);
        Assert.Equal(config.CountParameters(), info.Parameters);
        Assert.Equal((config with { TieWeights = false }).CountParameters(), info.ParametersUntied);
        Assert.Equal(info.Parameters, info.ParametersTied);
        Assert.Contains("residual connections: " + expected, info.ToString());
    }

    [Fact]
    public void Forward_ShapesAndInputChecks()
    {
        var model = new Gpt(Test);
        var logits = model.Forward(Ids(2 * 5, 11, 1), 2, 5);
        Assert.Equal("[2, 5, 11]", logits.ShapeString);
        Assert.Equal("time", Assert.Throws<InvalidInputException>(() => model.Forward(Ids(9, 11, 1), 1, 9)).Field);
        Assert.Equal("ids", Assert.Throws<InvalidInputException>(() => model.Forward(Ids(9, 11, 1), 2, 5)).Field);
        Assert.Equal("ids", Assert.Throws<InvalidInputException>(() => model.Forward([0, 11], 1, 2)).Field);
        var llama = new Llama(LlamaConfig.Preset("test"));
        Assert.Equal("[3, 4, 11]", llama.Forward(Ids(12, 11, 2), 3, 4).ShapeString);
        var encoder = new Encoder(EncoderConfig.Preset("test"));
        Assert.Equal("[2, 3]", encoder.Forward(Ids(10, 11, 3), 2, 5, [5, 2]).ShapeString);
        Assert.Equal("lengths", Assert.Throws<InvalidInputException>(() => encoder.Forward(Ids(10, 11, 3), 2, 5, [0, 2])).Field);
    }

    [Fact]
    public void Encoder_PaddingDoesNotChangeTheResult()
    {
        var encoder = new Encoder(EncoderConfig.Preset("test"));
        int[] ids = Ids(5, 11, 4);
        var short3 = encoder.Forward(ids[..3], 1, 3, [3]);
        int[] padded = [.. ids[..3], 7, 9];                                     // arbitrary tokens in the padding
        var padded5 = encoder.Forward(padded, 1, 5, [3]);
        for (int i = 0; i < 3; i++) Assert.Equal(short3.Data[i], padded5.Data[i], 5);
    }

    [Fact]
    public void Decoder_IsCausal_FutureTokensDoNotChangeThePast()
    {
        foreach (var model in new LanguageModel[] { new Gpt(Test), new Llama(LlamaConfig.Preset("test")) })
        {
            int[] a = Ids(6, 11, 5), b = (int[])a.Clone();
            b[5] = (b[5] + 1) % 11;
            var la = model.Forward(a, 1, 6); var lb = model.Forward(b, 1, 6);
            for (int i = 0; i < 5 * 11; i++) Assert.Equal(la.Data[i], lb.Data[i]);
            Assert.NotEqual(la.Data[5 * 11], lb.Data[5 * 11]);
        }
    }

    [Fact]
    public void ForwardTrace_PreNorm_StreamIsInputPlusEdits()
    {
        var model = new Gpt(Test);
        model.Eval();
        int[] ids = Ids(10, 11, 6);
        var trace = model.ForwardTrace(ids, 2, 5);
        Assert.Equal(model.Forward(ids, 2, 5).Data, trace.Logits.Data);
        Assert.Equal(Test.LayerCount, trace.Blocks.Count);
        foreach (var block in trace.Blocks)
            for (int i = 0; i < block.Input.Size; i++)
            {
                Assert.Equal(block.Input.Data[i] + block.AttentionOutput.Data[i], block.Middle.Data[i], 5);
                Assert.Equal(block.Middle.Data[i] + block.FeedForwardOutput.Data[i], block.Output.Data[i], 5);
            }
        Assert.Same(trace.Blocks[0].Output, trace.Blocks[1].Input);
    }

    [Fact]
    public void ReZero_AtInit_EveryBlockIsTheIdentity()
    {
        var trace = new Gpt(Test with { Residual = ResidualMode.ReZero }).ForwardTrace(Ids(10, 11, 7), 2, 5);
        foreach (var block in trace.Blocks) Assert.Equal(block.Input.Data, block.Output.Data);
    }

    static double Std(ReadOnlySpan<float> values)
    {
        double s = 0;
        foreach (float v in values) s += (double)v * v;
        return Math.Sqrt(s / values.Length);
    }

    [Fact]
    public void Init_Gpt2ScalesOutputProjections_DeepNormScalesByBeta()
    {
        var config = GptConfig.Preset("deep-narrow") with { LayerCount = 8 };
        var gpt = new Gpt(config);
        var block = gpt.Blocks[0];
        Assert.Equal(0.02, Std(block.Attention.Qkv.Weight.Data), 0.002);
        Assert.Equal(0.02 / Math.Sqrt(16), Std(block.Attention.Proj.Weight.Data), 0.0005);

        var deep = new Gpt(config with { Residual = ResidualMode.DeepNorm });
        var qkv = deep.Blocks[0].Attention.Qkv.Weight.Data;
        int c = config.Width;
        double beta = Math.Pow(8.0 * 8, -0.25), xavier = Math.Sqrt(2.0 / (c + c));
        Assert.Equal(xavier, Std(qkv.AsSpan(0, 2 * c * c)), 0.05 * xavier);            // q and k: gain 1
        Assert.Equal(beta * xavier, Std(qkv.AsSpan(2 * c * c)), 0.05 * beta * xavier);  // v: gain beta
        Assert.Equal(beta * xavier, Std(deep.Blocks[0].Attention.Proj.Weight.Data), 0.05 * beta * xavier);
        Assert.Equal(Math.Pow(16, 0.25), ((DeepNormResidual)deep.Blocks[0].Residual1).Alpha, 5);
    }

    [Fact]
    public void Dropout_FollowsTrainEvalAndSeed()
    {
        var config = Test with { Dropout = 0.2f };
        int[] ids = Ids(10, 11, 8);
        var a = new Gpt(config, seed: 3); var b = new Gpt(config, seed: 3);
        Assert.Equal(a.Forward(ids, 2, 5).Data, b.Forward(ids, 2, 5).Data);          // same seed, same masks
        var trained = a.Forward(ids, 2, 5).Data;
        a.Eval();
        var e1 = a.Forward(ids, 2, 5).Data;
        Assert.Equal(e1, a.Forward(ids, 2, 5).Data);                                  // eval: deterministic
        Assert.NotEqual(e1, trained);
        Assert.False(a.Blocks[1].Attention.Training);
    }

    [Fact]
    public void MlpStack_ShortcutsAndNames()
    {
        var plain = new MlpStack(new MlpStackConfig());
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias", "layers.3.weight", "layers.3.bias", "layers.4.weight", "layers.4.bias"],
            plain.NamedParameters().Select(p => p.Name));
        Assert.Equal(0, ModelInfo.Of(plain).ResidualConnections);
        Assert.Equal(4, ModelInfo.Of(new MlpStack(new MlpStackConfig { Shortcut = true })).ResidualConnections); // 3->3 four times, 3->1 has none
        Assert.Equal("[1, 1]", plain.Forward(Tensor.FromArray([1f, 0f, -1f], 1, 3)).ShapeString);
    }
}
