// The screened argmax equals the argmax of the full float32 logits (the head's own arithmetic, first index on ties):
// random heads and inputs, products of one and of several rows (vector and blocked arithmetic), exact and near ties
// built on purpose, and heads so crowded that it must fall back to the full head.
using ResidualLM.Generation;
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Generation;

public class ScreenedHeadTests
{
    static int FullArgMax(Tensor weight, float[] x, int productRows, int row)
    {
        var logits = new float[weight.Dim(0)];
        GemmElements.Row(Kernels.KernelCheck.Threads, x, weight.Data, logits, productRows, weight.Dim(0), row);
        return Sampler.ArgMax(logits);
    }

    static float[] Input(Rng rng, int width)
    {
        var x = new float[width];
        for (int i = 0; i < width; i++) x[i] = rng.NextGaussian() * (i % 37 == 0 ? 6f : 1f);   // a few outlier channels
        return x;
    }

    [Theory]
    [InlineData(50, 16, 1)]
    [InlineData(1000, 64, 1)]
    [InlineData(1003, 96, 16)]
    [InlineData(5000, 768, 1)]
    [InlineData(2001, 100, 7)]
    [InlineData(23, 12, 3)]
    public void RandomHeads_MatchTheFullArgMax(int vocab, int width, int productRows)
    {
        var rng = new Rng((ulong)(vocab * 31 + width));
        var weight = Tensor.Normal(rng, 0f, 0.5f, vocab, width);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            for (int trial = 0; trial < 30; trial++)
            {
                var x = Input(rng, width);
                int row = trial % productRows;
                Assert.Equal(FullArgMax(weight, x, productRows, row), head.ArgMax(x, productRows, row, new float[vocab]));
            }
            // Logits spread this widely leave few candidates: the screen itself decided (almost) every call.
            Assert.True(head.Statistics.Fallbacks <= 3, $"{head.Statistics.Fallbacks} of {head.Statistics.Calls} calls fell back");
            // At this width the outlier channels make one uint8 copy of x too coarse: both kinds of second pass ran.
            if (width == 768) Assert.True(head.Statistics.CandidatePasses > 0 && head.Statistics.FullPasses > 0, $"{head.Statistics}");
        }
        finally { head.Return(); }
    }

    [Fact]
    public void ConstructedTies_PickTheFirstIndexLikeTheFullArgMax()
    {
        var rng = new Rng(17);
        const int vocab = 3000, width = 256;
        var weight = Tensor.Normal(rng, 0f, 0.02f, vocab, width);
        var data = weight.Data;
        var x = Input(rng, width);
        // Row 100 points along x, so it leads; 2500 and 1700 copy it (exact ties), 900 and 2999 differ by one ulp in one
        // element (ties or near ties decided in the last bits), 40 is a hair smaller everywhere.
        for (int p = 0; p < width; p++) data[100 * width + p] = 0.05f * x[p];
        foreach (int copy in new[] { 2500, 1700, 900, 2999, 40 })
            data.AsSpan(100 * width, width).CopyTo(data.AsSpan(copy * width, width));
        data[900 * width + 3] = MathF.BitIncrement(data[900 * width + 3]);
        data[2999 * width + 7] = MathF.BitDecrement(data[2999 * width + 7]);
        for (int p = 0; p < width; p++) data[40 * width + p] *= 1f - 1e-7f;
        foreach (int productRows in new[] { 1, 16 })
        {
            var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
            try
            {
                for (int trial = 0; trial < 8; trial++)
                {
                    var probe = (float[])x.Clone();
                    probe[trial] = MathF.BitIncrement(probe[trial]);                // nudges the ties around
                    int expected = FullArgMax(weight, probe, productRows, productRows - 1);
                    Assert.Equal(expected, head.ArgMax(probe, productRows, productRows - 1, new float[vocab]));
                }
                Assert.Equal(0, head.Statistics.Fallbacks);
            }
            finally { head.Return(); }
        }
    }

    /// <summary>Every row the same direction, scaled by 1, 1 + 1e-7 or 1 + 2e-7: logits too close for the int8 screen.</summary>
    static Tensor CrowdedWeight(Rng rng, int vocab, int width)
    {
        var row = Tensor.Normal(rng, 0f, 0.1f, 1, width).Data;
        var weight = new Tensor(vocab, width);
        for (int j = 0; j < vocab; j++)
            for (int p = 0; p < width; p++) weight.Data[j * width + p] = row[p] * (1f + (j % 3) * 1e-7f);
        return weight;
    }

    [Fact]
    public void CrowdedHead_FallsBackToTheFullHead()
    {
        var rng = new Rng(3);
        const int vocab = 400, width = 64;
        var weight = CrowdedWeight(rng, vocab, width);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var x = Input(rng, width);
            Assert.Equal(FullArgMax(weight, x, 1, 0), head.ArgMax(x, 1, 0, new float[vocab]));
            Assert.Equal((1, 1), (head.Statistics.Calls, head.Statistics.Fallbacks));
        }
        finally { head.Return(); }
    }

    [Fact]
    public void AHeadThatKeepsFallingBack_StopsScreening()
    {
        // Every call on a crowded head falls back. After 8 fallbacks that are more than half of the calls the screen is
        // no longer tried (no more second passes), and the answers stay the full head's.
        var rng = new Rng(4);
        const int vocab = 400, width = 64;
        var weight = CrowdedWeight(rng, vocab, width);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            int passesAfterEight = 0;
            for (int call = 1; call <= 20; call++)
            {
                var x = Input(rng, width);
                Assert.Equal(FullArgMax(weight, x, 1, 0), head.ArgMax(x, 1, 0, new float[vocab]));
                var (_, _, candidatePasses, fullPasses) = head.Statistics;
                if (call == 8) passesAfterEight = candidatePasses + fullPasses;
            }
            var stats = head.Statistics;
            Assert.Equal((20, 20), (stats.Calls, stats.Fallbacks));
            Assert.True(passesAfterEight > 0, $"{stats}: the screen never ran a second pass");
            Assert.True(stats.CandidatePasses + stats.FullPasses <= passesAfterEight + 1, $"{stats}: still screening after the fallbacks");
        }
        finally { head.Return(); }
    }
}
