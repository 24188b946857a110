// Data movement kernels: heads split/merge (B, T, NH*HS) <-> (B, NH, T, HS) and concatenation along the last dim.
// Glossary: B batch, T time, NH heads, HS head size. Each is a pure permutation, so backward is the inverse move (added).
namespace ResidualLM.Kernels;

/// <summary>Permutations and concatenations of contiguous buffers.</summary>
public static class Layout
{
    /// <summary>
    /// Moves x (B, T, NH, HS) into y (B, NH, T, HS). With <paramref name="accumulate"/> the values are added.
    /// </summary>
    public static void SplitHeads(ReadOnlySpan<float> x, Span<float> y, int batch, int time, int heads, int headSize, bool accumulate = false)
    {
        int n = batch * time * heads * headSize;
        if (x.Length != n || y.Length != n) throw new ArgumentException("split-heads span lengths do not match B*T*NH*HS");
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < time; t++)
                for (int h = 0; h < heads; h++)
                {
                    var src = x.Slice(((b * time + t) * heads + h) * headSize, headSize);
                    var dst = y.Slice(((b * heads + h) * time + t) * headSize, headSize);
                    if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst); else src.CopyTo(dst);
                }
    }

    /// <summary>Moves x (B, NH, T, HS) into y (B, T, NH, HS), the inverse of <see cref="SplitHeads"/>.</summary>
    public static void MergeHeads(ReadOnlySpan<float> x, Span<float> y, int batch, int time, int heads, int headSize, bool accumulate = false)
    {
        int n = batch * time * heads * headSize;
        if (x.Length != n || y.Length != n) throw new ArgumentException("merge-heads span lengths do not match B*T*NH*HS");
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < time; t++)
                {
                    var src = x.Slice(((b * heads + h) * time + t) * headSize, headSize);
                    var dst = y.Slice(((b * time + t) * heads + h) * headSize, headSize);
                    if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst); else src.CopyTo(dst);
                }
    }

    /// <summary>
    /// Copies columns [offset, offset + width) of every row of a (R, total) buffer into a (R, width) buffer
    /// (or, with <paramref name="scatter"/>, adds the small buffer back into those columns: the backward of the slice).
    /// </summary>
    public static void ColumnSlice(Span<float> wide, Span<float> narrow, int rows, int total, int offset, int width, bool scatter)
    {
        if (wide.Length != rows * total || narrow.Length != rows * width || offset < 0 || offset + width > total)
            throw new ArgumentException("column-slice sizes do not match");
        for (int r = 0; r < rows; r++)
        {
            var w = wide.Slice(r * total + offset, width);
            var n = narrow.Slice(r * width, width);
            if (scatter) System.Numerics.Tensors.TensorPrimitives.Add(w, n, w); else w.CopyTo(n);
        }
    }

    /// <summary>
    /// Widens grouped-query projections: each row of x, [q (NH HS) | k (NKV HS) | v (NKV HS)], becomes a row of y,
    /// [q | k (NH HS) | v (NH HS)], key/value head g repeated for query heads g R .. g R + R - 1 (R = NH / NKV), as
    /// Hugging Face's <c>repeat_kv</c> does. With <paramref name="backward"/> it runs the other way: the gradient y
    /// is added into x, each key/value head receiving the sum over its group.
    /// </summary>
    public static void RepeatKvHeads(Span<float> x, Span<float> y, int rows, int heads, int kvHeads, int headSize, bool backward = false)
    {
        if (kvHeads <= 0 || heads % kvHeads != 0) throw new ArgumentException($"{kvHeads} key/value heads do not divide {heads} heads");
        int inner = heads * headSize, kvWidth = kvHeads * headSize, wide = 3 * inner, narrow = inner + 2 * kvWidth, group = heads / kvHeads;
        if (x.Length != rows * narrow || y.Length != rows * wide) throw new ArgumentException("repeat-kv span lengths do not match");
        for (int r = 0; r < rows; r++)
        {
            Span<float> small = x.Slice(r * narrow, narrow), large = y.Slice(r * wide, wide);
            Move(small[..inner], large[..inner], backward);
            for (int h = 0; h < heads; h++)
            {
                int from = (h / group) * headSize;
                Move(small.Slice(inner + from, headSize), large.Slice(inner + h * headSize, headSize), backward);
                Move(small.Slice(inner + kvWidth + from, headSize), large.Slice(2 * inner + h * headSize, headSize), backward);
            }
        }

        static void Move(Span<float> source, Span<float> destination, bool backward)
        {
            if (backward) System.Numerics.Tensors.TensorPrimitives.Add(source, destination, source); else source.CopyTo(destination);
        }
    }
}
