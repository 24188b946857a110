// Scalar twin of BlockDot: the same activation quantisation and the same fixed order of float additions, written as
// plain loops over the definition (element by element, nibbles unpacked one at a time). For tests.
using ResidualLM.Tensors;

namespace ResidualLM.Kernels.Reference;

/// <summary>Plain-loop versions of <see cref="BlockDot"/> and its activation quantizer.</summary>
public static class BlockDotReference
{
    /// <summary>Q8_0 blocks of one row of activations: values, float16-rounded scales (as float32).</summary>
    public static (sbyte[] Values, float[] Scales) QuantizeActivations(ReadOnlySpan<float> x)
    {
        int blocks = x.Length / 32;
        var values = new sbyte[x.Length];
        var scales = new float[blocks];
        for (int b = 0; b < blocks; b++)
        {
            float amax = 0f;
            for (int j = 0; j < 32; j++) amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
            float d = amax / 127f;
            float id = d == 0f ? 0f : 1f / d;
            scales[b] = (float)(Half)d;
            for (int j = 0; j < 32; j++) values[b * 32 + j] = (sbyte)Math.Round(x[b * 32 + j] * id, MidpointRounding.AwayFromZero);
        }
        return (values, scales);
    }

    /// <summary>The value of weight (j, p) as an integer: q for Q8_0, q - 8 for Q4_0.</summary>
    public static int WeightValue(QuantizedMatrix w, int j, int p)
    {
        int b = p / 32, e = p % 32;
        if (w.Format == BlockFormat.Q8_0) return (sbyte)w.Values[(long)j * w.Columns + p];
        byte packed = w.Values[(long)j * (w.Columns / 2) + b * 16 + e % 16];
        return (e < 16 ? packed & 0x0F : packed >> 4) - 8;
    }

    /// <summary>y (m x n) = x W^T + bias, in BlockDot's order: lane b mod 8 collects block b's term, lanes summed as a fixed tree.</summary>
    public static void Multiply(ReadOnlySpan<float> x, int m, QuantizedMatrix w, ReadOnlySpan<float> bias, Span<float> y)
    {
        int n = w.Rows, k = w.Columns, blocks = k / 32;
        for (int i = 0; i < m; i++)
        {
            var (xq, dx) = QuantizeActivations(x.Slice(i * k, k));
            for (int j = 0; j < n; j++)
            {
                var a = new float[8];
                for (int b = 0; b < blocks; b++)
                {
                    int isum = 0;
                    for (int e = 0; e < 32; e++) isum += WeightValue(w, j, b * 32 + e) * xq[b * 32 + e];
                    float scale = (float)BitConverter.UInt16BitsToHalf(w.Scales[(long)j * blocks + b]) * dx[b];
                    float term = (float)isum * scale;
                    a[b % 8] = a[b % 8] + term;
                }
                float dot = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
                y[i * n + j] = dot + (bias.IsEmpty ? 0f : bias[j]);
            }
        }
    }
}
