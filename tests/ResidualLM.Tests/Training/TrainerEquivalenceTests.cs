// One optimizer step over a batch of 4 sequences, taken five ways: in one piece; as 2 accumulated micro-batches; split
// over 2 data-parallel replicas; over 2 ranks (threads of this process standing in for MPI processes, with a real
// rendezvous all-reduce); and over 2 ranks of 2 micro-batches each. Every way must report the same losses, gradient
// norms, token counts and validation loss, and end with the same weights, up to float rounding. The reference is the
// plain single-process step; nothing here is computed by the code paths under comparison.
using ResidualLM.Distributed;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class TrainerEquivalenceTests
{
    const int Vocab = 32, Context = 16, Steps = 3;

    /// <summary>Ranks as threads of one process: every collective meets at a barrier and sums the ranks' values in rank order.</summary>
    sealed class ThreadRanks(int size)
    {
        readonly Barrier barrier = new(size);
        readonly object?[] slots = new object?[size];

        public ICommunicator Member(int rank) => new RankView(this, rank);

        void Meet()
        {
            if (!barrier.SignalAndWait(TimeSpan.FromSeconds(120))) throw new TimeoutException("a rank did not reach the collective");
        }

        sealed class RankView(ThreadRanks group, int rank) : ICommunicator
        {
            public int Rank => rank;
            public int Size => group.slots.Length;
            public bool AnyThread => false;
            public void AllReduceSum(Span<float> values) => Sum(values);
            public void AllReduceSum(Span<double> values) => Sum(values);

            void Sum<T>(Span<T> values) where T : struct, System.Numerics.INumber<T>
            {
                group.slots[rank] = values.ToArray();
                group.Meet();
                for (int i = 0; i < values.Length; i++)
                {
                    T sum = T.Zero;
                    foreach (var slot in group.slots) sum += ((T[])slot!)[i];
                    values[i] = sum;
                }
                group.Meet();   // nobody overwrites a slot before every rank has read it
            }

            public void Broadcast(Span<byte> buffer, int root = 0)
            {
                if (rank == root) group.slots[root] = buffer.ToArray();
                group.Meet();
                if (rank != root) ((byte[])group.slots[root]!).CopyTo(buffer);
                group.Meet();
            }

            public void Barrier() => group.Meet();
            public void Abort(string message, int exitCode = 1) => throw new InvalidOperationException(message);
            public void Dispose() { }
        }
    }

    /// <summary>Fixed random sequences handed out in order, <paramref name="batchSize"/> per batch, cycling.</summary>
    sealed class FixedSequences(int batchSize, ulong seed, int count = 8) : IBatchSampler
    {
        readonly int[][] inputs = Draw(seed, count), targets = Draw(seed + 1, count);
        int next;

        static int[][] Draw(ulong seed, int count)
        {
            var rng = new Rng(seed);
            return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, TrainerEquivalenceTests.Context).Select(_ => rng.NextInt(Vocab)).ToArray())];
        }

        public int BatchSize => batchSize;
        public int Context => TrainerEquivalenceTests.Context;
        public TokenBatch NextBatch() => throw new NotSupportedException();
        public SamplerState GetState() => throw new NotSupportedException();
        public void SetState(SamplerState state) => throw new NotSupportedException();

        public void NextBatch(Span<int> inputSpan, Span<int> targetSpan)
        {
            Assert.Equal(batchSize * Context, inputSpan.Length);
            for (int s = 0; s < batchSize; s++, next = (next + 1) % inputs.Length)
            {
                inputs[next].CopyTo(inputSpan.Slice(s * Context, Context));
                targets[next].CopyTo(targetSpan.Slice(s * Context, Context));
            }
        }
    }

    sealed record Run(List<StepResult> Steps, double Validation, float[][] Weights);

    static Gpt NewModel(ulong seed = 4) =>
        new(GptConfig.Preset("test") with { VocabSize = Vocab, ContextLength = Context, Width = 32, Dropout = 0f }, seed);

    // Validation: the 8 sequences of its sampler, each once, however they are batched and split.
    static TrainingOptions Options(int batch, int micro, int ranks = 1) => new()
    {
        Steps = Steps, BatchSize = batch, Context = Context, GradientAccumulation = micro, LearningRate = 1e-2, WarmupSteps = 1,
        EvalInterval = 0, EvalBatches = 8 / (batch * ranks), GradientClip = 1.0, Seed = 1,
    };

    static Run Train(int batch, int micro, int dataParallel, ICommunicator? communicator = null)
    {
        int ranks = communicator?.Size ?? 1;
        var model = NewModel();
        var trainer = new Trainer(model, model.Forward, Options(batch, micro, ranks), new FixedSequences(batch * ranks, 11),
            new FixedSequences(batch * ranks, 21), dataParallel: dataParallel, communicator: communicator);
        var steps = Enumerable.Range(0, Steps).Select(_ => trainer.TrainStep()).ToList();
        return new Run(steps, trainer.Evaluate(), [.. model.NamedParameters().Select(p => p.Tensor.Data[..p.Tensor.Size])]);
    }

    static Run[] TrainRanks(int ranks, int batch, int micro)
    {
        var group = new ThreadRanks(ranks);
        return OnThreads(ranks, r => Train(batch, micro, dataParallel: 1, group.Member(r)));
    }

    /// <summary>body(rank) on a thread of its own per rank; a rank's exception is rethrown here.</summary>
    static T[] OnThreads<T>(int ranks, Func<int, T> body)
    {
        var results = new T[ranks];
        var errors = new Exception?[ranks];
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            try { results[r] = body(r); }
            catch (Exception e) { errors[r] = e; }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) Assert.True(thread.Join(TimeSpan.FromMinutes(3)), "a rank did not finish");
        foreach (var error in errors) if (error is not null) throw new AggregateException(error);
        return results;
    }

    static void AssertSame(Run expected, Run actual, string how)
    {
        for (int s = 0; s < Steps; s++)
        {
            var (e, a) = (expected.Steps[s], actual.Steps[s]);
            Assert.Equal(s + 1, a.Step);
            Assert.Equal(4 * Context, a.Tokens);
            Assert.False(a.Skipped);
            Assert.Equal(e.LearningRate, a.LearningRate);
            Assert.True(Math.Abs(e.Loss - a.Loss) <= 1e-5 * e.Loss, $"{how}, step {s + 1}: loss {a.Loss} against {e.Loss}");
            Assert.True(Math.Abs(e.GradientNorm - a.GradientNorm) <= 1e-4 * e.GradientNorm, $"{how}, step {s + 1}: gradient norm {a.GradientNorm} against {e.GradientNorm}");
        }
        Assert.True(Math.Abs(expected.Validation - actual.Validation) <= 1e-5 * expected.Validation, $"{how}: validation {actual.Validation} against {expected.Validation}");
        double worst = 0;
        for (int p = 0; p < expected.Weights.Length; p++)
            for (int i = 0; i < expected.Weights[p].Length; i++)
                worst = Math.Max(worst, Math.Abs(expected.Weights[p][i] - actual.Weights[p][i]));
        // Adam divides by each gradient's running magnitude, which amplifies the rounding of small gradients: a tenth of
        // the rate (one step moves a weight by up to 1e-2) is far below what a wrong batch, scale or slice does.
        Assert.True(worst <= 1e-3, $"{how}: weights differ by up to {worst} after {Steps} steps (lr 1e-2)");
    }

    [Fact]
    public void TheReference_Learns()
    {
        var reference = Train(batch: 4, micro: 1, dataParallel: 1);
        Assert.True(reference.Steps[^1].Loss < reference.Steps[0].Loss, "the loss fell");
        Assert.True(reference.Steps[0].GradientNorm > 1, "the first step's gradient is clipped (norm above 1)");
        // The first step warms up to the peak; the others follow the cosine to a tenth of it.
        Assert.Equal(1e-2, reference.Steps[0].LearningRate);
        Assert.True(reference.Steps[2].LearningRate < reference.Steps[1].LearningRate);
    }

    [Fact]
    public void AccumulatedMicroBatches_StepLikeOneBatch()
    {
        var reference = Train(batch: 4, micro: 1, dataParallel: 1);
        AssertSame(reference, Train(batch: 2, micro: 2, dataParallel: 1), "2 micro-batches of 2");
        AssertSame(reference, Train(batch: 1, micro: 4, dataParallel: 1), "4 micro-batches of 1");
    }

    [Fact]
    public void DataParallelReplicas_StepLikeOneBatch()
    {
        var reference = Train(batch: 4, micro: 1, dataParallel: 1);
        AssertSame(reference, Train(batch: 4, micro: 1, dataParallel: 2), "2 replicas");
        AssertSame(reference, Train(batch: 2, micro: 2, dataParallel: 2), "2 replicas, 2 micro-batches");
    }

    [Fact]
    public void TwoRanks_StepLikeOneProcessWithTheGlobalBatch()
    {
        var reference = Train(batch: 4, micro: 1, dataParallel: 1);
        foreach (var (batch, micro) in new[] { (2, 1), (1, 2) })
        {
            var ranks = TrainRanks(2, batch, micro);
            for (int r = 0; r < ranks.Length; r++) AssertSame(reference, ranks[r], $"rank {r} of 2, {micro} micro-batch(es) of {batch}");
        }
    }

    [Fact]
    public void RanksThatStartFromDifferentWeights_AreRefused()
    {
        var group = new ThreadRanks(2);
        Exception? Build(int rank)
        {
            var model = NewModel(seed: (ulong)(4 + rank));   // rank 1 draws other weights
            try { _ = new Trainer(model, model.Forward, Options(2, 1), new FixedSequences(4, 11), null, dataParallel: 1, communicator: group.Member(rank)); return null; }
            catch (Exception e) { return e; }
        }
        var builds = OnThreads(2, Build);
        Assert.Null(builds[0]);   // rank 0's weights are the reference
        var e = Assert.IsType<InvalidInputException>(builds[1]);
        Assert.Equal(nameof(TrainingSpec.Distributed), e.Field);
        Assert.Contains("rank 1's initial weights", e.Reason);
        Assert.Contains("differ from rank 0's", e.Reason);
        Assert.EndsWith("every rank must read the same data and options (the same seed)", e.Reason);
    }

    [Fact]
    public void ASamplerOfTheWrongBatchSize_IsRefused()
    {
        var model = NewModel();
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, model.Forward, Options(4, 1), new FixedSequences(3, 11), null, dataParallel: 1));
        Assert.Contains("batches of 3 sequences; 1 rank(s) of 4 need 4", e.Message);
        Assert.Throws<ArgumentException>(() => new Trainer(model, model.Forward, Options(4, 1), new FixedSequences(4, 11), new FixedSequences(2, 21), dataParallel: 1));
    }

    [Fact]
    public void BucketSizesAndReplicaCounts_OutOfRange_AreRefused()
    {
        var model = NewModel();
        Trainer Make(double bucket, int dataParallel) => new(model, model.Forward, Options(4, 1), new FixedSequences(4, 11), null, dataParallel: dataParallel, bucketMegabytes: bucket);
        Make(0, 1);
        Make(1 << 20, 1);
        var e = Assert.Throws<InvalidInputException>(() => Make(-0.5, 1));
        Assert.Equal(nameof(TrainingSpec.BucketMegabytes), e.Field);
        Assert.Contains("must be between 0 and 1048576 (megabytes per all-reduce bucket", e.Reason);
        Assert.Contains("got -0.5", e.Reason);
        Assert.Equal(nameof(TrainingSpec.BucketMegabytes), Assert.Throws<InvalidInputException>(() => Make((1 << 20) + 1, 1)).Field);
        Assert.Equal(nameof(TrainingSpec.BucketMegabytes), Assert.Throws<InvalidInputException>(() => Make(double.NaN, 1)).Field);
        var dp = Assert.Throws<InvalidInputException>(() => Make(1, -1));
        Assert.Equal(nameof(TrainingSpec.DataParallel), dp.Field);
        Assert.Contains(">= 0, got -1", dp.Reason);
        // The options are validated too.
        Assert.Equal(nameof(TrainingOptions.Beta1), Assert.Throws<InvalidInputException>(() =>
            new Trainer(model, model.Forward, Options(4, 1) with { Beta1 = 1 }, new FixedSequences(4, 11), null, dataParallel: 1)).Field);
    }

    [Fact]
    public void ASamplerForOneRank_IsRefusedForTwo()
    {
        // Checked before any collective, so one thread can ask as rank 0 of 2.
        var model = NewModel();
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, model.Forward, Options(2, 1), new FixedSequences(2, 11), null,
            dataParallel: 1, communicator: new ThreadRanks(2).Member(0)));
        Assert.Contains("batches of 2 sequences; 2 rank(s) of 2 need 4", e.Message);
    }

    /// <summary>The validation loss is the mean loss of the validation sequences, computed here from the model directly.</summary>
    [Fact]
    public void Evaluate_IsTheMeanLossOfTheValidationSequences()
    {
        var model = NewModel();
        var trainer = new Trainer(model, model.Forward, Options(4, 1), new FixedSequences(4, 11), new FixedSequences(4, 21), dataParallel: 1);
        var sequences = new FixedSequences(8, 21);
        var inputs = new int[8 * Context];
        var targets = new int[8 * Context];
        sequences.NextBatch(inputs, targets);
        model.Eval();
        double expected;
        using (ResidualLM.Autograd.Graph.NoGrad())
            expected = LanguageModel.Loss(model.Context.Threads, model.Forward(inputs, 8, Context).Reshape(8 * Context, -1), targets).Item();
        model.Train();
        Assert.Equal(expected, trainer.Evaluate(), 1e-5 * expected);
        Assert.True(model.Training, "evaluation leaves the model training");
    }
}
