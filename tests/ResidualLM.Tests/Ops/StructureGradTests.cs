// Finite-difference gradient checks of the data-movement ops: heads split/merge, concat/split, embedding,
// masked fill and dropout.
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class StructureGradTests
{
    [Fact]
    public void SplitMergeHeads_OddShapes_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(141);
        foreach (var (b, t, heads, hs) in new[] { (1, 1, 1, 1), (2, 3, 2, 3), (1, 5, 3, 1), (2, 1, 4, 5) })
        {
            GradCheck.Check(x => O.SplitHeads(x[0], heads), [Tensor.Normal(rng, 0, 1, b, t, heads * hs)]);
            GradCheck.Check(x => O.MergeHeads(x[0]), [Tensor.Normal(rng, 0, 1, b, heads, t, hs)]);
            Assert.Equal([b, heads, t, hs], O.SplitHeads(new Tensor(b, t, heads * hs), heads).Shape.ToArray());
        }
    }

    [Fact]
    public void RepeatKvHeads_Groupings_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(41);
        foreach ((int heads, int kvHeads, int hs) in new[] { (4, 1, 3), (6, 2, 2), (3, 3, 2) })
        {
            GradCheck.Check(t => O.RepeatKvHeads(t[0], heads, kvHeads, hs), [Tensor.Normal(rng, 0, 1, 2, 3, (heads + 2 * kvHeads) * hs)]);
        }
    }

    [Fact]
    public void ConcatSplit_OddWidths_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(142);
        foreach (int[] lead in new[] { new[] { 1 }, [3], [2, 3] })
        {
            int[] widths = [2, 1, 5];
            var parts = widths.Select(w => Tensor.Normal(rng, 0, 1, [.. lead, w])).ToArray();
            GradCheck.Check(p => O.Concat(p), parts);
            // The same tensor twice: both copies' gradients must add up.
            GradCheck.Check(p => O.Concat(p[0], p[1], p[0]), [parts[0], parts[2]]);

            var x = Tensor.Normal(rng, 0, 1, [.. lead, widths.Sum()]);
            for (int k = 0; k < widths.Length; k++)
            {
                int piece = k;
                GradCheck.Check(t => O.Split(t[0], widths)[piece], [x]);
            }
            // All pieces in use, reassembled in another order.
            GradCheck.Check(t => { var s = O.Split(t[0], widths); return O.Concat(s[2], s[0] * s[0], s[1]); }, [x]);
        }
    }

    [Fact]
    public void Concat_MismatchedLeadingDimensions_Throws()
    {
        foreach (var (a, b) in new (int[], int[])[] { ([2, 3, 4], [3, 2, 4]), ([6, 4], [2, 3, 4]), ([2, 4], [3, 4]) })
            Assert.Throws<ArgumentException>(() => O.Concat(new Tensor(a), new Tensor(b)));
    }

    [Fact]
    public void Embedding_RepeatedIds_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(143);
        int[] ids = [0, 4, 4, 2, 0, 0];
        var table = Tensor.Normal(rng, 0, 1, 5, 3);
        Assert.Equal([2, 3, 3], O.Embedding(table, ids, 2, 3).Shape.ToArray());
        GradCheck.Check(t => O.Embedding(t[0], ids, 2, 3), [table]);

        // Scatter-add by hand: row v of the table gets the sum of the upstream rows of the positions holding id v.
        table.Grad = null;
        var seed = Tensor.Normal(rng, 0, 1, ids.Length, 3);
        O.Embedding(table, ids).Backward(seed);
        for (int v = 0; v < 5; v++)
            for (int c = 0; c < 3; c++)
            {
                float expected = 0;
                for (int i = 0; i < ids.Length; i++) if (ids[i] == v) expected += seed.Data[i * 3 + c];
                Assert.Equal(expected, table.Grad!.Data[v * 3 + c], 5);
            }
    }

    [Fact]
    public void MaskedFill_BroadcastMasks_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(144);
        // A padding mask (B, 1, 1, S), a (T, S) mask and a mask over every element.
        var cases = new (int[] MaskShape, int[] XShape)[] { ([2, 1, 1, 4], [2, 3, 4, 4]), ([3, 5], [2, 3, 5]), ([7], [7]) };
        foreach (var (maskShape, xShape) in cases)
        {
            var mask = new bool[maskShape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextFloat() < 0.4f;
            var x = Tensor.Normal(rng, 0, 1, xShape);
            GradCheck.Check(t => O.MaskedFill(t[0], mask, maskShape, -3f) * t[0], [x]);

            // The fill value lands exactly where the broadcast mask is true.
            var y = O.MaskedFill(x, mask, maskShape, -3f);
            int inner = mask.Length;
            for (int e = 0; e < x.Size; e++)
            {
                bool masked = maskShape.Length == 4 ? mask[e / (xShape[1] * xShape[2] * xShape[3]) * 4 + e % 4] : mask[e % inner];
                Assert.Equal(masked ? -3f : x.Data[e], y.Data[e]);
            }
        }
    }

    [Fact]
    public void Dropout_FixedSeed_GradientIsMaskScale()
    {
        var rng = new Rng(145);
        const float p = 0.3f;
        var x = Tensor.Uniform(rng, 0.5f, 1.5f, 40, 50).WithGrad();
        var y = O.Dropout(x, p, new Rng(9), training: true);
        y.Backward(Tensor.Ones(40, 50));
        int dropped = 0;
        for (int i = 0; i < x.Size; i++)
        {
            float g = x.Grad!.Data[i];
            // Inverted dropout: each gradient is 0 (dropped) or 1/(1-p) (kept), and matches the forward's choice.
            Assert.True(g == 0f || Math.Abs(g - 1f / (1f - p)) < 1e-6f, $"gradient {g}");
            Assert.Equal(y.Data[i], x.Data[i] * g, 5);
            if (g == 0f) dropped++;
        }
        // 2000 Bernoulli(0.3) draws: mean 600, standard deviation ~20.
        Assert.InRange(dropped, 500, 700);
        GradCheck.Check(t => O.Dropout(t[0], p, new Rng(9), training: true) * t[0], [Tensor.Normal(rng, 0, 1, 3, 7)]);
        Assert.Same(x, O.Dropout(x, p, new Rng(9), training: false));
    }
}
