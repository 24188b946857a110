// Head split/merge and column-slice kernels against their scalar twins: head sizes and widths 1..257, copy and accumulate.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class LayoutTests
{
    // Tolerance: none. These kernels are permutations (copies), or add each element once in the same order as the twin.
    const double Exact = 0;

    static readonly (int Batch, int Time, int Heads)[] Leading = [(1, 1, 1), (1, 3, 2), (2, 5, 3)];

    [Fact]
    public void SplitMergeHeads_EveryHeadSize_MatchesReference()
    {
        var rng = new Rng(51);
        foreach (var (b, t, h) in Leading)
            for (int hs = 1; hs <= KernelCheck.MaxLength; hs++)
                foreach (bool accumulate in new[] { false, true })
                {
                    int n = b * t * h * hs;
                    float[] x = KernelCheck.Normal(rng, n), before = KernelCheck.Normal(rng, n);
                    string context = $"B={b} T={t} NH={h} HS={hs} accumulate={accumulate}";

                    float[] y = (float[])before.Clone(), yRef = (float[])before.Clone();
                    Layout.SplitHeads(x, y, b, t, h, hs, accumulate);
                    LayoutReference.SplitHeads(x, yRef, b, t, h, hs, accumulate);
                    KernelCheck.AssertClose(yRef, y, Exact, "split heads " + context);

                    float[] z = (float[])before.Clone(), zRef = (float[])before.Clone();
                    Layout.MergeHeads(x, z, b, t, h, hs, accumulate);
                    LayoutReference.MergeHeads(x, zRef, b, t, h, hs, accumulate);
                    KernelCheck.AssertClose(zRef, z, Exact, "merge heads " + context);
                }
    }

    [Fact]
    public void SplitThenMergeHeads_IsIdentity()
    {
        var rng = new Rng(52);
        foreach (var (b, t, h) in Leading)
        {
            int hs = 5, n = b * t * h * hs;
            float[] x = KernelCheck.Normal(rng, n), split = new float[n], back = new float[n];
            Layout.SplitHeads(x, split, b, t, h, hs);
            Layout.MergeHeads(split, back, b, t, h, hs);
            Assert.Equal(x, back);
        }
    }

    [Fact]
    public void ColumnSlice_EveryWidth_MatchesReference()
    {
        var rng = new Rng(53);
        foreach (int rows in new[] { 1, 3 })
            for (int total = 1; total <= KernelCheck.MaxLength; total++)
                foreach (int offset in new[] { 0, total / 3, total - 1 })
                    foreach (int width in new[] { 1, total - offset })
                        foreach (bool scatter in new[] { false, true })
                        {
                            float[] wide = KernelCheck.Normal(rng, rows * total), narrow = KernelCheck.Normal(rng, rows * width);
                            float[] wideRef = (float[])wide.Clone(), narrowRef = (float[])narrow.Clone();
                            Layout.ColumnSlice(wide, narrow, rows, total, offset, width, scatter);
                            LayoutReference.ColumnSlice(wideRef, narrowRef, rows, total, offset, width, scatter);
                            string context = $"rows={rows} total={total} offset={offset} width={width} scatter={scatter}";
                            KernelCheck.AssertClose(wideRef, wide, Exact, "column slice (wide) " + context);
                            KernelCheck.AssertClose(narrowRef, narrow, Exact, "column slice (narrow) " + context);
                        }
    }

    [Fact]
    public void RepeatKvHeads_EveryGrouping_MatchesReference()
    {
        var rng = new Rng(54);
        foreach ((int heads, int kvHeads) in new[] { (1, 1), (4, 1), (4, 2), (6, 2), (6, 3), (9, 3) })
            foreach (int hs in new[] { 1, 2, 7, 16, 33 })
                foreach (int rows in new[] { 1, 5 })
                    foreach (bool backward in new[] { false, true })
                    {
                        float[] x = KernelCheck.Normal(rng, rows * (heads + 2 * kvHeads) * hs), y = KernelCheck.Normal(rng, rows * 3 * heads * hs);
                        float[] xRef = (float[])x.Clone(), yRef = (float[])y.Clone();
                        Layout.RepeatKvHeads(x, y, rows, heads, kvHeads, hs, backward);
                        LayoutReference.RepeatKvHeads(xRef, yRef, rows, heads, kvHeads, hs, backward);
                        string context = $"NH={heads} NKV={kvHeads} HS={hs} rows={rows} backward={backward}";
                        KernelCheck.AssertClose(xRef, x, Exact, "repeat kv (grouped) " + context);
                        KernelCheck.AssertClose(yRef, y, Exact, "repeat kv (wide) " + context);
                    }
    }

    [Fact]
    public void RepeatKvHeads_KeyHeadServesItsGroup()
    {
        // 4 query heads, 2 key/value heads of size 1: row [q0 q1 q2 q3 | k0 k1 | v0 v1] -> [q0..q3 | k0 k0 k1 k1 | v0 v0 v1 v1].
        float[] x = [1, 2, 3, 4, 10, 20, 100, 200], y = new float[12];
        LayoutReference.RepeatKvHeads(x, y, rows: 1, heads: 4, kvHeads: 2, headSize: 1);
        Assert.Equal([1, 2, 3, 4, 10, 10, 20, 20, 100, 100, 200, 200], y);
    }
}
