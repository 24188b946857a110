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
    internal static int FullArgMax(Tensor weight, float[] x, int productRows, int row)
    {
        var logits = new float[weight.Dim(0)];
        GemmElements.Row(Kernels.KernelCheck.Threads, x, weight.Data, logits, productRows, weight.Dim(0), row);
        return Sampler.ArgMax(logits);
    }

    internal static float[] Input(Rng rng, int width)
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
            var passes = new List<int>();
            for (int call = 1; call <= 20; call++)
            {
                var x = Input(rng, width);
                Assert.Equal(FullArgMax(weight, x, 1, 0), head.ArgMax(x, 1, 0, new float[vocab]));
                var (_, _, candidatePasses, fullPasses) = head.Statistics;
                passes.Add(candidatePasses + fullPasses);
                if (call == 8) passesAfterEight = candidatePasses + fullPasses;
            }
            // Exactly the first eight calls screened (each needing a second pass on this crowded head); none after.
            for (int call = 1; call < 8; call++) Assert.True(passes[call] > passes[call - 1], $"call {call + 1} did not screen: {string.Join(",", passes)}");
            Assert.Equal(passes[7], passes[19]);
            var stats = head.Statistics;
            Assert.Equal((20, 20), (stats.Calls, stats.Fallbacks));
            Assert.True(passesAfterEight > 0, $"{stats}: the screen never ran a second pass");
            Assert.True(stats.CandidatePasses + stats.FullPasses <= passesAfterEight + 1, $"{stats}: still screening after the fallbacks");
        }
        finally { head.Return(); }
    }
}

/// <summary>
/// The screen's bounds against the file header's formula, computed here in double from the weights and the input. With
/// inputs and rows that int8 / uint8 represent exactly (integers times a power of two, largest magnitude 127) the
/// quantisation terms vanish and the float32 round-off term gamma_(k+2) ||x|| ||w_j|| (or, with tiny values, the underflow
/// slack (k+2) 2^-149) is all of B_j: a bound that is narrower than the formula (unsafe) or wider than its own rounding
/// allows (the screen decides less) shows.
/// </summary>
public class ScreenedHeadBoundTests
{
    const int Vocab = 40, Width = 64;

    // Integers in [-127, 127], 127 in magnitude at position `peak`, times 2^exponent.
    static float[] Exact(Rng rng, int width, int peak, int exponent)
    {
        var v = new float[width];
        for (int p = 0; p < width; p++) v[p] = MathF.ScaleB(p == peak ? 127 : rng.NextInt(255) - 127, exponent);
        return v;
    }

    static double Norm(ReadOnlySpan<float> v)
    {
        double s = 0;
        foreach (float f in v) s += (double)f * f;
        return Math.Sqrt(s);
    }

    static (double[] Logits, double[] RoundOff) Expected(float[] w, float[] x, int width) => Expected(w, x, width, Vocab);

    static (double[] Logits, double[] RoundOff) Expected(float[] w, float[] x, int width, int vocab)
    {
        int k = width;
        double u = Math.Pow(2, -24), gamma = (k + 2) * u / (1 - (k + 2) * u);
        var logits = new double[vocab];
        var roundOff = new double[vocab];
        for (int j = 0; j < vocab; j++)
        {
            var row = w.AsSpan(j * width, width);
            double dot = 0;
            for (int p = 0; p < width; p++) dot += (double)row[p] * x[p];
            logits[j] = dot;
            roundOff[j] = gamma * Norm(x) * Norm(row);
        }
        return (logits, roundOff);
    }

    // Rows exact in int8 whose channel 0 is +127 * 2^-7 (the first `close` rows) or -127 * 2^-7 (the rest).
    static float[] SharedChannelRows(Rng rng, int vocab, int close)
    {
        var w = new float[vocab * Width];
        for (int j = 0; j < vocab; j++)
        {
            Exact(rng, Width, 1 + j % (Width - 1), -7).CopyTo(w, j * Width);
            w[j * Width] = MathF.ScaleB(j < close ? 127 : -127, -7);
        }
        return w;
    }

    // One large channel (127 / 16) and small ones below half of its quantisation step: integers times 2^-13 (the
    // residual's copy is then exact) or arbitrary floats.
    static float[] TwoScaleInput(Rng rng, bool exactResidual)
    {
        var x = new float[Width];
        x[0] = MathF.ScaleB(127, -4);
        for (int p = 1; p < Width; p++)
            x[p] = exactResidual ? MathF.ScaleB(p == 7 ? 127 : rng.NextInt(255) - 127, -13) : 0.01f * rng.NextGaussian();
        return x;
    }

    static int Best(double[] logits)
    {
        int best = 0;
        for (int j = 1; j < logits.Length; j++) if (logits[j] > logits[best]) best = j;
        return best;
    }

    // a_j exact (integer products of powers of two), so upper - logit is B_j itself: at least the formula's round-off
    // term, and at most the screen's own upward roundings (three norms in float, 2^-20 for the double sums) more.
    static void AssertRoundOffBounds(ReadOnlySpan<double> upper, double[] logits, double[] roundOff, int from, int to)
    {
        for (int j = from; j < to; j++)
        {
            double bound = upper[j] - logits[j];
            Assert.True(bound >= roundOff[j] && bound <= roundOff[j] * (1 + 3e-6),
                $"row {j}: B = {bound:R}, the header's gamma_(k+2) ||x|| ||w|| = {roundOff[j]:R} (ratio {bound / roundOff[j]:R})");
        }
    }

    [Fact]
    public void ExactlyQuantisedInputs_BoundIsTheFloat32RoundOffTerm()
    {
        var rng = new Rng(21);
        var w = new float[Vocab * Width];
        for (int j = 0; j < Vocab; j++) Exact(rng, Width, j % Width, -7 - j % 3).CopyTo(w, j * Width);
        var x = Exact(rng, Width, 5, -6);
        var weight = Tensor.FromArray(w, Vocab, Width);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var (logits, roundOff) = Expected(w, x, Width);
            Assert.Equal(Best(logits), head.ArgMax(x, 1, 0, new float[Vocab]));
            Assert.Equal((0, 0), (head.Statistics.CandidatePasses, head.Statistics.FullPasses));
            AssertRoundOffBounds(head.UpperBounds, logits, roundOff, 0, Vocab);
        }
        finally { head.Return(); }
    }

    [Fact]
    public void TwoPassInputs_SecondPassBoundIsTheFloat32RoundOffTerm()
    {
        // x = one large channel (127 / 16) plus small ones (integers times 2^-13, all below half of x's first scale):
        // its uint8 copy keeps only the large channel, and the residual's copy is exact, so after the second pass
        // x^^ = x. Every row shares the large channel's weight, so pass 1 (whose error term is the whole residual)
        // leaves most rows as candidates and a second pass runs over all of them; its B_j is then the round-off term.
        var rng = new Rng(23);
        const int vocab = 400;
        var w = SharedChannelRows(rng, vocab, vocab);
        var x = TwoScaleInput(rng, exactResidual: true);
        var head = ScreenedHead.Rent(Tensor.FromArray(w, vocab, Width), Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var (logits, roundOff) = Expected(w, x, Width, vocab);
            Assert.Equal(Best(logits), head.ArgMax(x, 1, 0, new float[vocab]));
            Assert.Equal((1, 0, 0, 1), head.Statistics);   // one call, no fallback, a second pass over every row
            AssertRoundOffBounds(head.UpperBounds, logits, roundOff, 0, vocab);
        }
        finally { head.Return(); }
    }

    [Fact]
    public void TwoPassInputs_WithAnInexactResidual_BoundAddsTheRemainingError()
    {
        // As above, but the small channels are arbitrary floats: after both copies an error e = x - x^^ remains, and
        // B_j = ||e|| ||w^_j|| + gamma_(k+2) ||x|| ||w_j|| (rows exact, so w^_j = w_j), around the approximate logit
        // a_j = x^^ . w_j. The copies are made here with the same quantiser, the bound from them in double.
        var rng = new Rng(24);
        const int vocab = 400;
        var w = SharedChannelRows(rng, vocab, vocab);
        var x = TwoScaleInput(rng, exactResidual: false);
        var q1 = new byte[Width];
        float scale1 = QuantizedRows.QuantizeVector(x, q1, out _, out _);
        var residual = new float[Width];
        for (int p = 0; p < Width; p++) residual[p] = (float)(x[p] - (double)scale1 * (q1[p] - QuantizedRows.ZeroPoint));
        var q2 = new byte[Width];
        float scale2 = QuantizedRows.QuantizeVector(residual, q2, out _, out _);
        var approx = new double[Width];
        double ee = 0;
        for (int p = 0; p < Width; p++)
        {
            approx[p] = (double)scale1 * (q1[p] - QuantizedRows.ZeroPoint) + (double)scale2 * (q2[p] - QuantizedRows.ZeroPoint);
            ee += (x[p] - approx[p]) * (x[p] - approx[p]);
        }
        Assert.True(ee > 0, "the residual should not be exact here");
        var head = ScreenedHead.Rent(Tensor.FromArray(w, vocab, Width), Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var (_, roundOff) = Expected(w, x, Width, vocab);
            head.ArgMax(x, 1, 0, new float[vocab]);
            Assert.Equal(1, head.Statistics.FullPasses);
            var upper = head.UpperBounds;
            for (int j = 0; j < vocab; j++)
            {
                double a = 0, ww = 0;
                for (int p = 0; p < Width; p++) { a += approx[p] * w[j * Width + p]; ww += (double)w[j * Width + p] * w[j * Width + p]; }
                double expected = Math.Sqrt(ee) * Math.Sqrt(ww) + roundOff[j], bound = upper[j] - a;
                Assert.True(bound >= expected * (1 - 1e-12) && bound <= expected * (1 + 3e-6),
                    $"row {j}: B = {bound:R}, ||e|| ||w|| + gamma ||x|| ||w|| = {expected:R} (ratio {bound / expected:R})");
            }
        }
        finally { head.Return(); }
    }

    [Fact]
    public void TwoPassInputs_OnFewCandidates_RefineOnlyThoseRows()
    {
        // 2000 rows, of which the first 100 share the large channel's weight and the rest have it at -127: pass 1 rules
        // the rest out and leaves about 100 candidates, more than 64 but fewer than 2000 / 16, so pass 2 reads only
        // their rows. Their bounds are then the round-off term (exact residual); the others keep pass 1's wider ones.
        var rng = new Rng(25);
        const int vocab = 2000, close = 100;
        var w = SharedChannelRows(rng, vocab, close);
        var x = TwoScaleInput(rng, exactResidual: true);
        var head = ScreenedHead.Rent(Tensor.FromArray(w, vocab, Width), Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var (logits, roundOff) = Expected(w, x, Width, vocab);
            Assert.Equal(Best(logits), head.ArgMax(x, 1, 0, new float[vocab]));
            Assert.Equal((1, 0, 1, 0), head.Statistics);   // one call, a second pass over the candidates only
            AssertRoundOffBounds(head.UpperBounds, logits, roundOff, 0, close);
            for (int j = close; j < vocab; j++) Assert.True(head.UpperBounds[j] - logits[j] > 100 * roundOff[j], $"row {j} was refined");
        }
        finally { head.Return(); }
    }

    [Fact]
    public void TinyInputs_BoundIsTheUnderflowSlack()
    {
        // x and w near 2^-85: every product is below float32's smallest normal, so the head's products can flush to
        // subnormals and B_j is dominated by (k + 2) 2^-149.
        var rng = new Rng(22);
        var w = new float[Vocab * Width];
        for (int j = 0; j < Vocab; j++) Exact(rng, Width, j % Width, -85).CopyTo(w, j * Width);
        var x = Exact(rng, Width, 9, -85);
        var weight = Tensor.FromArray(w, Vocab, Width);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var (logits, roundOff) = Expected(w, x, Width);
            head.ArgMax(x, 1, 0, new float[Vocab]);
            double slack = (Width + 2) * Math.Pow(2, -149);
            var upper = head.UpperBounds;
            for (int j = 0; j < Vocab; j++)
            {
                double bound = upper[j] - logits[j], expected = roundOff[j] + slack;
                Assert.True(slack > 1e6 * roundOff[j], "the slack should dominate here");
                Assert.True(bound >= expected && bound <= expected * (1 + 3e-6),
                    $"row {j}: B = {bound:R}, the header's gamma ||x|| ||w|| + (k+2) 2^-149 = {expected:R}");
            }
        }
        finally { head.Return(); }
    }
}

/// <summary>When the screen is built, reused and bypassed: null where it cannot pay off, the same buffers for the next
/// generation with the same head, and the full head for weights or inputs the bound does not cover.</summary>
public class ScreenedHeadLifetimeTests
{
    [Fact]
    public void Rent_IsNullForShapesAndMachinesItDoesNotServe()
    {
        var threads = Kernels.KernelCheck.Threads;
        Assert.Null(ScreenedHead.Rent(new Tensor(8), threads, force: true));                    // not a matrix
        Assert.Null(ScreenedHead.Rent(new Tensor(1, QuantizedRows.MaxLength + 1), threads, force: true));
        var weight = new Tensor(4, 8);
        // Without AVX-VNNI it is not built unless forced (measured no gain there).
        var unforced = ScreenedHead.Rent(weight, threads);
        Assert.Equal(System.Runtime.Intrinsics.X86.AvxVnni.IsSupported, unforced is not null);
        unforced?.Return();
        var forced = ScreenedHead.Rent(weight, threads, force: true);
        Assert.NotNull(forced);
        forced!.Return();
    }

    [Fact]
    public void WhenThePoolIsBusy_TheHeadRunsItsPartsOnTheCallingThread()
    {
        // Rented and used inside a parallel loop of its own pool: the pool is busy, so building the int8 copy and each
        // screen run their parts on the calling thread, with the same answers.
        var rng = new Rng(23);
        const int vocab = 2000, width = 128;
        var weight = Tensor.Normal(rng, 0f, 0.5f, vocab, width);
        // Half the inputs point at a row (the argmax, in every part of the head in turn), half are random.
        var inputs = Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? weight.Data.AsSpan((vocab - 1 - i * 250) * width, width).ToArray().Select(v => 3f * v).ToArray()
            : ScreenedHeadTests.Input(rng, width)).ToArray();
        var expected = inputs.Select(x => ScreenedHeadTests.FullArgMax(weight, x, 1, 0)).ToArray();
        var got = new int[inputs.Length];
        int screened = 0;
        using var threads = new Parallelism(2);
        threads.For(0, 2, (from, to) =>
        {
            for (int t = from; t < to; t++)
            {
                var head = ScreenedHead.Rent(weight, threads, force: true)!;
                try
                {
                    for (int i = t; i < inputs.Length; i += 2) got[i] = head.ArgMax(inputs[i], 1, 0, new float[vocab]);
                    var (calls, fallbacks, _, _) = head.Statistics;
                    Interlocked.Add(ref screened, calls - fallbacks);
                }
                finally { head.Return(); }
            }
        }, costPerItem: 1L << 30);
        Assert.Equal(expected, got);
        Assert.True(screened > 0, "every call fell back to the full head: the screen's parts were not exercised");
    }

    [Fact]
    public void AReturnedHead_IsRentedAgain_ButNeverTwiceAtOnce()
    {
        var rng = new Rng(5);
        var weight = Tensor.Normal(rng, 0f, 0.5f, 30, 16);
        var first = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        var second = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        Assert.NotSame(first, second);                  // both in use: two sets of buffers
        first.Return();
        var third = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        Assert.Same(first, third);                      // the returned one is reused
        var fourth = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        Assert.NotSame(third, fourth);                  // and taken out of the pool while in use
        var other = ScreenedHead.Rent(Tensor.Normal(rng, 0f, 0.5f, 30, 16), Kernels.KernelCheck.Threads, force: true)!;
        Assert.NotSame(third, other);                   // keyed by the weight
        second.Return(); third.Return(); fourth.Return(); other.Return();
    }

    [Fact]
    public void AReusedHead_IsRebuiltFromTheCurrentWeights()
    {
        var rng = new Rng(6);
        var weight = Tensor.Normal(rng, 0f, 0.5f, 30, 16);
        var x = new float[16];
        for (int p = 0; p < 16; p++) x[p] = rng.NextGaussian();
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        head.ArgMax(x, 1, 0, new float[30]);
        head.Return();
        // Row 11 now points along x: it must win in the next generation (stale int8 rows would not know it).
        for (int p = 0; p < 16; p++) weight.Data[11 * 16 + p] = 3f * x[p];
        head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            Assert.Equal(11, head.ArgMax(x, 1, 0, new float[30]));
            Assert.Equal((1, 0), (head.Statistics.Calls, head.Statistics.Fallbacks));   // statistics restart per rent
        }
        finally { head.Return(); }
    }

    [Fact]
    public void NonFiniteWeights_AlwaysUseTheFullHead()
    {
        var rng = new Rng(7);
        var weight = Tensor.Normal(rng, 0f, 0.5f, 30, 16);
        weight.Data[4 * 16 + 2] = float.PositiveInfinity;
        var x = new float[16];
        for (int p = 0; p < 16; p++) x[p] = 0.5f + p;                                   // positive: row 4's logit is +inf
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            Assert.Equal(4, head.ArgMax(x, 1, 0, new float[30]));
            Assert.Equal(4, head.ArgMax(x, 1, 0, new float[30]));
            Assert.Equal((2, 2), (head.Statistics.Calls, head.Statistics.Fallbacks));
        }
        finally { head.Return(); }
        weight.Data[4 * 16 + 2] = float.NaN;
        head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var logits = new float[30];
            GemmElements.Row(Kernels.KernelCheck.Threads, x, weight.Data, logits, 1, 30, 0);
            Assert.Equal(Sampler.ArgMax(logits), head.ArgMax(x, 1, 0, new float[30]));
            Assert.Equal((1, 1), (head.Statistics.Calls, head.Statistics.Fallbacks));
        }
        finally { head.Return(); }
    }

    [Fact]
    public void InputsWhoseLogitsCouldOverflow_UseTheFullHead()
    {
        var rng = new Rng(8);
        var weight = Tensor.Normal(rng, 0f, 0.5f, 30, 16);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var x = new float[16];
            for (int p = 0; p < 16; p++) x[p] = rng.NextGaussian();
            int expected = head.ArgMax(x, 1, 0, new float[30]);
            Assert.Equal(0, head.Statistics.Fallbacks);
            // ||x|| ||w|| past 1e37 (but every float finite): the bound's float32 model no longer holds, so no screening.
            for (int p = 0; p < 16; p++) x[p] *= 1e37f;
            var logits = new float[30];
            GemmElements.Row(Kernels.KernelCheck.Threads, x, weight.Data, logits, 1, 30, 0);
            Assert.Equal(Sampler.ArgMax(logits), head.ArgMax(x, 1, 0, new float[30]));
            Assert.Equal(1, head.Statistics.Fallbacks);
            x[3] = float.NaN;
            head.ArgMax(x, 1, 0, new float[30]);
            Assert.Equal(2, head.Statistics.Fallbacks);
            var finite = new float[16];
            Assert.Contains("head input", Assert.Throws<ArgumentException>(() => head.ArgMax(new float[15], 1, 0, new float[30])).Message);
            Assert.Contains("head input", Assert.Throws<ArgumentException>(() => head.ArgMax(finite, 1, 0, new float[29])).Message);
            head.ArgMax(finite, 1, 0, new float[31]);                                  // longer scratch is fine
        }
        finally { head.Return(); }
    }

    [Fact]
    public void LargeWeights_WithModestInputs_AreStillScreened_UntilTheProductPasses1e37()
    {
        // ||w|| near 4e10 and ||x|| near 4e26: ||x|| ||w|| ~ 1.6e37 > 1e37 (full head), while ||x|| / ||w|| is far below it;
        // the same x scaled down 100-fold is screened.
        var rng = new Rng(9);
        var weight = Tensor.Normal(rng, 0f, 1e10f, 30, 16);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            var x = new float[16];
            for (int p = 0; p < 16; p++) x[p] = 1e26f * rng.NextGaussian();
            var logits = new float[30];
            GemmElements.Row(Kernels.KernelCheck.Threads, x, weight.Data, logits, 1, 30, 0);
            Assert.Equal(Sampler.ArgMax(logits), head.ArgMax(x, 1, 0, new float[30]));
            Assert.Equal(1, head.Statistics.Fallbacks);
            for (int p = 0; p < 16; p++) x[p] *= 0.01f;
            head.ArgMax(x, 1, 0, new float[30]);
            Assert.Equal(1, head.Statistics.Fallbacks);
        }
        finally { head.Return(); }
    }

    [Fact]
    public void Rent_AcceptsTheSmallestAndLongestRows()
    {
        var threads = Kernels.KernelCheck.Threads;
        var one = ScreenedHead.Rent(Tensor.FromArray([2f], 1, 1), threads, force: true);
        Assert.NotNull(one);
        Assert.Equal(0, one!.ArgMax([3f], 1, 0, new float[1]));
        one.Return();
        var longest = ScreenedHead.Rent(new Tensor(2, QuantizedRows.MaxLength), threads, force: true);
        Assert.NotNull(longest);
        longest!.Return();
    }

    [Fact]
    public void RowZero_CanWinTheScreen_AgainstACloseSecond()
    {
        // Row 0 leads and row 1 is a hair behind (both stay candidates and are recomputed): the screen answers 0 itself.
        var rng = new Rng(10);
        const int vocab = 200, width = 32;
        var weight = Tensor.Normal(rng, 0f, 0.05f, vocab, width);
        var x = new float[width];
        for (int p = 0; p < width; p++) x[p] = rng.NextGaussian();
        for (int p = 0; p < width; p++) { weight.Data[p] = 0.2f * x[p]; weight.Data[width + p] = 0.2f * x[p] * (1f - 1e-6f); }
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            Assert.Equal(0, head.ArgMax(x, 1, 0, new float[vocab]));
            Assert.Equal((1, 0, 0, 0), head.Statistics);
        }
        finally { head.Return(); }
    }

    [Fact]
    public void AWellSeparatedHead_NeedsOnePassPerCall()
    {
        // Plain Gaussian inputs (no outlier channels) against 1000 rows: the first pass's lower bound leaves a handful of
        // candidates every time, so no second pass of either kind and no fallback.
        var rng = new Rng(11);
        const int vocab = 1000, width = 64;
        var weight = Tensor.Normal(rng, 0f, 0.5f, vocab, width);
        var head = ScreenedHead.Rent(weight, Kernels.KernelCheck.Threads, force: true)!;
        try
        {
            for (int call = 0; call < 10; call++)
            {
                var x = new float[width];
                for (int p = 0; p < width; p++) x[p] = rng.NextGaussian();
                var logits = new float[vocab];
                GemmElements.Row(Kernels.KernelCheck.Threads, x, weight.Data, logits, 1, vocab, 0);
                Assert.Equal(Sampler.ArgMax(logits), head.ArgMax(x, 1, 0, new float[vocab]));
            }
            Assert.Equal((10, 0, 0, 0), head.Statistics);
        }
        finally { head.Return(); }
    }
}
