// Differentiable data movement and masking: heads split/merge, concat/split on the last dim, embedding lookup,
// masked fill (causal and padding masks) and seeded dropout.
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Tensors;

namespace ResidualLM.Ops;

public static partial class Ops
{
    /// <summary>(B, T, NH*HS) -> (B, NH, T, HS).</summary>
    public static Tensor SplitHeads(Tensor x, int heads)
    {
        if (x.Rank != 3 || x.Dim(2) % heads != 0) throw new ArgumentException($"split-heads needs (B, T, C) with C divisible by {heads}, got {x.ShapeString}");
        int b = x.Dim(0), t = x.Dim(1), hs = x.Dim(2) / heads;
        var y = Tensor.Uninitialized(b, heads, t, hs);
        Layout.SplitHeads(x.Data, y.Data, b, t, heads, hs);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink => Layout.MergeHeads(y.Grad!.Data, sink.OrZeros(x).Data, b, t, heads, hs, accumulate: true));
    }

    /// <summary>(B, NH, T, HS) -> (B, T, NH*HS).</summary>
    public static Tensor MergeHeads(Tensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"merge-heads needs (B, NH, T, HS), got {x.ShapeString}");
        int b = x.Dim(0), heads = x.Dim(1), t = x.Dim(2), hs = x.Dim(3);
        var y = Tensor.Uninitialized(b, t, heads * hs);
        Layout.MergeHeads(x.Data, y.Data, b, t, heads, hs);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink => Layout.SplitHeads(y.Grad!.Data, sink.OrZeros(x).Data, b, t, heads, hs, accumulate: true));
    }

    /// <summary>
    /// Grouped-query projections (..., (NH + 2 NKV) HS), rows [q | k | v], -> (..., 3 NH HS): every key/value head
    /// repeated for the NH / NKV query heads it serves (Hugging Face's <c>repeat_kv</c>). Backward sums over each group.
    /// </summary>
    public static Tensor RepeatKvHeads(Tensor qkv, int heads, int kvHeads, int headSize)
    {
        if (kvHeads <= 0 || heads % kvHeads != 0 || qkv.Dim(-1) != (heads + 2 * kvHeads) * headSize)
            throw new ArgumentException($"repeat-kv needs (..., (NH + 2 NKV) HS) with NKV dividing NH, got {qkv.ShapeString} for {heads}/{kvHeads} heads of {headSize}");
        int rows = qkv.Size / qkv.Dim(-1);
        var shape = qkv.ShapeArray.ToArray(); shape[^1] = 3 * heads * headSize;
        var y = Tensor.Uninitialized(shape);                                        // every element written below
        Layout.RepeatKvHeads(qkv.Data, y.Data, rows, heads, kvHeads, headSize);
        if (!Graph.ShouldRecord(qkv)) return y;
        return Graph.Record(y, [qkv], sink => Layout.RepeatKvHeads(sink.OrZeros(qkv).Data, y.Grad!.Data, rows, heads, kvHeads, headSize, backward: true));
    }

    /// <summary>Concatenation along the last dimension; leading dimensions must agree.</summary>
    public static Tensor Concat(params Tensor[] parts)
    {
        if (parts.Length == 0) throw new ArgumentException("concat of nothing");
        int rows = parts[0].Size / Math.Max(1, parts[0].Dim(-1)), total = 0;
        foreach (var p in parts)
        {
            // NOTE: compare every leading dimension, not just their product: (2, 3, C) and (3, 2, C) must not be glued.
            if (!p.Shape[..^1].SequenceEqual(parts[0].Shape[..^1])) throw new ArgumentException($"concat: leading dimensions differ ({parts[0].ShapeString} and {p.ShapeString})");
            total += p.Dim(-1);
        }
        var shape = parts[0].ShapeArray.ToArray(); shape[^1] = total;
        var y = new Tensor(shape);
        int offset = 0;
        foreach (var p in parts)
        {
            Layout.ColumnSlice(y.Data, p.Data, rows, total, offset, p.Dim(-1), scatter: true);
            offset += p.Dim(-1);
        }
        if (!Graph.ShouldRecord(parts)) return y;
        return Graph.Record(y, parts, sink =>
        {
            int o = 0;
            foreach (var p in parts)
            {
                if (p.RequiresGrad)
                {
                    var piece = new float[p.Size];
                    Layout.ColumnSlice(y.Grad!.Data, piece, rows, total, o, p.Dim(-1), scatter: false);
                    Accumulate(sink, p, piece);
                }
                o += p.Dim(-1);
            }
        });
    }

    /// <summary>Splits the last dimension into pieces of the given widths (e.g. fused qkv into q, k, v).</summary>
    public static Tensor[] Split(Tensor x, params int[] widths)
    {
        int total = x.Dim(-1), rows = x.Size / Math.Max(1, total);
        if (widths.Sum() != total) throw new ArgumentException($"split widths sum to {widths.Sum()}, last dim is {total}");
        var outputs = new Tensor[widths.Length];
        int offset = 0;
        for (int i = 0; i < widths.Length; i++)
        {
            var shape = x.ShapeArray.ToArray(); shape[^1] = widths[i];
            var y = Tensor.Uninitialized(shape);                                 // every column gathered below
            int o = offset, w = widths[i];
            Layout.ColumnSlice(x.Data, y.Data, rows, total, o, w, scatter: false);
            outputs[i] = Graph.ShouldRecord(x)
                ? Graph.Record(y, [x], sink => Layout.ColumnSlice(sink.OrZeros(x).Data, y.Grad!.Data, rows, total, o, w, scatter: true))
                : y;
            offset += w;
        }
        return outputs;
    }

    /// <summary>Rows of <paramref name="table"/> (V, C) picked by <paramref name="ids"/>; output (ids..., C) with the given leading shape.</summary>
    public static Tensor Embedding(Tensor table, ReadOnlySpan<int> ids, params int[] leadingShape)
    {
        if (table.Rank != 2) throw new ArgumentException($"embedding table must be (V, C), got {table.ShapeString}");
        int vocab = table.Dim(0), cols = table.Dim(1);
        int[] idCopy = ids.ToArray();
        int[] shape = leadingShape.Length == 0 ? [idCopy.Length, cols] : [.. leadingShape, cols];
        var y = new Tensor(shape);
        if (y.Size != idCopy.Length * cols) throw new ArgumentException("embedding: leading shape does not match the number of ids");
        Kernels.Embedding.Forward(table.Data, idCopy, y.Data, vocab, cols);
        if (!Graph.ShouldRecord(table)) return y;
        return Graph.Record(y, [table], sink => Kernels.Embedding.Backward(y.Grad!.Data, idCopy, sink.OrZeros(table).Data, vocab, cols));
    }

    /// <summary>
    /// Sets x to <paramref name="value"/> where mask is true. The mask (over the last two dims (T, S), or (B, 1, 1, S)-like
    /// shapes given as <paramref name="maskShape"/>) broadcasts NumPy-style: each of its dims is 1 or equal to x's.
    /// Masked positions get no gradient.
    /// </summary>
    public static Tensor MaskedFill(Tensor x, bool[] mask, int[] maskShape, float value)
    {
        int rank = x.Rank;
        if (maskShape.Length > rank) throw new ArgumentException("mask has more dims than x");
        var full = new int[rank];
        for (int i = 0; i < rank; i++) full[i] = 1;
        for (int i = 0; i < maskShape.Length; i++) full[rank - maskShape.Length + i] = maskShape[i];
        for (int i = 0; i < rank; i++)
            if (full[i] != 1 && full[i] != x.Dim(i)) throw new ArgumentException($"mask shape [{string.Join(", ", maskShape)}] does not broadcast over {x.ShapeString}");
        if (mask.Length != full.Aggregate(1, (a, b) => a * b)) throw new ArgumentException("mask length does not match its shape");
        // The flat index into the mask of every element of x, computed once (also used by backward).
        var hit = new bool[x.Size];
        var index = new int[rank];
        for (int e = 0; e < x.Size; e++)
        {
            int m = 0;
            for (int d = 0; d < rank; d++) m = m * full[d] + (full[d] == 1 ? 0 : index[d]);
            hit[e] = mask[m];
            for (int d = rank - 1; d >= 0; d--) { if (++index[d] < x.Dim(d)) break; index[d] = 0; }
        }
        var y = NewLike(x);
        for (int e = 0; e < x.Size; e++) y.Data[e] = hit[e] ? value : x.Data[e];
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink =>
        {
            var dx = sink.OrZeros(x).Data; var g = y.Grad!.Data;
            for (int e = 0; e < dx.Length; e++) if (!hit[e]) dx[e] += g[e];
        });
    }

    /// <summary>The causal mask for attention scores (..., T, T): position i may not look at j &gt; i (those become -inf).</summary>
    public static Tensor CausalMask(Tensor scores)
    {
        int t = scores.Dim(-1), s = scores.Dim(-2);
        var mask = new bool[s * t];
        for (int i = 0; i < s; i++) for (int j = i + 1; j < t; j++) mask[i * t + j] = true;
        return MaskedFill(scores, mask, [s, t], float.NegativeInfinity);
    }

    /// <summary>
    /// Inverted dropout: in training, zeroes each element with probability p and scales the rest by 1/(1-p), drawing
    /// from <paramref name="rng"/> (so a seed fixes the mask). Identity when p is 0 or not training.
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, Rng rng, bool training)
    {
        if (p < 0f || p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1)");
        if (!training || p == 0f) return x;
        // The mask (0 or 1/(1-p) per element) is pooled scratch, every element written; backward hands it back.
        var scale = BufferPool.Shared.Rent(x.Size, clear: false);
        float keep = 1f / (1f - p);
        for (int i = 0; i < x.Size; i++) scale[i] = rng.NextFloat() < p ? 0f : keep;
        var y = NewLike(x);
        var mask = scale.AsSpan(0, x.Size);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.Data, mask, y.Data);
        if (!Graph.ShouldRecord(x))
        {
            BufferPool.Shared.Return(scale);
            return y;
        }
        return Graph.Record(y, [x], sink =>
        {
            float[] dx = sink.Buffer(x, out bool accumulate);
            if (accumulate) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(y.Grad!.Data, scale.AsSpan(0, x.Size), dx, dx);
            else System.Numerics.Tensors.TensorPrimitives.Multiply(y.Grad!.Data, scale.AsSpan(0, x.Size), dx);
            BufferPool.Shared.Return(scale);   // a closure runs at most once
        });
    }
}
