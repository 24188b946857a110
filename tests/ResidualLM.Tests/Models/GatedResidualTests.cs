// Policies that gate each edit with a learned weight (ReZero's scalar a, LayerScale's per-channel λ): with the weights at
// 0 the whole stack is the identity on the stream, and at LayerScale's init (CaiT's ε) each block moves x by at most ε
// times its sublayers' outputs.
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Models;

public class GatedResidualTests
{
    static int[] Ids(int count, int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ => rng.NextInt(vocab)).ToArray();
    }

    /// <summary>The learned gates of a model: ReZero's gain1/gain2 or LayerScale's scale1/scale2.</summary>
    static List<Tensor> Gates(LanguageModel model) =>
        [.. model.NamedParameters().Where(p => p.Name.EndsWith("gain1") || p.Name.EndsWith("gain2") || p.Name.EndsWith("scale1") || p.Name.EndsWith("scale2"))
                                   .Select(p => p.Tensor)];

    static LanguageModel Model(string family, ResidualMode mode, int layers) => family == "gpt"
        ? new Gpt(GptConfig.Preset("test-deep") with { Residual = mode, LayerCount = layers }, seed: 3)
        : new Llama(LlamaConfig.Preset("test") with { Residual = mode, LayerCount = layers, Width = 8 }, seed: 3);

    [Theory]
    [InlineData("gpt", ResidualMode.LayerScale)]
    [InlineData("gpt", ResidualMode.ReZero)]
    [InlineData("llama", ResidualMode.LayerScale)]
    public void GatesAtZero_TheStackIsTheIdentityOnTheStream(string family, ResidualMode mode)
    {
        var model = Model(family, mode, 4);
        var gates = Gates(model);
        Assert.Equal(2 * model.Blocks.Count, gates.Count);
        foreach (var gate in gates) gate.Data.AsSpan().Fill(0.3f);                 // first show that the blocks do move the stream
        var ids = Ids(2 * 6, model.VocabSize, 5);
        var moved = model.ForwardTrace(ids, 2, 6).Blocks;
        Assert.NotEqual(moved[0].Input.Data, moved[^1].Output.Data);

        foreach (var gate in gates) Array.Clear(gate.Data);
        var trace = model.ForwardTrace(ids, 2, 6).Blocks;
        // The final stream is the embedding output, bit for bit: x + 0 * f(...) = x whatever the sublayers compute.
        Assert.Equal(trace[0].Input.Data, trace[^1].Output.Data);
        Assert.True(trace.All(b => b.FeedForwardOutput.Data.Any(v => v != 0f)), "the sublayers still compute");
    }

    /// <summary>CaiT, section 2.1: ε = 0.1 up to depth 18, 1e-5 for depth 24, 1e-6 for deeper networks.</summary>
    [Theory]
    [InlineData(1, 0.1f)]
    [InlineData(18, 0.1f)]
    [InlineData(19, 1e-5f)]
    [InlineData(24, 1e-5f)]
    [InlineData(25, 1e-6f)]
    [InlineData(36, 1e-6f)]
    public void LayerScale_EpsilonFollowsCaitsDepthSchedule(int layers, float epsilon)
    {
        Assert.Equal(epsilon, LayerScaleResidual.CaitEpsilon(layers));
        var model = new Gpt(GptConfig.Preset("test-deep") with { Residual = ResidualMode.LayerScale, LayerCount = layers, Width = 4 }, seed: 1);
        foreach (var gate in Gates(model)) Assert.All(gate.Data, v => Assert.Equal(epsilon, v));
        var torchInit = new Gpt(GptConfig.Preset("test-deep") with { Residual = ResidualMode.LayerScale, LayerCount = layers, Width = 4, TorchDefaultInit = true }, seed: 1);
        foreach (var gate in Gates(torchInit)) Assert.All(gate.Data, v => Assert.Equal(epsilon, v));
    }

    /// <summary>
    /// At CaiT's init y - x = ε f1 + ε f2 per channel (f1 the attention output, f2 the feed-forward output), so
    /// |y - x| ≤ ε (|f1| + |f2|) element by element, up to the round-off of two float32 additions to x.
    /// </summary>
    [Theory]
    [InlineData("gpt", 2)]
    [InlineData("gpt", 20)]
    [InlineData("gpt", 30)]
    [InlineData("llama", 3)]
    public void LayerScale_AtCaitsInit_EachBlockMovesTheStreamByAtMostEpsilonTimesItsEdits(string family, int layers)
    {
        var model = Model(family, ResidualMode.LayerScale, layers);
        float epsilon = LayerScaleResidual.CaitEpsilon(layers);
        var trace = model.ForwardTrace(Ids(2 * 6, model.VocabSize, 8), 2, 6).Blocks;
        foreach (var block in trace)
        {
            double largest = 0;
            for (int i = 0; i < block.Input.Size; i++)
            {
                double x = block.Input.Data[i], y = block.Output.Data[i];
                double edits = Math.Abs(block.AttentionOutput.Data[i]) + Math.Abs(block.FeedForwardOutput.Data[i]);
                double roundOff = 2.5e-7 * Math.Max(Math.Abs(x), Math.Abs(y));
                Assert.True(Math.Abs(y - x) <= epsilon * edits * (1 + 1e-5) + roundOff, $"element {i}: |y - x| = {Math.Abs(y - x):G3} > ε (|f1| + |f2|) = {epsilon * edits:G3}");
                largest = Math.Max(largest, Math.Abs(y - x));
            }
            Assert.True(largest > 0, "the block left the stream unchanged");
        }
    }
}
