// Model folders: Hugging Face GPT-2 fixtures give PyTorch's logits, and every save/load path round-trips bitwise.
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tests.Text;
using Xunit;
using static ResidualLM.Tests.IO.ModelFolders;

namespace ResidualLM.Tests.IO;

public class ModelFilesTests
{
    // The reference is float64 on the same float32 weights, so the gap is our float32 round-off alone: logits of size
    // up to ~10 after two blocks, LayerNorms and softmaxes accumulate a few ulps (6e-7 relative) per step, measured
    // at 4.5e-6 at most. 2e-5 absolute + 1e-5 relative leaves headroom, yet a wrong transpose, eps or GELU is off by
    // more than 1e-3.
    const double AbsoluteTolerance = 2e-5, RelativeTolerance = 1e-5;

    [Theory]
    [InlineData("plain-tied")]
    [InlineData("prefixed-untied")]
    [InlineData("prefixed-tied-copy")]
    public void HuggingFaceGpt2_Fixture_MatchesPyTorchLogits(string variant)
    {
        var (tokens, expected) = Expected(variant);
        LanguageModel model = ModelFiles.Load(Fixture(variant));
        float[] logits = Logits(model, tokens);
        int vocab = model.VocabSize;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < vocab; v++)
            {
                double want = expected[t][v], got = logits[t * vocab + v];
                Assert.True(Math.Abs(got - want) <= AbsoluteTolerance + RelativeTolerance * Math.Abs(want),
                    $"{variant} position {t} token {v}: {got} vs {want}");
            }
    }

    [Fact]
    public void HuggingFaceGpt2_Fixtures_ReadTheirConfigs()
    {
        var plain = Assert.IsType<Gpt>(ModelFiles.Load(Fixture("plain-tied")));
        Assert.Null(plain.Head);
        Assert.Equal(new GptConfig { VocabSize = 37, ContextLength = 16, Width = 24, HeadCount = 3, LayerCount = 2, QkvBias = true, TieWeights = true }, plain.Config);
        Assert.False(plain.Training);

        var untied = Assert.IsType<Gpt>(ModelFiles.Load(Fixture("prefixed-untied")));
        Assert.NotNull(untied.Head);
        Assert.Equal((40, true, 1e-3f), (untied.Config.HiddenWidth, untied.Config.ExactGelu, untied.Config.NormEps));

        var copy = Assert.IsType<Gpt>(ModelFiles.Load(Fixture("prefixed-tied-copy")));
        Assert.Null(copy.Head);
        Assert.Equal(ModelFileFormat.HuggingFaceGpt2, ModelFiles.DetectFormat(Fixture("plain-tied")));
    }

    public static TheoryData<string, Func<LanguageModel>> OwnModels => new()
    {
        { "gpt test", () => new Gpt(GptConfig.Preset("test"), seed: 3) },
        { "gpt tied rezero", () => new Gpt(GptConfig.Preset("test") with { TieWeights = true, Residual = ResidualMode.ReZero, FeedForwardWidth = 17, ExactGelu = true, NormEps = 1e-6f }, seed: 4) },
        { "gpt deepnorm", () => new Gpt(GptConfig.Preset("test-deep") with { Residual = ResidualMode.DeepNorm, LayerCount = 3 }, seed: 5) },
        { "llama test", () => new Llama(LlamaConfig.Preset("test") with { RopeTheta = 500f, TieWeights = true }, seed: 6) },
        { "gpt layerscale", () => new Gpt(GptConfig.Preset("test") with { Residual = ResidualMode.LayerScale }, seed: 7) },
        { "gpt admin", () => new Gpt(GptConfig.Preset("test") with { Residual = ResidualMode.Admin }, seed: 8) },
        { "llama dhc2", () => new Llama(LlamaConfig.Preset("test") with { Residual = ResidualMode.DynamicHyper2 }, seed: 9) },
    };

    [Theory]
    [MemberData(nameof(OwnModels))]
    public void OwnFormat_SaveAndLoad_RoundTripsBitwise(string name, Func<LanguageModel> build)
    {
        using var directory = new TemporaryDirectory();
        LanguageModel model = build();
        ModelFiles.Save(directory.Path, model);
        LanguageModel loaded = ModelFiles.Load(directory.Path);

        Assert.Equal(model.GetType(), loaded.GetType());
        Assert.Equal(ModelConfigJson.ToJson(model).ToJsonString(), ModelConfigJson.ToJson(loaded).ToJsonString());
        AssertSameParameters(model, loaded);
        Assert.Equal(ModelFileFormat.ResidualLM, ModelFiles.DetectFormat(directory.Path));
        Assert.Contains("\"architecture\"", File.ReadAllText(directory.File(ModelFiles.ConfigFileName)), StringComparison.Ordinal);
        Assert.NotNull(name);
    }

    [Theory]
    [InlineData("plain-tied")]
    [InlineData("prefixed-untied")]
    [InlineData("prefixed-tied-copy")]
    public void HuggingFaceGpt2_ExportAndReimport_EqualsTheOriginal(string variant)
    {
        using var directory = new TemporaryDirectory();
        var original = Assert.IsType<Gpt>(ModelFiles.Load(Fixture(variant)));
        ModelFiles.SaveHuggingFaceGpt2(directory.Path, original);
        var reloaded = Assert.IsType<Gpt>(ModelFiles.Load(directory.Path));
        Assert.Equal(original.Config, reloaded.Config);
        AssertSameParameters(original, reloaded);

        // The written tensors are the fixture's, name for name (prefix aside) and value for value.
        var source = ReadTensors(Path.Combine(Fixture(variant), ModelFiles.WeightsFileName))
            .Where(t => !System.Text.RegularExpressions.Regex.IsMatch(t.Name, @"h\.[0-9]+\.attn\.(bias|masked_bias)$"))
            .Where(t => !(variant == "prefixed-tied-copy" && t.Name == "lm_head.weight"))
            .ToDictionary(t => t.Name.Replace("transformer.", "", StringComparison.Ordinal));
        var written = ReadTensors(directory.File(ModelFiles.WeightsFileName)).ToDictionary(t => t.Name.Replace("transformer.", "", StringComparison.Ordinal));
        Assert.Equal(source.Keys.Order(), written.Keys.Order());
        foreach (var (name, tensor) in source)
        {
            Assert.Equal(tensor.Shape, written[name].Shape);
            Assert.True(Bits(tensor.Data).SequenceEqual(Bits(written[name].Data)), name);
        }
    }

    [Fact]
    public void HuggingFaceGpt2_FromOwnFormat_RoundTripsBothWays()
    {
        using var directory = new TemporaryDirectory();
        var fixture = Assert.IsType<Gpt>(ModelFiles.Load(Fixture("prefixed-untied")));
        string own = Path.Combine(directory.Path, "own"), hf = Path.Combine(directory.Path, "hf");
        ModelFiles.Save(own, fixture);
        var viaOwn = Assert.IsType<Gpt>(ModelFiles.Load(own));
        ModelFiles.SaveHuggingFaceGpt2(hf, viaOwn);
        AssertSameParameters(fixture, ModelFiles.Load(hf));
        string config = File.ReadAllText(Path.Combine(hf, ModelFiles.ConfigFileName));
        Assert.Contains("\"model_type\": \"gpt2\"", config, StringComparison.Ordinal);
        Assert.Contains("\"GPT2LMHeadModel\"", config, StringComparison.Ordinal);
    }

    [Fact]
    public void HuggingFaceGpt2_ModelWithoutQkvBias_ExportsZeroBiasAndSameLogits()
    {
        using var directory = new TemporaryDirectory();
        var model = new Gpt(GptConfig.Preset("test") with { QkvBias = false }, seed: 9);
        model.Eval();
        ModelFiles.SaveHuggingFaceGpt2(directory.Path, model);
        var reloaded = Assert.IsType<Gpt>(ModelFiles.Load(directory.Path));
        Assert.True(reloaded.Config.QkvBias);
        Assert.All(reloaded.StateDict()["blocks.1.attn.qkv.bias"].Data, value => Assert.Equal(0f, value));
        int[] tokens = [3, 0, 10, 7, 7, 1];
        Assert.Equal(Logits(model, tokens), Logits(reloaded, tokens));
    }

    [Theory]
    [InlineData(ResidualMode.PostNorm)]
    [InlineData(ResidualMode.ReZero)]
    public void HuggingFaceGpt2_OtherResidualPolicies_AreRefused(ResidualMode mode)
    {
        using var directory = new TemporaryDirectory();
        var model = new Gpt(GptConfig.Preset("test") with { Residual = mode });
        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.SaveHuggingFaceGpt2(directory.Path, model));
        Assert.Contains(mode.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("pre-norm", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(directory.Path));
    }

    [Fact]
    public void Load_RunFolder_ResolvesToTheNewestCheckpoint()
    {
        using var directory = new TemporaryDirectory();
        var first = new Gpt(GptConfig.Preset("test"), seed: 1);
        var second = new Gpt(GptConfig.Preset("test"), seed: 2);
        var run = new CheckpointDirectory(directory.Path);
        run.Save(1, folder => ModelFiles.Save(folder, first));
        run.Save(2, folder => ModelFiles.Save(folder, second));
        AssertSameParameters(second, ModelFiles.Load(directory.Path));
    }
}
