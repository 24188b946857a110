// Two models in one process, each with its own ComputeContext (thread count, fused or reference kernels, and so one or
// two data-parallel shards with their own dropout generators and gradient slots): trained at the same time on two
// threads, each gives bit for bit what it gives alone. Shared mutable state between them would show up here.
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class ComputeContextTests
{
    const int Steps = 20;

    /// <summary>Losses of every step, the final weights and the shard count of a small GPT with dropout trained under <paramref name="context"/>.</summary>
    static (double[] Losses, float[] Weights, int Shards) Train(ComputeContext context, Barrier? start = null)
    {
        var config = GptConfig.Preset("test") with { Dropout = 0.1f };
        var model = new Gpt(config, seed: 9) { Context = context };
        var tokens = new TokenDataset(Enumerable.Range(0, 600).Select(i => i * 7 % config.VocabSize).ToArray());
        var options = new TrainingOptions { Steps = Steps, BatchSize = 4, Context = 8, WarmupSteps = 0, EvalInterval = 0, EvalBatches = 1, Seed = 1 };
        var trainer = new Trainer(model, model.Forward, options, tokens.RandomOffsets(8, 4, seed: 1), null);
        start?.SignalAndWait();                                  // both models step at the same time
        var losses = new double[Steps];
        for (int s = 0; s < Steps; s++) losses[s] = trainer.TrainStep().Loss;
        return (losses, model.NamedParameters().SelectMany(p => p.Tensor.Data).ToArray(), trainer.Shards);
    }

    [Fact]
    public void TwoModels_WithTheirOwnContexts_TrainConcurrently_AsEachAlone()
    {
        using var two = new Parallelism(2);
        using var one = new Parallelism(1);
        var fast = new ComputeContext { Threads = two };        // fused kernels; two threads, so two data-parallel shards
        var reference = new ComputeContext { Threads = one, FusedLinear = false, FusedAttention = false };
        var fastAlone = Train(fast);
        var referenceAlone = Train(reference);
        // The two settings really compute differently (other shards, other dropout masks, other round-off).
        Assert.Equal((2, 1), (fastAlone.Shards, referenceAlone.Shards));
        Assert.NotEqual(fastAlone.Weights, referenceAlone.Weights);

        // A few rounds: state leaking between the models shows only when their steps happen to interleave.
        for (int round = 0; round < 4; round++)
        {
            var start = new Barrier(2);
            var results = new (double[] Losses, float[] Weights, int Shards)[2];
            var errors = new Exception?[2];
            var threads = new[] { fast, reference }.Select((context, i) => new Thread(() =>
            {
                try { results[i] = Train(context, start); }
                catch (Exception e) { errors[i] = e; start.RemoveParticipant(); }
            })).ToArray();
            foreach (var thread in threads) thread.Start();
            foreach (var thread in threads) thread.Join();
            Assert.All(errors, e => Assert.Null(e));
            Assert.Equal(fastAlone.Losses, results[0].Losses);
            Assert.Equal(fastAlone.Weights, results[0].Weights);
            Assert.Equal(referenceAlone.Losses, results[1].Losses);
            Assert.Equal(referenceAlone.Weights, results[1].Weights);
        }
    }
}
