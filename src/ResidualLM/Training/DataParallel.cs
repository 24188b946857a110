// Data-parallel training steps: the batch is cut into shards of whole sequences, each shard's forward and backward runs
// on its own thread (its kernels single-threaded), and the shards' parameter gradients are summed in shard order.
// For small models this beats splitting every op over the threads: one synchronisation per step instead of several
// per op, and single-threaded kernels on small matrices waste nothing on packing twice or waiting.
// Each shard runs with its own ComputeContext, derived from the model's: its backward writes the parameters' gradient
// slot of that shard, and its dropout layers draw from the shard's own generator, seeded from the model's at every step
// (deterministic and resumable, but other masks than an unsharded step would draw). One model per instance.
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Training;

/// <summary>
/// Runs the forward and backward pass of a language-model batch as <see cref="Shards"/> concurrent replicas that share
/// the parameters and keep their own gradients. The result is the gradient of the batch's mean loss, equal to the
/// unsharded one up to float32 round-off (it is summed in another order) and the same from run to run for a given
/// shard count.
/// </summary>
public sealed class DataParallel
{
    /// <summary>Above this many parameters the per-op threads are used instead (each extra shard holds a copy of every gradient).</summary>
    public const long MaxParameters = 16_000_000;

    const int IgnoreIndex = -100;   // the default of Ops.CrossEntropy

    readonly Module model;
    readonly IReadOnlyList<Tensor> parameters;
    readonly long[] offsets;          // offsets[i]: where parameter i starts in the concatenation of all parameters
    int[][] shardInputs = [], shardTargets = [];
    readonly double[] shardLosses;

    /// <summary>Number of replicas a batch is split into (at least 2).</summary>
    public int Shards { get; }

    /// <summary>A data-parallel runner for <paramref name="model"/>'s parameters with <paramref name="shards"/> replicas.</summary>
    public DataParallel(Module model, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 2);
        Shards = shards;
        this.model = model;
        parameters = model.NamedParameters().Select(p => p.Tensor).ToList();
        offsets = new long[parameters.Count + 1];
        for (int i = 0; i < parameters.Count; i++) offsets[i + 1] = offsets[i] + parameters[i].Size;
        shardLosses = new double[shards];
        shardSeeds = new ulong[shards];
        // Read outside any shard: the model's own generator, the source of the shards' seeds.
        masks = ActiveDropout(model)?.Generator(model.Context);
    }

    readonly ulong[] shardSeeds;
    readonly Rng? masks;

    /// <summary>
    /// How many shards a step should use: <paramref name="requested"/> when positive (1 = off), else (auto) one per
    /// thread when that pays: at least two sequences per batch and a model small enough (<see cref="MaxParameters"/>)
    /// that its per-op parallelism is mostly synchronisation. Never more than the batch.
    /// </summary>
    public static int ChooseShards(Module model, int batchSize, int threads, int requested = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(requested);
        if (requested > 0) return Math.Min(requested, batchSize);
        if (threads < 2 || batchSize < 2 || model.ParameterCount() > MaxParameters) return 1;
        return Math.Min(threads, batchSize);
    }

    /// <summary>The first dropout layer of <paramref name="module"/> that drops anything in training mode, or null.</summary>
    internal static Dropout? ActiveDropout(Module module) =>
        module is Dropout { P: > 0f } d ? d : module.Children.Select(c => ActiveDropout(c.Module)).FirstOrDefault(d => d is not null);

    /// <summary>
    /// Forward, cross-entropy and backward of one batch: inputs and targets (B*T, row-major); <paramref name="forward"/>
    /// maps (context, ids, B, T) to logits (B, T, V) computed as that context says (each shard passes its own), and
    /// must be safe to call from several threads at once. Adds
    /// <paramref name="lossScale"/> times the gradient of the batch's mean loss into every parameter's gradient (as a
    /// plain backward of <c>loss * lossScale</c> would) and returns the mean loss. Targets of -100 are ignored; the mean
    /// is over the counted targets of the whole batch.
    /// </summary>
    public double ForwardBackward(Func<ComputeContext, int[], int, int, Tensor> forward, int[] inputs, int[] targets, int batch, int time, float lossScale = 1f)
        => ForwardBackward(forward, inputs, targets, batch, time, lossScale, null);

    /// <summary>
    /// <see cref="ForwardBackward(Func{ComputeContext, int[], int, int, Tensor}, int[], int[], int, int, float)"/> with the
    /// shards' dropout seeds drawn from <paramref name="masks"/> instead of the model's generator (an MPI rank's own).
    /// </summary>
    internal double ForwardBackward(Func<ComputeContext, int[], int, int, Tensor> forward, int[] inputs, int[] targets, int batch, int time, float lossScale, Rng? masks)
    {
        masks = this.masks is null ? null : masks ?? this.masks;
        ArgumentNullException.ThrowIfNull(forward);
        if (inputs.Length != batch * time || targets.Length != batch * time)
            throw new ArgumentException($"inputs and targets must hold {batch} x {time} ids");
        if (batch < Shards) throw new ArgumentException($"a batch of {batch} sequences cannot be cut into {Shards} shards");
        if (!Autograd.Graph.IsRecording) throw new InvalidOperationException("a data-parallel step inside a NoGrad scope records no gradients");
        PrepareShards(inputs, targets, batch, time);
        int counted = 0;
        foreach (int target in targets) if (target != IgnoreIndex) counted++;
        foreach (var p in parameters)
            if (p.ReplicaGrads?.Length != Shards - 1) p.ReplicaGrads = new Tensor?[Shards - 1];
        // One seed per shard from the model's generator, in shard order: the step's masks are fixed before any shard runs.
        if (masks is not null)
            for (int s = 0; s < Shards; s++) shardSeeds[s] = masks.NextUInt64();

        // One part per shard, each with its own context, so whichever thread runs it is fine.
        var context = model.Context;
        context.Threads.For(0, Shards, (first, end) =>
        {
            for (int s = first; s < end; s++)
            {
                var replica = context with { DropoutGenerator = masks is null ? null : new Rng(shardSeeds[s]), Gradients = new GradientSink(s) };
                shardLosses[s] = RunShard(forward, replica, s, time, counted, lossScale);
            }
        }, costPerItem: long.MaxValue / Shards);
        SumReplicaGradients(context.Threads);
        double loss = 0;
        foreach (double l in shardLosses) loss += l;
        return loss;
    }

    /// <summary>Forward and backward of shard <paramref name="s"/>; returns its share of the batch's mean loss.</summary>
    double RunShard(Func<ComputeContext, int[], int, int, Tensor> forward, ComputeContext replica, int s, int time, int counted, float lossScale)
    {
        int[] ids = shardInputs[s], targets = shardTargets[s];
        int rows = ids.Length / time;
        int mine = 0;
        foreach (int target in targets) if (target != IgnoreIndex) mine++;
        var logits = forward(replica, ids, rows, time);
        var loss = Models.LanguageModel.Loss(replica.Threads, logits.Reshape(ids.Length, -1), targets);
        // The batch mean is sum over shards of (counted here / counted in all) x this shard's mean.
        float weight = counted == 0 ? 1f / Shards : (float)((double)mine / counted);
        double share = mine == 0 ? 0 : (double)weight * loss.Item();
        float seed = weight * lossScale;
        (seed == 1f ? loss : loss * seed).Backward(reuseBuffers: true, replica.Gradients);
        return share;
    }

    void PrepareShards(int[] inputs, int[] targets, int batch, int time)
    {
        if (shardInputs.Length == 0 || shardInputs.Sum(a => a.Length) != batch * time || shardInputs[0].Length != Rows(0, batch) * time)
        {
            shardInputs = new int[Shards][];
            shardTargets = new int[Shards][];
            for (int s = 0; s < Shards; s++)
            {
                shardInputs[s] = new int[Rows(s, batch) * time];
                shardTargets[s] = new int[shardInputs[s].Length];
            }
        }
        int offset = 0;
        for (int s = 0; s < Shards; s++)
        {
            int length = shardInputs[s].Length;
            Array.Copy(inputs, offset, shardInputs[s], 0, length);
            Array.Copy(targets, offset, shardTargets[s], 0, length);
            offset += length;
        }
    }

    /// <summary>Sequences in shard s: the batch cut as evenly as whole sequences allow.</summary>
    int Rows(int s, int batch) => (int)((long)batch * (s + 1) / Shards - (long)batch * s / Shards);

    /// <summary>
    /// grad = grad + replica 1 + replica 2 + ... for every parameter, element-wise and in that order (deterministic),
    /// split over the threads by element ranges of the concatenated parameters; the replica buffers go back to the pool.
    /// </summary>
    void SumReplicaGradients(Parallelism threads)
    {
        // A parameter that shard 0 left without a gradient takes its first replica's buffer (no race: done here, serially).
        foreach (var p in parameters)
            for (int r = 0; r < Shards - 1 && p.Grad is null; r++)
            {
                p.Grad = p.ReplicaGrads![r];
                p.ReplicaGrads[r] = null;
            }
        long total = offsets[^1];
        const int Chunk = 1 << 15;
        int chunks = (int)((total + Chunk - 1) / Chunk);
        threads.For(0, chunks, (first, end) =>
        {
            long from = (long)first * Chunk, to = Math.Min(total, (long)end * Chunk);
            int i = Array.BinarySearch(offsets, from);
            if (i < 0) i = ~i - 1;
            for (; i < parameters.Count && offsets[i] < to; i++)
            {
                var p = parameters[i];
                int start = (int)Math.Max(0, from - offsets[i]), length = (int)Math.Min(p.Size, to - offsets[i]) - start;
                if (length <= 0 || p.Grad is not { } main) continue;
                var sum = main.Data.AsSpan(start, length);
                foreach (var replica in p.ReplicaGrads!)
                    if (replica is not null) System.Numerics.Tensors.TensorPrimitives.Add(sum, replica.Data.AsSpan(start, length), sum);
            }
        }, costPerItem: 3L * Chunk);
        foreach (var p in parameters)
            for (int r = 0; r < Shards - 1; r++)
                if (p.ReplicaGrads![r] is { } replica)
                {
                    BufferPool.Shared.Return(replica.Data);
                    p.ReplicaGrads[r] = null;
                }
    }
}
