// Reuse of tensor buffers between training steps, so the steady state allocates (almost) nothing and the GC stays quiet.
// Limits: exact-length buckets (a step repeats the same shapes); small arrays are left to the GC; the pool is capped.
namespace ResidualLM.Tensors;

/// <summary>
/// A pool of float arrays keyed by exact length. Buffers come back only from places that know no one else can read
/// them: gradients of intermediate tensors once backward has consumed them, scratch kept by an op for its backward,
/// and (when asked for) the values of a released graph and parameter gradients cleared by ZeroGrad.
/// </summary>
/// <remarks>
/// Tensors draw from <see cref="Shared"/>, one per process. It is a cache and nothing more: thread-safe, with no
/// setting that changes a result (a buffer is zeroed or fully overwritten whichever array it is), so two models
/// in one process share it without noticing each other.
/// </remarks>
internal sealed class BufferPool(long capacityBytes)
{
    // Arrays below this many floats are cheap gen-0 garbage; pooling them costs more than it saves.
    const int MinLength = 1024;

    /// <summary>The pool of every tensor buffer (1 GiB idle at most to start with, RLM_POOL_MB to change).</summary>
    public static BufferPool Shared { get; } = new(ReadCapacity());

    readonly Dictionary<int, Stack<float[]>> free = [];
    readonly Lock gate = new();
    long pooledBytes;

    /// <summary>Most bytes kept idle in the pool; beyond it returns are dropped. Grows with <see cref="FitWorkingSet"/>.</summary>
    public long CapacityBytes { get; private set; } = capacityBytes;

    static long ReadCapacity()
    {
        string? text = Environment.GetEnvironmentVariable("RLM_POOL_MB");
        return text is not null && long.TryParse(text, out long mb) && mb >= 0 ? mb << 20 : 1L << 30;
    }

    /// <summary>Bytes currently idle in the pool (for tests and benchmarks).</summary>
    public long PooledBytes => Interlocked.Read(ref pooledBytes);

    long droppedBytes;

    /// <summary>
    /// Raises <see cref="CapacityBytes"/> so that what was handed back and dropped (the pool being full) since the last
    /// call would have been kept, up to half the memory the GC may use. Training loops call it after every step: a model
    /// whose step needs more than the default capacity then keeps its whole working set here instead of handing it to
    /// the GC and getting it back as fresh pages, which the kernel must zero (a gpt2-124m step at context 256 spent
    /// more time in page faults than in its GEMMs). Returns whether the capacity grew.
    /// </summary>
    public bool FitWorkingSet()
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
    public float[] Rent(int length, bool clear) => Autograd.Graph.Arena is { } arena ? arena.Rent(length, clear) : RentPooled(length, clear);

    /// <summary><see cref="Rent"/> from this pool whatever scope the thread is in (an arena filling itself).</summary>
    internal float[] RentPooled(int length, bool clear)
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
    public void Return(float[] array)
    {
        // Inside a Graph.Inference scope the buffer may be the arena's, which takes it back when the step ends; one
        // from before the scope is left to the GC.
        if (array.Length < MinLength || Autograd.Graph.Arena is not null) return;
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
    public void Clear()
    {
        lock (gate)
        {
            free.Clear();
            pooledBytes = 0;
        }
    }
}
