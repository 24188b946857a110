// Fused scaled dot-product attention per (batch, head): scores, mask, softmax and the weighted sum in one pass,
// keeping the attention probabilities for backward. Glossary: BH = batch*heads, TQ/TK = query/key lengths, HS = head size.
// Queries may be a suffix of the keys (KV-cache decoding): query i sits at absolute position TK - TQ + i.
// Small heads (HS 16..64) make per-key dot products and axpys call-bound, so the keys (or values) of one head are
// transposed once into a (HS, TK) scratch and 16 scores come out of HS broadcast FMAs; weighted sums of rows (p v, dS k,
// W^T dout, dS^T q) accumulate 16 columns in a register. Scratch comes from ArrayPool once per thread and call.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Scaled dot-product attention kernels, parallel over (batch, head) pairs.</summary>
public static class AttentionKernel
{
    /// <summary>
    /// Where the rows of one operand live: element (bh, t, d), with bh = b * heads + h, is at
    /// b * BatchStride + h * HeadStride + t * RowStride + d (plus the operand's start).
    /// </summary>
    public readonly record struct HeadLayout(long BatchStride, long HeadStride, long RowStride)
    {
        /// <summary>Heads stored apart, (B, NH, T, HS) contiguous.</summary>
        public static HeadLayout Split(int heads, int time, int headSize) => new((long)heads * time * headSize, (long)time * headSize, headSize);

        /// <summary>Heads side by side in rows of <paramref name="rowWidth"/> floats, (B, T, rowWidth), e.g. GPT-2's packed qkv (B, T, 3C).</summary>
        public static HeadLayout Packed(int time, int headSize, int rowWidth) => new((long)time * rowWidth, headSize, rowWidth);

        internal long Start(int bh, int heads) => bh / heads * BatchStride + bh % heads * HeadStride;
    }

    /// <summary>
    /// out = softmax(q k^T * scale + mask) v. q: (BH, TQ, HS); k, v: (BH, TK, HS); out: (BH, TQ, HS);
    /// probabilities: (BH, TQ, TK), written for backward (masked entries 0). keyPadding: (B, TK) true where a key is
    /// padding, or empty; heads maps bh to its batch row. A query row with every key masked gets zeros.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        Span<float> probabilities, int batchHeads, int heads, int queryLength, int keyLength, int headSize, float scale,
        bool causal, ReadOnlySpan<bool> keyPadding)
    {
        CheckSizes(q.Length, k.Length, v.Length, output.Length, probabilities.Length, batchHeads, queryLength, keyLength, headSize);
        if (!keyPadding.IsEmpty && keyPadding.Length != batchHeads / heads * keyLength) throw new ArgumentException("key padding mask must be (B, TK)");
        HeadLayout queries = HeadLayout.Split(heads, queryLength, headSize), keys = HeadLayout.Split(heads, keyLength, headSize);
        ForwardCore(q, queries, k, v, keys, output, queries, probabilities, batchHeads, heads, queryLength, keyLength, headSize, scale, causal, keyPadding);
    }

    /// <summary>
    /// Causal or bidirectional self-attention straight from a packed projection: qkv (B, T, 3C) holding [q | k | v] per
    /// row, heads side by side (C = NH * HS); output (B, T, C) with heads merged; probabilities (B*NH, T, T). No head
    /// split or merge copies are needed.
    /// </summary>
    public static void ForwardPacked(ReadOnlySpan<float> qkv, Span<float> output, Span<float> probabilities, int batch, int heads, int time,
        int headSize, float scale, bool causal, ReadOnlySpan<bool> keyPadding)
    {
        int width = heads * headSize;
        if (qkv.Length != (long)batch * time * 3 * width || output.Length != (long)batch * time * width || probabilities.Length != (long)batch * heads * time * time)
            throw new ArgumentException("packed attention span lengths do not match (B, T, 3C), (B, T, C), (B*NH, T, T)");
        if (!keyPadding.IsEmpty && keyPadding.Length != batch * time) throw new ArgumentException("key padding mask must be (B, T)");
        HeadLayout input = HeadLayout.Packed(time, headSize, 3 * width), merged = HeadLayout.Packed(time, headSize, width);
        ForwardCore(qkv, input, qkv[width..], qkv[(2 * width)..], input, output, merged, probabilities, batch * heads, heads, time, time, headSize, scale, causal, keyPadding);
    }

    /// <summary>
    /// <see cref="Forward"/> with the keys and values read in place from a KV cache: q (BH, TQ, HS) contiguous; k, v
    /// (BH, capacity, HS) of which the first <paramref name="keyLength"/> positions are used; no mask but the causal one.
    /// </summary>
    public static void ForwardCached(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int capacity, Span<float> output,
        Span<float> probabilities, int batchHeads, int heads, int queryLength, int keyLength, int headSize, float scale, bool causal)
    {
        if (keyLength > capacity || k.Length != (long)batchHeads * capacity * headSize || v.Length != k.Length)
            throw new ArgumentException("cached keys and values must be (BH, capacity, HS) with keyLength <= capacity");
        CheckSizes(q.Length, batchHeads * keyLength * headSize, batchHeads * keyLength * headSize, output.Length, probabilities.Length,
            batchHeads, queryLength, keyLength, headSize);
        HeadLayout queries = HeadLayout.Split(heads, queryLength, headSize), cached = HeadLayout.Split(heads, capacity, headSize);
        ForwardCore(q, queries, k, v, cached, output, queries, probabilities, batchHeads, heads, queryLength, keyLength, headSize, scale, causal, []);
    }

    static unsafe void ForwardCore(ReadOnlySpan<float> q, HeadLayout qLayout, ReadOnlySpan<float> k, ReadOnlySpan<float> v, HeadLayout kvLayout,
        Span<float> output, HeadLayout oLayout, Span<float> probabilities, int batchHeads, int heads, int queryLength, int keyLength, int headSize,
        float scale, bool causal, ReadOnlySpan<bool> keyPadding)
    {
        if (batchHeads == 0 || queryLength == 0) return;
        fixed (float* pq = q, pk = k, pv = v, po = output, pp = probabilities)
        fixed (bool* pm = keyPadding)
        {
            float* qs = pq, ks = pk, vs = pv, os = po, ps = pp; bool* ms = pm; bool hasMask = !keyPadding.IsEmpty;
            int tq = queryLength, tk = keyLength, hs = headSize, stride = Padded(keyLength);
            long qRow = qLayout.RowStride, kvRow = kvLayout.RowStride, oRow = oLayout.RowStride;
            Parallelism.For(0, batchHeads, (start, end) =>
            {
                float[] scratch = ArrayPool<float>.Shared.Rent(hs * stride + stride);
                fixed (float* kT = scratch)
                {
                    float* scores = kT + hs * stride;
                    for (int bh = start; bh < end; bh++)
                    {
                        float* qh = qs + qLayout.Start(bh, heads), kh = ks + kvLayout.Start(bh, heads), vh = vs + kvLayout.Start(bh, heads);
                        float* oh = os + oLayout.Start(bh, heads), ph = ps + (long)bh * tq * tk;
                        bool* mask = hasMask ? ms + (long)(bh / heads) * tk : null;
                        Transpose(kh, kvRow, tk, hs, kT, stride);
                        for (int i = 0; i < tq; i++)
                        {
                            int visible = causal ? tk - tq + i + 1 : tk;
                            float* prow = ph + (long)i * tk, orow = oh + i * oRow;
                            RowTimesTransposed(qh + i * qRow, kT, hs, stride, visible, scores);
                            float max = float.NegativeInfinity;
                            for (int j = 0; j < visible; j++)
                            {
                                float s = (mask is not null && mask[j]) ? float.NegativeInfinity : scores[j] * scale;
                                scores[j] = s;
                                if (s > max) max = s;
                            }
                            new Span<float>(orow, hs).Clear();
                            new Span<float>(prow, tk).Clear();
                            if (float.IsNegativeInfinity(max)) continue;
                            float sum = ExpShifted(scores, visible, max);
                            float inv = 1f / sum;
                            for (int j = 0; j < visible; j++) prow[j] = scores[j] * inv;
                            WeightedRowSum(prow, 1, visible, vh, kvRow, orow, hs);          // o_i = sum_j p_ij v_j
                        }
                    }
                }
                ArrayPool<float>.Shared.Return(scratch);
            }, costPerItem: 4L * queryLength * keyLength * headSize);
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> given its probabilities P (after any dropout, i.e. the weights actually applied):
    /// dv += P^T dout; dP = dout v^T; dS = P (dP - rowsum(dP P)) (softmax backward; masked entries have P = 0);
    /// dq += dS k * scale; dk += dS^T q * scale. When dropout was applied, pass the kept-and-scaled weights as
    /// <paramref name="appliedWeights"/> and the pre-dropout probabilities as <paramref name="probabilities"/>.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights, ReadOnlySpan<float> dOutput,
        Span<float> dq, Span<float> dk, Span<float> dv, int batchHeads, int queryLength, int keyLength, int headSize, float scale)
    {
        CheckSizes(q.Length, k.Length, v.Length, dOutput.Length, probabilities.Length, batchHeads, queryLength, keyLength, headSize);
        if (dq.Length != q.Length || dk.Length != k.Length || dv.Length != v.Length) throw new ArgumentException("gradient sizes differ from inputs");
        if (!appliedWeights.IsEmpty && appliedWeights.Length != probabilities.Length) throw new ArgumentException("applied weights must match probabilities");
        // One "head" per bh: the contiguous layout needs no head count.
        HeadLayout queries = HeadLayout.Split(1, queryLength, headSize), keys = HeadLayout.Split(1, keyLength, headSize);
        BackwardCore(q, queries, k, v, keys, probabilities, appliedWeights, dOutput, queries, dq, dk, dv, batchHeads, 1, queryLength, keyLength, headSize, scale);
    }

    /// <summary>Backward of <see cref="ForwardPacked"/>: dqkv (B, T, 3C) += the gradients of q, k and v; dOutput (B, T, C).</summary>
    public static void BackwardPacked(ReadOnlySpan<float> qkv, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights,
        ReadOnlySpan<float> dOutput, Span<float> dqkv, int batch, int heads, int time, int headSize, float scale)
    {
        int width = heads * headSize;
        if (qkv.Length != (long)batch * time * 3 * width || dqkv.Length != qkv.Length || dOutput.Length != (long)batch * time * width
            || probabilities.Length != (long)batch * heads * time * time)
            throw new ArgumentException("packed attention span lengths do not match (B, T, 3C), (B, T, C), (B*NH, T, T)");
        if (!appliedWeights.IsEmpty && appliedWeights.Length != probabilities.Length) throw new ArgumentException("applied weights must match probabilities");
        HeadLayout input = HeadLayout.Packed(time, headSize, 3 * width), merged = HeadLayout.Packed(time, headSize, width);
        BackwardCore(qkv, input, qkv[width..], qkv[(2 * width)..], input, probabilities, appliedWeights, dOutput, merged,
            dqkv, dqkv[width..], dqkv[(2 * width)..], batch * heads, heads, time, time, headSize, scale);
    }

    // The gradients share the layout of their inputs: dq like q, dk and dv like k and v.
    static unsafe void BackwardCore(ReadOnlySpan<float> q, HeadLayout qLayout, ReadOnlySpan<float> k, ReadOnlySpan<float> v, HeadLayout kvLayout,
        ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights, ReadOnlySpan<float> dOutput, HeadLayout oLayout,
        Span<float> dq, Span<float> dk, Span<float> dv, int batchHeads, int heads, int queryLength, int keyLength, int headSize, float scale)
    {
        if (batchHeads == 0 || queryLength == 0) return;
        fixed (float* pq = q, pk = k, pv = v, pp = probabilities, pa = appliedWeights, pdo = dOutput, pdq = dq, pdk = dk, pdv = dv)
        {
            float* qs = pq, ks = pk, vs = pv, ps = pp, wsAll = pa == null ? pp : pa, dos = pdo, dqs = pdq, dks = pdk, dvs = pdv;
            bool dropout = pa != null && !appliedWeights.IsEmpty;
            int tq = queryLength, tk = keyLength, hs = headSize, stride = Padded(keyLength);
            long qRow = qLayout.RowStride, kvRow = kvLayout.RowStride, oRow = oLayout.RowStride;
            Parallelism.For(0, batchHeads, (start, end) =>
            {
                // vT (HS, stride), then dS (TQ, stride): the softmax-input gradients of one head, kept for the key pass.
                float[] scratch = ArrayPool<float>.Shared.Rent(hs * stride + tq * stride);
                fixed (float* vT = scratch)
                {
                    float* dS = vT + hs * stride;
                    for (int bh = start; bh < end; bh++)
                    {
                        long qo = qLayout.Start(bh, heads), ko = kvLayout.Start(bh, heads), oo = oLayout.Start(bh, heads), po = (long)bh * tq * tk;
                        Transpose(vs + ko, kvRow, tk, hs, vT, stride);
                        // Query pass: dW_ij = dout_i . v_j (16 keys per HS broadcast FMAs), dS_ij = P_ij (dP_ij - sum_j dP_ij P_ij) * scale,
                        // dq_i += sum_j dS_ij k_j. Keys past the last nonzero weight (the causal cut) contribute nothing.
                        for (int i = 0; i < tq; i++)
                        {
                            float* doi = dos + oo + i * oRow, prow = ps + po + (long)i * tk, wrow = wsAll + po + (long)i * tk, ds = dS + (long)i * stride;
                            int limit = tk;
                            while (limit > 0 && prow[limit - 1] == 0f) limit--;
                            new Span<float>(ds, stride).Clear();
                            if (limit == 0) continue;
                            RowTimesTransposed(doi, vT, hs, stride, limit, ds);
                            float dot = 0f;
                            for (int j = 0; j < limit; j++)
                            {
                                float p = prow[j];
                                // Through dropout: W = P * keep / (1 - p), so dP = dW * (W / P).
                                float dp = p == 0f ? 0f : dropout ? ds[j] * (wrow[j] / p) : ds[j];
                                ds[j] = dp;
                                dot += dp * p;
                            }
                            for (int j = 0; j < limit; j++) ds[j] = prow[j] * (ds[j] - dot) * scale;
                            WeightedRowSum(ds, 1, limit, ks + ko, kvRow, dqs + qo + i * qRow, hs, accumulate: true);
                        }
                        // Key pass: dv_j += sum_i W_ij dout_i and dk_j += sum_i dS_ij q_i over the queries that see key j.
                        for (int j = 0; j < tk; j++)
                        {
                            int first = 0;
                            while (first < tq && At(ps + po, tk, first, j) == 0f) first++;
                            if (first == tq) continue;
                            int count = tq - first;
                            WeightedRowSum(wsAll + po + (long)first * tk + j, tk, count, dos + oo + first * oRow, oRow, dvs + ko + j * kvRow, hs, accumulate: true);
                            WeightedRowSum(dS + (long)first * stride + j, stride, count, qs + qo + first * qRow, qRow, dks + ko + j * kvRow, hs, accumulate: true);
                        }
                    }
                }
                ArrayPool<float>.Shared.Return(scratch);
            }, costPerItem: 8L * queryLength * keyLength * headSize);
        }
    }

    /// <summary>Row stride of the transposed scratch: TK rounded up to a whole vector of 16.</summary>
    static int Padded(int keyLength) => (keyLength + 15) & ~15;

    /// <summary>xT (HS, stride) = x (T, HS; rows rowStride apart) transposed; the padding columns are zeroed so whole vectors can be read.</summary>
    static unsafe void Transpose(float* x, long rowStride, int time, int headSize, float* xT, int stride)
    {
        for (int d = 0; d < headSize; d++)
        {
            float* row = xT + (long)d * stride;
            for (int t = 0; t < time; t++) row[t] = x[t * rowStride + d];
            for (int t = time; t < stride; t++) row[t] = 0f;
        }
    }

    /// <summary>out[j] = sum_d a[d] bT[d, j] for j &lt; count (rounded up to 16; bT has that many columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe void RowTimesTransposed(float* a, float* bT, int headSize, int stride, int count, float* output)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            for (int j = 0; j < count; j += 16)
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

    /// <summary>scores[j] = exp(scores[j] - max) for j &lt; count (exp(-inf) = 0); returns their sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe float ExpShifted(float* scores, int count, float max)
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

    /// <summary>P[i, j] read from a row-major (rows, cols) block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe float At(float* p, int cols, int i, int j) => p[(long)i * cols + j];

    /// <summary>
    /// destination[d] (+)= sum_t weights[t * weightStride] rows[t * rowStride + d] for d &lt; HS: a weighted sum of
    /// <paramref name="count"/> rows, accumulated 16 columns at a time in a register (one load and one FMA per term).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WeightedRowSum(float* weights, long weightStride, int count, float* rows, long rowStride, float* destination, int headSize,
        bool accumulate = false)
    {
        int d = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; d <= headSize - 16; d += 16)
            {
                var acc = accumulate ? Vector512.Load(destination + d) : Vector512<float>.Zero;
                float* w = weights, r = rows + d;
                for (int t = 0; t < count; t++, w += weightStride, r += rowStride)
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(*w), Vector512.Load(r), acc);
                acc.Store(destination + d);
            }
        }
        for (; d < headSize; d++)
        {
            float s = accumulate ? destination[d] : 0f;
            for (int t = 0; t < count; t++) s += weights[t * weightStride] * rows[t * rowStride + d];
            destination[d] = s;
        }
    }

    static void CheckSizes(int q, int k, int v, int o, int p, int bh, int tq, int tk, int hs)
    {
        if (tq > tk) throw new ArgumentException($"query length {tq} exceeds key length {tk}");
        if (q != bh * tq * hs || o != q || k != bh * tk * hs || v != k || p != bh * tq * tk)
            throw new ArgumentException("attention span lengths do not match (BH, TQ, TK, HS)");
    }
}
