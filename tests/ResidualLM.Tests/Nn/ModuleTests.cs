// Module bookkeeping (names, tying, state dicts, modes) and the rotary embedding.
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using ResidualLM.Tests.Ops;
using Xunit;

namespace ResidualLM.Tests.Nn;

public class ModuleTests
{
    static readonly GptConfig Test = GptConfig.Preset("test");

    [Fact]
    public void NamedParameters_FollowTheCheckpointLayout()
    {
        var names = new Gpt(Test with { TieWeights = false }).NamedParameters().Select(p => p.Name).ToList();
        Assert.Equal(["token_embedding.weight", "position_embedding.weight", "blocks.0.norm1.weight", "blocks.0.norm1.bias",
            "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias",
            "blocks.0.norm2.weight", "blocks.0.norm2.bias", "blocks.0.ffn.fc.weight", "blocks.0.ffn.fc.bias",
            "blocks.0.ffn.proj.weight", "blocks.0.ffn.proj.bias"], names.Take(14));
        Assert.Equal(["final_norm.weight", "final_norm.bias", "head.weight"], names.TakeLast(3));
        var rezero = new Gpt(Test with { Residual = ResidualMode.ReZero }).NamedParameters().Select(p => p.Name);
        Assert.Contains("blocks.1.gain1", rezero);
        Assert.Contains("blocks.1.gain2", rezero);
        Assert.DoesNotContain(rezero, n => n.Contains("norm1"));
    }

    [Fact]
    public void TiedHead_IsListedOnce_AndTensorsKnowTheirNames()
    {
        var model = new Gpt(Test with { TieWeights = true });
        var named = model.NamedParameters();
        Assert.Null(model.Head);
        Assert.DoesNotContain(named, p => p.Name == "head.weight");
        Assert.All(named, p => Assert.Equal(p.Name, p.Tensor.Name));
        Assert.All(named, p => Assert.True(p.Tensor.RequiresGrad));
    }

    [Fact]
    public void LoadStateDict_RoundTrips_AndRejectsBadInput()
    {
        var a = new Gpt(Test, seed: 1); var b = new Gpt(Test, seed: 2);
        int[] ids = [1, 2, 3, 4];
        Assert.NotEqual(a.Forward(ids, 1, 4).Data, b.Forward(ids, 1, 4).Data);
        b.LoadStateDict(a.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone()));
        Assert.Equal(a.Forward(ids, 1, 4).Data, b.Forward(ids, 1, 4).Data);

        var state = a.StateDict();
        state.Remove("final_norm.bias");
        Assert.Equal("final_norm.bias", Assert.Throws<InvalidInputException>(() => b.LoadStateDict(state)).Field);
        b.LoadStateDict(state, strict: false);
        state = a.StateDict();
        state["blocks.0.attn.qkv.weight"] = Tensor.Zeros(3, 3);
        Assert.Equal("blocks.0.attn.qkv.weight", Assert.Throws<InvalidInputException>(() => b.LoadStateDict(state)).Field);
        state = a.StateDict();
        state["extra"] = Tensor.Zeros(1);
        Assert.Equal("extra", Assert.Throws<InvalidInputException>(() => b.LoadStateDict(state)).Field);
    }

    [Fact]
    public void ZeroGradAndModes_ReachEveryDescendant()
    {
        var model = new Gpt(Test);
        var loss = LanguageModel.Loss(model.Context.Threads, model.Forward([1, 2, 3], 1, 3), [2, 3, 4]);
        loss.Backward();
        Assert.All(model.NamedParameters(), p => Assert.NotNull(p.Tensor.Grad));
        model.ZeroGrad();
        Assert.All(model.NamedParameters(), p => Assert.Null(p.Tensor.Grad));
        model.Eval();
        Assert.False(model.Blocks[1].Residual2.Training);
        model.Train();
        Assert.True(model.Blocks[1].Residual2.Training);
    }

    /// <summary>RoPE's defining property: q(m) . k(n) after rotation depends only on m - n.</summary>
    [Fact]
    public void Rope_ScoresDependOnlyOnRelativePosition()
    {
        var rope = new Rope(headSize: 6, maxTime: 16);
        var rng = new Rng(5);
        float[] q = Enumerable.Range(0, 6).Select(_ => rng.NextGaussian()).ToArray();
        float[] k = Enumerable.Range(0, 6).Select(_ => rng.NextGaussian()).ToArray();
        float Score(int m, int n)
        {
            var rq = rope.Apply(Tensor.FromArray(q, 1, 1, 1, 6), m).Data;
            var rk = rope.Apply(Tensor.FromArray(k, 1, 1, 1, 6), n).Data;
            return rq.Zip(rk, (x, y) => x * y).Sum();
        }
        Assert.Equal(Score(3, 1), Score(12, 10), 4);
        Assert.Equal(Score(5, 5), q.Zip(k, (x, y) => x * y).Sum(), 4);
        Assert.NotEqual(Score(3, 1), Score(3, 2), 3);
    }

    [Fact]
    public void Rope_GradientsMatchFiniteDifferences()
    {
        var rope = new Rope(headSize: 4, maxTime: 8);
        var x = Tensor.Normal(new Rng(9), 0f, 1f, 2, 1, 3, 4);
        GradCheck.Check(t => rope.Apply(t[0], 2), [x]);
    }

    [Fact]
    public void Attention_KeyPadding_IgnoresPaddedKeys()
    {
        var rng = new Rng(11);
        var attention = new Attention(8, 2, qkvBias: true, projBias: true, 0f, rng, causal: false);
        var x = Tensor.Normal(rng, 0f, 1f, 1, 4, 8);
        var y = attention.Forward(attention.Context, x, [false, false, true, true]);
        var changed = x.Clone();
        for (int i = 16; i < 32; i++) changed.Data[i] += 3f;                     // alter only the padded positions
        var y2 = attention.Forward(attention.Context, changed, [false, false, true, true]);
        for (int i = 0; i < 16; i++) Assert.Equal(y.Data[i], y2.Data[i], 5);
    }
}
