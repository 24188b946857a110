// Dropout in a distributed run: each rank must mask its slice with its own stream. Two trainers in one process play
// ranks 0 and 1 of a job whose other rank holds the same values (a communicator that doubles every sum), on a global
// batch whose two halves are the same sequences: only the masks can then make the ranks' losses differ.
using ResidualLM.Distributed;
using ResidualLM.Models;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Distributed;

public class RankDropoutTests
{
    sealed class MirrorCommunicator(int rank) : ICommunicator
    {
        public int Rank => rank;
        public int Size => 2;
        public bool AnyThread => true;
        public void AllReduceSum(Span<float> values) { foreach (ref float v in values) v *= 2; }
        public void AllReduceSum(Span<double> values) { foreach (ref double v in values) v *= 2; }
        public void Broadcast(Span<byte> buffer, int root = 0) { }
        public void Barrier() { }
        public void Abort(string message, int exitCode = 1) => throw new InvalidOperationException(message);
        public void Dispose() { }
    }

    /// <summary>Random global batches of 2 x 2 sequences whose second half repeats the first.</summary>
    sealed class MirroredBatches(int vocab, int context) : IBatchSampler
    {
        readonly ResidualLM.Tensors.Rng rng = new(9);
        public int BatchSize => 4;
        public int Context => context;
        public TokenBatch NextBatch() => throw new NotSupportedException();
        public SamplerState GetState() => throw new NotSupportedException();
        public void SetState(SamplerState state) => throw new NotSupportedException();

        public void NextBatch(Span<int> inputs, Span<int> targets)
        {
            int half = inputs.Length / 2;
            for (int i = 0; i < half; i++) { inputs[i] = rng.NextInt(vocab); targets[i] = rng.NextInt(vocab); }
            inputs[..half].CopyTo(inputs[half..]);
            targets[..half].CopyTo(targets[half..]);
        }
    }

    static List<double> Losses(int rank, float dropout)
    {
        var model = new Gpt(GptConfig.Preset("test") with { VocabSize = 32, ContextLength = 16, Width = 32, Dropout = dropout }, 4);
        var options = new TrainingOptions { Steps = 3, BatchSize = 2, Context = 16, WarmupSteps = 1, EvalInterval = 100, EvalBatches = 1, Seed = 1 };
        var trainer = new Trainer(model, model.Forward, options, new MirroredBatches(32, 16), null, null, dataParallel: 1, new MirrorCommunicator(rank));
        return [.. Enumerable.Range(0, 3).Select(_ => trainer.TrainStep().Loss)];
    }

    [Fact]
    public void WithDropout_EachRankMasksWithItsOwnStream()
    {
        // Control: without dropout the two ranks see the same sequences and compute the same losses, bit for bit.
        Assert.Equal(Losses(0, 0f), Losses(1, 0f));
        var rank0 = Losses(0, 0.2f);
        var rank1 = Losses(1, 0.2f);
        Assert.NotEqual(rank0[0], rank1[0]);
        // And each rank's stream is reproducible.
        Assert.Equal(rank0, Losses(0, 0.2f));
    }
}
