// Hyper-connections (Zhu et al. 2025) against pre-norm: with one copy they are pre-norm bit for bit, static or dynamic at
// init; with n copies at init every copy is pre-norm's stream. The arithmetic with trained-looking weights is checked
// against PyTorch in GoldenModelTests (gpt-shc2, gpt-dhc4).
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Models;

/// <summary>The small models the policy tests compare: 3 blocks of the test presets, seed 7, and one batch of 2 x 5 ids.</summary>
internal static class PolicyModels
{
    public static readonly int[] Ids = [1, 4, 2, 8, 5, 7, 3, 0, 9, 6], Targets = [4, 2, 8, 5, 7, 3, 0, 9, 6, 1];

    /// <summary>A 3-block GPT ("gpt") or Llama (otherwise) of the test preset under <paramref name="mode"/>, seed 7.</summary>
    public static LanguageModel Model(string family, ResidualMode mode) => family == "gpt"
        ? new Gpt(GptConfig.Preset("test") with { LayerCount = 3, Residual = mode }, seed: 7)
        : new Llama(LlamaConfig.Preset("test") with { LayerCount = 3, Residual = mode }, seed: 7);
}

public class HyperConnectionTests
{
    static readonly int[] Ids = PolicyModels.Ids, Targets = PolicyModels.Targets;

    static LanguageModel Model(string family, ResidualMode mode) => PolicyModels.Model(family, mode);

    /// <summary>
    /// One copy at init: the stream after every block and the logits are pre-norm's bit for bit. The gradients agree to
    /// float32 round-off, not bit for bit: pre-norm's norm backward adds its term into the gradient the shortcut already
    /// left in x in one fused step (one rounding), while here the two terms meet in the mixing product's backward after
    /// the norm's term was rounded on its own, and the 1-ulp differences in the stream's gradient then spread (observed:
    /// up to 1e-6 of a tensor's largest entry, on small entries that are sums of cancelling terms).
    /// </summary>
    [Theory]
    [InlineData("gpt", ResidualMode.StaticHyper1)]
    [InlineData("gpt", ResidualMode.DynamicHyper1)]
    [InlineData("llama", ResidualMode.StaticHyper1)]
    public void OneCopy_AtInit_IsPreNorm(string family, ResidualMode mode)
    {
        var hyper = Model(family, mode);
        var pre = Model(family, ResidualMode.PreNorm);
        var hyperTrace = hyper.ForwardTrace(Ids, 2, 5);
        var preTrace = pre.ForwardTrace(Ids, 2, 5);
        for (int b = 0; b < preTrace.Blocks.Count; b++)
        {
            Assert.Equal(preTrace.Blocks[b].Middle.Data, hyperTrace.Blocks[b].Middle.Data);
            Assert.Equal(preTrace.Blocks[b].Output.Data, hyperTrace.Blocks[b].Output.Data);
        }
        Tensor hyperLogits = hyperTrace.Logits, preLogits = preTrace.Logits;
        Assert.Equal(preLogits.Data, hyperLogits.Data);
        LanguageModel.Loss(hyper.Context.Threads, hyperLogits, Targets).Backward();
        LanguageModel.Loss(pre.Context.Threads, preLogits, Targets).Backward();
        var preGradients = pre.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad!.Data);
        var own = hyper.NamedParameters().Where(p => !preGradients.ContainsKey(p.Name)).ToList();
        Assert.NotEmpty(own);
        foreach (var (name, tensor) in hyper.NamedParameters())
            if (preGradients.TryGetValue(name, out var expected))
            {
                float scale = Math.Max(1e-30f, expected.Max(MathF.Abs));
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(tensor.Grad!.Data[i] - expected[i]) <= 1e-5 * scale, $"{name}[{i}]: pre-norm {expected[i]:G9}, hyper {tensor.Grad!.Data[i]:G9}");
            }
        // The mixing weights are learned: A_m, A_r and B receive gradient (so do W_α and W_β of the dynamic form).
        Assert.All(own.Where(p => !p.Name.Contains("hnorm") && !p.Name.Contains("scale")), p => Assert.Contains(p.Tensor.Grad!.Data, g => g != 0f));
    }

    /// <summary>
    /// At the paper's init (A_m = e_(k mod n), A_r = I, B = 1, dynamic terms 0) every copy receives every edit, so each
    /// of the n copies after each block is pre-norm's stream, bit for bit; the logits are pre-norm's head applied to n
    /// times that stream (not pre-norm's logits: the final norm's ε sees the larger stream).
    /// </summary>
    [Theory]
    [InlineData(ResidualMode.StaticHyper2, 2)]
    [InlineData(ResidualMode.StaticHyper4, 4)]
    [InlineData(ResidualMode.DynamicHyper4, 4)]
    public void NCopies_AtInit_EachCopyIsThePreNormStream(ResidualMode mode, int copies)
    {
        var hyper = Model("gpt", mode);
        var pre = Model("gpt", ResidualMode.PreNorm);
        Assert.Equal(copies, hyper.StreamCopies);
        var hyperTrace = hyper.ForwardTrace(Ids, 2, 5);
        var preTrace = pre.ForwardTrace(Ids, 2, 5);
        int width = preTrace.Blocks[0].Output.Dim(-1), rows = preTrace.Blocks[0].Output.Size / width;
        for (int b = 0; b < preTrace.Blocks.Count; b++)
        {
            var stream = hyperTrace.Blocks[b].Output;
            Assert.Equal(copies * width, stream.Dim(-1));
            for (int row = 0; row < rows; row++)
                for (int k = 0; k < copies; k++)
                    Assert.Equal(preTrace.Blocks[b].Output.Data.AsSpan(row * width, width).ToArray(), stream.Data.AsSpan((row * copies + k) * width, width).ToArray());
        }
        // The model sums the copies before its final norm: pre-norm's head applied to n times its stream.
        var expected = pre.Unembed(preTrace.Blocks[^1].Output * copies);
        for (int i = 0; i < expected.Size; i++) Assert.Equal(expected.Data[i], hyperTrace.Logits.Data[i], 1e-5f);
    }

    /// <summary>Each sublayer first reads copy k mod n, k counting the sublayers of the stack (two per block).</summary>
    [Fact]
    public void StaticInit_RoutesSublayerKToCopyKModN()
    {
        var model = (Gpt)Model("gpt", ResidualMode.StaticHyper4);
        int n = 4, k = 0;
        foreach (var block in model.Blocks.Items)
            foreach (var residual in new[] { (HyperResidual)block.Residual1, (HyperResidual)block.Residual2 })
            {
                for (int j = 0; j < n; j++)
                {
                    Assert.Equal(j == k % n ? 1f : 0f, residual.Alpha.Data[j * (n + 1)]);                  // A_m
                    for (int i = 0; i < n; i++) Assert.Equal(i == j ? 1f : 0f, residual.Alpha.Data[j * (n + 1) + 1 + i]); // A_r = I
                }
                Assert.All(residual.Beta.Data, v => Assert.Equal(1f, v));
                k++;
            }
    }
}
