// Which path a generation takes, seen from outside: the decode session runs exactly when the KV cache is on and there is
// something to generate, sized for the positions the call can feed; greedy decoding of a float head goes through the
// screened head when it is forced (as it is by default on AVX-VNNI hosts) and gives the general path's tokens; without
// the cache the window slides past the context; a session refuses positions past its capacity and hands its screened
// head back when disposed. The paths compute the same tokens, so only these checks see a wrong choice between them.
using System.Runtime.Intrinsics.X86;
using ResidualLM.Autograd;
using ResidualLM.Generation;
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Generation;

public class GenerationPathTests
{
    static readonly int[] Prompt = [1, 5, 2, 7, 11];

    static (int[] Tokens, List<DecodeSession> Sessions) Run(LanguageModel model, int count, SamplingOptions sampling,
        bool useCache = true, bool fastPath = true, HeadScreen screen = HeadScreen.Auto)
    {
        var sessions = new List<DecodeSession>();
        var tokens = Generator.Generate(model, Prompt, count, sampling, new Rng(9), null, useCache, null, fastPath, screen, sessions.Add);
        return (tokens, sessions);
    }

    [Theory]
    [InlineData("gpt")]
    [InlineData("gpt-untied-erf")]
    [InlineData("gpt-small")]
    [InlineData("llama")]
    [InlineData("llama-tied")]
    public void ForcedScreen_GivesTheGeneralPathsTokens(string kind)
    {
        var model = DecodeSessionTests.Model(kind);
        int count = model.ContextLength - Prompt.Length + 1;                      // to the context limit
        var general = Generator.Generate(model, Prompt, count, SamplingOptions.Greedy, new Rng(9), null, true, null, fastPath: false);
        var (screened, sessions) = Run(model, count, SamplingOptions.Greedy, screen: HeadScreen.Force);
        var screen = Assert.Single(sessions).Screen;
        Assert.NotNull(screen);
        Assert.Equal(general, screened);
        // The generation handed its screened head back: the next one reuses it.
        Assert.Same(screen, Assert.Single(Run(model, 3, SamplingOptions.Greedy, screen: HeadScreen.Force).Sessions).Screen);
    }

    [Fact]
    public void OnlyGreedyDecodingOfAFloatHead_IsScreened()
    {
        var model = DecodeSessionTests.Model("gpt-untied-erf");
        Assert.Null(Assert.Single(Run(model, 4, new SamplingOptions(1f), screen: HeadScreen.Force).Sessions).Screen);
        Assert.Null(Assert.Single(Run(model, 4, SamplingOptions.Greedy, screen: HeadScreen.Off).Sessions).Screen);
        var auto = Assert.Single(Run(model, 4, SamplingOptions.Greedy).Sessions);
        Assert.Equal(AvxVnni.IsSupported, auto.Screen is not null);              // the default: where it pays

        model.Quantize(BlockFormat.Q8_0);                                       // a quantised head's logits are its own
        Assert.Null(Assert.Single(Run(model, 4, SamplingOptions.Greedy, screen: HeadScreen.Force).Sessions).Screen);
    }

    [Fact]
    public void TheSessionRuns_ExactlyWhenTheCacheIsOnAndThereIsSomethingToGenerate()
    {
        var model = DecodeSessionTests.Model("gpt");
        Assert.Equal(Prompt.Length + 6, Assert.Single(Run(model, 6, SamplingOptions.Greedy).Sessions).Capacity);
        Assert.Equal(model.ContextLength, Assert.Single(Run(model, 200, SamplingOptions.Greedy).Sessions).Capacity);
        Assert.Empty(Run(model, 0, SamplingOptions.Greedy).Sessions);
        Assert.Empty(Run(model, 6, SamplingOptions.Greedy, useCache: false).Sessions);
        Assert.Empty(Run(model, 6, SamplingOptions.Greedy, fastPath: false).Sessions);
    }

    [Fact]
    public void WithoutTheCache_TheWindowSlidesPastTheContext()
    {
        var model = DecodeSessionTests.Model("gpt-small");                      // context 24
        int count = model.ContextLength + 10;
        var (tokens, sessions) = Run(model, count, SamplingOptions.Greedy, useCache: false);
        Assert.Empty(sessions);
        Assert.Equal(count, tokens.Length);
        // Recomputed here: each token the argmax of the last row of a forward over the last context-length tokens.
        model.Eval();
        using var _ = Graph.NoGrad();
        var sequence = new List<int>(Prompt);
        for (int i = 0; i < count; i++)
        {
            int start = Math.Max(0, sequence.Count - model.ContextLength);
            int[] window = sequence.GetRange(start, sequence.Count - start).ToArray();
            var logits = model.Forward(window, 1, window.Length);
            int vocab = logits.Dim(-1);
            var last = logits.Data.AsSpan((window.Length - 1) * vocab, vocab);
            int best = 0;
            for (int j = 1; j < vocab; j++) if (last[j] > last[best]) best = j;
            Assert.Equal(best, tokens[i]);
            sequence.Add(best);
        }
    }

    [Fact]
    public void Next_RefusesPositionsPastTheCapacity()
    {
        var model = DecodeSessionTests.Model("gpt");
        model.Eval();
        using var _ = Graph.NoGrad();
        using var session = DecodeSession.TryCreate(model, 8, greedy: false)!;
        var sampling = new SamplingOptions(1f);
        var rng = new Rng(1);
        var error = Assert.Throws<InvalidInputException>(() => session.Next([1, 2, 3, 4, 5, 6, 7, 8, 9], sampling, rng));
        Assert.Contains("positions 0..8 exceed the context length 8", error.Message);
        Assert.Equal("time", error.Field);
        Assert.Equal("time", Assert.Throws<InvalidInputException>(() => session.Next([], sampling, rng)).Field);
        session.Next([1, 2, 3, 4, 5, 6, 7], sampling, rng);                     // 7 of 8 positions
        session.Next([3], sampling, rng);                                        // the last one
        Assert.Equal(8, session.Length);
        error = Assert.Throws<InvalidInputException>(() => session.Next([4], sampling, rng));
        Assert.Contains("positions 8..8 exceed the context length 8", error.Message);

        // At the model's context length: refused before the positions are looked up.
        using var whole = DecodeSession.TryCreate(model, model.ContextLength, greedy: false)!;
        int[] tooMany = Enumerable.Range(0, model.ContextLength + 1).Select(i => i % 10).ToArray();
        error = Assert.Throws<InvalidInputException>(() => whole.Next(tooMany, sampling, rng));
        Assert.Contains($"positions 0..{model.ContextLength} exceed the context length {model.ContextLength}", error.Message);
    }

    [Fact]
    public void Dispose_HandsTheScreenedHeadBackForTheNextGeneration()
    {
        var model = DecodeSessionTests.Model("gpt-untied-erf");
        model.Eval();
        ScreenedHead first;
        using (var session = DecodeSession.TryCreate(model, 8, greedy: true, HeadScreen.Force)!) first = session.Screen!;
        using var next = DecodeSession.TryCreate(model, 8, greedy: true, HeadScreen.Force)!;
        Assert.Same(first, next.Screen);
        using var meanwhile = DecodeSession.TryCreate(model, 8, greedy: true, HeadScreen.Force)!;   // while it is in use: a head of its own
        Assert.NotSame(first, meanwhile.Screen);
    }
}
