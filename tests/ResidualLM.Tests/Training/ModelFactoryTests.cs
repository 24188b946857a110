// The model a training spec describes: its preset with every override applied, one enum member per preset of either
// family, and the names shared by trainer_state.json and the command line.
using ResidualLM.Models;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class ModelFactoryTests
{
    [Fact]
    public void Create_Gpt_AppliesEveryOverride()
    {
        var spec = new TrainingSpec
        {
            Preset = ModelPreset.ShakespeareChar, Layers = 3, Heads = 3, Width = 24, ModelContext = 40, Dropout = 0.25f,
            Residual = ResidualMode.ReZero, Init = WeightInit.Torch,
        };
        var gpt = Assert.IsType<Gpt>(ModelFactory.Create(spec, vocabSize: 17));
        Assert.Equal(new GptConfig
        {
            VocabSize = 17, LayerCount = 3, HeadCount = 3, Width = 24, ContextLength = 40, Dropout = 0.25f,
            Residual = ResidualMode.ReZero, TorchDefaultInit = true,
        }, gpt.Config);
    }

    [Fact]
    public void Create_Llama_AppliesEveryOverride()
    {
        var spec = new TrainingSpec
        {
            Architecture = ModelArchitecture.Llama, Layers = 3, Heads = 2, KvHeads = 1, Width = 32, ModelContext = 40, Dropout = 0.25f,
            Residual = ResidualMode.PostNorm,
        };
        var llama = Assert.IsType<Llama>(ModelFactory.Create(spec, vocabSize: 17));
        Assert.Equal(LlamaConfig.Preset("llama-tiny") with
        {
            VocabSize = 17, LayerCount = 3, HeadCount = 2, KeyValueHeadCount = 1, Width = 32, ContextLength = 40, Dropout = 0.25f,
            Residual = ResidualMode.PostNorm,
        }, llama.Config);
        // Admin's init picks Admin's policy when none is given, for either family; otherwise the preset's stays.
        Assert.Equal(ResidualMode.Admin, ((LlamaConfig)ModelFactory.Config(spec with { Residual = null, Init = WeightInit.Admin }, 17)).Residual);
        Assert.Equal(ResidualMode.Admin, ((GptConfig)ModelFactory.Config(new TrainingSpec { Init = WeightInit.Admin }, 17)).Residual);
        Assert.Equal(ResidualMode.PreNorm, ((GptConfig)ModelFactory.Config(new TrainingSpec { Init = WeightInit.Torch }, 17)).Residual);
        Assert.Equal(4, ModelFactory.ContextLength(ModelArchitecture.Llama, ModelPreset.Test, 4));
        Assert.Equal(LlamaConfig.Preset("llama-tiny").ContextLength, ModelFactory.ContextLength(ModelArchitecture.Llama, ModelPreset.Tiny, null));
        Assert.Equal(GptConfig.Preset("tiny").ContextLength, ModelFactory.ContextLength(ModelArchitecture.Gpt, ModelPreset.Tiny, null));
        Assert.Throws<ArgumentException>(() => ModelFactory.Create(new EncoderConfig(), 1));
    }

    [Fact]
    public void Create_WithoutOverrides_IsThePreset()
    {
        var gpt = Assert.IsType<Gpt>(ModelFactory.Create(new TrainingSpec { Preset = ModelPreset.DeepNarrow }, vocabSize: 5));
        Assert.Equal(GptConfig.Preset("deep-narrow") with { VocabSize = 5 }, gpt.Config);
        // "tiny" is each family's own small model.
        var llama = Assert.IsType<Llama>(ModelFactory.Create(new TrainingSpec { Architecture = ModelArchitecture.Llama }, vocabSize: 5));
        Assert.Equal(LlamaConfig.Preset("llama-tiny") with { VocabSize = 5 }, llama.Config);
    }

    [Fact]
    public void Create_SameSpec_SameWeights_OtherSeed_OtherWeights()
    {
        var spec = new TrainingSpec { Preset = ModelPreset.Test };
        float[] Weights(TrainingSpec s) => [.. ModelFactory.Create(s, 11).NamedParameters().SelectMany(p => p.Tensor.Data)];
        Assert.Equal(Weights(spec), Weights(spec));
        Assert.NotEqual(Weights(spec), Weights(spec with { Options = spec.Options with { Seed = spec.Options.Seed + 1 } }));
    }

    [Fact]
    public void ModelPreset_HasOneMemberPerPresetOfEitherFamily()
    {
        var gpt = Enum.GetValues<ModelPreset>().Where(p => ModelFactory.HasPreset(ModelArchitecture.Gpt, p)).Select(ChoiceNames.Name);
        var llama = Enum.GetValues<ModelPreset>().Where(p => ModelFactory.HasPreset(ModelArchitecture.Llama, p)).Select(ChoiceNames.Name);
        Assert.Equal(GptConfig.PresetNames.Order(), gpt.Order());
        Assert.Equal(LlamaConfig.PresetNames.Append("tiny").Order(), llama.Order());
        Assert.Equal(InvalidInputExceptionField(() => new TrainingSpec { Architecture = ModelArchitecture.Llama, Preset = ModelPreset.DeepNarrow }.Validate()),
            InvalidInputExceptionField(() => ModelFactory.ContextLength(ModelArchitecture.Llama, ModelPreset.DeepNarrow, null)));
    }

    [Fact]
    public void ChoiceNames_ParseTheirOwnNames_AnyCase_AndRejectOthers()
    {
        Assert.Equal(ModelPreset.Gpt2Book124M, ChoiceNames.Parse<ModelPreset>("GPT2-124M", "preset"));
        Assert.Equal(SamplerKind.Windows, ChoiceNames.Parse<SamplerKind>("windows", "sampler"));
        var error = Assert.Throws<InvalidInputException>(() => ChoiceNames.Parse<TokenizerKind>("word", "tokenizer"));
        Assert.Equal("tokenizer", error.Field);
        Assert.Contains("char, byte, bpe or gpt2, got 'word'", error.Message);
    }

    static string? InvalidInputExceptionField(Action action) => Assert.Throws<InvalidInputException>(action).Field;
}
