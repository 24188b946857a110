// Keys and values of past positions for incremental decoding: each new token attends to the cached keys
// instead of recomputing the whole prefix. One buffer pair per attention layer, (B, NH, Capacity, HS), read in place
// by the attention kernel (no per-token copy of the prefix).

namespace ResidualLM.Nn;

/// <summary>The attention keys and values of every layer for the positions processed so far.</summary>
public sealed class KvCache
{
    readonly LayerCache[] layers;

    /// <summary>Positions cached so far (the position of the next token).</summary>
    public int Length { get; private set; }

    /// <summary>Most positions the cache can hold (at most the model's context length).</summary>
    public int Capacity { get; }

    public KvCache(int layerCount, int capacity)
    {
        if (layerCount < 1 || capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "cache needs at least one layer and one position");
        Capacity = capacity;
        layers = new LayerCache[layerCount];
        for (int i = 0; i < layerCount; i++) layers[i] = new LayerCache(this);
    }

    /// <summary>The cache of one attention layer.</summary>
    public LayerCache Layer(int index) => layers[index];

    /// <summary>Marks <paramref name="count"/> more positions as cached (after every layer has appended them).</summary>
    public void Advance(int count)
    {
        if (Length + count > Capacity) throw new InvalidOperationException($"KV cache full: {Length} + {count} > {Capacity}");
        Length += count;
    }

    /// <summary>Forgets every position.</summary>
    public void Clear() => Length = 0;

    /// <summary>One layer's keys and values, (B, NH, Capacity, HS) each.</summary>
    public sealed class LayerCache(KvCache owner)
    {
        /// <summary>Keys (B, NH, Capacity, HS); positions at or past the appended ones hold stale values.</summary>
        internal float[] Keys { get; private set; } = [];

        /// <summary>Values, laid out as <see cref="Keys"/>.</summary>
        internal float[] Values { get; private set; } = [];

        internal int Batch { get; private set; }
        internal int Heads { get; private set; }
        internal int HeadSize { get; private set; }

        /// <summary>Positions cached before the current forward pass (the owner's length).</summary>
        internal int Length => owner.Length;

        /// <summary>Most positions per (batch, head) row: the owner's capacity.</summary>
        internal int Capacity => owner.Capacity;

        /// <summary>
        /// Stores k, v (B, NH, T, HS) at positions Length .. Length+T-1; the keys and values of every position so far,
        /// Length+T of them, are then read in place (<see cref="Keys"/>, <see cref="Values"/>).
        /// </summary>
        public void Append(Tensor k, Tensor v)
        {
            int b = k.Dim(0), nh = k.Dim(1), t = k.Dim(2), hs = k.Dim(3), start = owner.Length, cap = owner.Capacity;
            Reserve(b, nh, hs, t);
            for (int bh = 0; bh < b * nh; bh++)
            {
                Array.Copy(k.Data, bh * t * hs, Keys, (bh * cap + start) * hs, t * hs);
                Array.Copy(v.Data, bh * t * hs, Values, (bh * cap + start) * hs, t * hs);
            }
        }

        /// <summary>
        /// <see cref="Append"/> from a packed projection qkv (B, T, 3C), [q | k | v] per row with heads side by side:
        /// the k and v parts of each row are stored at positions Length .. Length+T-1.
        /// </summary>
        internal void AppendPacked(ReadOnlySpan<float> qkv, int batch, int time, int heads, int headSize)
        {
            int start = owner.Length, cap = owner.Capacity, width = heads * headSize;
            Reserve(batch, heads, headSize, time);
            for (int b = 0; b < batch; b++)
                for (int t = 0; t < time; t++)
                {
                    ReadOnlySpan<float> row = qkv.Slice((b * time + t) * 3 * width, 3 * width);
                    for (int h = 0; h < heads; h++)
                    {
                        int at = ((b * heads + h) * cap + start + t) * headSize;
                        row.Slice(width + h * headSize, headSize).CopyTo(Keys.AsSpan(at, headSize));
                        row.Slice(2 * width + h * headSize, headSize).CopyTo(Values.AsSpan(at, headSize));
                    }
                }
        }

        /// <summary>
        /// Checks that <paramref name="time"/> more positions fit, and allocates the buffers for (B, NH, Capacity, HS) on
        /// first use; the shape may not change mid-sequence.
        /// </summary>
        internal void Reserve(int batch, int heads, int headSize, int time)
        {
            if (owner.Length + time > owner.Capacity)
                throw new InvalidInputException($"positions {owner.Length}..{owner.Length + time - 1} exceed the context length {owner.Capacity}", field: "time");
            if (Keys.Length != 0 && batch == Batch && heads == Heads && headSize == HeadSize) return;
            if (owner.Length != 0) throw new InvalidOperationException("KV cache shape changed mid-sequence");
            Batch = batch; Heads = heads; HeadSize = headSize;
            Keys = new float[batch * heads * owner.Capacity * headSize];
            Values = new float[Keys.Length];
        }

        /// <summary>
        /// Asks for the cache lines of the cached keys and values without waiting for them. Issued before a layer's qkv
        /// product when decoding one token, they arrive from memory while the weights stream (the weights read since
        /// the last token pushed them out of every cache).
        /// </summary>
        internal unsafe void Prefetch()
        {
            if (!System.Runtime.Intrinsics.X86.Sse.IsSupported || Keys.Length == 0) return;
            int cap = owner.Capacity, length = owner.Length;
            fixed (float* k = Keys, v = Values)
                for (int bh = 0; bh < Batch * Heads; bh++)
                    for (long i = (long)bh * cap * HeadSize, end = i + (long)length * HeadSize; i < end; i += 16)
                    {
                        System.Runtime.Intrinsics.X86.Sse.Prefetch1(k + i);
                        System.Runtime.Intrinsics.X86.Sse.Prefetch1(v + i);
                    }
        }

        /// <summary>Contiguous copies (B, NH, <paramref name="length"/>, HS) of the first positions, for ops that record gradients.</summary>
        internal (Tensor Keys, Tensor Values) Copy(int length)
        {
            int cap = owner.Capacity, hs = HeadSize;
            var kAll = new Tensor(Batch, Heads, length, hs);
            var vAll = new Tensor(Batch, Heads, length, hs);
            for (int bh = 0; bh < Batch * Heads; bh++)
            {
                Array.Copy(Keys, bh * cap * hs, kAll.Data, bh * length * hs, length * hs);
                Array.Copy(Values, bh * cap * hs, vAll.Data, bh * length * hs, length * hs);
            }
            return (kAll, vAll);
        }
    }
}
