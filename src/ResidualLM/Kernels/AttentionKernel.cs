// Fused scaled dot-product attention per (batch, head): scores, mask, softmax and the weighted sum in one pass,
// keeping the attention probabilities for backward (AttentionBackward.cs). Glossary: BH = batch*heads, TQ/TK =
// query/key lengths, HS = head size. Queries may be a suffix of the keys (KV-cache decoding): query i sits at absolute
// position TK - TQ + i. Eight query rows at a time: their scores against 16-key tiles come from register-blocked
// products with the keys transposed once per head (AttentionTiles.cs), softmax runs over whole 16-key vectors, and
// causal key tiles past a block's last row are never computed. Scratch comes from ArrayPool once per thread and call.
// Written once over the vector width (AttentionLanes.cs): 512-bit with AVX-512, 256-bit with AVX2, 128-bit otherwise.
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
    public static void Forward(Parallelism threads, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        Span<float> probabilities, int batchHeads, int heads, int queryLength, int keyLength, int headSize, float scale,
        bool causal, ReadOnlySpan<bool> keyPadding)
    {
        CheckSizes(q.Length, k.Length, v.Length, output.Length, probabilities.Length, batchHeads, queryLength, keyLength, headSize);
        if (!keyPadding.IsEmpty && keyPadding.Length != batchHeads / heads * keyLength) throw new ArgumentException("key padding mask must be (B, TK)");
        HeadLayout queries = HeadLayout.Split(heads, queryLength, headSize), keys = HeadLayout.Split(heads, keyLength, headSize);
        ForwardCore(threads, q, queries, k, v, keys, output, queries, probabilities, batchHeads, heads, queryLength, keyLength, headSize, scale, causal, keyPadding);
    }

    /// <summary>
    /// Causal or bidirectional self-attention straight from a packed projection: qkv (B, T, 3C) holding [q | k | v] per
    /// row, heads side by side (C = NH * HS); output (B, T, C) with heads merged; probabilities (B*NH, T, T). No head
    /// split or merge copies are needed.
    /// </summary>
    public static void ForwardPacked(Parallelism threads, ReadOnlySpan<float> qkv, Span<float> output, Span<float> probabilities, int batch, int heads, int time,
        int headSize, float scale, bool causal, ReadOnlySpan<bool> keyPadding)
    {
        int width = heads * headSize;
        if (qkv.Length != (long)batch * time * 3 * width || output.Length != (long)batch * time * width || probabilities.Length != (long)batch * heads * time * time)
            throw new ArgumentException("packed attention span lengths do not match (B, T, 3C), (B, T, C), (B*NH, T, T)");
        if (!keyPadding.IsEmpty && keyPadding.Length != batch * time) throw new ArgumentException("key padding mask must be (B, T)");
        HeadLayout input = HeadLayout.Packed(time, headSize, 3 * width), merged = HeadLayout.Packed(time, headSize, width);
        ForwardCore(threads, qkv, input, qkv[width..], qkv[(2 * width)..], input, output, merged, probabilities, batch * heads, heads, time, time, headSize, scale, causal, keyPadding);
    }

    /// <summary>
    /// <see cref="Forward"/> for the last TQ of <paramref name="keyLength"/> positions, the keys and values read in place
    /// from a KV cache, k, v (BH, capacity, HS), and the queries from a packed projection: qkv (B, TQ, 3C) whose first C
    /// floats per row are q (heads side by side; the k and v parts are already in the cache). Output (B, TQ, C) with heads
    /// merged; probabilities (B*NH, TQ, keyLength) at least. Causal; no head split or merge copies.
    /// </summary>
    public static void ForwardCachedPacked(Parallelism threads, ReadOnlySpan<float> qkv, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int capacity,
        Span<float> output, Span<float> probabilities, int batch, int heads, int queryLength, int keyLength, int headSize, float scale)
    {
        int width = heads * headSize, batchHeads = batch * heads;
        if (keyLength > capacity || queryLength > keyLength || k.Length != (long)batchHeads * capacity * headSize || v.Length != k.Length)
            throw new ArgumentException("cached keys and values must be (BH, capacity, HS) with queryLength <= keyLength <= capacity");
        if (qkv.Length != (long)batch * queryLength * 3 * width || output.Length != (long)batch * queryLength * width || probabilities.Length < (long)batchHeads * queryLength * keyLength)
            throw new ArgumentException("packed cached attention span lengths do not match (B, TQ, 3C), (B, TQ, C), (B*NH, TQ, TK)");
        HeadLayout queries = HeadLayout.Packed(queryLength, headSize, 3 * width), merged = HeadLayout.Packed(queryLength, headSize, width);
        ForwardCore(threads, qkv, queries, k, v, HeadLayout.Split(heads, capacity, headSize), output, merged, probabilities[..(batchHeads * queryLength * keyLength)],
            batchHeads, heads, queryLength, keyLength, headSize, scale, causal: true, []);
    }

    static void ForwardCore(Parallelism threads, ReadOnlySpan<float> q, HeadLayout qLayout, ReadOnlySpan<float> k, ReadOnlySpan<float> v, HeadLayout kvLayout,
        Span<float> output, HeadLayout oLayout, Span<float> probabilities, int batchHeads, int heads, int queryLength, int keyLength, int headSize,
        float scale, bool causal, ReadOnlySpan<bool> keyPadding)
    {
        if (batchHeads == 0 || queryLength == 0) return;
        // One width per machine, whichever entry point (decoding included): the same arithmetic everywhere.
        switch (VectorIsa.Path)
        {
            case VectorPath.Avx512:
                ForwardHeads<Lanes512, Vector512<float>>(threads, q, qLayout, k, v, kvLayout, output, oLayout, probabilities, batchHeads, heads, queryLength, keyLength, headSize, scale, causal, keyPadding);
                break;
            case VectorPath.Avx2:
                ForwardHeads<Lanes256, Vector256<float>>(threads, q, qLayout, k, v, kvLayout, output, oLayout, probabilities, batchHeads, heads, queryLength, keyLength, headSize, scale, causal, keyPadding);
                break;
            default:        // 128-bit; on the scalar path its vectors run in software
                ForwardHeads<Lanes128, Vector128<float>>(threads, q, qLayout, k, v, kvLayout, output, oLayout, probabilities, batchHeads, heads, queryLength, keyLength, headSize, scale, causal, keyPadding);
                break;
        }
    }

    static unsafe void ForwardHeads<L, V>(Parallelism threads, ReadOnlySpan<float> q, HeadLayout qLayout, ReadOnlySpan<float> k, ReadOnlySpan<float> v, HeadLayout kvLayout,
        Span<float> output, HeadLayout oLayout, Span<float> probabilities, int batchHeads, int heads, int queryLength, int keyLength, int headSize,
        float scale, bool causal, ReadOnlySpan<bool> keyPadding)
        where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        fixed (float* pq = q, pk = k, pv = v, po = output, pp = probabilities)
        fixed (bool* pm = keyPadding)
        {
            float* qs = pq, ks = pk, vs = pv, os = po, ps = pp; bool* ms = pm; bool hasMask = !keyPadding.IsEmpty;
            int tq = queryLength, tk = keyLength, hs = headSize, stride = Padded(keyLength), width = Padded(headSize);
            bool padColumns = hs != width;
            long qRow = qLayout.RowStride, kvRow = kvLayout.RowStride, oRow = oLayout.RowStride;
            threads.For(0, batchHeads, (start, end) =>
            {
                // kT (HS, stride), scores (8, stride), key mask (stride); with HS not a multiple of 16, v (TK, width) and out (8, width) padded.
                int kTSize = hs * stride, scoreSize = AttentionTiles.Rows * stride;
                int padSize = padColumns ? tk * width + AttentionTiles.Rows * width : 0;
                float[] scratch = ArrayPool<float>.Shared.Rent(kTSize + scoreSize + stride + padSize + 16);
                fixed (float* raw = scratch)
                {
                    float* kT = Aligned(raw), scores = kT + kTSize, keep = scores + scoreSize, vPadded = keep + stride, oPadded = vPadded + tk * width;
                    new Span<float>(scores, scoreSize).Clear();
                    for (int bh = start; bh < end; bh++)
                    {
                        float* qh = qs + qLayout.Start(bh, heads), kh = ks + kvLayout.Start(bh, heads), vh = vs + kvLayout.Start(bh, heads);
                        float* oh = os + oLayout.Start(bh, heads), ph = ps + (long)bh * tq * tk;
                        AttentionTiles.Transpose(kh, kvRow, tk, hs, kT, stride);
                        float* values = vh; long valueRow = kvRow;
                        if (padColumns) { AttentionTiles.CopyPadded(vh, kvRow, tk, hs, vPadded, width); values = vPadded; valueRow = width; }
                        if (hasMask) KeepMask(ms + (long)(bh / heads) * tk, tk, stride, (uint*)keep);
                        for (int i0 = 0; i0 < tq; i0 += AttentionTiles.Rows)
                        {
                            int rows = Math.Min(AttentionTiles.Rows, tq - i0);
                            // Causal: the block's last row sees the most keys; key tiles past it are never computed.
                            int seen = causal ? tk - tq + i0 + rows : tk, tiles = (seen + 15) >> 4;
                            L.Scores(qh + i0 * qRow, qRow, rows, kT, stride, hs, tiles, scores, stride);
                            SoftmaxBlock<L, V>(scores, stride, rows, causal ? tk - tq + i0 + 1 : tk, causal, tiles, scale, hasMask ? keep : null, ph + (long)i0 * tk, tk);
                            // o = p v over the keys the block sees (later keys have p = 0 in the rows that do not see them).
                            float* o = padColumns ? oPadded : oh + i0 * oRow;
                            L.RowSums(scores, stride, 1, rows, values, valueRow, seen, width >> 4, o, padColumns ? width : oRow, accumulate: false);
                            if (padColumns)
                                for (int r = 0; r < rows; r++) new Span<float>(oPadded + r * width, hs).CopyTo(new Span<float>(oh + (i0 + r) * oRow, hs));
                        }
                    }
                }
                ArrayPool<float>.Shared.Return(scratch);
            }, costPerItem: 4L * queryLength * keyLength * headSize);
        }
    }

    /// <summary>
    /// Softmax of a block of rows: s (rows x 16 * tiles raw scores, stride apart) becomes the probabilities, also written
    /// to p (rows x TK). Row r sees keys below visible + r (causal) or visible; keys whose keep bits are 0 are masked too.
    /// Every row runs over all the block's tiles (masked lanes give exactly 0). The horizontal max and sum of each row
    /// wait in separate loops over the rows, so the eight reductions overlap instead of stalling each row's pass.
    /// A row with every key masked gets zeros.
    /// </summary>
    [SkipLocalsInit]
    static unsafe void SoftmaxBlock<L, V>(float* s, int stride, int rows, int visible, bool causal, int tiles, float scale, float* keep, float* p, int tk)
        where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        var partial = stackalloc V[AttentionTiles.Rows];     // per row: lane-wise max, then lane-wise sum
        int w = L.Count, vectors = 16 * tiles / w;
        V vscale = L.Create(scale), minusInf = L.Create(float.NegativeInfinity), lanes = L.Create(w);
        for (int r = 0; r < rows; r++)
        {
            float* row = s + r * stride;
            var limit = L.Subtract(L.Create((float)(causal ? visible + r : visible)), L.Indices);   // lane seen while limit > 0
            var max = minusInf;
            for (int t = 0; t < vectors; t++, row += w, limit = L.Subtract(limit, lanes))
            {
                var x = L.Select(L.GreaterThan(limit, L.Zero), L.Multiply(L.Load(row), vscale), minusInf);
                if (keep is not null) x = L.Select(L.Load(keep + w * t), x, minusInf);
                L.Store(x, row);
                max = L.Max(max, x);
            }
            partial[r] = max;
        }
        for (int r = 0; r < rows; r++)
        {
            // A fully masked row shifts by 0: exp(-inf) = 0 everywhere, and the zero sum below gives zeros.
            var max = L.MaxAcross(partial[r]);
            partial[r] = L.Select(L.Equals(max, minusInf), L.Zero, max);
        }
        for (int r = 0; r < rows; r++)
        {
            float* row = s + r * stride;
            var shift = partial[r];
            var sum = L.Zero;
            int t = 0;
            for (; t + 2 <= vectors; t += 2, row += 2 * w)
            {
                V e = L.Subtract(L.Load(row), shift), f = L.Subtract(L.Load(row + w), shift);
                L.Exp2(ref e, ref f);
                L.Store(e, row);
                L.Store(f, row + w);
                sum = L.Add(sum, L.Add(e, f));
            }
            if (t < vectors)
            {
                var e = L.Exp(L.Subtract(L.Load(row), shift));
                L.Store(e, row);
                sum = L.Add(sum, e);
            }
            partial[r] = sum;
        }
        for (int r = 0; r < rows; r++)
        {
            // The sum is at least 1 (the max term) unless every key is masked; NaN scores stay NaN.
            var sum = L.SumAcross(partial[r]);
            partial[r] = L.Select(L.Equals(sum, L.Zero), L.Zero, L.Divide(L.One, sum));
        }
        int full = Math.Min(vectors, tk / w);
        for (int r = 0; r < rows; r++)
        {
            float* row = s + r * stride, prow = p + (long)r * tk;
            var inverse = partial[r];
            for (int t = 0; t < vectors; t++)
            {
                var y = L.Multiply(L.Load(row + w * t), inverse);
                L.Store(y, row + w * t);
                if (t < full) L.Store(y, prow + w * t);
                else for (int j = w * t; j < tk; j++) prow[j] = row[j];       // the last, partial vector of a row
            }
            // Keys past the block's tiles: probability 0.
            int j0 = 16 * tiles;
            for (; j0 + w <= tk; j0 += w) L.Store(L.Zero, prow + j0);
            for (; j0 < tk; j0++) prow[j0] = 0f;
        }
    }

    /// <summary>keep[j] = all ones where key j is real and not padding, zero where padded or past TK (stride entries).</summary>
    static unsafe void KeepMask(bool* padding, int tk, int stride, uint* keep)
    {
        for (int j = 0; j < tk; j++) keep[j] = padding[j] ? 0u : uint.MaxValue;
        for (int j = tk; j < stride; j++) keep[j] = 0u;
    }

    /// <summary>The first 64-byte boundary at or after <paramref name="p"/> (scratch is rented 16 floats longer).</summary>
    internal static unsafe float* Aligned(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>
    /// Backward of <see cref="Forward"/> given its probabilities P (after any dropout, i.e. the weights actually applied):
    /// dv += P^T dout; dP = dout v^T; dS = P (dP - rowsum(dP P)) (softmax backward; masked entries have P = 0);
    /// dq += dS k * scale; dk += dS^T q * scale. When dropout was applied, pass the kept-and-scaled weights as
    /// <paramref name="appliedWeights"/> and the pre-dropout probabilities as <paramref name="probabilities"/>.
    /// </summary>
    public static void Backward(Parallelism threads, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights, ReadOnlySpan<float> dOutput,
        Span<float> dq, Span<float> dk, Span<float> dv, int batchHeads, int queryLength, int keyLength, int headSize, float scale)
    {
        CheckSizes(q.Length, k.Length, v.Length, dOutput.Length, probabilities.Length, batchHeads, queryLength, keyLength, headSize);
        if (dq.Length != q.Length || dk.Length != k.Length || dv.Length != v.Length) throw new ArgumentException("gradient sizes differ from inputs");
        if (!appliedWeights.IsEmpty && appliedWeights.Length != probabilities.Length) throw new ArgumentException("applied weights must match probabilities");
        // One "head" per bh: the contiguous layout needs no head count.
        HeadLayout queries = HeadLayout.Split(1, queryLength, headSize), keys = HeadLayout.Split(1, keyLength, headSize);
        AttentionBackward.Run(threads, q, queries, k, v, keys, probabilities, appliedWeights, dOutput, queries, dq, dk, dv, batchHeads, 1, queryLength, keyLength, headSize, scale);
    }

    /// <summary>Backward of <see cref="ForwardPacked"/>: dqkv (B, T, 3C) += the gradients of q, k and v; dOutput (B, T, C).</summary>
    public static void BackwardPacked(Parallelism threads, ReadOnlySpan<float> qkv, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights,
        ReadOnlySpan<float> dOutput, Span<float> dqkv, int batch, int heads, int time, int headSize, float scale)
    {
        int width = heads * headSize;
        if (qkv.Length != (long)batch * time * 3 * width || dqkv.Length != qkv.Length || dOutput.Length != (long)batch * time * width
            || probabilities.Length != (long)batch * heads * time * time)
            throw new ArgumentException("packed attention span lengths do not match (B, T, 3C), (B, T, C), (B*NH, T, T)");
        if (!appliedWeights.IsEmpty && appliedWeights.Length != probabilities.Length) throw new ArgumentException("applied weights must match probabilities");
        HeadLayout input = HeadLayout.Packed(time, headSize, 3 * width), merged = HeadLayout.Packed(time, headSize, width);
        AttentionBackward.Run(threads, qkv, input, qkv[width..], qkv[(2 * width)..], input, probabilities, appliedWeights, dOutput, merged,
            dqkv, dqkv[width..], dqkv[(2 * width)..], batch * heads, heads, time, time, headSize, scale);
    }

    /// <summary>TK (or HS) rounded up to a whole vector of 16: the row stride of transposed and padded scratch.</summary>
    static int Padded(int length) => (length + 15) & ~15;

    static void CheckSizes(int q, int k, int v, int o, int p, int bh, int tq, int tk, int hs)
    {
        if (tq > tk) throw new ArgumentException($"query length {tq} exceeds key length {tk}");
        if (q != bh * tq * hs || o != q || k != bh * tk * hs || v != k || p != bh * tq * tk)
            throw new ArgumentException("attention span lengths do not match (BH, TQ, TK, HS)");
    }
}
