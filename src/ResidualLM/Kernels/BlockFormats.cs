// ggml's block formats for weights: Q8_0 (32 int8 values and one float16 scale) and Q4_0 (32 4-bit values and one
// float16 scale). The quantizers reproduce ggml's quantize_row_q8_0_ref and quantize_row_q4_0_ref bit for bit (float32
// arithmetic, C's roundf and truncation, float16 rounded to nearest even), so a tensor moves between ResidualLM and a
// GGUF file without being quantised twice. Storage here is split: the quantised values of a row side by side, and the
// scales in their own array (a GGUF block interleaves them: 2 bytes of scale, then the values). Glossary: k columns.
using System.Buffers.Binary;

namespace ResidualLM.Kernels;

/// <summary>A block format: 32 consecutive values of a row share one float16 scale.</summary>
public enum BlockFormat
{
    /// <summary>value = d q, q in [-128, 127] (the quantizer gives [-127, 127]); 34 bytes a block in ggml.</summary>
    Q8_0,
    /// <summary>value = d (q - 8), q in [0, 15]; byte j of a block holds q_j (low nibble) and q_{j+16} (high); 18 bytes a block in ggml.</summary>
    Q4_0,
}

/// <summary>Sizes, quantizers and dequantizers of <see cref="BlockFormat"/>, with ggml's exact rounding.</summary>
public static class BlockQuant
{
    /// <summary>Values per block (ggml's QK8_0 and QK4_0).</summary>
    public const int BlockSize = 32;

    /// <summary>Bytes of quantised values per block (without the scale): 32 for Q8_0, 16 for Q4_0.</summary>
    public static int ValueBytes(BlockFormat format) => format == BlockFormat.Q8_0 ? 32 : 16;

    /// <summary>Bytes per block in a GGUF file: the float16 scale and the values.</summary>
    public static int GgmlBlockBytes(BlockFormat format) => 2 + ValueBytes(format);

    /// <summary>The format's name as ggml and the command line spell it: q8_0, q4_0.</summary>
    public static string Name(BlockFormat format) => format == BlockFormat.Q8_0 ? "q8_0" : "q4_0";

    /// <summary>Parses q8_0 or q4_0 (any case).</summary>
    public static bool TryParse(string? text, out BlockFormat format)
    {
        format = default;
        if (string.Equals(text, "q8_0", StringComparison.OrdinalIgnoreCase)) { format = BlockFormat.Q8_0; return true; }
        if (string.Equals(text, "q4_0", StringComparison.OrdinalIgnoreCase)) { format = BlockFormat.Q4_0; return true; }
        return false;
    }

    /// <summary>
    /// ggml's quantize_row_q8_0_ref on one row of k values (k a multiple of 32): per block d = max|x| / 127, stored as
    /// float16; q = roundf(x / d) computed as x * (1 / d) in float32 (0 when d = 0). values: (k) bytes, scales: (k/32).
    /// </summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<sbyte> values, Span<ushort> scales)
    {
        int blocks = CheckRow(x.Length, values.Length, BlockFormat.Q8_0, scales.Length);
        for (int b = 0; b < blocks; b++)
        {
            var block = x.Slice(b * BlockSize, BlockSize);
            float amax = 0f;
            foreach (float v in block) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f, id = d != 0f ? 1f / d : 0f;
            scales[b] = HalfBits(d);
            for (int j = 0; j < BlockSize; j++)
                values[b * BlockSize + j] = (sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>
    /// ggml's quantize_row_q4_0_ref on one row: per block m = the value of largest magnitude (the first such), d = m / -8
    /// as float16, q = min(15, (int8)(x (1/d) + 8.5)) truncated toward zero. values: (k/2) bytes, scales: (k/32).
    /// </summary>
    public static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<byte> values, Span<ushort> scales)
    {
        int blocks = CheckRow(x.Length, values.Length, BlockFormat.Q4_0, scales.Length);
        for (int b = 0; b < blocks; b++)
        {
            var block = x.Slice(b * BlockSize, BlockSize);
            float amax = 0f, max = 0f;
            foreach (float v in block)
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            float d = max / -8f, id = d != 0f ? 1f / d : 0f;
            scales[b] = HalfBits(d);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                int q0 = Math.Min(15, (int)(sbyte)(block[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(sbyte)(block[j + BlockSize / 2] * id + 8.5f));
                values[b * (BlockSize / 2) + j] = (byte)(q0 | q1 << 4);
            }
        }
    }

    /// <summary>Quantises a row in either format (values: k bytes for Q8_0, k/2 for Q4_0).</summary>
    public static void Quantize(BlockFormat format, ReadOnlySpan<float> x, Span<byte> values, Span<ushort> scales)
    {
        if (format == BlockFormat.Q8_0) QuantizeQ8_0(x, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(values), scales);
        else QuantizeQ4_0(x, values, scales);
    }

    /// <summary>The float32 values a quantised row stands for: d q (Q8_0) or d (q - 8) (Q4_0), each one exact product.</summary>
    public static void Dequantize(BlockFormat format, ReadOnlySpan<byte> values, ReadOnlySpan<ushort> scales, Span<float> x)
    {
        int blocks = CheckRow(x.Length, values.Length, format, scales.Length);
        for (int b = 0; b < blocks; b++)
        {
            float d = HalfValue(scales[b]);
            var block = x.Slice(b * BlockSize, BlockSize);
            if (format == BlockFormat.Q8_0)
                for (int j = 0; j < BlockSize; j++) block[j] = d * (sbyte)values[b * BlockSize + j];
            else
                for (int j = 0; j < BlockSize / 2; j++)
                {
                    byte packed = values[b * (BlockSize / 2) + j];
                    block[j] = d * ((packed & 0x0F) - 8);
                    block[j + BlockSize / 2] = d * ((packed >> 4) - 8);
                }
        }
    }

    /// <summary>GGUF's interleaved blocks (scale, then values, per block) from split storage.</summary>
    public static void Interleave(BlockFormat format, ReadOnlySpan<byte> values, ReadOnlySpan<ushort> scales, Span<byte> ggml)
    {
        int valueBytes = ValueBytes(format), blockBytes = valueBytes + 2;
        if (values.Length != scales.Length * valueBytes || ggml.Length != scales.Length * blockBytes)
            throw new ArgumentException($"{format} blocks: {values.Length} value bytes, {scales.Length} scales and {ggml.Length} ggml bytes do not match");
        for (int b = 0; b < scales.Length; b++)
        {
            var block = ggml.Slice(b * blockBytes, blockBytes);
            BinaryPrimitives.WriteUInt16LittleEndian(block, scales[b]);
            values.Slice(b * valueBytes, valueBytes).CopyTo(block[2..]);
        }
    }

    /// <summary>Split storage from GGUF's interleaved blocks.</summary>
    public static void Deinterleave(BlockFormat format, ReadOnlySpan<byte> ggml, Span<byte> values, Span<ushort> scales)
    {
        int valueBytes = ValueBytes(format), blockBytes = valueBytes + 2;
        if (values.Length != scales.Length * valueBytes || ggml.Length != scales.Length * blockBytes)
            throw new ArgumentException($"{format} blocks: {values.Length} value bytes, {scales.Length} scales and {ggml.Length} ggml bytes do not match");
        for (int b = 0; b < scales.Length; b++)
        {
            var block = ggml.Slice(b * blockBytes, blockBytes);
            scales[b] = BinaryPrimitives.ReadUInt16LittleEndian(block);
            block.Slice(2, valueBytes).CopyTo(values[(b * valueBytes)..]);
        }
    }

    /// <summary>float32 to float16 bits, rounded to nearest even (as ggml's GGML_FP32_TO_FP16).</summary>
    public static ushort HalfBits(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>float16 bits to float32, exactly.</summary>
    public static float HalfValue(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    static int CheckRow(int k, int valueBytes, BlockFormat format, int scales)
    {
        if (k % BlockSize != 0) throw new ArgumentException($"{Name(format)}: a row of {k} values is not a whole number of blocks of {BlockSize}");
        int blocks = k / BlockSize;
        if (valueBytes != blocks * ValueBytes(format) || scales != blocks)
            throw new ArgumentException($"{Name(format)}: {k} values need {blocks * ValueBytes(format)} value bytes and {blocks} scales, got {valueBytes} and {scales}");
        return blocks;
    }
}
