// Buffers for a step that runs again and again with the same shapes (one decoded token after another): every tensor
// created inside the step gets its buffer here, and when the step ends all of them come back at once. The next step,
// asking for the same lengths in the same order, gets the same arrays: nothing for the GC, and buffers still in cache.
// New buffers come from, and all of them go back to, the shared pool, so the next generation's arena starts warm.
using ResidualLM.Tensors;

namespace ResidualLM.Autograd;

/// <summary>
/// The buffers of the tensors of one inference step, reused by the next: <c>using (Graph.Inference(arena)) { ... }</c>.
/// A tensor created inside the scope must not be read after it ends (copy out what the step returns).
/// </summary>
public sealed class TensorArena
{
    // By length: every buffer the arena holds, and how many of them the current step has handed out.
    readonly Dictionary<int, Slots> byLength = [];
    long bytes;

    sealed class Slots
    {
        public readonly List<float[]> Buffers = [];
        public int Taken;
    }

    /// <summary>Bytes held (what the largest recent step needed).</summary>
    public long Bytes => bytes;

    internal bool InUse { get; set; }

    /// <summary>The next buffer of <paramref name="length"/> floats of this step, zeroed when <paramref name="clear"/>.</summary>
    internal float[] Rent(int length, bool clear)
    {
        if (!byLength.TryGetValue(length, out var slots)) byLength[length] = slots = new Slots();
        if (slots.Taken < slots.Buffers.Count)
        {
            var reused = slots.Buffers[slots.Taken++];
            if (clear) Array.Clear(reused);
            return reused;
        }
        var fresh = BufferPool.Shared.RentPooled(length, clear);
        slots.Buffers.Add(fresh);
        slots.Taken++;
        bytes += 4L * length;
        return fresh;
    }

    /// <summary>Hands every buffer to the shared pool (the arena's owner is done with it; the next generation reuses them).</summary>
    public void Release()
    {
        if (InUse) throw new InvalidOperationException("the arena serves an Inference scope");
        foreach (var slots in byLength.Values)
            foreach (var buffer in slots.Buffers) BufferPool.Shared.Return(buffer);
        byLength.Clear();
        bytes = 0;
    }

    /// <summary>
    /// Ends a step: every buffer is free again. Buffers this step did not use (a long prompt's, once single tokens
    /// follow) go to the shared pool rather than staying here.
    /// </summary>
    internal void EndStep()
    {
        foreach (var (length, slots) in byLength)
        {
            for (int i = slots.Buffers.Count - 1; i >= slots.Taken; i--)
            {
                BufferPool.Shared.Return(slots.Buffers[i]);
                slots.Buffers.RemoveAt(i);
                bytes -= 4L * length;
            }
            slots.Taken = 0;
        }
    }
}
