// The pieces of the overlapped gradient all-reduce that need no MPI: backward's "this leaf's gradient is final" hook,
// and the averager's buckets, their order and their results, against a recording communicator that plays a second
// rank holding the same gradients times a known factor.
using ResidualLM.Distributed;
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Distributed;

public class GradientAveragerTests
{
    /// <summary>
    /// Two ranks where the other holds <see cref="OtherFactor"/> times this rank's values: a sum is (1 + factor) x
    /// the values. Records the length of every all-reduce and the thread that made it.
    /// </summary>
    sealed class TwoRankRecorder(bool anyThread) : ICommunicator
    {
        public const float OtherFactor = 3f;
        public readonly List<(int Length, int Thread)> Calls = [];
        public int Rank => 0;
        public int Size => 2;
        public bool AnyThread => anyThread;

        public void AllReduceSum(Span<float> values)
        {
            lock (Calls) Calls.Add((values.Length, Environment.CurrentManagedThreadId));
            foreach (ref float v in values) v *= 1 + OtherFactor;
        }

        public void AllReduceSum(Span<double> values) => throw new NotSupportedException();
        public void Broadcast(Span<byte> buffer, int root = 0) => throw new NotSupportedException();
        public void Barrier() { }
        public void Abort(string message, int exitCode = 1) => throw new InvalidOperationException(message);
        public void Dispose() { }
    }

    static LanguageModel Model() => new Gpt(GptConfig.Preset("test") with { VocabSize = 40, ContextLength = 16, Width = 32, TieWeights = true }, 11);

    static Tensor Loss(LanguageModel model)
    {
        var rng = new Rng(3);
        int[] ids = [.. Enumerable.Range(0, 2 * 16).Select(_ => rng.NextInt(40))];
        int[] targets = [.. Enumerable.Range(0, 2 * 16).Select(_ => rng.NextInt(40))];
        return LanguageModel.Loss(model.Context.Threads, model.Forward(ids, 2, 16).Reshape(32, -1), targets);
    }

    [Fact]
    public void LeafReady_ComesOncePerLeafWithItsFinalGradient()
    {
        // w is read three times (twice by one node); the hook must wait for all of them.
        var w = Tensor.FromArray([1f, 2f, 3f], 3);
        var u = Tensor.FromArray([0.5f, -1f, 2f], 3);
        w.RequiresGrad = u.RequiresGrad = true;
        var loss = O.Sum(O.Add(O.Multiply(w, w), O.Multiply(w, u)));
        var seen = new List<(Tensor Leaf, float[] Gradient)>();
        loss.Backward(reuseBuffers: false, leaf => seen.Add((leaf, leaf.Grad!.ToArray())));
        Assert.Equal(2, seen.Count);
        Assert.Single(seen, s => ReferenceEquals(s.Leaf, w));
        Assert.Single(seen, s => ReferenceEquals(s.Leaf, u));
        // At the moment of the call the gradient is already the final one: d/dw = 2w + u, d/du = w.
        Assert.Equal(new[] { 2.5f, 3f, 8f }, seen.Single(s => ReferenceEquals(s.Leaf, w)).Gradient);
        Assert.Equal(new[] { 1f, 2f, 3f }, seen.Single(s => ReferenceEquals(s.Leaf, u)).Gradient);
        Assert.Equal(w.Grad!.ToArray(), seen.Single(s => ReferenceEquals(s.Leaf, w)).Gradient);
    }

    [Fact]
    public void LeafReady_OnAModel_AnnouncesEveryParameterAfterItsLastUse()
    {
        var model = Model();
        var parameters = model.NamedParameters().Select(p => p.Tensor).ToList();
        var announced = new List<(Tensor Leaf, float[] Gradient)>();
        Loss(model).Backward(reuseBuffers: true, leaf => announced.Add((leaf, leaf.Grad!.ToArray())));
        Assert.Equal(parameters.Count, announced.Count);
        foreach (var p in parameters)
            Assert.Equal(p.Grad!.ToArray(), announced.Single(a => ReferenceEquals(a.Leaf, p)).Gradient);   // the tied embedding too
        // Roughly reverse model order: the final norm is finished before the first block's first parameter.
        int Index(Tensor t) => announced.FindIndex(a => ReferenceEquals(a.Leaf, t));
        Assert.True(Index(parameters[^1]) < Index(parameters[1]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Buckets_AreReducedInReverseModelOrder_AndGiveTheMean(bool overlap)
    {
        var model = Model();
        var parameters = model.NamedParameters().Select(p => p.Tensor).ToList();
        var communicator = new TwoRankRecorder(anyThread: true);
        using var averager = new GradientAverager(parameters, communicator, bucketBytes: 16 << 10, overlap);
        Assert.Equal(overlap, averager.Overlaps);
        Assert.True(averager.Buckets > 3, $"only {averager.Buckets} buckets: the test would not exercise bucketing");

        for (int step = 0; step < 2; step++)   // the second step reuses the thread and the buffers
        {
            model.ZeroGrad();
            var loss = Loss(model);
            communicator.Calls.Clear();
            // This rank's own gradients, taken as each is handed over (after that the communication thread may
            // already have replaced it by the mean).
            var own = new Dictionary<Tensor, float[]>(ReferenceEqualityComparer.Instance);
            if (overlap)
            {
                averager.Begin();
                loss.Backward(reuseBuffers: true, leaf => { own[leaf] = leaf.Grad!.ToArray(); averager.GradientReady(leaf); });
            }
            else
            {
                loss.Backward(reuseBuffers: true);
                foreach (var p in parameters) own[p] = p.Grad!.ToArray();
            }
            var local = parameters.Select(p => own[p]).ToList();
            if (overlap) averager.Finish(); else averager.Average();

            // The mean of this rank's g and the other's 3g is 2g, for every element of every parameter.
            for (int i = 0; i < parameters.Count; i++)
                for (int j = 0; j < local[i].Length; j++)
                    Assert.Equal(local[i][j] * (1 + TwoRankRecorder.OtherFactor) / 2, parameters[i].Grad!.Data[j]);
            // One all-reduce per bucket, covering every parameter once, buckets of about 16 KB from the last parameter back.
            Assert.Equal(averager.Buckets, communicator.Calls.Count);
            Assert.Equal(parameters.Sum(p => p.Size), communicator.Calls.Sum(c => c.Length));
            long firstBucket = 0;
            foreach (var p in Enumerable.Reverse(parameters)) { firstBucket += p.Size; if (firstBucket * 4 >= 16 << 10) break; }
            Assert.Equal(firstBucket, communicator.Calls[0].Length);
            Assert.True(averager.ReduceSeconds >= 0 && averager.ExposedSeconds >= averager.ReduceSeconds * (overlap ? 0 : 1));
            int caller = Environment.CurrentManagedThreadId;
            Assert.All(communicator.Calls, c => Assert.Equal(overlap, c.Thread != caller));
        }
    }

    [Fact]
    public void Overlap_ReducesBucketsBeforeBackwardEnds()
    {
        // With the backward still running, the first (last-layer) bucket must already have been reduced.
        var model = Model();
        var parameters = model.NamedParameters().Select(p => p.Tensor).ToList();
        var communicator = new TwoRankRecorder(anyThread: true);
        using var averager = new GradientAverager(parameters, communicator, bucketBytes: 16 << 10, overlap: true);
        model.ZeroGrad();
        var loss = Loss(model);
        averager.Begin();
        int reducedBeforeTheEmbedding = -1;
        Tensor embedding = parameters[0];
        loss.Backward(reuseBuffers: true, leaf =>
        {
            if (ReferenceEquals(leaf, embedding))
            {
                // Give the communication thread a moment: the earlier buckets were handed over long ago.
                SpinWait.SpinUntil(() => { lock (communicator.Calls) return communicator.Calls.Count > 0; }, TimeSpan.FromSeconds(10));
                lock (communicator.Calls) reducedBeforeTheEmbedding = communicator.Calls.Count;
            }
            averager.GradientReady(leaf);
        });
        averager.Finish();
        Assert.True(reducedBeforeTheEmbedding > 0, "no bucket was reduced while backward was running");
        Assert.Equal(averager.Buckets, communicator.Calls.Count);
    }

    [Fact]
    public void WithoutThreadSupport_ReducesAfterBackwardOnTheCallingThread()
    {
        var model = Model();
        var communicator = new TwoRankRecorder(anyThread: false);
        using var averager = new GradientAverager(model.NamedParameters().Select(p => p.Tensor), communicator, bucketBytes: 16 << 10, overlap: true);
        Assert.False(averager.Overlaps);
    }
}
