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
    };

    static LanguageModel Model(string kind) => kind == "gpt"
        ? new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23 }, 3)
        : new Llama(LlamaConfig.Preset("test") with { ContextLength = 24, VocabSize = 23 }, 3);

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
        Assert.Throws<InvalidInputException>(() => Generator.Generate(model, [], 3, SamplingOptions.Greedy, new Rng(1)));
        Assert.Throws<InvalidInputException>(() => Generator.Generate(model, [99], 3, SamplingOptions.Greedy, new Rng(1)));
        Assert.Throws<InvalidInputException>(() => Generator.Generate(model, [1], 3, new SamplingOptions(-1f), new Rng(1)));
    }
}
