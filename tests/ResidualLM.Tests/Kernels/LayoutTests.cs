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
}
