// Generation with the KV cache gives exactly the tokens of recomputing the whole prefix at every step.
using ResidualLM.Generation;
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Generation;

public class GeneratorTests
{
    public static TheoryData<string, float, int, float> Cases => new()
    {
        { "gpt", 0f, 0, 1f },
        { "gpt", 1f, 0, 1f },
        { "gpt", 0.8f, 5, 0.9f },
        { "llama", 0f, 0, 1f },
        { "llama", 1.2f, 3, 1f },
        { "gpt-layerscale", 0f, 0, 1f },
        { "gpt-layerscale", 1f, 0, 1f },
        { "llama-layerscale", 0.8f, 5, 0.9f },
        { "gpt-admin", 0f, 0, 1f },
        { "gpt-admin", 1f, 0, 1f },
        { "gpt-shc2", 0f, 0, 1f },
        { "gpt-dhc4", 0f, 0, 1f },
        { "gpt-dhc4", 1f, 0, 1f },
        { "llama-dhc2", 0.8f, 5, 0.9f },
        { "gpt-denseformer", 0f, 0, 1f },
        { "gpt-denseformer", 1f, 0, 1f },
        { "gpt-valueresidual", 0f, 0, 1f },
        { "llama-valueresidual", 0.8f, 5, 0.9f },
        { "gpt-resi-dual", 0f, 0, 1f },
        { "llama-resi-dual", 1f, 0, 1f },
    };

    static LanguageModel Model(string kind) => kind switch
    {
        "gpt" => new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23 }, 3),
        "gpt-layerscale" => new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.LayerScale }, 3),
        "gpt-admin" => Profiled(new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.Admin }, 3)),
        "gpt-shc2" => Perturbed(new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.StaticHyper2 }, 3)),
        "gpt-dhc4" => Perturbed(new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.DynamicHyper4 }, 3)),
        "llama-dhc2" => Perturbed(new Llama(LlamaConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.DynamicHyper2 }, 3)),
        "gpt-denseformer" => Perturbed(new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.DenseFormer }, 3)),
        "gpt-valueresidual" => Perturbed(new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.ValueResidual }, 3)),
        "llama-valueresidual" => Perturbed(new Llama(LlamaConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.ValueResidual }, 3)),
        "gpt-resi-dual" => new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.ResiDual }, 3),
        "llama-resi-dual" => new Llama(LlamaConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.ResiDual }, 3),
        "llama-layerscale" => new Llama(LlamaConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Residual = ResidualMode.LayerScale }, 3),
        _ => new Llama(LlamaConfig.Preset("test") with { ContextLength = 24, VocabSize = 23 }, 3),
    };

    // Admin's ω away from 1 (where the policy is post-norm), as a profiling pass sets it.
    static LanguageModel Profiled(LanguageModel model)
    {
        AdminResidual.Profile(model, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], 2, 6);
        return model;
    }

    // Mixing weights across copies or depth (hyper-connections, DenseFormer, value residuals) moved off their init (where
    // every copy is the same, or the average is the identity), as training moves them.
    static LanguageModel Perturbed(LanguageModel model)
    {
        var rng = new Rng(12);
        foreach (var (name, tensor) in model.NamedParameters())
            if (name.Contains("alpha") || name.Contains("beta") || name.Contains("dwa") || name.Contains("value_mix"))
                for (int i = 0; i < tensor.Size; i++) tensor.Data[i] += 0.3f * rng.NextGaussian();
        return model;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cached_EqualsRecomputed(string kind, float temperature, int topK, float topP)
    {
        var model = Model(kind);
        var options = new SamplingOptions(temperature, topK, topP);
        int[] prompt = [1, 5, 2, 7];
        var cached = Generator.Generate(model, prompt, 16, options, new Rng(9), useCache: true);
        var recomputed = Generator.Generate(model, prompt, 16, options, new Rng(9), useCache: false);
        Assert.Equal(16, cached.Length);
        Assert.Equal(recomputed, cached);
    }

    [Fact]
    public void CachedLogits_MatchFullForward()
    {
        var model = Model("gpt");
        model.Eval();
        int[] ids = [3, 1, 4, 1, 5, 9, 2, 6];
        var full = model.Forward(ids, 1, ids.Length);
        var cache = model.CreateCache();
        var first = model.Forward(ids[..5], 1, 5, cache);
        var rest = model.Forward(ids[5..], 1, 3, cache);
        int v = full.Dim(-1);
        for (int i = 0; i < 5 * v; i++) Assert.Equal(full.Data[i], first.Data[i], 1e-5);
        for (int i = 0; i < 3 * v; i++) Assert.Equal(full.Data[5 * v + i], rest.Data[i], 1e-5);
    }

    [Fact]
    public void StopToken_EndsGeneration()
    {
        var model = Model("gpt");
        var greedy = Generator.Generate(model, [1, 2], 10, SamplingOptions.Greedy, new Rng(1));
        int stop = greedy[2];
        var stopped = Generator.Generate(model, [1, 2], 10, SamplingOptions.Greedy, new Rng(1), stopToken: stop);
        Assert.Equal(greedy.TakeWhile(t => t != stop).Count() + 1, stopped.Length);
        Assert.Equal(stop, stopped[^1]);
    }

    [Fact]
    public void BadPrompt_IsAClearError()
    {
        var model = Model("gpt");
        void Fails(Action generate, string field, string words)
        {
            var e = Assert.Throws<InvalidInputException>(generate);
            Assert.Equal(field, e.Field);
            Assert.Contains(words, e.Message);
        }
        Fails(() => Generator.Generate(model, [], 3, SamplingOptions.Greedy, new Rng(1)), "prompt", "empty");
        Fails(() => Generator.Generate(model, [99], 3, SamplingOptions.Greedy, new Rng(1)), "prompt", "token id 99");
        Fails(() => Generator.Generate(model, [-1], 3, SamplingOptions.Greedy, new Rng(1)), "prompt", "token id -1");
        Fails(() => Generator.Generate(model, [23], 3, SamplingOptions.Greedy, new Rng(1)), "prompt", "vocabulary of 23");
        Fails(() => Generator.Generate(model, [1], -1, SamplingOptions.Greedy, new Rng(1)), "max new tokens", "got -1");
        Fails(() => Generator.Generate(model, new int[25], 1, SamplingOptions.Greedy, new Rng(1)), "prompt", "25 tokens");
        Fails(() => Generator.Generate(model, [1], 3, new SamplingOptions(-1f), new Rng(1)), "temperature", "got -1");
    }

    [Fact]
    public void APromptAsLongAsTheContext_IsAccepted()
    {
        var model = Model("gpt");
        var prompt = Enumerable.Range(0, 24).Select(i => i % 23).ToArray();
        Assert.Single(Generator.Generate(model, prompt, 1, SamplingOptions.Greedy, new Rng(1)));
        Assert.Empty(Generator.Generate(model, prompt, 0, SamplingOptions.Greedy, new Rng(1)));
    }

    [Fact]
    public void ATrainingModel_GeneratesInEvaluationMode_AndIsLeftTraining()
    {
        // With dropout on, a model left in training mode would draw masks: the tokens would follow them.
        var model = new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23, Dropout = 0.5f }, 3);
        model.Eval();
        var evaluated = Generator.Generate(model, [1, 5, 2], 12, SamplingOptions.Greedy, new Rng(1));
        model.Train();
        var fromTraining = Generator.Generate(model, [1, 5, 2], 12, SamplingOptions.Greedy, new Rng(1));
        Assert.Equal(evaluated, fromTraining);
        Assert.True(model.Training);
        Assert.Equal(evaluated, Generator.Generate(model, [1, 5, 2], 12, SamplingOptions.Greedy, new Rng(1), useCache: false));
    }
}
