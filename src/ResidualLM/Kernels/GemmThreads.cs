// Persistent worker threads of one Parallelism, shared by the GEMM and every parallel loop given it. A job is a number
// of independent parts that the caller and the workers claim one at a time from a shared counter, so a worker the OS
// has descheduled (a busy machine) delays nothing: the caller takes the parts it has not claimed. One job at a time; a
// busy pool (or a parallel loop inside a part) makes callers run alone. Each worker owns its kernel scratch.
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace ResidualLM.Kernels;

sealed unsafe class GemmThreads
{
    sealed class Job(delegate*<void*, int, int, KernelScratch, void> body, void* state, int parts)
    {
        public readonly delegate*<void*, int, int, KernelScratch, void> Body = body;
        public readonly void* State = state;
        public readonly int Parts = parts;
        public int Next;            // next part to claim; claims at or past Parts do nothing
        public int Done;            // parts finished
        public Exception? Error;
    }

    readonly object sleepGate = new();
    int busy;                // 1 while a job runs: TryRun is not re-entrant, not even on the same thread
    int workerCount;
    int sleepers;
    int generation;          // bumped for every job: what spinning workers watch
    int epoch;               // bumped by Stop: workers of an older epoch exit
    Job? current;

    // Spin this long waiting for the next job before blocking: covers the gaps between the GEMMs of a layer.
    static readonly long spinTicks = Stopwatch.Frequency / 5000;

    /// <summary>
    /// Runs body(state, part, parts, scratch) once for every part in [0, parts), on the calling thread (with
    /// <paramref name="callerScratch"/>) and up to <paramref name="workers"/> workers (each with its own), in any order.
    /// Returns false without running anything when the pool is in use. Parts should be several per thread when their cost varies.
    /// </summary>
    public bool TryRun(delegate*<void*, int, int, KernelScratch, void> body, void* state, int parts, int workers, KernelScratch callerScratch)
    {
        if (Interlocked.CompareExchange(ref busy, 1, 0) != 0) return false;
        try
        {
            EnsureWorkers(workers);
            var job = new Job(body, state, parts);
            Volatile.Write(ref current, job);
            Interlocked.Increment(ref generation);   // full barrier: the job is visible before sleepers is read (Dekker with Sleep)
            if (Volatile.Read(ref sleepers) > 0)
                lock (sleepGate) Monitor.PulseAll(sleepGate);
            Work(job, callerScratch);
            // Only parts some worker has claimed and not finished remain; a worker that never woke claims nothing later.
            var spinner = new SpinWait();
            while (Volatile.Read(ref job.Done) != parts) spinner.SpinOnce(sleep1Threshold: -1);
            if (job.Error is Exception e) ExceptionDispatchInfo.Capture(e).Throw();
            return true;
        }
        finally
        {
            Volatile.Write(ref current, null);
            Volatile.Write(ref busy, 0);
        }
    }

    /// <summary>Ends every worker (at its next wake-up); a later job starts new ones. Not while a job runs.</summary>
    public void Stop()
    {
        Interlocked.Increment(ref epoch);
        workerCount = 0;
        Interlocked.Increment(ref generation);
        lock (sleepGate) Monitor.PulseAll(sleepGate);
    }

    /// <summary>Claims and runs parts of <paramref name="job"/> until none is left.</summary>
    static void Work(Job job, KernelScratch scratch)
    {
        int part;
        while ((part = Interlocked.Increment(ref job.Next) - 1) < job.Parts)
        {
            try { job.Body(job.State, part, job.Parts, scratch); }
            catch (Exception e) { Interlocked.CompareExchange(ref job.Error, e, null); }
            Interlocked.Increment(ref job.Done);
        }
    }

    void EnsureWorkers(int count)
    {
        while (workerCount < count)
        {
            int index = ++workerCount, mine = Volatile.Read(ref epoch);
            new Thread(() => Loop(mine)) { IsBackground = true, Name = $"rlm-gemm-{index}" }.Start();
        }
    }

    void Loop(int mine)
    {
        var scratch = new KernelScratch();   // this worker's own, for every part it runs
        int seen = Volatile.Read(ref generation);
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            int spins = 0;
            while (Volatile.Read(ref generation) == seen)
            {
                if (Stopwatch.GetTimestamp() - start < spinTicks)
                {
                    Thread.SpinWait(8);
                    if ((++spins & 63) == 0) Thread.Yield();   // let other runnable threads in on a busy machine
                    continue;
                }
                Interlocked.Increment(ref sleepers);
                lock (sleepGate)
                {
                    while (Volatile.Read(ref generation) == seen) Monitor.Wait(sleepGate);
                }
                Interlocked.Decrement(ref sleepers);
            }
            if (Volatile.Read(ref epoch) != mine) return;
            seen = Volatile.Read(ref generation);
            // NOTE: the job read here may already be finished (or be a later one): claims past its parts do nothing,
            // and its state is touched only through a successful claim, which the caller waits for.
            if (Volatile.Read(ref current) is Job job) Work(job, scratch);
        }
    }
}
