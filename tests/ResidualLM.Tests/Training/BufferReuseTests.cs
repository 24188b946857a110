// Reusing buffers between training steps (Backward(reuseBuffers), ZeroGrad(reuseBuffers)) must change no result.
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Training;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Training;

public class BufferReuseTests
{
    /// <summary>Losses and final weights of a few AdamW steps, with or without buffer reuse.</summary>
    static (List<float> Losses, float[] Weights) Run(GptConfig config, bool reuse, int steps = 4)
    {
        var model = new Gpt(config, 5);
        var optimizer = new AdamW(model.NamedParameters(), new AdamWSettings { LearningRate = 1e-2f });
        var rng = new Rng(11);
        int b = 3, t = 32, v = config.VocabSize;
        var losses = new List<float>();
        for (int s = 0; s < steps; s++)
        {
            var ids = Enumerable.Range(0, b * t).Select(_ => rng.NextInt(v)).ToArray();
            var targets = Enumerable.Range(0, b * t).Select(_ => rng.NextInt(v)).ToArray();
            model.ZeroGrad(reuseBuffers: reuse);
            var loss = O.CrossEntropy(model.Context.Threads, model.Forward(ids, b, t).Reshape(b * t, v), targets);
            losses.Add(loss.Item());
            if (reuse) loss.Backward(reuseBuffers: true); else loss.Backward();
            optimizer.Step();
        }
        return (losses, model.NamedParameters().SelectMany(p => p.Tensor.Data).ToArray());
    }

    [Theory]
    [InlineData(ResidualMode.PreNorm, true)]
    [InlineData(ResidualMode.PostNorm, false)]
    [InlineData(ResidualMode.ReZero, true)]
    [InlineData(ResidualMode.None, false)]
    public void TrainingSteps_WithBufferReuse_MatchPlainSteps(ResidualMode mode, bool tied)
    {
        // Big enough that activations (B*T*C = 3072 floats) go through the pool.
        var config = GptConfig.Preset("test") with { VocabSize = 64, ContextLength = 32, Width = 32, Residual = mode, TieWeights = tied };
        var plain = Run(config, reuse: false);
        var reused = Run(config, reuse: true);
        Assert.Equal(plain.Losses, reused.Losses);
        Assert.Equal(plain.Weights, reused.Weights);
    }

    [Fact]
    public void BackwardReusingBuffers_KeepsLeavesRootAndRetainedTensors()
    {
        var w = Tensor.Normal(new Rng(1), 0f, 1f, 64, 32).WithGrad();
        var flat = w.Reshape(32, 64);                      // shares the parameter's buffer: must never be reused
        var h = O.Gelu(Kernels.KernelCheck.Threads, flat * 2f);
        h.RetainGrad = true;
        var loss = O.Sum(h * h);
        float[] weights = w.ToArray(), hidden = h.ToArray();
        loss.Backward(reuseBuffers: true);
        // Another graph now rents buffers; none of them may be the parameter's, h's or the loss's.
        var other = O.Gelu(Kernels.KernelCheck.Threads, Tensor.Full(7f, 32, 64).WithGrad() * 3f);
        Assert.Equal(weights, w.Data);
        Assert.Equal(hidden, h.Data);
        Assert.NotNull(h.Grad);
        Assert.NotSame(other.Data, h.Data);
        Assert.Equal(O.Sum(Tensor.FromArray(hidden, 32, 64) * Tensor.FromArray(hidden, 32, 64)).Item(), loss.Item(), 3);
    }
}
