// Reuse of tensor buffers between training steps, so the steady state allocates (almost) nothing and the GC stays quiet.
// Limits: exact-length buckets (a step repeats the same shapes); small arrays are left to the GC; the pool is capped.
namespace ResidualLM.Tensors;

/// <summary>
/// A pool of float arrays keyed by exact length. Buffers come back only from places that know no one else can read
/// them: gradients of intermediate tensors once backward has consumed them, scratch kept by an op for its backward,
/// and (when asked for) the values of a released graph and parameter gradients cleared by ZeroGrad.
/// </summary>
internal static class BufferPool
{
    // Arrays below this many floats are cheap gen-0 garbage; pooling them costs more than it saves.
    const int MinLength = 1024;

    static readonly Dictionary<int, Stack<float[]>> free = [];
    static readonly Lock gate = new();
    static long pooledBytes;

    /// <summary>Most bytes kept idle in the pool (1 GiB by default, RLM_POOL_MB to change); beyond it returns are dropped.</summary>
    public static long CapacityBytes { get; set; } = ReadCapacity();

    static long ReadCapacity()
    {
        string? text = Environment.GetEnvironmentVariable("RLM_POOL_MB");
        return text is not null && long.TryParse(text, out long mb) && mb >= 0 ? mb << 20 : 1L << 30;
    }

    /// <summary>Bytes currently idle in the pool (for tests and benchmarks).</summary>
    public static long PooledBytes => Interlocked.Read(ref pooledBytes);

    static long droppedBytes;

    /// <summary>
    /// Raises <see cref="CapacityBytes"/> so that what was handed back and dropped (the pool being full) since the last
    /// call would have been kept, up to half the memory the GC may use. Training loops call it after every step: a model
    /// whose step needs more than the default capacity then keeps its whole working set here instead of handing it to
    /// the GC and getting it back as fresh pages, which the kernel must zero (a gpt2-124m step at context 256 spent
    /// more time in page faults than in its GEMMs). Returns whether the capacity grew.
    /// </summary>
    public static bool FitWorkingSet()
    {
        lock (gate)
        {
            long dropped = droppedBytes;
            droppedBytes = 0;
            long limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
            if (dropped == 0 || CapacityBytes >= limit) return false;
            CapacityBytes = Math.Min(limit, Math.Max(CapacityBytes, pooledBytes + dropped));
            return true;
        }
    }

    /// <summary>A buffer of exactly <paramref name="length"/> floats, zeroed when <paramref name="clear"/> (otherwise arbitrary).</summary>
    public static float[] Rent(int length, bool clear)
    {
        if (length >= MinLength)
        {
            float[]? array = null;
            lock (gate)
            {
                if (free.TryGetValue(length, out var stack) && stack.Count > 0)
                {
                    array = stack.Pop();
                    pooledBytes -= 4L * length;
                }
            }
            if (array is not null)
            {
                if (clear) Array.Clear(array);
                return array;
            }
            // NOTE: a fresh array is zeroed by the runtime anyway; skipping that buys little and risks reading garbage.
        }
        return new float[length];
    }

    /// <summary>Hands <paramref name="array"/> back; the caller must hold no other reference that will be read.</summary>
    public static void Return(float[] array)
    {
        if (array.Length < MinLength) return;
        lock (gate)
        {
            if (pooledBytes + 4L * array.Length > CapacityBytes)
            {
                droppedBytes += 4L * array.Length;
                return;
            }
            if (!free.TryGetValue(array.Length, out var stack)) free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
            pooledBytes += 4L * array.Length;
        }
    }

    /// <summary>Drops every idle buffer (for the GC to reclaim).</summary>
    public static void Clear()
    {
        lock (gate)
        {
            free.Clear();
            pooledBytes = 0;
        }
    }
}
