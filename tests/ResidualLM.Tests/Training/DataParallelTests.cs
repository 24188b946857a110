// Data-parallel steps (the batch cut into concurrent replicas) against the plain single-graph step: same loss and
// gradients up to round-off, bit-identical from run to run and whatever the thread count, and the trainer's choice.
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using ResidualLM.Training;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Training;

public class DataParallelTests
{
    const int Batch = 5, Time = 32;

    static LanguageModel Model(string kind) => kind switch
    {
        "gpt" => new Gpt(GptConfig.Preset("test") with { VocabSize = 64, ContextLength = 32, Width = 32, TieWeights = true }, 5),
        "gpt-none" => new Gpt(GptConfig.Preset("test") with { VocabSize = 64, ContextLength = 32, Width = 32, Residual = ResidualMode.None }, 5),
        "llama" => new Llama(LlamaConfig.Preset("test") with { VocabSize = 64, ContextLength = 32, Width = 32, FeedForwardWidth = 48 }, 5),
        _ => throw new ArgumentException(kind),
    };

    static (int[] Inputs, int[] Targets) Batch5(int vocab, int seed, bool someIgnored = false)
    {
        var rng = new Rng((ulong)seed);
        var inputs = Enumerable.Range(0, Batch * Time).Select(_ => rng.NextInt(vocab)).ToArray();
        // With someIgnored, the first sequence is mostly padding (-100), so the shards count different numbers of targets.
        var targets = Enumerable.Range(0, Batch * Time).Select(i => someIgnored && i < Time - 3 ? -100 : rng.NextInt(vocab)).ToArray();
        return (inputs, targets);
    }

    static Dictionary<string, float[]> Gradients(LanguageModel model) =>
        model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad!.ToArray());

    static (double Loss, Dictionary<string, float[]> Grads) Plain(LanguageModel model, int[] inputs, int[] targets, float scale = 1f)
    {
        model.ZeroGrad();
        var loss = O.CrossEntropy(model.Context.Threads, model.Forward(inputs, Batch, Time).Reshape(Batch * Time, -1), targets);
        (scale == 1f ? loss : loss * scale).Backward();
        return (loss.Item(), Gradients(model));
    }

    static (double Loss, Dictionary<string, float[]> Grads) Sharded(LanguageModel model, int shards, int[] inputs, int[] targets, float scale = 1f)
    {
        model.ZeroGrad();
        double loss = new DataParallel(model, shards).ForwardBackward(model.Forward, inputs, targets, Batch, Time, scale);
        return (loss, Gradients(model));
    }

    /// <summary>Every gradient equal up to float32 round-off of a differently ordered sum (relative to the tensor's largest entry).</summary>
    static void AssertClose(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            float[] a = actual[name];
            float scale = e.Max(MathF.Abs);
            Assert.True(scale > 0, $"{name}: the reference gradient is all zeros, the comparison would prove nothing");
            for (int i = 0; i < e.Length; i++)
                Assert.True(MathF.Abs(e[i] - a[i]) <= 2e-5f * scale, $"{name}[{i}]: plain {e[i]}, sharded {a[i]} (largest {scale})");
        }
    }

    [Theory]
    [InlineData("gpt", 2, false)]
    [InlineData("gpt", 3, true)]
    [InlineData("gpt-none", 2, true)]
    [InlineData("llama", 2, false)]
    [InlineData("llama", 5, true)]
    public void ShardedStep_MatchesPlainStep(string kind, int shards, bool someIgnored)
    {
        ResidualLM.Tests.Kernels.KernelCheck.ForEachThreadCount(threads =>
        {
            var model = Model(kind);
            model.Context = new ComputeContext { Threads = threads };
            var (inputs, targets) = Batch5(model.VocabSize, 3, someIgnored);
            var plain = Plain(model, inputs, targets);
            var sharded = Sharded(model, shards, inputs, targets);
            Assert.Equal(plain.Loss, sharded.Loss, 5e-6 * plain.Loss);
            AssertClose(plain.Grads, sharded.Grads);
        });
    }

    [Fact]
    public void ShardedStep_ScalesAndAddsToExistingGradients_AsAccumulation()
    {
        var model = Model("gpt");
        var (x1, y1) = Batch5(model.VocabSize, 1);
        var (x2, y2) = Batch5(model.VocabSize, 2);
        // Plain accumulation of two half-weighted micro-batches.
        model.ZeroGrad();
        foreach (var (x, y) in new[] { (x1, y1), (x2, y2) })
            (O.CrossEntropy(model.Context.Threads, model.Forward(x, Batch, Time).Reshape(Batch * Time, -1), y) * 0.5f).Backward();
        var plain = Gradients(model);
        model.ZeroGrad();
        var step = new DataParallel(model, 2);
        foreach (var (x, y) in new[] { (x1, y1), (x2, y2) })
            step.ForwardBackward(model.Forward, x, y, Batch, Time, 0.5f);
        AssertClose(plain, Gradients(model));
    }

    [Fact]
    public void ShardedStep_IsBitIdentical_AcrossRunsAndThreadCounts()
    {
        var runs = new List<(double Loss, Dictionary<string, float[]> Grads)>();
        ResidualLM.Tests.Kernels.KernelCheck.ForEachThreadCount(threads =>
        {
            for (int repeat = 0; repeat < 2; repeat++)
            {
                var model = Model("gpt");
                model.Context = new ComputeContext { Threads = threads };
                var (inputs, targets) = Batch5(model.VocabSize, 4, someIgnored: true);
                runs.Add(Sharded(model, 2, inputs, targets));
            }
        });
        for (int r = 1; r < runs.Count; r++)
        {
            Assert.True(runs[0].Loss == runs[r].Loss, $"run {r}: loss {runs[r].Loss} vs {runs[0].Loss}");
            foreach (var (name, g) in runs[0].Grads)
                Assert.True(g.SequenceEqual(runs[r].Grads[name]), $"run {r}: {name} differs");
        }
    }

    [Fact]
    public void ChooseShards_OnePerThread_OnlyForSmallModels()
    {
        var small = Model("gpt");
        Assert.Equal(2, DataParallel.ChooseShards(small, batchSize: 12, threads: 2));
        Assert.Equal(1, DataParallel.ChooseShards(small, batchSize: 12, threads: 1));
        Assert.Equal(1, DataParallel.ChooseShards(small, batchSize: 1, threads: 2));
        Assert.Equal(3, DataParallel.ChooseShards(small, batchSize: 12, threads: 2, requested: 3));
        Assert.Equal(2, DataParallel.ChooseShards(small, batchSize: 2, threads: 2, requested: 4));
        var large = new Gpt(GptConfig.Preset("test") with { VocabSize = 20000, Width = 1024 }, 5);   // 20.5M parameters
        Assert.True(large.ParameterCount() > DataParallel.MaxParameters);
        Assert.Equal(1, DataParallel.ChooseShards(large, batchSize: 12, threads: 2));
    }

    /// <summary>Losses of a few AdamW steps of a model with dropout, each batch cut into two replicas, on <paramref name="threads"/> (or a default budget).</summary>
    static List<double> DropoutRun(int shards, Parallelism? threads = null)
    {
        var model = new Gpt(GptConfig.Preset("test") with { VocabSize = 64, ContextLength = 32, Width = 32, Dropout = 0.2f }, 5);
        if (threads is not null) model.Context = new ComputeContext { Threads = threads };
        var optimizer = new AdamW(model.NamedParameters(), new AdamWSettings { LearningRate = 1e-2f }, threads: model.Context.Threads);
        var step = shards > 1 ? new DataParallel(model, shards) : null;
        var losses = new List<double>();
        for (int s = 0; s < 4; s++)
        {
            var (inputs, targets) = Batch5(model.VocabSize, 10 + s);
            model.ZeroGrad();
            if (step is not null) losses.Add(step.ForwardBackward(model.Forward, inputs, targets, Batch, Time));
            else
            {
                var loss = O.CrossEntropy(model.Context.Threads, model.Forward(inputs, Batch, Time).Reshape(Batch * Time, -1), targets);
                losses.Add(loss.Item());
                loss.Backward();
            }
            optimizer.Step();
        }
        return losses;
    }

    [Fact]
    public void ShardsWithDropout_DrawTheirOwnMasks_Deterministically()
    {
        var runs = new List<List<double>>();
        ResidualLM.Tests.Kernels.KernelCheck.ForEachThreadCount(threads => { runs.Add(DropoutRun(2, threads)); runs.Add(DropoutRun(2, threads)); });
        Assert.All(runs, r => Assert.Equal(runs[0], r));
        // The masks come from per-shard generators, not the model's stream: an unsharded run draws others.
        var plain = DropoutRun(1);
        Assert.Equal(plain[0], runs[0][0], 0.2);     // same model, same data: a similar first loss
        Assert.NotEqual(plain, runs[0]);
    }

    [Fact]
    public void BadArguments_AreRefused()
    {
        var model = Model("gpt");
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataParallel(model, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataParallel.ChooseShards(model, 4, 2, requested: -1));
        var step = new DataParallel(model, 2);
        var (inputs, targets) = Batch5(model.VocabSize, 1);
        Assert.Throws<ArgumentNullException>(() => step.ForwardBackward(null!, inputs, targets, Batch, Time));
        Assert.Contains("must hold 5 x 32 ids", Assert.Throws<ArgumentException>(() => step.ForwardBackward(model.Forward, inputs[1..], targets, Batch, Time)).Message);
        Assert.Contains("must hold 5 x 32 ids", Assert.Throws<ArgumentException>(() => step.ForwardBackward(model.Forward, inputs, targets[1..], Batch, Time)).Message);
        var three = new DataParallel(model, 3);
        Assert.Contains("a batch of 2 sequences cannot be cut into 3 shards",
            Assert.Throws<ArgumentException>(() => three.ForwardBackward(model.Forward, inputs[..(2 * Time)], targets[..(2 * Time)], 2, Time)).Message);
        using (ResidualLM.Autograd.Graph.NoGrad())
            Assert.Contains("a data-parallel step inside a NoGrad scope records no gradients",
                Assert.Throws<InvalidOperationException>(() => step.ForwardBackward(model.Forward, inputs, targets, Batch, Time)).Message);
    }

    [Fact]
    public void ChooseShards_SmallestCases()
    {
        var model = Model("gpt");
        Assert.Equal(2, DataParallel.ChooseShards(model, batchSize: 2, threads: 2));
        Assert.Equal(3, DataParallel.ChooseShards(model, batchSize: 8, threads: 3));
        Assert.Equal(1, DataParallel.ChooseShards(model, batchSize: 1, threads: 4));
        Assert.Equal(1, DataParallel.ChooseShards(model, batchSize: 8, threads: 1));
        Assert.Equal(3, DataParallel.ChooseShards(model, batchSize: 3, threads: 1, requested: 4));   // asked for: as many as the batch allows
    }

    /// <summary>One replica set used for batches of other shapes in turn (the last batch of an epoch, another context).</summary>
    [Fact]
    public void TheSameReplicas_FollowBatchesOfChangingShape()
    {
        var model = Model("gpt");
        var step = new DataParallel(model, 2);
        var rng = new Rng(8);
        foreach (var (batch, time) in new[] { (4, 8), (3, 8), (4, 6), (4, 8), (5, 8), (4, 8) })
        {
            var inputs = Enumerable.Range(0, batch * time).Select(_ => rng.NextInt(model.VocabSize)).ToArray();
            var targets = Enumerable.Range(0, batch * time).Select(_ => rng.NextInt(model.VocabSize)).ToArray();
            model.ZeroGrad();
            var plain = O.CrossEntropy(model.Context.Threads, model.Forward(inputs, batch, time).Reshape(batch * time, -1), targets);
            plain.Backward();
            var expected = Gradients(model);
            model.ZeroGrad();
            double loss = step.ForwardBackward(model.Forward, inputs, targets, batch, time);
            Assert.Equal(plain.Item(), loss, 5e-6 * plain.Item());
            AssertClose(expected, Gradients(model));
        }
    }
}
