// The batch-1 decode path against the general model code it replaces: the same tokens (greedy and seeded sampling,
// GPT and Llama, every residual policy, tied and untied heads, one-token prompts, the context limit), logits equal bit
// for bit at every step, and a fall back to the general path for what it does not cover.
using ResidualLM.Autograd;
using ResidualLM.Generation;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Generation;

public class DecodeSessionTests
{
    /// <summary>Models covering the fast path's branches; widths large enough for the threaded matrix-vector path.</summary>
    internal static LanguageModel Model(string kind)
    {
        var gpt = GptConfig.Preset("tiny") with { VocabSize = 1000, ContextLength = 64, Width = 96, HeadCount = 3, LayerCount = 2 };
        var llama = LlamaConfig.Preset("test") with { VocabSize = 700, ContextLength = 64, Width = 64, HeadCount = 4, FeedForwardWidth = 160 };
        LanguageModel model = kind switch
        {
            "gpt" => new Gpt(gpt, 3),
            "gpt-untied-erf" => new Gpt(gpt with { TieWeights = false, ExactGelu = true, QkvBias = true }, 4),
            "gpt-postnorm" => new Gpt(gpt with { Residual = ResidualMode.PostNorm }, 5),
            "gpt-rezero" => new Gpt(gpt with { Residual = ResidualMode.ReZero }, 6),
            "gpt-deepnorm" => new Gpt(gpt with { Residual = ResidualMode.DeepNorm }, 7),
            "gpt-layerscale" => new Gpt(gpt with { Residual = ResidualMode.LayerScale }, 10),
            "gpt-admin" => new Gpt(gpt with { Residual = ResidualMode.Admin }, 11),
            "gpt-dhc4" => new Gpt(gpt with { Residual = ResidualMode.DynamicHyper4 }, 12),
            "gpt-none" => new Gpt(gpt with { Residual = ResidualMode.None, LayerCount = 1 }, 8),
            "gpt-small" => new Gpt(GptConfig.Preset("test") with { ContextLength = 24, VocabSize = 23 }, 3), // tiny products
            "gpt-wide-hidden" => new Gpt(gpt with { Width = 64, HeadCount = 2, FeedForwardWidth = 4500 }, 9), // GELU over > 4096
            "llama" => new Llama(llama, 3),
            "llama-tied" => new Llama(llama with { TieWeights = true, Residual = ResidualMode.PostNorm }, 4),
            _ => throw new ArgumentException(kind),
        };
        // ReZero gains start at 0 (every block the identity): give them values so the blocks matter; Admin's ω starts
        // at 1 (post-norm): give it a value of its own.
        foreach (var (name, tensor) in model.NamedParameters())
            if (name.Contains("gain")) tensor.Data[0] = 0.7f;
            else if (name.Contains("omega")) tensor.Data.AsSpan().Fill(1.6f);
            else if (name.Contains("alpha") || name.Contains("beta"))                 // hyper-connections: copies that differ
                for (int i = 0; i < tensor.Size; i++) tensor.Data[i] += 0.05f * (i % 7 - 3);
        return model;
    }

    public static TheoryData<string, float, int, float> Cases()
    {
        var data = new TheoryData<string, float, int, float>();
        foreach (string kind in new[] { "gpt", "gpt-untied-erf", "gpt-postnorm", "gpt-rezero", "gpt-deepnorm", "gpt-layerscale", "gpt-admin", "gpt-dhc4", "gpt-none", "gpt-small", "gpt-wide-hidden", "llama", "llama-tied" })
        {
            data.Add(kind, 0f, 0, 1f);
            data.Add(kind, 1f, 0, 1f);
            data.Add(kind, 0.8f, 20, 0.9f);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FastPath_GivesTheGeneralPathsTokens(string kind, float temperature, int topK, float topP)
    {
        var model = Model(kind);
        var options = new SamplingOptions(temperature, topK, topP);
        foreach (int[] prompt in new[] { new[] { 1, 5, 2, 7, 11 }, new[] { 4 } })
        {
            int count = model.ContextLength - prompt.Length + 3;                  // runs into the context limit
            var general = Generator.Generate(model, prompt, count, options, new Rng(9), null, true, null, fastPath: false);
            var streamed = new List<int>();
            var fast = Generator.Generate(model, prompt, count, options, new Rng(9), null, true, streamed.Add, fastPath: true);
            Assert.Equal(model.ContextLength - prompt.Length + 1, fast.Length);
            Assert.Equal(general, fast);
            Assert.Equal(fast, streamed);
            var unscreened = Generator.Generate(model, prompt, 20, options, new Rng(9), null, true, null, fastPath: true, screenHead: HeadScreen.Off);
            Assert.Equal(general[..20], unscreened);
        }
    }

    [Theory]
    [InlineData("gpt", 7)]
    [InlineData("gpt", 20)]                 // a prompt past 16 rows (blocked GEMM; GELU chunks across rows)
    [InlineData("gpt-untied-erf", 7)]
    [InlineData("gpt-deepnorm", 3)]
    [InlineData("gpt-postnorm", 5)]
    [InlineData("gpt-rezero", 5)]
    [InlineData("gpt-layerscale", 5)]
    [InlineData("gpt-admin", 5)]
    [InlineData("gpt-dhc4", 5)]
    [InlineData("gpt-none", 5)]
    [InlineData("llama", 7)]
    [InlineData("llama-tied", 6)]
    [InlineData("llama", 20)]
    [InlineData("gpt-small", 7)]
    public void Logits_EqualTheGeneralPathBitForBit(string kind, int promptLength)
    {
        var model = Model(kind);
        model.Eval();
        var options = new SamplingOptions(1f);
        using var _ = Graph.NoGrad();
        int capacity = Math.Min(40, model.ContextLength);
        using var session = DecodeSession.TryCreate(model, capacity, greedy: false)!;
        var cache = new KvCache(model.Blocks.Count, capacity);
        var rng = new Rng(5);
        int[] pending = Enumerable.Range(0, promptLength).Select(i => (i * 7 + 3) % model.VocabSize).ToArray();
        for (int step = 0; session.Length < capacity && step < 30; step++)
        {
            var general = model.Forward(pending, 1, pending.Length, cache);
            int vocab = general.Dim(-1);
            int next = session.Next(pending, options, rng);
            Assert.Equal(general.Data.AsSpan((pending.Length - 1) * vocab, vocab).ToArray(), session.Logits.ToArray());
            pending = [next];
        }
    }

    [Fact]
    public void SkippedBlocks_AreDecodedByTheModelsOwnForward()
    {
        var model = Model("gpt");
        model.SkippedBlocks.Add(1);
        model.Eval();
        Assert.NotNull(DecodeSession.TryCreate(model, 10, greedy: true));
        var sampled = new SamplingOptions(1f, 0, 1f);
        var fast = Generator.Generate(model, [1, 2, 3], 12, sampled, new Rng(1));
        var general = Generator.Generate(model, [1, 2, 3], 12, sampled, new Rng(1), null, true, null, fastPath: false);
        Assert.Equal(general, fast);
        model.SkippedBlocks.Clear();                                                // the skip mattered
        Assert.NotEqual(general, Generator.Generate(model, [1, 2, 3], 12, sampled, new Rng(1)));
    }

    [Fact]
    public void TrainingModels_AndHeadsWithABias_UseTheGeneralPath()
    {
        var model = Model("gpt");
        model.Train();
        Assert.Null(DecodeSession.TryCreate(model, 10, greedy: true));
    }

    [Fact]
    public void DecodingSteps_AllocateNoTensorBuffers()
    {
        // Every step's tensors take their buffers from the session's arena: what a step still allocates is bookkeeping
        // (tensor objects, shapes), far below the floats of its activations (about 4,600 per layer here).
        var model = new Gpt(GptConfig.Preset("tiny") with { VocabSize = 500, ContextLength = 80, Width = 256, HeadCount = 4, LayerCount = 2 }, 3);
        model.Eval();
        using var _ = Graph.NoGrad();
        using var session = DecodeSession.TryCreate(model, 80, greedy: true)!;
        var rng = new Rng(1);
        int token = session.Next([1, 2, 3], SamplingOptions.Greedy, rng);
        for (int i = 0; i < 10; i++) token = session.Next([token], SamplingOptions.Greedy, rng);
        // The median step: a one-off (a pool's first array of a larger size as the key length grows) is not the steady state.
        var steps = new List<long>();
        for (int i = 0; i < 21; i++)
        {
            int[] ids = [token];
            long before = GC.GetAllocatedBytesForCurrentThread();
            token = session.Next(ids, SamplingOptions.Greedy, rng);
            steps.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }
        long perStep = steps.Order().ElementAt(10);
        long activations = 2L * 4 * (4 * 256 + 3 * 256 + 2 * 1024 + 4 * 256);
        Assert.True(perStep < activations / 3, $"a decoding step allocated {perStep} bytes; its activations alone are {activations}");
    }

    [Fact]
    public void ChangedWeights_AreNeverServedStale()
    {
        // The screened head is rebuilt for every generation: after the head changes, greedy tokens follow it.
        var model = Model("gpt-untied-erf");
        int[] prompt = [1, 2, 3];
        var before = Generator.Generate(model, prompt, 10, SamplingOptions.Greedy, new Rng(1));
        var head = model.Head!.Weight;
        int c = head.Dim(1);
        for (int j = 0; j < head.Dim(0); j++)
            for (int p = 0; p < c; p++) head.Data[j * c + p] *= j % 2 == 0 ? -3f : 0.5f;
        var after = Generator.Generate(model, prompt, 10, SamplingOptions.Greedy, new Rng(1));
        var general = Generator.Generate(model, prompt, 10, SamplingOptions.Greedy, new Rng(1), null, true, null, fastPath: false);
        Assert.Equal(general, after);
        Assert.NotEqual(before, after);
    }
}
