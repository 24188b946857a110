// Backward of the fused attention kernel per (batch, head), register-blocked like the forward (AttentionTiles.cs).
// Glossary: TQ/TK = query/key lengths, HS = head size, W = the weights applied in forward (P, or P after dropout).
// Query pass, 8 rows at a time: dW = dout v^T, dS = (W dW - P rowsum(W dW)) * scale (softmax backward; through dropout
// W = P keep / (1 - p), so P dP = W dW), dq += dS k. Key pass, 8 keys at a time: dv += W^T dout, dk += dS^T q.
// Only keys up to a row's last nonzero probability are touched: the causal half is skipped by block.
using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

static unsafe class AttentionBackward
{
    // The gradients share the layout of their inputs: dq like q, dk and dv like k and v.
    public static void Run(Parallelism threads, ReadOnlySpan<float> q, AttentionKernel.HeadLayout qLayout, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        AttentionKernel.HeadLayout kvLayout, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights, ReadOnlySpan<float> dOutput,
        AttentionKernel.HeadLayout oLayout, Span<float> dq, Span<float> dk, Span<float> dv, int batchHeads, int heads, int queryLength, int keyLength,
        int headSize, float scale)
    {
        if (batchHeads == 0 || queryLength == 0) return;
        fixed (float* pq = q, pk = k, pv = v, pp = probabilities, pa = appliedWeights, pdo = dOutput, pdq = dq, pdk = dk, pdv = dv)
        {
            float* weights = appliedWeights.IsEmpty ? null : pa;
            long cost = 8L * queryLength * keyLength * headSize;
            // The width the forward used on this machine (AttentionKernel.ForwardCore).
            switch (VectorIsa.Path)
            {
                case VectorPath.Avx512:
                    threads.For(0, batchHeads, new Job<Lanes512, Vector512<float>>(pq, qLayout, pk, pv, kvLayout, pp, weights, pdo, oLayout, pdq, pdk, pdv,
                        heads, queryLength, keyLength, headSize, scale).Run, costPerItem: cost);
                    break;
                case VectorPath.Avx2:
                    threads.For(0, batchHeads, new Job<Lanes256, Vector256<float>>(pq, qLayout, pk, pv, kvLayout, pp, weights, pdo, oLayout, pdq, pdk, pdv,
                        heads, queryLength, keyLength, headSize, scale).Run, costPerItem: cost);
                    break;
                default:
                    threads.For(0, batchHeads, new Job<Lanes128, Vector128<float>>(pq, qLayout, pk, pv, kvLayout, pp, weights, pdo, oLayout, pdq, pdk, pdv,
                        heads, queryLength, keyLength, headSize, scale).Run, costPerItem: cost);
                    break;
            }
        }
    }

    /// <summary>One backward call: pinned operands and shapes, and the loop over a range of (batch, head) pairs.</summary>
    sealed class Job<L, V>(float* q, AttentionKernel.HeadLayout qLayout, float* k, float* v, AttentionKernel.HeadLayout kvLayout, float* p, float* applied,
        float* dOut, AttentionKernel.HeadLayout oLayout, float* dq, float* dk, float* dv, int heads, int tq, int tk, int hs, float scale)
        where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        // Rows of probabilities and dS are padded to whole 16-key tiles; head rows to whole vectors (HS 16, 32, 64 need no copies).
        readonly int stride = (tk + 15) & ~15, width = (hs + 15) & ~15, blockRows = (tq + 7) & ~7;
        bool PadKeys => stride != tk;
        bool PadColumns => width != hs;

        public void Run(int start, int end)
        {
            // vT (HS, stride), dS (TQ rounded to 8, stride), row limits and first queries of key blocks; copies of P and W
            // when TK is not a multiple of 16; of k, q, dout and a gradient block when HS is not.
            int vTSize = hs * stride, dSSize = blockRows * stride, limitsSize = tq + (tk + AttentionTiles.Rows - 1) / AttentionTiles.Rows;
            int keySize = PadKeys ? (applied is null ? 1 : 2) * tq * stride : 0;
            int columnSize = PadColumns ? (tk + 2 * tq + AttentionTiles.Rows) * width : 0;
            float[] scratch = ArrayPool<float>.Shared.Rent(vTSize + dSSize + limitsSize + keySize + columnSize + 32);
            fixed (float* raw = scratch)
            {
                float* vT = AttentionKernel.Aligned(raw), dS = vT + vTSize;
                int* limits = (int*)(dS + dSSize);
                float* keyCopies = AttentionKernel.Aligned(dS + dSSize + limitsSize), columnCopies = keyCopies + keySize;
                for (int bh = start; bh < end; bh++) Head(bh, vT, dS, limits, keyCopies, columnCopies);
            }
            ArrayPool<float>.Shared.Return(scratch);
        }

        void Head(int bh, float* vT, float* dS, int* limits, float* keyCopies, float* columnCopies)
        {
            long qo = qLayout.Start(bh, heads), ko = kvLayout.Start(bh, heads), oo = oLayout.Start(bh, heads), po = (long)bh * tq * tk;
            long qRow = qLayout.RowStride, kvRow = kvLayout.RowStride, oRow = oLayout.RowStride;
            AttentionTiles.Transpose(v + ko, kvRow, tk, hs, vT, stride);
            // P and W with rows of whole tiles (zero-padded copies when TK is not a multiple of 16).
            float* probs = p + po, weights = applied is null ? probs : applied + po;
            long pRow = tk;
            if (PadKeys)
            {
                AttentionTiles.CopyPadded(probs, tk, tq, tk, keyCopies, stride);
                if (applied is not null) AttentionTiles.CopyPadded(weights, tk, tq, tk, keyCopies + tq * stride, stride);
                probs = keyCopies; weights = applied is null ? keyCopies : keyCopies + tq * stride; pRow = stride;
            }
            // k, q and dout with rows of whole vectors (the row sums read 16 columns at a time).
            float* keys = k + ko, queries = q + qo, dOutRows = dOut + oo, gradient = columnCopies;
            long keyRow = kvRow, queryRow = qRow, dOutRow = oRow;
            if (PadColumns)
            {
                keys = columnCopies; queries = keys + tk * width; dOutRows = queries + tq * width; gradient = dOutRows + tq * width;
                AttentionTiles.CopyPadded(k + ko, kvRow, tk, hs, keys, width);
                AttentionTiles.CopyPadded(q + qo, qRow, tq, hs, queries, width);
                AttentionTiles.CopyPadded(dOut + oo, oRow, tq, hs, dOutRows, width);
                keyRow = queryRow = dOutRow = width;
            }
            // Row i has nonzero probabilities only below rowLimits[i]; key block kb (keys 8 kb..) is first seen by query firstRows[kb].
            int* rowLimits = limits, firstRows = limits + tq;
            int keyBlocks = (tk + AttentionTiles.Rows - 1) / AttentionTiles.Rows, covered = 0;
            for (int i = 0; i < tq; i++)
            {
                int limit = rowLimits[i] = RowLimit<L, V>(probs + i * pRow, stride);
                for (int needed = (limit + AttentionTiles.Rows - 1) / AttentionTiles.Rows; covered < needed; covered++) firstRows[covered] = i;
            }
            for (; covered < keyBlocks; covered++) firstRows[covered] = tq;

            int vectors = width >> 4;
            for (int i0 = 0; i0 < tq; i0 += AttentionTiles.Rows)
            {
                int rows = Math.Min(AttentionTiles.Rows, tq - i0), limit = 0;
                for (int r = 0; r < rows; r++) limit = Math.Max(limit, rowLimits[i0 + r]);
                int tiles = (limit + 15) >> 4;
                float* block = dS + i0 * stride;
                if (tiles > 0)
                {
                    L.Scores(dOut + oo + i0 * oRow, oRow, rows, vT, stride, hs, tiles, block, stride);   // dW
                    SoftmaxGradientBlock<L, V>(block, stride, weights + i0 * pRow, probs + i0 * pRow, pRow, rows, tiles, scale);
                    AddRowSums(block, stride, 1, rows, keys, keyRow, limit, vectors, dq + qo + i0 * qRow, qRow, gradient);
                }
                // The key pass reads dS down columns: tiles past the block's must read as zero.
                for (int r = 0; r < rows; r++)
                    for (int t = 16 * tiles; t < stride; t += L.Count) L.Store(L.Zero, block + r * stride + t);
            }
            for (int j0 = 0; j0 < tk; j0 += AttentionTiles.Rows)
            {
                int count = Math.Min(AttentionTiles.Rows, tk - j0), first = firstRows[j0 / AttentionTiles.Rows];
                if (first == tq) continue;                                    // queries before first have P = 0 on these keys
                AddRowSums(weights + first * pRow + j0, 1, pRow, count, dOutRows + first * dOutRow, dOutRow, tq - first, vectors, dv + ko + j0 * kvRow, kvRow, gradient);
                AddRowSums(dS + first * stride + j0, 1, stride, count, queries + first * queryRow, queryRow, tq - first, vectors, dk + ko + j0 * kvRow, kvRow, gradient);
            }
        }

        /// <summary>destination rows (HS wide, dStride apart) += the row sums; through a zeroed padded block when HS is not a multiple of 16.</summary>
        void AddRowSums(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int vectors, float* destination, long dStride, float* gradient)
        {
            if (!PadColumns)
            {
                L.RowSums(w, wRow, wStep, rows, b, bStride, count, vectors, destination, dStride, accumulate: true);
                return;
            }
            L.RowSums(w, wRow, wStep, rows, b, bStride, count, vectors, gradient, width, accumulate: false);
            for (int r = 0; r < rows; r++)
            {
                float* g = gradient + r * width, d = destination + r * dStride;
                for (int c = 0; c < hs; c++) d[c] += g[c];
            }
        }
    }

    /// <summary>
    /// ds (rows x 16 * tiles, stride apart) holds dW = dout_i . v_j and becomes dS = (W dW - P sum_j W dW) * scale; w and
    /// p rows are pRow apart. Where P = 0, so is W and dS is exactly 0. The rows' horizontal sums run in a loop of
    /// their own, so they overlap.
    /// </summary>
    [SkipLocalsInit]
    static void SoftmaxGradientBlock<L, V>(float* ds, int stride, float* w, float* p, long pRow, int rows, int tiles, float scale)
        where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        var dots = stackalloc V[AttentionTiles.Rows];
        var vscale = L.Create(scale);
        int n = L.Count;
        for (int r = 0; r < rows; r++)
        {
            float* d = ds + r * stride, wr = w + r * pRow;
            var sum = L.Zero;
            for (int t = 0; t < 16 * tiles; t += n)
            {
                var y = L.Multiply(L.Multiply(L.Load(wr + t), L.Load(d + t)), vscale);
                L.Store(y, d + t);
                sum = L.Add(sum, y);
            }
            dots[r] = sum;
        }
        for (int r = 0; r < rows; r++) dots[r] = L.SumAcross(dots[r]);
        for (int r = 0; r < rows; r++)
        {
            float* d = ds + r * stride, pr = p + r * pRow;
            var dot = dots[r];
            for (int t = 0; t < 16 * tiles; t += n)
                L.Store(L.MultiplyAdd(L.Negate(L.Load(pr + t)), dot, L.Load(d + t)), d + t);
        }
    }

    /// <summary>One past the last nonzero probability of a row of <paramref name="length"/> floats, a multiple of 16 (0 for a fully masked row).</summary>
    static int RowLimit<L, V>(float* p, int length) where L : struct, IAttentionLanes<V> where V : unmanaged
    {
        // Every vector is checked (no early exit): the trip count is the same for every row, so the branch predicts.
        int limit = 0;
        for (int t = 0; t < length; t += L.Count)
        {
            uint nonzero = L.NonzeroLanes(L.Load(p + t));
            limit = nonzero != 0 ? t + 32 - BitOperations.LeadingZeroCount(nonzero) : limit;
        }
        return limit;
    }
}
