// The sampler's distributions (temperature, top-k, top-p and their combination) against probabilities computed here in
// double from the definitions, by seeded frequency counts; plus greedy decoding and option validation.
using ResidualLM.Generation;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Generation;

public class SamplerTests
{
    // The logits are ln q for these probabilities (distinct, so top-k and top-p boundaries are unambiguous; ids out of
    // order, so a sampler that keeps the first k ids instead of the k largest is caught). Sorted: 0.30 (id 3),
    // 0.20 (6), 0.15 (1), 0.12 (7), 0.09 (0), 0.07 (4), 0.05 (2), 0.02 (5); cumulative 0.30, 0.50, 0.65, 0.77, ...
    static readonly double[] Q = [0.09, 0.15, 0.05, 0.30, 0.07, 0.02, 0.20, 0.12];
    static readonly float[] Logits = Q.Select(q => (float)Math.Log(q)).ToArray();

    const int Draws = 20_000;

    /// <summary>
    /// The distribution the options define, from the definitions: softmax(logits / T) is proportional to q^(1/T) (no
    /// exponentials of logits here); keep the k most likely; of those, renormalised, keep the smallest most-likely set
    /// whose mass reaches p; renormalise.
    /// </summary>
    static double[] Expected(double temperature, int topK, double topP)
    {
        double[] weight = Q.Select(q => Math.Pow(q, 1 / temperature)).ToArray();
        int[] byWeight = Enumerable.Range(0, Q.Length).OrderByDescending(i => weight[i]).ToArray();
        int[] kept = byWeight.Take(topK > 0 ? topK : Q.Length).ToArray();
        double keptMass = kept.Sum(i => weight[i]);
        int nucleus = 0;
        for (double mass = 0; nucleus < kept.Length && !(mass >= topP); nucleus++) mass += weight[kept[nucleus]] / keptMass;
        kept = kept[..nucleus];
        double total = kept.Sum(i => weight[i]);
        var p = new double[Q.Length];
        foreach (int i in kept) p[i] = weight[i] / total;
        return p;
    }

    [Fact]
    public void Expected_HandComputedCases()
    {
        // Pins the test's own reference: T = 1 is q; T = 1/2 squares and renormalises; top-k 2 keeps 0.30 and 0.20.
        AssertClose(Q, Expected(1, 0, 1), "T=1");
        double squares = Q.Sum(q => q * q);
        AssertClose(Q.Select(q => q * q / squares).ToArray(), Expected(0.5, 0, 1), "T=0.5");
        AssertClose([0, 0, 0, 0.6, 0, 0, 0.4, 0], Expected(1, 2, 1), "top-k 2");
        // top-p 0.6: 0.30 + 0.20 = 0.50 < 0.6 <= 0.65, so ids 3, 6, 1 over 0.65.
        AssertClose([0, 0.15 / 0.65, 0, 0.30 / 0.65, 0, 0, 0.20 / 0.65, 0], Expected(1, 0, 0.6), "top-p 0.6");
        // top-k 4 then top-p 0.7 on the renormalised four (0.30, 0.20, 0.15, 0.12 over 0.77: cumulative 0.39, 0.65,
        // 0.84): three tokens, where top-p 0.7 on the whole distribution would keep four.
        AssertClose([0, 0.15 / 0.65, 0, 0.30 / 0.65, 0, 0, 0.20 / 0.65, 0], Expected(1, 4, 0.7), "top-k 4, top-p 0.7");
    }

    public static TheoryData<float, int, float> Options => new()
    {
        // temperature, top-k, top-p
        { 1f, 0, 1f },
        { 0.5f, 0, 1f },
        { 2f, 0, 1f },
        { 1f, 3, 1f },
        { 1f, 1, 1f },
        { 1f, 50, 1f },      // k above the vocabulary: everything
        { 1f, 0, 0.6f },
        { 1f, 0, 0.45f },
        { 1f, 0, 0.25f },    // the top token alone already reaches p
        { 1f, 4, 0.7f },
        { 2f, 2, 1f },
        { 0.5f, 0, 0.8f },
    };

    /// <summary>
    /// Each token's frequency in 20,000 seeded draws lies within 5 standard errors, 5 sqrt(p (1 - p) / N) (at most
    /// 0.018), of its probability; tokens with probability 0 are never drawn. The smallest probability gap between a
    /// right and a plausibly wrong distribution here (e.g. top-k ignored, T applied as a multiplier) is several times that.
    /// </summary>
    [Theory]
    [MemberData(nameof(Options))]
    public void Sample_Frequencies_MatchTheDistribution(float temperature, int topK, float topP)
    {
        double[] expected = Expected(temperature, topK, topP);
        var options = new SamplingOptions(temperature, topK, topP);
        var rng = new Rng(20_250_101 + topK);
        var counts = new int[Q.Length];
        for (int draw = 0; draw < Draws; draw++) counts[Sampler.Sample(Logits, options, rng)]++;
        for (int i = 0; i < Q.Length; i++)
        {
            double frequency = (double)counts[i] / Draws, p = expected[i];
            if (p == 0)
                Assert.True(counts[i] == 0, $"{options}: token {i} is outside top-k/top-p but was drawn {counts[i]} times");
            else
                Assert.True(Math.Abs(frequency - p) <= 5 * Math.Sqrt(p * (1 - p) / Draws),
                    $"{options}: token {i} drawn with frequency {frequency:F4}, probability {p:F4}");
        }
    }

    [Fact]
    public void Sample_SameSeed_SameTokens()
    {
        var options = new SamplingOptions(0.9f, 5, 0.95f);
        Rng a = new(7), b = new(7);
        var first = Enumerable.Range(0, 200).Select(_ => Sampler.Sample(Logits, options, a)).ToArray();
        var second = Enumerable.Range(0, 200).Select(_ => Sampler.Sample(Logits, options, b)).ToArray();
        Assert.Equal(first, second);
        Assert.True(first.Distinct().Count() > 1, "200 draws at temperature 0.9 gave a single token");
    }

    [Fact]
    public void Greedy_IsTheArgMax_FirstOnTies()
    {
        var rng = new Rng(1);
        Assert.Equal(3, Sampler.Sample(Logits, SamplingOptions.Greedy, rng));
        Assert.Equal(1, Sampler.ArgMax([0f, 2f, -1f, 2f]));
        Assert.Equal(0, Sampler.ArgMax([5f]));
        Assert.Equal(2, Sampler.Sample([-3f, -2f, -1f], SamplingOptions.Greedy, rng));
        Assert.Throws<ArgumentException>(() => Sampler.Sample([], new SamplingOptions(), rng));
    }

    public static TheoryData<float, int, float> BadOptions => new()
    {
        { -0.1f, 0, 1f }, { float.NaN, 0, 1f }, { float.PositiveInfinity, 0, 1f },
        { 1f, -1, 1f },
        { 1f, 0, 0f }, { 1f, 0, 1.01f }, { 1f, 0, float.NaN },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Validate_OutOfRange_NamesTheField(float temperature, int topK, float topP)
    {
        var e = Assert.Throws<InvalidInputException>(() => new SamplingOptions(temperature, topK, topP).Validate());
        Assert.False(string.IsNullOrEmpty(e.Field), e.Message);
        Assert.Contains("got", e.Message);           // the message says what was given
    }

    [Fact]
    public void NoLogits_IsAnError()
    {
        var e = Assert.Throws<ArgumentException>(() => Sampler.Sample([], new SamplingOptions(), new Rng(1)));
        Assert.Contains("no logits", e.Message);
    }

    [Fact]
    public void TiedLogits_AreRankedByIdForTopK()
    {
        // Four equal logits: top-k 1 keeps the lowest id, every draw (a sort that left ties in any order would not).
        var rng = new Rng(5);
        for (int i = 0; i < 200; i++) Assert.Equal(0, Sampler.Sample([2f, 2f, 2f, 2f], new SamplingOptions(1f, 1, 1f), rng));
        // 300 ties among 301 logits (Array.Sort switches from insertion sort, which keeps small arrays in order, to an
        // unstable introsort past 16 elements): top-k 3 keeps ids 0, 1 and 2, behind the one larger logit at 150.
        var logits = new float[301];
        logits[150] = 5f;
        var seen = new HashSet<int>();
        for (int i = 0; i < 400; i++) seen.Add(Sampler.Sample(logits, new SamplingOptions(100f, 4, 1f), rng));
        Assert.Equal(new HashSet<int> { 150, 0, 1, 2 }, seen);
    }

    [Fact]
    public void TopP_ReachedExactly_KeepsNoMore()
    {
        // Equal logits: the first token alone has mass exactly 0.25, which reaches top-p 0.25, so only it is kept.
        var rng = new Rng(6);
        for (int i = 0; i < 200; i++) Assert.Equal(0, Sampler.Sample([0f, 0f, 0f, 0f], new SamplingOptions(1f, 0, 0.25f), rng));
    }

    [Fact]
    public void LargeLogits_AtLowTemperature_StayFinite()
    {
        // logits / T reach 1000: the softmax must shift by the largest of them before exponentiating, or it overflows.
        var rng = new Rng(7);
        var counts = new int[3];
        for (int i = 0; i < 4000; i++) counts[Sampler.Sample([500f, 500f - 0.5f * MathF.Log(3f), -500f], new SamplingOptions(0.5f), rng)]++;
        // Probabilities 3/4, 1/4, ~0: the counts within 5 standard deviations.
        Assert.InRange(counts[0], 3000 - 5 * 27, 3000 + 5 * 27);
        Assert.Equal(0, counts[2]);
    }

    [Fact]
    public void Validate_InRange_Accepts()
    {
        foreach (var options in new[] { new SamplingOptions(), SamplingOptions.Greedy, new SamplingOptions(0.01f, 1, 0.01f), new SamplingOptions(100f, 1000, 1f) })
            options.Validate();
    }

    static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12, $"{what}: [{i}] = {actual[i]:R}, expected {expected[i]:R}");
    }
}
