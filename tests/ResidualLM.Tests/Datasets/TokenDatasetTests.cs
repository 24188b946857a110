using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Datasets;

public class TokenDatasetTests
{
    /// <summary>Tokens equal to their positions (times 10, so an off-by-one shows), making windows easy to check.</summary>
    static TokenDataset Counting(int count) => new(Enumerable.Range(0, count).Select(i => i * 10).ToArray());

    static List<int> StartsOf(TokenBatch batch) =>
        Enumerable.Range(0, batch.BatchSize).Select(row => batch.Inputs[row * batch.Context] / 10).ToList();

    [Fact]
    public void Split_TakesTheFirstNinetyPercentForTraining()
    {
        var (train, validation) = Counting(105).Split();
        Assert.Equal(94, train.Count); // floor(105 * 0.9)
        Assert.Equal(11, validation.Count);
        Assert.Equal(0, train.Tokens[0]);
        Assert.Equal(940, validation.Tokens[0]);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Split_FractionOutsideOpenUnitInterval_Throws(double fraction) =>
        Assert.Contains("between 0 and 1", Assert.Throws<InvalidInputException>(() => Counting(100).Split(fraction)).Message);

    [Fact]
    public void Split_LeavingAnEmptyPart_Throws() =>
        Assert.Throws<InvalidInputException>(() => Counting(5).Split(0.1));

    [Fact]
    public void SlidingWindows_InOrder_HaveBookContentsAndCount()
    {
        // 10 tokens, context 4, stride 1: starts 0..5 (start + 4 + 1 <= 10), i.e. floor((10-4-1)/1)+1 = 6 windows.
        var sampler = Counting(10).SlidingWindows(context: 4, stride: 1, batchSize: 2, seed: 0, shuffle: false);
        Assert.Equal(6, sampler.WindowCount);
        Assert.Equal(3, sampler.BatchesPerEpoch);
        var (inputs, targets) = sampler.NextBatch();
        Assert.Equal([0, 10, 20, 30, 10, 20, 30, 40], inputs);
        Assert.Equal([10, 20, 30, 40, 20, 30, 40, 50], targets);
        sampler.NextBatch();
        var last = sampler.NextBatch();
        Assert.Equal([50, 60, 70, 80], last.Inputs[4..]);
        Assert.Equal([60, 70, 80, 90], last.Targets[4..]);
    }

    [Theory]
    [InlineData(20, 4, 4, new[] { 0, 4, 8, 12 })]        // stride = context: non-overlapping inputs
    [InlineData(20, 4, 3, new[] { 0, 3, 6, 9, 12, 15 })]  // start + 5 <= 20
    [InlineData(20, 4, 7, new[] { 0, 7, 14 })]
    [InlineData(5, 4, 9, new[] { 0 })]                    // exactly context + 1 tokens: one window
    public void SlidingWindows_StartAtMultiplesOfTheStride(int count, int context, int stride, int[] expectedStarts)
    {
        var sampler = Counting(count).SlidingWindows(context, stride, batchSize: 1, seed: 0, shuffle: false);
        Assert.Equal(expectedStarts.Length, sampler.WindowCount);
        var starts = Enumerable.Range(0, sampler.WindowCount).Select(_ => StartsOf(sampler.NextBatch())[0]);
        Assert.Equal(expectedStarts, starts);
    }

    [Fact]
    public void SlidingWindows_Shuffled_EachEpochIsAPermutation_DroppingTheLastPartialBatch()
    {
        // 11 windows in batches of 3: 3 batches (9 windows) per epoch, 2 dropped, different ones per epoch.
        var sampler = Counting(15).SlidingWindows(context: 4, stride: 1, batchSize: 3, seed: 7);
        Assert.Equal(11, sampler.WindowCount);
        var epochs = new List<List<int>>();
        for (int epoch = 0; epoch < 4; epoch++)
        {
            var seen = new List<int>();
            for (int b = 0; b < sampler.BatchesPerEpoch; b++) seen.AddRange(StartsOf(sampler.NextBatch()));
            Assert.Equal(epoch, sampler.Epoch);
            Assert.Equal(9, seen.Distinct().Count());
            Assert.All(seen, s => Assert.InRange(s, 0, 10));
            epochs.Add(seen);
        }
        Assert.True(epochs.Distinct(new SequenceComparer()).Count() > 1, "every epoch had the same order");
        Assert.NotEqual(Enumerable.Range(0, 9), epochs[0]);
    }

    [Fact]
    public void SlidingWindows_SameSeedSameOrder_OtherSeedOtherOrder()
    {
        List<int> Order(long seed)
        {
            var sampler = Counting(300).SlidingWindows(context: 8, stride: 2, batchSize: 4, seed: seed);
            return Enumerable.Range(0, 2 * sampler.BatchesPerEpoch).SelectMany(_ => StartsOf(sampler.NextBatch())).ToList();
        }
        Assert.Equal(Order(1), Order(1));
        Assert.NotEqual(Order(1), Order(2));
    }

    public static TheoryData<string> SamplerKinds => ["sliding", "random"];

    static IBatchSampler Make(string kind, TokenDataset data, long seed) => kind == "sliding"
        ? data.SlidingWindows(context: 6, stride: 3, batchSize: 4, seed: seed)
        : data.RandomOffsets(context: 6, batchSize: 4, seed: seed);

    [Theory]
    [MemberData(nameof(SamplerKinds))]
    public void Resume_FromSavedState_GivesIdenticalBatches(string kind)
    {
        var data = Counting(100); // sliding: 32 windows, 8 batches per epoch, so 21 batches cross two epoch ends
        var original = Make(kind, data, seed: 5);
        for (int i = 0; i < 13; i++) original.NextBatch();
        SamplerState saved = original.GetState();
        var expected = Enumerable.Range(0, 21).Select(_ => original.NextBatch()).ToList();

        var resumed = Make(kind, data, seed: 999); // a different seed: the state alone must decide
        resumed.SetState(saved);
        foreach (var batch in expected)
        {
            var again = resumed.NextBatch();
            Assert.Equal(batch.Inputs, again.Inputs);
            Assert.Equal(batch.Targets, again.Targets);
        }
        Assert.Equal(original.GetState().Position, resumed.GetState().Position);
        Assert.Equal(original.GetState().Epoch, resumed.GetState().Epoch);
    }

    [Fact]
    public void SetState_OfTheOtherKind_Throws()
    {
        var data = Counting(100);
        var sliding = Make("sliding", data, 1);
        var random = Make("random", data, 1);
        Assert.Throws<InvalidInputException>(() => sliding.SetState(random.GetState()));
        Assert.Throws<InvalidInputException>(() => random.SetState(sliding.GetState()));
        Assert.Throws<InvalidInputException>(() => sliding.SetState(sliding.GetState() with { Position = 1000 }));
    }

    [Fact]
    public void RandomOffsets_StayInRange_AndReachBothEnds()
    {
        // 12 tokens, context 4: offsets 0..7, the last window's target ends on the last token.
        var sampler = Counting(12).RandomOffsets(context: 4, batchSize: 8, seed: 3);
        var starts = new HashSet<int>();
        Span<int> inputs = new int[32], targets = new int[32];
        for (int i = 0; i < 200; i++)
        {
            sampler.NextBatch(inputs, targets);
            for (int row = 0; row < 8; row++)
            {
                int start = inputs[row * 4] / 10;
                starts.Add(start);
                for (int t = 0; t < 4; t++)
                {
                    Assert.Equal((start + t) * 10, inputs[row * 4 + t]);
                    Assert.Equal((start + t + 1) * 10, targets[row * 4 + t]);
                }
            }
        }
        Assert.Equal(Enumerable.Range(0, 8), starts.Order());
    }

    [Fact]
    public void TooFewTokens_SaysHowManyThereAreAndAreNeeded()
    {
        var data = Counting(50);
        string message = Assert.Throws<InvalidInputException>(() => data.RandomOffsets(context: 64, batchSize: 1, seed: 0)).Message;
        Assert.Contains("50 tokens", message);
        Assert.Contains("at least 65", message);
        Assert.Contains("65", Assert.Throws<InvalidInputException>(() => data.SlidingWindows(64, 1, 1, 0)).Message);
        Assert.Contains("fewer than one batch", Assert.Throws<InvalidInputException>(() => data.SlidingWindows(10, 10, 8, 0)).Message);
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(4, 0, 1)]
    [InlineData(4, 1, 0)]
    [InlineData(-1, 1, 1)]
    [InlineData(4, -2, 1)]
    public void NonPositiveSizes_Throw(int context, int stride, int batchSize)
    {
        var data = Counting(100);
        Assert.Contains("must be positive", Assert.Throws<InvalidInputException>(() => data.SlidingWindows(context, stride, batchSize, 0)).Message);
        if (stride > 0)
            Assert.Contains("must be positive", Assert.Throws<InvalidInputException>(() => data.RandomOffsets(context, batchSize, 0)).Message);
    }

    [Fact]
    public void NextBatch_WrongBufferLength_Throws()
    {
        var sampler = Counting(100).RandomOffsets(context: 4, batchSize: 2, seed: 0);
        Assert.Throws<ArgumentException>(() => sampler.NextBatch(new int[7], new int[8]));
    }

    [Theory]
    [InlineData(0, 1, 1, "context")]
    [InlineData(4, 0, 1, "stride")]
    [InlineData(4, 1, 0, "batch size")]
    public void NonPositiveSizes_NameTheirField(int context, int stride, int batchSize, string field)
    {
        var data = Counting(100);
        var e = Assert.Throws<InvalidInputException>(() => data.SlidingWindows(context, stride, batchSize, 0));
        Assert.Equal(field, e.Field);
        Assert.Equal("must be positive, got 0", e.Reason);
        if (field != "stride") Assert.Equal(field, Assert.Throws<InvalidInputException>(() => data.RandomOffsets(context, batchSize, 0)).Field);
    }

    [Fact]
    public void ExactlyContextPlusOneTokens_MakeOneWindow_AndOneFewerNone()
    {
        var data = Counting(9);   // context 8 needs 9 tokens
        data.RandomOffsets(context: 8, batchSize: 1, seed: 0).NextBatch();
        var e = Assert.Throws<InvalidInputException>(() => Counting(8).RandomOffsets(context: 8, batchSize: 1, seed: 0));
        Assert.Equal("context", e.Field);
        Assert.Contains("has 8 tokens, but a context of 8 needs at least 9", e.Reason);
        Assert.Equal("batch size", Assert.Throws<InvalidInputException>(() => Counting(100).SlidingWindows(10, 10, 16, 0)).Field);
    }

    [Fact]
    public void TheSplit_NamesItsField_AndWhatIsWrong()
    {
        var e = Assert.Throws<InvalidInputException>(() => Counting(10).Split(1.5));
        Assert.Equal("train fraction", e.Field);
        Assert.Equal("must be strictly between 0 and 1, got 1.5", e.Reason);
        e = Assert.Throws<InvalidInputException>(() => Counting(10).Split(0.05));
        Assert.Equal("train fraction", e.Field);
        Assert.Equal("splitting 10 tokens at 0.05 leaves an empty part", e.Reason);
    }

    [Fact]
    public void RandomOffsets_CountBatchesDrawn_AndRestoreOnlyValidStates()
    {
        var sampler = Counting(100).RandomOffsets(context: 4, batchSize: 3, seed: 1);
        var batch = sampler.NextBatch();                        // the allocating form fills a fresh batch
        Assert.Equal((3, 4, 12), (batch.BatchSize, batch.Context, batch.Inputs.Length));
        Assert.Contains(batch.Inputs, v => v != 0);
        Assert.Equal(1, sampler.GetState().Position);          // batches drawn
        sampler.NextBatch(new int[12], new int[12]);
        Assert.Equal(2, sampler.GetState().Position);
        sampler.SetState(sampler.GetState() with { Position = 0 });
        var e = Assert.Throws<InvalidInputException>(() => sampler.SetState(sampler.GetState() with { Position = -1 }));
        Assert.Equal(("sampler state", "position must be zero or more, got -1"), (e.Field, e.Reason));
        var sliding = Counting(100).SlidingWindows(4, 4, 2, 0);
        e = Assert.Throws<InvalidInputException>(() => sampler.SetState(sliding.GetState()));
        Assert.Equal($"expected a '{RandomOffsetSampler.KindName}' sampler state, got '{SlidingWindowSampler.KindName}'", e.Reason);
    }

    [Fact]
    public void SlidingWindows_RestoreOnlyStatesThatFit()
    {
        var sampler = Counting(100).SlidingWindows(4, 4, 2, 0);   // 24 windows
        Assert.Equal(24, sampler.WindowCount);
        sampler.SetState(sampler.GetState() with { Position = 24 });   // at the end of an epoch
        sampler.SetState(sampler.GetState() with { Position = 0, Epoch = 0 });
        foreach (var (epoch, position) in new[] { (0L, 25L), (0L, -1L), (-1L, 0L) })
        {
            var e = Assert.Throws<InvalidInputException>(() => sampler.SetState(sampler.GetState() with { Epoch = epoch, Position = position }));
            Assert.Equal(("sampler state", $"epoch {epoch} and position {position} do not fit 24 windows"), (e.Field, e.Reason));
        }
        var random = Counting(100).RandomOffsets(4, 2, 0);
        Assert.Equal($"expected a '{SlidingWindowSampler.KindName}' sampler state, got '{RandomOffsetSampler.KindName}'",
            Assert.Throws<InvalidInputException>(() => sampler.SetState(random.GetState())).Reason);
        var wrong = Assert.Throws<ArgumentException>(() => sampler.NextBatch(new int[7], new int[8]));
        Assert.Contains("batch buffers must hold batch size * context = 8 tokens, got 7 and 8", wrong.Message);
    }

    sealed class SequenceComparer : IEqualityComparer<List<int>>
    {
        public bool Equals(List<int>? x, List<int>? y) => x!.SequenceEqual(y!);
        public int GetHashCode(List<int> list) => list.Aggregate(17, (h, v) => h * 31 + v);
    }
}
