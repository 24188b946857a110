// Reference twin of DecodeAttention: one query against the cached keys and values, a plain loop per head (dot products,
// softmax, weighted sum), in the same layouts. Glossary: NH heads, HS head size, L keys.
namespace ResidualLM.Kernels.Reference;

/// <summary>The straightforward version of <see cref="DecodeAttention.Forward"/>.</summary>
public static class DecodeAttentionReference
{
    /// <summary>Same contract as <see cref="DecodeAttention.Forward"/> (no scratch).</summary>
    public static void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> keysTransposed, ReadOnlySpan<float> values, Span<float> output,
        int heads, int headSize, int keyLength, int capacity, float scale)
    {
        int stride = DecodeAttention.Stride(capacity);
        var p = new double[keyLength];
        for (int h = 0; h < heads; h++)
        {
            double max = double.NegativeInfinity;
            for (int t = 0; t < keyLength; t++)
            {
                double s = 0;
                for (int d = 0; d < headSize; d++) s += (double)query[h * headSize + d] * keysTransposed[(h * headSize + d) * stride + t];
                p[t] = s * scale;
                max = Math.Max(max, p[t]);
            }
            double sum = 0;
            for (int t = 0; t < keyLength; t++) { p[t] = Math.Exp(p[t] - max); sum += p[t]; }
            for (int d = 0; d < headSize; d++)
            {
                double o = 0;
                for (int t = 0; t < keyLength; t++) o += p[t] / sum * values[(h * capacity + t) * headSize + d];
                output[h * headSize + d] = (float)o;
            }
        }
    }
}
