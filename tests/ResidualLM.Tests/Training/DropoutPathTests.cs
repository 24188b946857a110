// With dropout on, the attention-dropout path of the fused op must train exactly like the unfused composition
// (same masks, drawn in the same order), with and without buffer reuse.
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Training;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Training;

public class DropoutPathTests
{
    static List<float> Run(bool fused, bool reuse, int steps = 6)
    {
        var config = GptConfig.Preset("test") with { VocabSize = 64, ContextLength = 32, Width = 32, Dropout = 0.1f };
        var model = new Gpt(config, 5) { Context = new ComputeContext { FusedLinear = fused, FusedAttention = fused } };
        var optimizer = new AdamW(model.NamedParameters(), new AdamWSettings { LearningRate = 1e-2f });
        var rng = new Rng(11);
        int b = 3, t = 32, v = config.VocabSize;
        var losses = new List<float>();
        for (int s = 0; s < steps; s++)
        {
            var ids = Enumerable.Range(0, b * t).Select(_ => rng.NextInt(v)).ToArray();
            model.ZeroGrad(reuseBuffers: reuse);
            var loss = O.CrossEntropy(model.Context.Threads, model.Forward(ids, b, t).Reshape(b * t, v), ids);
            losses.Add(loss.Item());
            loss.Backward(reuseBuffers: reuse);
            optimizer.Step();
        }
        return losses;
    }

    [Fact]
    public void DropoutTraining_FusedEqualsUnfused()
    {
        var unfused = Run(fused: false, reuse: false);
        var fused = Run(fused: true, reuse: false);
        var fusedReused = Run(fused: true, reuse: true);
        for (int i = 0; i < unfused.Count; i++)
        {
            Assert.Equal(unfused[i], fused[i], 1e-4);
            Assert.Equal(unfused[i], fusedReused[i], 1e-4);
        }
    }
}
