// Fused ops against the unfused compositions they replace, values and gradients: Linear (bias folded into the GEMM),
// SelfAttention (packed qkv in, merged heads out) and a whole GPT with every fused path switched off.
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using ResidualLM.Tests.Kernels;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class FusedPathTests
{
    // Tolerance: the fused paths add the same terms in another order (bias first; scores by FMA), so float32 round-off
    // on values of order 1 only.
    const double Tolerance = 1e-5;

    static void AssertSame(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        for (int i = 0; i < expected.Size; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= tolerance * (1 + Math.Abs(expected.Data[i])),
                $"{what}[{i}]: {actual.Data[i]} vs {expected.Data[i]}");
    }

    /// <summary>Runs f on fresh copies of the inputs, backpropagates a fixed random seed, returns output and input gradients.</summary>
    static (Tensor Output, Tensor[] Grads) Run(Func<Tensor[], Tensor> f, Tensor[] inputs, ulong seed)
    {
        var copies = inputs.Select(t => t.Clone().WithGrad()).ToArray();
        var y = f(copies);
        O.Sum(y * Tensor.Normal(new Rng(seed), 0, 1, y.Shape.ToArray())).Backward();
        return (y, copies.Select(c => c.Grad!).ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear_Fused_MatchesMatMulPlusBias(bool withBias)
    {
        var rng = new Rng(21);
        Tensor[] inputs = withBias
            ? [Tensor.Normal(rng, 0, 1, 2, 5, 37), Tensor.Normal(rng, 0, 1, 40, 37), Tensor.Normal(rng, 0, 1, 40)]
            : [Tensor.Normal(rng, 0, 1, 2, 5, 37), Tensor.Normal(rng, 0, 1, 40, 37)];
        var fused = Run(t => O.Linear(Kernels.KernelCheck.Threads, t[0], t[1], withBias ? t[2] : null), inputs, 1);
        var unfused = Run(t => withBias ? O.MatMul(Kernels.KernelCheck.Threads, t[0], t[1], transposeB: true) + t[2] : O.MatMul(Kernels.KernelCheck.Threads, t[0], t[1], transposeB: true), inputs, 1);
        AssertSame(unfused.Output, fused.Output, Tolerance, "y");
        for (int i = 0; i < inputs.Length; i++) AssertSame(unfused.Grads[i], fused.Grads[i], Tolerance, $"grad {i}");
    }

    [Fact]
    public void Linear_Fused_FiniteDifferences()
    {
        var rng = new Rng(5);
        GradCheck.Check(t => O.Linear(Kernels.KernelCheck.Threads, t[0], t[1], t[2]), [Tensor.Normal(rng, 0, 1, 3, 4), Tensor.Normal(rng, 0, 1, 5, 4), Tensor.Normal(rng, 0, 1, 5)]);
    }

    static Tensor SplitPath(Tensor qkv, int heads, bool causal, bool[]? padding)
    {
        int width = qkv.Dim(2) / 3;
        var parts = O.Split(qkv, width, width, width);
        var y = O.Attention(Kernels.KernelCheck.Threads, O.SplitHeads(parts[0], heads), O.SplitHeads(parts[1], heads), O.SplitHeads(parts[2], heads), causal, padding);
        return O.MergeHeads(y);
    }

    [Theory]
    [InlineData(2, 6, 2, 8, true, false)]
    [InlineData(3, 17, 4, 16, true, false)]
    [InlineData(2, 9, 3, 5, false, true)]
    [InlineData(1, 1, 1, 1, true, false)]
    public void SelfAttention_Packed_MatchesSplitHeadsPath(int batch, int time, int heads, int headSize, bool causal, bool padded)
    {
        var rng = new Rng((ulong)(batch * 100 + time));
        bool[]? padding = padded ? Enumerable.Range(0, batch * time).Select(i => i % time != 0 && rng.NextFloat() < 0.3f).ToArray() : null;
        Tensor[] inputs = [Tensor.Normal(rng, 0, 1, batch, time, 3 * heads * headSize)];
        var fused = Run(t => O.SelfAttention(Kernels.KernelCheck.Threads, t[0], heads, causal, padding), inputs, 2);
        var unfused = Run(t => SplitPath(t[0], heads, causal, padding), inputs, 2);
        AssertSame(unfused.Output, fused.Output, Tolerance, "y");
        AssertSame(unfused.Grads[0], fused.Grads[0], 1e-4, "dqkv");
    }

    [Fact]
    public void SelfAttention_FiniteDifferences()
    {
        var rng = new Rng(8);
        GradCheck.Check(t => O.SelfAttention(Kernels.KernelCheck.Threads, t[0], 2, causal: true), [Tensor.Normal(rng, 0, 1, 2, 4, 3 * 2 * 3)]);
    }
}

/// <summary>Fused against unfused (the reference composition), chosen by each model's own context.</summary>
public class FusedModelTests
{
    static (float Loss, Dictionary<string, float[]> Grads) Step(GptConfig config, bool fused)
    {
        var model = new Gpt(config, 3) { Context = new ComputeContext { FusedLinear = fused, FusedAttention = fused } };
        var rng = new Rng(4);
        int b = 2, t = config.ContextLength;
        var ids = Enumerable.Range(0, b * t).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        var targets = Enumerable.Range(0, b * t).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        var loss = O.CrossEntropy(model.Context.Threads, model.Forward(ids, b, t).Reshape(b * t, -1), targets);
        loss.Backward();
        return (loss.Item(), model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad!.ToArray()));
    }

    [Theory]
    [InlineData(ResidualMode.PreNorm)]
    [InlineData(ResidualMode.None)]
    [InlineData(ResidualMode.DeepNorm)]
    public void Gpt_FusedAndUnfusedPaths_AgreeOnLossAndEveryGradient(ResidualMode mode)
    {
        var config = GptConfig.Preset("test") with { VocabSize = 50, ContextLength = 24, Width = 32, HeadCount = 2, Residual = mode };
        var fused = Step(config, fused: true);
        var unfused = Step(config, fused: false);
        Assert.Equal(unfused.Loss, fused.Loss, 5);
        foreach (var (name, expected) in unfused.Grads)
        {
            float[] actual = fused.Grads[name];
            double scale = expected.Max(MathF.Abs) + 1e-6;
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * scale, $"{name}[{i}]: fused {actual[i]} vs unfused {expected[i]}");
        }
    }
}
