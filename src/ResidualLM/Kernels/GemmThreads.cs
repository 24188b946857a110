// Persistent worker threads shared by the GEMM and every parallel loop. A job is a number of independent parts that
// the caller and the workers claim one at a time from a shared counter, so a worker the OS has descheduled (a busy
// machine) delays nothing: the caller takes the parts it has not claimed. One job at a time; a busy pool (or a
// parallel loop inside a part) makes callers run alone.
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace ResidualLM.Kernels;

static unsafe class GemmThreads
{
    sealed class Job(delegate*<void*, int, int, void> body, void* state, int parts)
    {
        public readonly delegate*<void*, int, int, void> Body = body;
        public readonly void* State = state;
        public readonly int Parts = parts;
        public int Next;            // next part to claim; claims at or past Parts do nothing
        public int Done;            // parts finished
        public Exception? Error;
    }

    static readonly object sleepGate = new();
    static int busy;                // 1 while a job runs: TryRun is not re-entrant, not even on the same thread
    static int workerCount;
    static int sleepers;
    static int generation;          // bumped for every job: what spinning workers watch
    static Job? current;

    // Spin this long waiting for the next job before blocking: covers the gaps between the GEMMs of a layer.
    static readonly long spinTicks = Stopwatch.Frequency / 5000;

    /// <summary>
    /// Runs body(state, part, parts) once for every part in [0, parts), on the calling thread and up to
    /// <see cref="Parallelism.ThreadCount"/> - 1 workers, in any order. Returns false without running anything when the
    /// pool is in use (the caller then runs single-threaded). Parts should be several per thread when their cost varies.
    /// </summary>
    public static bool TryRun(delegate*<void*, int, int, void> body, void* state, int parts)
    {
        if (Interlocked.CompareExchange(ref busy, 1, 0) != 0) return false;
        try
        {
            EnsureWorkers(Parallelism.ThreadCount - 1);
            var job = new Job(body, state, parts);
            Volatile.Write(ref current, job);
            Interlocked.Increment(ref generation);   // full barrier: the job is visible before sleepers is read (Dekker with Sleep)
            if (Volatile.Read(ref sleepers) > 0)
                lock (sleepGate) Monitor.PulseAll(sleepGate);
            Work(job);
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

    /// <summary>Claims and runs parts of <paramref name="job"/> until none is left.</summary>
    static void Work(Job job)
    {
        int part;
        while ((part = Interlocked.Increment(ref job.Next) - 1) < job.Parts)
        {
            try { job.Body(job.State, part, job.Parts); }
            catch (Exception e) { Interlocked.CompareExchange(ref job.Error, e, null); }
            Interlocked.Increment(ref job.Done);
        }
    }

    static void EnsureWorkers(int count)
    {
        while (workerCount < count)
        {
            int index = ++workerCount;
            new Thread(Loop) { IsBackground = true, Name = $"rlm-gemm-{index}" }.Start();
        }
    }

    static void Loop()
    {
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
            seen = Volatile.Read(ref generation);
            // NOTE: the job read here may already be finished (or be a later one): claims past its parts do nothing,
            // and its state is touched only through a successful claim, which the caller waits for.
            if (Volatile.Read(ref current) is Job job) Work(job);
        }
    }
}
