// The KV cache read in place by the attention kernel gives bit for bit the logits of the same kernel on contiguous
// copies of the cached prefix (the path a query that records a graph takes).
using ResidualLM.Autograd;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Nn;

public class KvCacheTests
{
    static LanguageModel Model(string kind) => kind == "gpt"
        ? new Gpt(GptConfig.Preset("test") with { ContextLength = 40, VocabSize = 29, Width = 64, HeadCount = 4 }, 5)
        : new Llama(LlamaConfig.Preset("test") with { ContextLength = 40, VocabSize = 29, Width = 64, HeadCount = 4 }, 5);

    /// <summary>Logits of a prefill of 5 positions and then single steps, read in place (no graph) or through copies (graph).</summary>
    static List<float[]> CachedLogits(LanguageModel model, int[] ids, bool recordGraph)
    {
        var cache = new KvCache(model.Blocks.Count, ids.Length);
        var logits = new List<float[]>();
        Graph.NoGradScope? noGrad = recordGraph ? null : Graph.NoGrad();
        logits.Add(model.Forward(ids[..5], 1, 5, cache).ToArray());
        for (int t = 5; t < ids.Length; t++) logits.Add(model.Forward([ids[t]], 1, 1, cache).ToArray());
        noGrad?.Dispose();
        return logits;
    }

    [Theory]
    [InlineData("gpt")]
    [InlineData("llama")]
    public void InPlaceRead_EqualsCopies_BitForBit(string kind)
    {
        var model = Model(kind);
        model.Eval();
        var rng = new Rng(11);
        int[] ids = Enumerable.Range(0, 37).Select(_ => rng.NextInt(29)).ToArray();
        var inPlace = CachedLogits(model, ids, recordGraph: false);
        var copied = CachedLogits(model, ids, recordGraph: true);
        Assert.Equal(copied.Count, inPlace.Count);
        for (int i = 0; i < copied.Count; i++) Assert.Equal(copied[i], inPlace[i]);
    }

    [Fact]
    public void Overflow_IsAClearError()
    {
        var model = Model("gpt");
        model.Eval();
        var cache = new KvCache(model.Blocks.Count, 3);
        using var _ = Graph.NoGrad();
        model.Forward([1, 2, 3], 1, 3, cache);
        Assert.Throws<InvalidInputException>(() => model.Forward([4], 1, 1, cache));
    }
}
