// The thread budget every kernel shares: RLM_THREADS or --threads, default all cores.
namespace ResidualLM.Kernels;

/// <summary>How many threads the kernels may use, and a parallel loop that respects it.</summary>
public static class Parallelism
{
    static int threadCount = ReadDefault();

    /// <summary>Threads the kernels may use (at least 1). Set from <c>--threads</c> or <c>RLM_THREADS</c>.</summary>
    public static int ThreadCount
    {
        get => threadCount;
        set => threadCount = value < 1 ? throw new ArgumentOutOfRangeException(nameof(value), value, "thread count must be at least 1") : value;
    }

    static int ReadDefault()
    {
        string? text = Environment.GetEnvironmentVariable("RLM_THREADS");
        if (text is not null && int.TryParse(text, out int n) && n >= 1) return n;
        return Environment.ProcessorCount;
    }

    /// <summary>
    /// Runs <paramref name="body"/> over [from, to) in contiguous chunks, one per thread, inline when there is one
    /// thread or too little work (<paramref name="costPerItem"/> is a rough count of flops per item).
    /// </summary>
    public static void For(int from, int to, Action<int, int> body, long costPerItem = 1 << 16)
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
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(job);
        try
        {
            unsafe
            {
                if (!GemmThreads.TryRun(&RunPart, (void*)System.Runtime.InteropServices.GCHandle.ToIntPtr(handle), job.Parts))
                    body(from, to);
            }
        }
        finally { handle.Free(); }
    }

    sealed record Job(Action<int, int> Body, int From, int Count, int Parts);

    static unsafe void RunPart(void* state, int part, int parts)
    {
        var job = (Job)System.Runtime.InteropServices.GCHandle.FromIntPtr((nint)state).Target!;
        int start = job.From + (int)((long)job.Count * part / parts);
        int end = job.From + (int)((long)job.Count * (part + 1) / parts);
        if (end > start) job.Body(start, end);
    }
}
