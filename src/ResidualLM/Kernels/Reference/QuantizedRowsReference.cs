// Reference twin of QuantizedRows: the same quantisation rule and integer dot products as plain loops, norms summed
// in order in double. Glossary: n rows, k columns.
namespace ResidualLM.Kernels.Reference;

/// <summary>The straightforward versions of <see cref="QuantizedRows"/>.</summary>
public static class QuantizedRowsReference
{
    /// <summary>Same contract as <see cref="QuantizedRows.QuantizeRows"/>, norms as plain doubles (not rounded up).</summary>
    public static void QuantizeRows(ReadOnlySpan<float> w, int k, int from, int to, Span<sbyte> q, Span<float> scales, Span<int> rowSums,
        Span<double> norms, Span<double> quantizedNorms, Span<double> errorNorms)
    {
        for (int j = from; j < to; j++)
        {
            var row = w.Slice(j * k, k);
            float max = 0f;
            foreach (float v in row) max = Math.Max(max, Math.Abs(v));
            float scale = max / 127f, inverse = max > 0f ? 127f / max : 0f;
            int sum = 0;
            double ww = 0, qq = 0, ee = 0;
            for (int p = 0; p < k; p++)
            {
                int qi = Math.Clamp((int)MathF.Round(row[p] * inverse), -127, 127);
                q[j * k + p] = (sbyte)qi;
                sum += qi;
                double sq = (double)scale * qi;
                ww += (double)row[p] * row[p]; qq += sq * sq; ee += (row[p] - sq) * (row[p] - sq);
            }
            scales[j] = scale;
            rowSums[j] = sum;
            norms[j] = Math.Sqrt(ww); quantizedNorms[j] = Math.Sqrt(qq); errorNorms[j] = Math.Sqrt(ee);
        }
    }

    /// <summary>Same contract as <see cref="QuantizedRows.Dots"/>.</summary>
    public static void Dots(ReadOnlySpan<byte> qx, ReadOnlySpan<sbyte> q, int from, int to, Span<int> dots)
    {
        int k = qx.Length;
        for (int j = from; j < to; j++)
        {
            int s = 0;
            for (int p = 0; p < k; p++) s += qx[p] * q[j * k + p];
            dots[j] = s;
        }
    }
}
