// Keys and values of past positions for incremental decoding: each new token attends to the cached keys
// instead of recomputing the whole prefix. One buffer pair per attention layer, (B, NH, Tmax, HS).
namespace ResidualLM.Nn;

/// <summary>The attention keys and values of every layer for the positions processed so far.</summary>
public sealed class KvCache
{
    readonly LayerCache[] layers;

    /// <summary>Positions cached so far (the position of the next token).</summary>
    public int Length { get; private set; }

    /// <summary>Most positions the cache can hold (the model's context length).</summary>
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
        float[] keys = [], values = [];
        int batch, heads, headSize;

        /// <summary>
        /// Stores k, v (B, NH, T, HS) at positions Length .. Length+T-1 and returns the keys and values of every position
        /// so far, (B, NH, Length+T, HS), as new tensors.
        /// </summary>
        public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
        {
            int b = k.Dim(0), nh = k.Dim(1), t = k.Dim(2), hs = k.Dim(3), start = owner.Length, cap = owner.Capacity;
            if (start + t > cap) throw new InvalidInputException($"positions {start}..{start + t - 1} exceed the context length {cap}", field: "time");
            if (keys.Length == 0 || b != batch || nh != heads || hs != headSize)
            {
                if (start != 0) throw new InvalidOperationException("KV cache shape changed mid-sequence");
                batch = b; heads = nh; headSize = hs;
                keys = new float[b * nh * cap * hs];
                values = new float[keys.Length];
            }
            int total = start + t;
            var kAll = new Tensor(b, nh, total, hs);
            var vAll = new Tensor(b, nh, total, hs);
            for (int bh = 0; bh < b * nh; bh++)
            {
                Array.Copy(k.Data, bh * t * hs, keys, (bh * cap + start) * hs, t * hs);
                Array.Copy(v.Data, bh * t * hs, values, (bh * cap + start) * hs, t * hs);
                Array.Copy(keys, bh * cap * hs, kAll.Data, bh * total * hs, total * hs);
                Array.Copy(values, bh * cap * hs, vAll.Data, bh * total * hs, total * hs);
            }
            return (kAll, vAll);
        }
    }
}
