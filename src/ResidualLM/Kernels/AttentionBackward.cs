// Backward of the fused attention kernel per (batch, head), register-blocked like the forward (AttentionTiles.cs).
// Glossary: TQ/TK = query/key lengths, HS = head size, W = the weights applied in forward (P, or P after dropout).
// Query pass, 8 rows at a time: dW = dout v^T, dS = (W dW - P rowsum(W dW)) * scale (softmax backward; through dropout
// W = P keep / (1 - p), so P dP = W dW), dq += dS k. Key pass, 8 keys at a time: dv += W^T dout, dk += dS^T q.
// Only the 16-key tiles up to a row's last nonzero probability are touched: the causal half is skipped by block.
using System.Buffers;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

static unsafe class AttentionBackward
{
    // The gradients share the layout of their inputs: dq like q, dk and dv like k and v.
    public static void Run(ReadOnlySpan<float> q, AttentionKernel.HeadLayout qLayout, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        AttentionKernel.HeadLayout kvLayout, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights, ReadOnlySpan<float> dOutput,
        AttentionKernel.HeadLayout oLayout, Span<float> dq, Span<float> dk, Span<float> dv, int batchHeads, int heads, int queryLength, int keyLength,
        int headSize, float scale)
    {
        if (batchHeads == 0 || queryLength == 0) return;
        fixed (float* pq = q, pk = k, pv = v, pp = probabilities, pa = appliedWeights, pdo = dOutput, pdq = dq, pdk = dk, pdv = dv)
        {
            var job = new Job(pq, qLayout, pk, pv, kvLayout, pp, appliedWeights.IsEmpty ? null : pa, pdo, oLayout, pdq, pdk, pdv,
                heads, queryLength, keyLength, headSize, scale);
            Parallelism.For(0, batchHeads, job.Run, costPerItem: 8L * queryLength * keyLength * headSize);
        }
    }

    /// <summary>One backward call: pinned operands and shapes, and the loop over a range of (batch, head) pairs.</summary>
    sealed class Job(float* q, AttentionKernel.HeadLayout qLayout, float* k, float* v, AttentionKernel.HeadLayout kvLayout, float* p, float* applied,
        float* dOut, AttentionKernel.HeadLayout oLayout, float* dq, float* dk, float* dv, int heads, int tq, int tk, int hs, float scale)
    {
        // Rows of probabilities and dS are padded to whole 16-key tiles; head rows to whole vectors (HS 16, 32, 64 need no copies).
        readonly int stride = (tk + 15) & ~15, width = (hs + 15) & ~15, blockRows = (tq + 7) & ~7;
        bool PadKeys => stride != tk;
        bool PadColumns => width != hs;

        public void Run(int start, int end)
        {
            // vT (HS, stride), dS (TQ rounded to 8, stride), tiles per row; copies of P and W when TK is not a multiple
            // of 16; of k, q, dout and a gradient block when HS is not.
            int vTSize = hs * stride, dSSize = blockRows * stride, tilesSize = tq;
            int keySize = PadKeys ? (applied is null ? 1 : 2) * tq * stride : 0;
            int columnSize = PadColumns ? (tk + 2 * tq + AttentionTiles.Rows) * width : 0;
            float[] scratch = ArrayPool<float>.Shared.Rent(vTSize + dSSize + tilesSize + keySize + columnSize + 32);
            fixed (float* raw = scratch)
            {
                float* vT = AttentionKernel.Aligned(raw), dS = vT + vTSize;
                int* rowTiles = (int*)(dS + dSSize);
                float* keyCopies = AttentionKernel.Aligned(dS + dSSize + tilesSize), columnCopies = keyCopies + keySize;
                for (int bh = start; bh < end; bh++) Head(bh, vT, dS, rowTiles, keyCopies, columnCopies);
            }
            ArrayPool<float>.Shared.Return(scratch);
        }

        void Head(int bh, float* vT, float* dS, int* rowTiles, float* keyCopies, float* columnCopies)
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
            for (int i = 0; i < tq; i++) rowTiles[i] = TilesInUse(probs + i * pRow, stride >> 4);

            int vectors = width >> 4;
            for (int i0 = 0; i0 < tq; i0 += AttentionTiles.Rows)
            {
                int rows = Math.Min(AttentionTiles.Rows, tq - i0), tiles = 0;
                for (int r = 0; r < rows; r++) tiles = Math.Max(tiles, rowTiles[i0 + r]);
                float* block = dS + i0 * stride;
                if (tiles > 0)
                {
                    AttentionTiles.Scores(dOut + oo + i0 * oRow, oRow, rows, vT, stride, hs, tiles, block, stride);   // dW
                    for (int r = 0; r < rows; r++)
                        SoftmaxGradientRow(block + r * stride, weights + (i0 + r) * pRow, probs + (i0 + r) * pRow, tiles, scale);
                    AddRowSums(block, stride, 1, rows, keys, keyRow, Math.Min(16 * tiles, tk), vectors, dq + qo + i0 * qRow, qRow, gradient);
                }
                // The key pass reads dS down columns: tiles past the block's must read as zero.
                for (int r = 0; r < rows; r++) new Span<float>(block + r * stride + 16 * tiles, stride - 16 * tiles).Clear();
            }
            for (int j0 = 0; j0 < tk; j0 += AttentionTiles.Rows)
            {
                int count = Math.Min(AttentionTiles.Rows, tk - j0), first = 0;
                while (first < tq && 16 * rowTiles[first] <= j0) first++;     // queries before it have P = 0 on these keys
                if (first == tq) continue;
                AddRowSums(weights + first * pRow + j0, 1, pRow, count, dOutRows + first * dOutRow, dOutRow, tq - first, vectors, dv + ko + j0 * kvRow, kvRow, gradient);
                AddRowSums(dS + first * stride + j0, 1, stride, count, queries + first * queryRow, queryRow, tq - first, vectors, dk + ko + j0 * kvRow, kvRow, gradient);
            }
        }

        /// <summary>destination rows (HS wide, dStride apart) += the row sums; through a zeroed padded block when HS is not a multiple of 16.</summary>
        void AddRowSums(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int vectors, float* destination, long dStride, float* gradient)
        {
            if (!PadColumns)
            {
                AttentionTiles.RowSums(w, wRow, wStep, rows, b, bStride, count, vectors, destination, dStride, accumulate: true);
                return;
            }
            AttentionTiles.RowSums(w, wRow, wStep, rows, b, bStride, count, vectors, gradient, width, accumulate: false);
            for (int r = 0; r < rows; r++)
            {
                float* g = gradient + r * width, d = destination + r * dStride;
                for (int c = 0; c < hs; c++) d[c] += g[c];
            }
        }
    }

    /// <summary>
    /// ds (tiles x 16) holds dW = dout_i . v_j and becomes dS = (W dW - P sum_j W dW) * scale. Where P = 0, so is W and
    /// dS is exactly 0.
    /// </summary>
    static void SoftmaxGradientRow(float* ds, float* w, float* p, int tiles, float scale)
    {
        var vscale = Vector512.Create(scale);
        var sum = Vector512<float>.Zero;
        for (int t = 0; t < 16 * tiles; t += 16)
        {
            var y = Vector512.Load(w + t) * Vector512.Load(ds + t) * vscale;
            y.Store(ds + t);
            sum += y;
        }
        var dot = AttentionTiles.SumAcross(sum);
        for (int t = 0; t < 16 * tiles; t += 16)
            Vector512.FusedMultiplyAdd(-Vector512.Load(p + t), dot, Vector512.Load(ds + t)).Store(ds + t);
    }

    /// <summary>Tiles of 16 up to and including the last one with a nonzero probability (0 for a fully masked row).</summary>
    static int TilesInUse(float* p, int tiles)
    {
        while (tiles > 0 && Vector512.EqualsAll(Vector512.Load(p + 16 * (tiles - 1)), Vector512<float>.Zero)) tiles--;
        return tiles;
    }
}
