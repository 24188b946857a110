// A weight matrix (n x k) stored in one of ggml's block formats (Q8_0, Q4_0): the quantised values of each row side by
// side, and one float16 scale per block of 32 in a separate array. Built from float32 weights (ggml's reference
// quantizers, bit for bit) or from a GGUF tensor's interleaved blocks (no requantisation), and written back to them.
// Limits: for inference; k must be a multiple of 32; the scales must be finite (checked).
using ResidualLM.Kernels;

namespace ResidualLM.Tensors;

/// <summary>A block-quantised (n x k) matrix: <see cref="Values"/> (n x k bytes for Q8_0, n x k/2 for Q4_0) and <see cref="Scales"/> (n x k/32 float16 bits).</summary>
public sealed class QuantizedMatrix
{
    /// <summary>The block format.</summary>
    public BlockFormat Format { get; }
    /// <summary>Rows (n: output features).</summary>
    public int Rows { get; }
    /// <summary>Columns (k: input features, a multiple of 32).</summary>
    public int Columns { get; }
    /// <summary>The quantised values, row after row.</summary>
    public byte[] Values { get; }
    /// <summary>The scales as float16 bit patterns, row after row (k/32 per row).</summary>
    public ushort[] Scales { get; }

    QuantizedMatrix(BlockFormat format, int rows, int columns, byte[] values, ushort[] scales)
    {
        Format = format; Rows = rows; Columns = columns; Values = values; Scales = scales;
    }

    /// <summary>Blocks per row.</summary>
    public int BlocksPerRow => Columns / BlockQuant.BlockSize;

    /// <summary>Bytes the quantised weights take (values and scales; the same as in a GGUF file).</summary>
    public long ByteCount => Values.LongLength + 2L * Scales.LongLength;

    /// <summary>Quantises w (rows x columns, row-major) with ggml's reference quantizer.</summary>
    /// <exception cref="ArgumentException">Columns not a multiple of 32, or a value that is not finite.</exception>
    public static QuantizedMatrix Quantize(ReadOnlySpan<float> w, int rows, int columns, BlockFormat format)
    {
        CheckShape(rows, columns, format);
        if (w.Length != (long)rows * columns) throw new ArgumentException($"{w.Length} weights do not fill {rows} x {columns}");
        if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(w)) throw new ArgumentException("weights to quantise must be finite");
        int blocks = columns / BlockQuant.BlockSize, rowBytes = blocks * BlockQuant.ValueBytes(format);
        var values = new byte[(long)rows * rowBytes];
        var scales = new ushort[(long)rows * blocks];
        for (int j = 0; j < rows; j++)
            BlockQuant.Quantize(format, w.Slice(j * columns, columns), values.AsSpan(j * rowBytes, rowBytes), scales.AsSpan(j * blocks, blocks));
        CheckScales(scales, format, "weights too large for");
        return new QuantizedMatrix(format, rows, columns, values, scales);
    }

    /// <summary>A matrix from GGUF's interleaved blocks (rows x columns/32 blocks of 34 or 18 bytes).</summary>
    /// <exception cref="ArgumentException">The byte count does not match, or a scale is not finite.</exception>
    public static QuantizedMatrix FromGgml(ReadOnlySpan<byte> blocks, int rows, int columns, BlockFormat format)
    {
        CheckShape(rows, columns, format);
        long count = (long)rows * (columns / BlockQuant.BlockSize);
        if (blocks.Length != count * BlockQuant.GgmlBlockBytes(format))
            throw new ArgumentException($"{BlockQuant.Name(format)} ({rows} x {columns}) takes {count * BlockQuant.GgmlBlockBytes(format)} bytes, got {blocks.Length}");
        var values = new byte[count * BlockQuant.ValueBytes(format)];
        var scales = new ushort[count];
        BlockQuant.Deinterleave(format, blocks, values, scales);
        CheckScales(scales, format, "a");
        return new QuantizedMatrix(format, rows, columns, values, scales);
    }

    /// <summary>The interleaved blocks of a GGUF tensor.</summary>
    public byte[] ToGgml()
    {
        var blocks = new byte[Scales.LongLength * BlockQuant.GgmlBlockBytes(Format)];
        BlockQuant.Interleave(Format, Values, Scales, blocks);
        return blocks;
    }

    /// <summary>Writes the float32 values the matrix stands for (rows x columns) into w.</summary>
    public void Dequantize(Span<float> w)
    {
        if (w.Length != (long)Rows * Columns) throw new ArgumentException($"{w.Length} floats do not fill {Rows} x {Columns}");
        int blocks = BlocksPerRow, rowBytes = blocks * BlockQuant.ValueBytes(Format);
        for (int j = 0; j < Rows; j++)
            BlockQuant.Dequantize(Format, Values.AsSpan(j * rowBytes, rowBytes), Scales.AsSpan(j * blocks, blocks), w.Slice(j * Columns, Columns));
    }

    // A float16 scale of infinity or NaN (ggml writes infinity when max|x| / 127 overflows float16) makes the block's
    // values infinite or NaN.
    static void CheckScales(ushort[] scales, BlockFormat format, string what)
    {
        for (long b = 0; b < scales.LongLength; b++)
            if ((scales[b] & 0x7C00) == 0x7C00)
                throw new ArgumentException($"block {b} of {what} {BlockQuant.Name(format)} matrix has a scale that is not finite (float16 bits 0x{scales[b]:X4}; float16 ends at 65504)");
    }

    static void CheckShape(int rows, int columns, BlockFormat format)
    {
        if (rows < 1 || columns < BlockQuant.BlockSize || columns % BlockQuant.BlockSize != 0 || columns > BlockDot.MaxColumns)
            throw new ArgumentException($"{BlockQuant.Name(format)} needs rows of a positive multiple of {BlockQuant.BlockSize} values (at most {BlockDot.MaxColumns}); got {rows} x {columns}");
    }
}
