// Scalar twins of the layout kernels: one element at a time, indices written out in full.
// Glossary: B batch, T time, NH heads, HS head size, R rows.
namespace ResidualLM.Kernels.Reference;

/// <summary>Obviously-correct versions of <see cref="Layout"/>.</summary>
public static class LayoutReference
{
    /// <summary>y[b, h, t, s] = x[b, t, h, s] (or +=, with <paramref name="accumulate"/>). x: (B, T, NH, HS); y: (B, NH, T, HS).</summary>
    public static void SplitHeads(ReadOnlySpan<float> x, Span<float> y, int batch, int time, int heads, int headSize, bool accumulate = false)
    {
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < time; t++)
                for (int h = 0; h < heads; h++)
                    for (int s = 0; s < headSize; s++)
                    {
                        int from = ((b * time + t) * heads + h) * headSize + s, to = ((b * heads + h) * time + t) * headSize + s;
                        y[to] = accumulate ? y[to] + x[from] : x[from];
                    }
    }

    /// <summary>y[b, t, h, s] = x[b, h, t, s] (or +=). x: (B, NH, T, HS); y: (B, T, NH, HS).</summary>
    public static void MergeHeads(ReadOnlySpan<float> x, Span<float> y, int batch, int time, int heads, int headSize, bool accumulate = false)
    {
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < time; t++)
                for (int h = 0; h < heads; h++)
                    for (int s = 0; s < headSize; s++)
                    {
                        int from = ((b * heads + h) * time + t) * headSize + s, to = ((b * time + t) * heads + h) * headSize + s;
                        y[to] = accumulate ? y[to] + x[from] : x[from];
                    }
    }

    /// <summary>narrow[r, j] = wide[r, offset + j]; with <paramref name="scatter"/>, wide[r, offset + j] += narrow[r, j]. wide: (R, total); narrow: (R, width).</summary>
    public static void ColumnSlice(Span<float> wide, Span<float> narrow, int rows, int total, int offset, int width, bool scatter)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++)
            {
                if (scatter) wide[r * total + offset + j] += narrow[r * width + j];
                else narrow[r * width + j] = wide[r * total + offset + j];
            }
    }

    /// <summary>
    /// y[r, part, h, s] = x[r, part, h', s] with h' = h for queries and h' = h / (NH / NKV) for keys and values; with
    /// <paramref name="backward"/>, x[r, part, h', s] += y[r, part, h, s]. x: (R, (NH + 2 NKV) HS); y: (R, 3 NH HS).
    /// </summary>
    public static void RepeatKvHeads(Span<float> x, Span<float> y, int rows, int heads, int kvHeads, int headSize, bool backward = false)
    {
        int group = heads / kvHeads, narrow = (heads + 2 * kvHeads) * headSize, wide = 3 * heads * headSize;
        for (int r = 0; r < rows; r++)
            for (int part = 0; part < 3; part++)
                for (int h = 0; h < heads; h++)
                    for (int s = 0; s < headSize; s++)
                    {
                        int source = part == 0 ? h * headSize + s
                            : heads * headSize + (part - 1) * kvHeads * headSize + h / group * headSize + s;
                        int to = r * wide + (part * heads + h) * headSize + s, from = r * narrow + source;
                        if (backward) x[from] += y[to]; else y[to] = x[from];
                    }
    }
}
