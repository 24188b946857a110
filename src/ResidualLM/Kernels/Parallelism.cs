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
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int start = from + (int)((long)count * t / threads);
            int end = from + (int)((long)count * (t + 1) / threads);
            if (end > start) body(start, end);
        });
    }
}
