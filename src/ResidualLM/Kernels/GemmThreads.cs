// Persistent worker threads for the GEMM: one signal per worker and a countdown, so starting a 2-thread product costs
// well under a microsecond when the worker is spinning. One product at a time; a busy pool makes callers run alone.
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace ResidualLM.Kernels;

static unsafe class GemmThreads
{
    sealed class Worker
    {
        public int Signal;          // 1 when a part is assigned, set by the caller, cleared by the worker
        public int Index;           // part index this worker runs (1-based; the caller runs part 0)
        public Exception? Error;
    }

    static readonly object runLock = new();
    static readonly object sleepGate = new();
    static Worker[] workers = [];
    static int sleepers;
    static int pending;
    static delegate*<void*, int, int, void> job;
    static void* jobState;
    static int jobParts;

    // Spin this long waiting for the next product before blocking: covers the gaps between the GEMMs of a layer.
    static readonly long spinTicks = Stopwatch.Frequency / 5000;

    /// <summary>
    /// Runs body(state, part, parts) for every part in [0, parts), part 0 on the calling thread. Returns false without
    /// running anything when another thread is using the pool (the caller then runs single-threaded).
    /// </summary>
    public static bool TryRun(delegate*<void*, int, int, void> body, void* state, int parts)
    {
        if (!Monitor.TryEnter(runLock)) return false;
        try
        {
            Worker[] pool = EnsureWorkers(parts - 1);
            job = body;
            jobState = state;
            jobParts = parts;
            Volatile.Write(ref pending, parts - 1);
            for (int i = 0; i < parts - 1; i++) Volatile.Write(ref pool[i].Signal, 1);
            Interlocked.MemoryBarrier();   // the signal stores must be visible before sleepers is read (Dekker with Sleep)
            if (Volatile.Read(ref sleepers) > 0)
                lock (sleepGate) Monitor.PulseAll(sleepGate);

            Exception? mine = null;
            try { body(state, 0, parts); }
            catch (Exception e) { mine = e; }

            var spinner = new SpinWait();
            while (Volatile.Read(ref pending) != 0) spinner.SpinOnce(sleep1Threshold: -1);

            if (mine is not null) ExceptionDispatchInfo.Capture(mine).Throw();
            for (int i = 0; i < parts - 1; i++)
            {
                if (pool[i].Error is Exception e)
                {
                    pool[i].Error = null;
                    throw new AggregateException("a GEMM worker thread failed", e);
                }
            }
            return true;
        }
        finally
        {
            Monitor.Exit(runLock);
        }
    }

    static Worker[] EnsureWorkers(int count)
    {
        if (workers.Length >= count) return workers;
        var grown = new Worker[count];
        Array.Copy(workers, grown, workers.Length);
        for (int i = workers.Length; i < count; i++)
        {
            var w = new Worker { Index = i + 1 };
            grown[i] = w;
            new Thread(() => Loop(w)) { IsBackground = true, Name = $"rlm-gemm-{i + 1}" }.Start();
        }
        workers = grown;
        return grown;
    }

    static void Loop(Worker w)
    {
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            int spins = 0;
            while (Volatile.Read(ref w.Signal) == 0)
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
                    while (Volatile.Read(ref w.Signal) == 0) Monitor.Wait(sleepGate);
                }
                Interlocked.Decrement(ref sleepers);
            }
            try { job(jobState, w.Index, jobParts); }
            catch (Exception e) { w.Error = e; }
            Volatile.Write(ref w.Signal, 0);
            Interlocked.Decrement(ref pending);
        }
    }
}
