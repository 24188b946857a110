// Attention of one new query over a KV cache, for batch-1 decoding. Glossary: NH heads, HS head size, L keys (the
// cached positions, the new one included). Keys are kept transposed per head, (HS, stride), so the L scores come out of
// HS broadcast FMAs on contiguous loads with no per-token transpose; values are read in place from (NH, capacity, HS).
// NOTE: the arithmetic is AttentionKernel.Forward's for one causal query, element for element (same FMA chains, same
// vector/scalar split of exp, same sums), so decoding gives the general path's logits bit for bit; a test checks it.
// If AttentionKernel's forward arithmetic changes, change this kernel with it.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

/// <summary>Single-query scaled dot-product attention over cached keys and values, parallel over heads.</summary>
public static unsafe class DecodeAttention
{
    struct Job
    {
        public float* Q, KeysT, Values, Output, Scratch;
        public int Heads, HeadSize, KeyLength, Capacity, Stride;
        public float Scale;
    }

    /// <summary>Row stride of a head's transposed keys for <paramref name="capacity"/> positions: a whole number of 16-float vectors.</summary>
    public static int Stride(int capacity) => (capacity + 15) & ~15;

    /// <summary>
    /// output = softmax(q K^T * scale) V per head, heads merged. query, output: (NH * HS); keysTransposed: (NH, HS,
    /// stride), key t of head h at [(h * HS + d) * stride + t]; values: (NH, capacity, HS); scratch: (NH * stride).
    /// Keys 0 .. keyLength-1 are attended to (the query is the last of them); columns past them are read but unused.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> keysTransposed, ReadOnlySpan<float> values, Span<float> output,
        Span<float> scratch, int heads, int headSize, int keyLength, int capacity, float scale)
    {
        int stride = Stride(capacity), width = heads * headSize;
        if (heads < 1 || headSize < 1 || keyLength < 1 || keyLength > capacity) throw new ArgumentException($"bad sizes: {heads} heads of {headSize}, {keyLength} of {capacity} keys");
        if (query.Length != width || output.Length != width || keysTransposed.Length < (long)width * stride || values.Length < (long)heads * capacity * headSize
            || scratch.Length < (long)heads * stride)
            throw new ArgumentException("decode attention spans do not match (NH*HS), (NH, HS, stride), (NH, capacity, HS), (NH*stride)");
        fixed (float* q = query, kT = keysTransposed, v = values, o = output, s = scratch)
        {
            var job = new Job
            {
                Q = q, KeysT = kT, Values = v, Output = o, Scratch = s,
                Heads = heads, HeadSize = headSize, KeyLength = keyLength, Capacity = capacity, Stride = stride, Scale = scale,
            };
            // A second thread pays off from ~200k multiply-adds (12 heads of 64 over ~250 keys); below, handing work over costs more.
            int parts = Math.Min(heads, 2 * Parallelism.ThreadCount);
            if (parts > 1 && (long)heads * keyLength * headSize >= 1 << 17 && GemmThreads.TryRun(&Part, &job, parts)) return;
            RunHeads(in job, 0, heads);
        }
    }

    /// <summary>
    /// Asks for the cache lines a <see cref="Forward"/> over <paramref name="keyLength"/> keys will read (transposed keys
    /// and value rows), without waiting for them. Issued before the layer's qkv product, the cache arrives from memory
    /// while that product streams its weights, instead of stalling the attention, which would wait on DRAM latency
    /// (the weights streamed since the last token have pushed it out of every cache).
    /// </summary>
    public static void Prefetch(ReadOnlySpan<float> keysTransposed, ReadOnlySpan<float> values, int heads, int headSize, int keyLength, int capacity)
    {
        if (!Sse.IsSupported) return;
        int stride = Stride(capacity);
        if (keyLength > capacity || keysTransposed.Length < (long)heads * headSize * stride || values.Length < (long)heads * capacity * headSize)
            throw new ArgumentException("decode attention spans do not match (NH, HS, stride) and (NH, capacity, HS)");
        fixed (float* kT = keysTransposed, v = values)
        {
            for (long row = 0, rows = (long)heads * headSize; row < rows; row++)
                for (int t = 0; t < keyLength; t += 16) Sse.Prefetch1(kT + row * stride + t);
            for (int h = 0; h < heads; h++)
                for (long i = 0, n = (long)keyLength * headSize; i < n; i += 16) Sse.Prefetch1(v + (long)h * capacity * headSize + i);
        }
    }

    static void Part(void* state, int part, int parts)
    {
        ref Job job = ref Unsafe.AsRef<Job>(state);
        int h0 = (int)((long)job.Heads * part / parts), h1 = (int)((long)job.Heads * (part + 1) / parts);
        RunHeads(in job, h0, h1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RunHeads(in Job job, int h0, int h1)
    {
        int hs = job.HeadSize, tk = job.KeyLength, stride = job.Stride;
        for (int h = h0; h < h1; h++)
        {
            float* scores = job.Scratch + (long)h * stride, orow = job.Output + (long)h * hs;
            float* kT = job.KeysT + (long)h * hs * stride, vh = job.Values + (long)h * job.Capacity * hs;
            RowTimesTransposed(job.Q + (long)h * hs, kT, hs, stride, tk, scores);
            float max = float.NegativeInfinity;
            for (int j = 0; j < tk; j++)
            {
                float s = scores[j] * job.Scale;
                scores[j] = s;
                if (s > max) max = s;
            }
            new Span<float>(orow, hs).Clear();
            if (float.IsNegativeInfinity(max)) continue;
            float inv = 1f / ExpShifted(scores, tk, max);
            for (int j = 0; j < tk; j++) scores[j] *= inv;                        // the probabilities
            WeightedRowSum(scores, tk, vh, hs, orow);                             // o = sum_j p_j v_j
        }
    }

    /// <summary>
    /// out[j] = sum_d a[d] bT[d, j] for j &lt; count (rounded up to 16; bT has that many columns). Each block of 16 is a
    /// chain of HS FMAs; four independent chains run side by side so the FMA latency is hidden (same per-element sums).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static void RowTimesTransposed(float* a, float* bT, int headSize, int stride, int count, float* output)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            int j = 0;
            for (; j + 48 < count; j += 64)
            {
                Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
                float* column = bT + j;
                for (int d = 0; d < headSize; d++, column += stride)
                {
                    var ad = Vector512.Create(a[d]);
                    acc0 = Vector512.FusedMultiplyAdd(ad, Vector512.Load(column), acc0);
                    acc1 = Vector512.FusedMultiplyAdd(ad, Vector512.Load(column + 16), acc1);
                    acc2 = Vector512.FusedMultiplyAdd(ad, Vector512.Load(column + 32), acc2);
                    acc3 = Vector512.FusedMultiplyAdd(ad, Vector512.Load(column + 48), acc3);
                }
                acc0.Store(output + j); acc1.Store(output + j + 16); acc2.Store(output + j + 32); acc3.Store(output + j + 48);
            }
            for (; j < count; j += 16)
            {
                var acc = Vector512<float>.Zero;
                float* column = bT + j;
                for (int d = 0; d < headSize; d++) acc = Vector512.FusedMultiplyAdd(Vector512.Create(a[d]), Vector512.Load(column + (long)d * stride), acc);
                acc.Store(output + j);
            }
            return;
        }
        for (int j = 0; j < count; j++)
        {
            float s = 0f;
            for (int d = 0; d < headSize; d++) s += a[d] * bT[(long)d * stride + j];
            output[j] = s;
        }
    }

    /// <summary>scores[j] = exp(scores[j] - max) for j &lt; count; returns their sum (whole vectors first, then the tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static float ExpShifted(float* scores, int count, float max)
    {
        float sum = 0f;
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vmax = Vector512.Create(max);
            var acc = Vector512<float>.Zero;
            for (; j <= count - 16; j += 16)
            {
                var e = Vector512.Exp(Vector512.Load(scores + j) - vmax);
                e.Store(scores + j);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        for (; j < count; j++)
        {
            float e = MathF.Exp(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        return sum;
    }

    /// <summary>
    /// destination[d] = sum_t weights[t] rows[t * HS + d] for d &lt; HS: per block of 16 columns a chain over t, four
    /// blocks side by side (the same per-element sums as one at a time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void WeightedRowSum(float* weights, int count, float* rows, int headSize, float* destination)
    {
        int d = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; d <= headSize - 64; d += 64)
            {
                Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
                float* r = rows + d;
                for (int t = 0; t < count; t++, r += headSize)
                {
                    var w = Vector512.Create(weights[t]);
                    acc0 = Vector512.FusedMultiplyAdd(w, Vector512.Load(r), acc0);
                    acc1 = Vector512.FusedMultiplyAdd(w, Vector512.Load(r + 16), acc1);
                    acc2 = Vector512.FusedMultiplyAdd(w, Vector512.Load(r + 32), acc2);
                    acc3 = Vector512.FusedMultiplyAdd(w, Vector512.Load(r + 48), acc3);
                }
                acc0.Store(destination + d); acc1.Store(destination + d + 16); acc2.Store(destination + d + 32); acc3.Store(destination + d + 48);
            }
            for (; d <= headSize - 16; d += 16)
            {
                var acc = Vector512<float>.Zero;
                float* r = rows + d;
                for (int t = 0; t < count; t++, r += headSize)
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(weights[t]), Vector512.Load(r), acc);
                acc.Store(destination + d);
            }
        }
        for (; d < headSize; d++)
        {
            float s = 0f;
            for (int t = 0; t < count; t++) s += weights[t] * rows[t * headSize + d];
            destination[d] = s;
        }
    }
}
