// A thread budget the kernels are handed: how many threads, the persistent workers that supply them and the working
// memory they reuse. Owned by whoever computes (a model's ComputeContext, a benchmark); nothing here is process-wide.
using System.Runtime.InteropServices;

namespace ResidualLM.Kernels;

/// <summary>
/// How many threads the kernels given this object may use, the workers that run their parts, and a parallel loop that
/// respects it. Two instances are independent (two models in one process can use different thread counts at once);
/// one instance may be used from several threads at once (only one call at a time gets the workers, the others run
/// on their own thread). Its workers start on first need and stop on <see cref="Dispose"/> or when it is collected.
/// </summary>
public sealed unsafe class Parallelism : IDisposable
{
    readonly GemmThreads workers = new();
    // Kernel scratch not in use by any thread: taken and put back without locks, one slot at a time.
    readonly KernelScratch?[] idleScratch;

    /// <summary>A budget of <paramref name="threadCount"/> threads (at least 1), the calling thread included.</summary>
    public Parallelism(int threadCount)
    {
        if (threadCount < 1) throw new ArgumentOutOfRangeException(nameof(threadCount), threadCount, "thread count must be at least 1");
        ThreadCount = threadCount;
        idleScratch = new KernelScratch?[2 * threadCount + 2];
    }

    /// <summary>Threads the kernels may use (at least 1).</summary>
    public int ThreadCount { get; }

    /// <summary>
    /// Runs <paramref name="body"/> over [from, to) in contiguous chunks, one per thread, inline when there is one
    /// thread or too little work (<paramref name="costPerItem"/> is a rough count of flops per item).
    /// </summary>
    public void For(int from, int to, Action<int, int> body, long costPerItem = 1 << 16)
    {
        int count = to - from;
        if (count <= 0) return;
        int threads = Math.Min(ThreadCount, count);
        // NOTE: Parallel.For costs microseconds; below ~64k flops of total work it is slower than one thread.
        if (threads <= 1 || costPerItem * count < 1 << 16)
        {
            body(from, to);
            return;
        }
        // The GEMM's persistent workers serve every parallel loop: one pool of spinning threads, never two
        // pools fighting over two cores. If the pool is busy (a loop inside a parallel region), run inline.
        // Two parts per thread: whoever is free claims the next, so a thread the OS has descheduled holds up at most one.
        var job = new Job(body, from, count, Math.Min(count, 2 * threads));
        var handle = GCHandle.Alloc(job);
        try
        {
            if (!TryRun(&RunPart, (void*)GCHandle.ToIntPtr(handle), job.Parts))
                body(from, to);
        }
        finally { handle.Free(); }
    }

    sealed record Job(Action<int, int> Body, int From, int Count, int Parts);

    static void RunPart(void* state, int part, int parts, KernelScratch unused)
    {
        var job = (Job)GCHandle.FromIntPtr((nint)state).Target!;
        int start = job.From + (int)((long)job.Count * part / parts);
        int end = job.From + (int)((long)job.Count * (part + 1) / parts);
        if (end > start) job.Body(start, end);
    }

    /// <summary>
    /// Runs body(state, part, parts, scratch) once for every part in [0, parts), on the calling thread and up to
    /// <see cref="ThreadCount"/> - 1 workers, each part with the scratch of the thread running it. Returns false without
    /// running anything when the workers are in use (the caller then runs single-threaded).
    /// </summary>
    internal bool TryRun(delegate*<void*, int, int, KernelScratch, void> body, void* state, int parts)
    {
        var scratch = RentScratch();
        try { return workers.TryRun(body, state, parts, ThreadCount - 1, scratch); }
        finally { ReturnScratch(scratch); }
    }

    /// <summary>Scratch for the calling thread until <see cref="ReturnScratch"/>: an idle one, or a new one when all are in use.</summary>
    internal KernelScratch RentScratch()
    {
        for (int i = 0; i < idleScratch.Length; i++)
            if (Interlocked.Exchange(ref idleScratch[i], null) is { } scratch) return scratch;
        return new KernelScratch();
    }

    /// <summary>Hands back scratch from <see cref="RentScratch"/>; with every slot full it is left to the GC.</summary>
    internal void ReturnScratch(KernelScratch scratch)
    {
        for (int i = 0; i < idleScratch.Length; i++)
            if (Interlocked.CompareExchange(ref idleScratch[i], scratch, null) is null) return;
    }

    /// <summary>Stops the workers (a later parallel call starts them again).</summary>
    public void Dispose()
    {
        workers.Stop();
        GC.SuppressFinalize(this);
    }

    // The workers reference only their pool, never this object, so an unreachable budget is collected and stops them.
    ~Parallelism() => workers.Stop();
}
