// Averaging the gradients of a data-parallel step over the ranks, as PyTorch's DDP does: the parameters are grouped
// into buckets of about bucketBytes in reverse model order (the order backward finishes their gradients), each bucket
// is copied into one flat buffer and summed by one all-reduce. With overlap, a communication thread reduces a bucket
// as soon as backward has finished every gradient in it, while backward goes on with the earlier layers; the buckets
// are always reduced in the same order on every rank (collectives must match), whatever order they become ready in.
using System.Diagnostics;
using System.Numerics.Tensors;
using ResidualLM.Tensors;

namespace ResidualLM.Distributed;

/// <summary>
/// Replaces every parameter's gradient by its mean over the ranks of a communicator. Use
/// <see cref="Begin"/>, then <see cref="GradientReady"/> for each parameter as backward finishes it (optional: a
/// parameter never announced is reduced at the end), then <see cref="Finish"/>; or <see cref="Average"/> alone.
/// Every rank must hold the same parameters, run the same graph and call these in the same way.
/// </summary>
public sealed class GradientAverager : IDisposable
{
    readonly ICommunicator communicator;
    readonly Tensor[] parameters;                 // bucket order: reverse model order
    readonly Dictionary<Tensor, int> position;    // parameter -> index in `parameters`
    readonly int[] bucketOf, bucketFirst, bucketEnd;   // parameter -> bucket; bucket -> parameter range [first, end)
    readonly long[] offset;                       // parameter -> element offset in the flat buffer
    readonly float[] flat;
    readonly int[] pending;                       // per bucket: parameters not yet ready in this step
    readonly ManualResetEventSlim[] ready;        // per bucket: every gradient in it is final
    readonly bool overlap;
    Thread? worker;
    SemaphoreSlim? started, finished;
    Exception? failure;
    bool disposed, inStep;
    long reduceTicks;

    /// <summary>Number of buckets (one all-reduce each per step).</summary>
    public int Buckets => bucketFirst.Length;

    /// <summary>Whether buckets are reduced on a communication thread during backward.</summary>
    public bool Overlaps => overlap;

    /// <summary>Seconds spent inside all-reduce calls in the last step (on the communication thread when overlapping).</summary>
    public double ReduceSeconds { get; private set; }

    /// <summary>
    /// Seconds the last step's <see cref="Finish"/> (or <see cref="Average"/>) kept its caller waiting: the part of the
    /// communication not hidden behind backward. Without overlap, all of it, copies included.
    /// </summary>
    public double ExposedSeconds { get; private set; }

    /// <summary>
    /// Buckets of about <paramref name="bucketBytes"/> bytes (0: one bucket of everything); with
    /// <paramref name="overlap"/> (and a communicator that allows it, <see cref="ICommunicator.AnyThread"/>) a
    /// communication thread reduces each bucket once <see cref="GradientReady"/> has announced all its parameters.
    /// </summary>
    public GradientAverager(IEnumerable<Tensor> parameters, ICommunicator communicator, long bucketBytes, bool overlap)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bucketBytes);
        this.communicator = communicator;
        this.parameters = [.. parameters.Reverse()];
        position = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < this.parameters.Length; i++) position.Add(this.parameters[i], i);
        offset = new long[this.parameters.Length + 1];
        bucketOf = new int[this.parameters.Length];
        var firsts = new List<int>();
        long bucketStart = 0;
        for (int i = 0; i < this.parameters.Length; i++)
        {
            offset[i + 1] = offset[i] + this.parameters[i].Size;
            if (i == 0 || (bucketBytes > 0 && (offset[i] - bucketStart) * sizeof(float) >= bucketBytes)) { firsts.Add(i); bucketStart = offset[i]; }
            bucketOf[i] = firsts.Count - 1;
        }
        bucketFirst = [.. firsts];
        bucketEnd = [.. firsts.Skip(1), this.parameters.Length];
        flat = new float[offset[^1]];
        pending = new int[bucketFirst.Length];
        ready = [.. bucketFirst.Select(_ => new ManualResetEventSlim())];
        this.overlap = overlap && communicator.AnyThread && communicator.Size > 1;
    }

    /// <summary>
    /// An averager of buckets of <paramref name="bucketMegabytes"/> MB reduced during backward (where the communicator
    /// allows it), or, with 0, one all-reduce of every gradient after backward: what <c>--bucket-mb</c> asks for.
    /// </summary>
    public static GradientAverager WithBuckets(IEnumerable<Tensor> parameters, ICommunicator communicator, double bucketMegabytes) =>
        new(parameters, communicator, (long)(bucketMegabytes * (1 << 20)), overlap: bucketMegabytes > 0);

    /// <summary>
    /// Backward from <paramref name="loss"/> (reusing buffers), handing each gradient to the all-reduce as soon as it is
    /// final when overlapping; <see cref="Complete"/> then waits for the rest.
    /// </summary>
    public void Backward(Tensor loss)
    {
        if (!overlap)
        {
            loss.Backward(reuseBuffers: true);
            return;
        }
        Begin();
        loss.Backward(reuseBuffers: true, GradientReady);
    }

    /// <summary>Ends a step: <see cref="Finish"/> after <see cref="Backward"/> or <see cref="Begin"/>, else <see cref="Average"/>.</summary>
    public void Complete()
    {
        if (inStep) Finish();
        else Average();
    }

    /// <summary>Starts a step: from now on <see cref="GradientReady"/> may hand buckets to the communication thread.</summary>
    public void Begin()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (inStep) throw new InvalidOperationException("Begin() twice without Finish()");
        inStep = true;
        for (int k = 0; k < Buckets; k++) { pending[k] = bucketEnd[k] - bucketFirst[k]; ready[k].Reset(); }
        reduceTicks = 0;
        failure = null;
        if (!overlap) return;
        if (worker is null)
        {
            started = new SemaphoreSlim(0);
            finished = new SemaphoreSlim(0);
            worker = new Thread(WorkerLoop) { IsBackground = true, Name = "rlm all-reduce" };
            worker.Start();
        }
        started!.Release();
    }

    /// <summary>Announces that <paramref name="parameter"/>'s gradient is final for this step (others are ignored).</summary>
    public void GradientReady(Tensor parameter)
    {
        if (!inStep || !position.TryGetValue(parameter, out int i)) return;
        int k = bucketOf[i];
        if (--pending[k] == 0) ready[k].Set();
    }

    /// <summary>Waits until every bucket is reduced and every gradient averaged (buckets not yet announced are reduced now).</summary>
    public void Finish()
    {
        if (!inStep) throw new InvalidOperationException("Finish() without Begin()");
        var clock = Stopwatch.StartNew();
        for (int k = 0; k < Buckets; k++) ready[k].Set();
        if (overlap) finished!.Wait();
        else
            for (int k = 0; k < Buckets; k++) ReduceBucket(k);
        inStep = false;
        ExposedSeconds = clock.Elapsed.TotalSeconds;
        ReduceSeconds = (double)reduceTicks / Stopwatch.Frequency;
        if (failure is not null) throw new InvalidOperationException("the gradient all-reduce failed", failure);
    }

    /// <summary>Averages every gradient now (after backward): <see cref="Begin"/> then <see cref="Finish"/>.</summary>
    public void Average()
    {
        Begin();
        Finish();
    }

    void WorkerLoop()
    {
        while (true)
        {
            started!.Wait();
            if (disposed) return;
            try
            {
                for (int k = 0; k < Buckets; k++)
                {
                    ready[k].Wait();
                    ReduceBucket(k);
                }
            }
            catch (Exception e) { failure = e; }
            finished!.Release();
        }
    }

    /// <summary>Copies bucket <paramref name="k"/>'s gradients into the flat buffer, sums them over the ranks and writes back their means.</summary>
    void ReduceBucket(int k)
    {
        int first = bucketFirst[k], end = bucketEnd[k];
        // A parameter without a gradient has none on every rank (same graph): it stays without one, as zeros in the sum.
        for (int i = first; i < end; i++)
        {
            var span = flat.AsSpan((int)offset[i], parameters[i].Size);
            if (parameters[i].Grad is { } g) g.Data.AsSpan(0, span.Length).CopyTo(span);
            else span.Clear();
        }
        long before = Stopwatch.GetTimestamp();
        communicator.AllReduceSum(flat.AsSpan((int)offset[first], (int)(offset[end] - offset[first])));
        reduceTicks += Stopwatch.GetTimestamp() - before;
        float scale = 1f / communicator.Size;
        for (int i = first; i < end; i++)
            if (parameters[i].Grad is { } g)
                TensorPrimitives.Multiply(flat.AsSpan((int)offset[i], parameters[i].Size), scale, g.Data.AsSpan(0, parameters[i].Size));
    }

    /// <summary>Stops the communication thread.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        started?.Release();
        worker?.Join();
        foreach (var e in ready) e.Dispose();
        started?.Dispose();
        finished?.Dispose();
    }
}
