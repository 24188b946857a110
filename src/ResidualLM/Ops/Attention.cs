// Fused scaled dot-product attention as one differentiable op (no (T x T) score tensor in the graph; the
// probabilities are kept inside the closure for backward). Equivalent to MatMul + CausalMask + Softmax + MatMul.
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Tensors;

namespace ResidualLM.Ops;

public static partial class Ops
{
    /// <summary>
    /// softmax(q k^T / sqrt(HS) + mask) v for q (B, NH, TQ, HS) and k, v (B, NH, TK, HS), TQ &lt;= TK (queries are the
    /// last TQ positions, as in KV-cache decoding). <paramref name="causal"/> hides later keys; <paramref name="keyPadding"/>
    /// (B x TK, true = padding) hides padded keys. Dropout with probability <paramref name="dropout"/> is applied to the
    /// attention weights in training, drawing from <paramref name="rng"/>.
    /// </summary>
    public static Tensor Attention(Parallelism threads, Tensor q, Tensor k, Tensor v, bool causal, bool[]? keyPadding = null,
        float dropout = 0f, Rng? rng = null, bool training = false)
    {
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4) throw new ArgumentException("attention needs (B, NH, T, HS) tensors");
        int batch = q.Dim(0), heads = q.Dim(1), tq = q.Dim(2), hs = q.Dim(3), tk = k.Dim(2);
        if (k.Dim(0) != batch || k.Dim(1) != heads || k.Dim(3) != hs || !v.Shape.SequenceEqual(k.Shape))
            throw new ArgumentException($"attention shapes differ: q {q.ShapeString}, k {k.ShapeString}, v {v.ShapeString}");
        float scale = 1f / MathF.Sqrt(hs);
        var y = Tensor.Uninitialized(batch, heads, tq, hs);                       // the kernel writes every element
        var probabilities = BufferPool.Shared.Rent(batch * heads * tq * tk, clear: false);
        AttentionKernel.Forward(threads, q.Data, k.Data, v.Data, y.Data, probabilities, batch * heads, heads, tq, tk, hs, scale, causal, keyPadding ?? []);
        float[]? applied = null;
        if (training && dropout > 0f)
        {
            // Re-weight with the dropout mask: out = (P * mask / (1 - p)) v, recomputed from the kept weights.
            if (rng is null) throw new ArgumentException("attention dropout needs an Rng");
            applied = BufferPool.Shared.Rent(probabilities.Length, clear: false);             // every element written below
            float keep = 1f / (1f - dropout);
            for (int i = 0; i < applied.Length; i++) applied[i] = rng.NextFloat() < dropout ? 0f : probabilities[i] * keep;
            Gemm.MultiplyBatched(threads, applied, v.Data, y.Data, batch * heads, tq, tk, hs);
        }
        if (!Graph.ShouldRecord([q, k, v]))
        {
            BufferPool.Shared.Return(probabilities);
            if (applied is not null) BufferPool.Shared.Return(applied);
            return y;
        }
        return Graph.Record(y, [q, k, v], sink =>
        {
            float[] dq = q.RequiresGrad ? sink.OrZeros(q).Data : new float[q.Size];
            float[] dk = k.RequiresGrad ? sink.OrZeros(k).Data : new float[k.Size];
            float[] dv = v.RequiresGrad ? sink.OrZeros(v).Data : new float[v.Size];
            AttentionKernel.Backward(threads, q.Data, k.Data, v.Data, probabilities, applied ?? [], y.Grad!.Data, dq, dk, dv,
                batch * heads, tq, tk, hs, scale);
            // A closure runs at most once (the graph is released after backward), so its scratch can be reused.
            BufferPool.Shared.Return(probabilities);
            if (applied is not null) BufferPool.Shared.Return(applied);
        });
    }

    /// <summary>
    /// Causal self-attention of the positions after the cached ones, straight from the fused projection: qkv (B, T, 3C)
    /// holds [q | k | v] per row, heads side by side. k and v go into <paramref name="cache"/>, q attends to every cached
    /// position read in place, and the result is (B, T, C) with heads merged: the arithmetic of Split, SplitHeads,
    /// Attention over the cached keys and MergeHeads without their copies. Records no graph (decoding).
    /// </summary>
    public static Tensor CachedSelfAttention(Parallelism threads, Tensor qkv, int heads, Nn.KvCache.LayerCache cache)
    {
        if (qkv.Rank != 3 || heads <= 0 || qkv.Dim(2) % (3 * heads) != 0)
            throw new ArgumentException($"self-attention needs qkv (B, T, 3C) with C divisible by {heads} heads, got {qkv.ShapeString}");
        int batch = qkv.Dim(0), time = qkv.Dim(1), width = qkv.Dim(2) / 3, hs = width / heads, keyLength = cache.Length + time;
        cache.AppendPacked(qkv.Data, batch, time, heads, hs);
        var y = Tensor.Uninitialized(batch, time, width);                              // the kernel writes every element
        // Sized for the whole cache, so one buffer serves every step of a decode (the key length grows by one a token).
        var probabilities = BufferPool.Shared.Rent(batch * heads * time * cache.Capacity, clear: false);
        AttentionKernel.ForwardCachedPacked(threads, qkv.Data, cache.Keys, cache.Values, cache.Capacity, y.Data, probabilities, batch, heads, time, keyLength,
            hs, 1f / MathF.Sqrt(hs));
        BufferPool.Shared.Return(probabilities);
        return y;
    }

    /// <summary>
    /// Multi-head self-attention straight from the fused projection: qkv (B, T, 3C) holding [q | k | v] per row, heads
    /// side by side (C = NH * HS) -> (B, T, C) with heads merged. The same as Split, SplitHeads, <see cref="Attention"/>
    /// and MergeHeads without their four copies and graph nodes (no dropout on the weights; a test checks the equality).
    /// </summary>
    public static Tensor SelfAttention(Parallelism threads, Tensor qkv, int heads, bool causal, bool[]? keyPadding = null)
    {
        if (qkv.Rank != 3 || heads <= 0 || qkv.Dim(2) % (3 * heads) != 0)
            throw new ArgumentException($"self-attention needs qkv (B, T, 3C) with C divisible by {heads} heads, got {qkv.ShapeString}");
        int batch = qkv.Dim(0), time = qkv.Dim(1), width = qkv.Dim(2) / 3, hs = width / heads;
        float scale = 1f / MathF.Sqrt(hs);
        var y = Tensor.Uninitialized(batch, time, width);                              // the kernel writes every element
        var probabilities = BufferPool.Shared.Rent(batch * heads * time * time, clear: false);
        AttentionKernel.ForwardPacked(threads, qkv.Data, y.Data, probabilities, batch, heads, time, hs, scale, causal, keyPadding ?? []);
        if (!Graph.ShouldRecord(qkv))
        {
            BufferPool.Shared.Return(probabilities);
            return y;
        }
        return Graph.Record(y, [qkv], sink =>
        {
            AttentionKernel.BackwardPacked(threads, qkv.Data, probabilities, [], y.Grad!.Data, sink.OrZeros(qkv).Data, batch, heads, time, hs, scale);
            BufferPool.Shared.Return(probabilities);   // a closure runs at most once
        });
    }
}
