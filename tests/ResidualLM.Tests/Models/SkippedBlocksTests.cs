// The lesion hook: a skipped block passes the stream through, exactly as a pre-norm block whose edits are zero.
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Models;

public class SkippedBlocksTests
{
    static int[] Ids(int count, int vocab)
    {
        var rng = new Rng(9);
        return Enumerable.Range(0, count).Select(_ => rng.NextInt(vocab)).ToArray();
    }

    static Gpt Model(ResidualMode mode = ResidualMode.PreNorm) =>
        new(GptConfig.Preset("test") with { LayerCount = 3, Residual = mode }, seed: 4);

    [Fact]
    public void SkippedBlock_EqualsThePreNormBlockWithZeroEdits()
    {
        var skipped = Model();
        var zeroed = Model();
        foreach (var linear in new[] { zeroed.Blocks[1].Attention.Proj, ((ResidualLM.Nn.FeedForward)zeroed.Blocks[1].FeedForward).Proj })
        {
            Array.Clear(linear.Weight.Data);
            if (linear.Bias is not null) Array.Clear(linear.Bias.Data);
        }
        var ids = Ids(2 * 5, skipped.VocabSize);
        skipped.SkippedBlocks.Add(1);
        var a = skipped.Forward(ids, 2, 5).Data;
        var b = zeroed.Forward(ids, 2, 5).Data;
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 1e-5f);
        skipped.SkippedBlocks.Clear();
        Assert.NotEqual(b, skipped.Forward(ids, 2, 5).Data); // the block does something when it is not skipped
    }

    [Theory]
    [InlineData(ResidualMode.None)]
    [InlineData(ResidualMode.PostNorm)]
    public void AllBlocksSkipped_IsTheHeadOnTheEmbeddings(ResidualMode mode)
    {
        var model = Model(mode);
        var ids = Ids(3 * 4, model.VocabSize);
        foreach (int i in Enumerable.Range(0, 3)) model.SkippedBlocks.Add(i);
        var trace = model.ForwardTrace(ids, 3, 4);
        Assert.Equal(3, trace.Blocks.Count);
        Assert.All(trace.Blocks, t => { Assert.Same(t.Input, t.Output); Assert.All(t.AttentionOutput.Data, v => Assert.Equal(0f, v)); });
        var expected = model.Unembed(trace.Blocks[0].Input).Data;
        Assert.Equal(expected, trace.Logits.Data);
    }
}
