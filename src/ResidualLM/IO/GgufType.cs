// ggml's tensor element types as GGUF stores them (a u32 in each tensor info), with the block layout of each, so
// the byte size of any tensor can be checked even when its type cannot be decoded here.
// Numbers, block sizes and bytes per block follow ggml.h's enum ggml_type and gguf-py's GGML_QUANT_SIZES.
namespace ResidualLM.IO;

/// <summary>
/// A ggml tensor type, numbered as in ggml.h. Gaps (4, 5, 31-33, 36-38) are types ggml has removed from GGUF files;
/// they and numbers past the end are unknown.
/// </summary>
public enum GgufType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
}

/// <summary>Block layout and names of <see cref="GgufType"/> values.</summary>
public static class GgufTypes
{
    const int SuperBlock = 256; // QK_K: the block of the k-quants and i-quants

    /// <summary>Whether ggml defines this type (and so its block layout is known).</summary>
    public static bool IsKnown(GgufType type) => Layout(type).BlockSize != 0;

    /// <summary>Elements per block: 1 for plain types, 32 for Q8_0/Q4_0, 256 for the k-quants.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The type is unknown.</exception>
    public static int BlockSize(GgufType type) => Known(type).BlockSize;

    /// <summary>Bytes one block takes in the file (for a plain type, the element size).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The type is unknown.</exception>
    public static int BytesPerBlock(GgufType type) => Known(type).Bytes;

    /// <summary>The name ggml prints (<c>ggml_type_name</c>): "f32", "q8_0", "iq2_xxs"; "type 31" when unknown.</summary>
    public static string Name(GgufType type) => IsKnown(type) ? type.ToString().ToLowerInvariant() : $"type {(uint)type}";

    /// <summary>Parses a name as ggml prints it ("q8_0"), ignoring case.</summary>
    public static bool TryParse(string name, out GgufType type)
    {
        foreach (GgufType candidate in Enum.GetValues<GgufType>())
        {
            if (string.Equals(candidate.ToString(), name, StringComparison.OrdinalIgnoreCase))
            {
                type = candidate;
                return true;
            }
        }
        type = default;
        return false;
    }

    /// <summary>Bytes of <paramref name="elementCount"/> elements, which must be a whole number of blocks.</summary>
    /// <exception cref="ArgumentException">The type is unknown, the count is negative or not whole blocks, or the
    /// size does not fit a <see cref="long"/>.</exception>
    public static long ByteLength(GgufType type, long elementCount)
    {
        (int blockSize, int bytes) = Known(type);
        if (elementCount < 0 || elementCount % blockSize != 0)
            throw new ArgumentException($"{elementCount} elements are not a whole number of {Name(type)} blocks of {blockSize}", nameof(elementCount));
        long blocks = elementCount / blockSize;
        return blocks <= long.MaxValue / bytes ? blocks * bytes
            : throw new ArgumentException($"{elementCount} {Name(type)} elements take more than {long.MaxValue} bytes", nameof(elementCount));
    }

    static (int BlockSize, int Bytes) Known(GgufType type)
    {
        var layout = Layout(type);
        if (layout.BlockSize == 0) throw new ArgumentOutOfRangeException(nameof(type), (uint)type, "unknown ggml type");
        return layout;
    }

    // (elements per block, bytes per block); (0, 0) for a number ggml does not define.
    static (int BlockSize, int Bytes) Layout(GgufType type) => type switch
    {
        GgufType.F32 or GgufType.I32 => (1, 4),
        GgufType.F16 or GgufType.BF16 or GgufType.I16 => (1, 2),
        GgufType.I8 => (1, 1),
        GgufType.I64 or GgufType.F64 => (1, 8),
        GgufType.Q4_0 => (32, 2 + 16),
        GgufType.Q4_1 => (32, 2 + 2 + 16),
        GgufType.Q5_0 => (32, 2 + 4 + 16),
        GgufType.Q5_1 => (32, 2 + 2 + 4 + 16),
        GgufType.Q8_0 => (32, 2 + 32),
        GgufType.Q8_1 => (32, 4 + 4 + 32),
        GgufType.Q2_K => (SuperBlock, 2 + 2 + SuperBlock / 16 + SuperBlock / 4),
        GgufType.Q3_K => (SuperBlock, 2 + SuperBlock / 4 + SuperBlock / 8 + 12),
        GgufType.Q4_K => (SuperBlock, 2 + 2 + SuperBlock / 2 + 12),
        GgufType.Q5_K => (SuperBlock, 2 + 2 + SuperBlock / 2 + SuperBlock / 8 + 12),
        GgufType.Q6_K => (SuperBlock, 2 + SuperBlock / 2 + SuperBlock / 4 + SuperBlock / 16),
        GgufType.Q8_K => (SuperBlock, 4 + SuperBlock + SuperBlock / 8),
        GgufType.IQ2_XXS => (SuperBlock, 2 + SuperBlock / 4),
        GgufType.IQ2_XS => (SuperBlock, 2 + SuperBlock / 4 + SuperBlock / 32),
        GgufType.IQ3_XXS => (SuperBlock, 2 + SuperBlock / 4 + SuperBlock / 8),
        GgufType.IQ1_S => (SuperBlock, 2 + SuperBlock / 8 + SuperBlock / 16),
        GgufType.IQ4_NL => (32, 2 + 16),
        GgufType.IQ3_S => (SuperBlock, 2 + SuperBlock / 4 + SuperBlock / 8 + SuperBlock / 32 + 4),
        GgufType.IQ2_S => (SuperBlock, 2 + SuperBlock / 4 + SuperBlock / 16),
        GgufType.IQ4_XS => (SuperBlock, 2 + 2 + SuperBlock / 2 + SuperBlock / 64),
        GgufType.IQ1_M => (SuperBlock, SuperBlock / 8 + SuperBlock / 16 + SuperBlock / 32),
        GgufType.TQ1_0 => (SuperBlock, 2 + 4 * 13),
        GgufType.TQ2_0 => (SuperBlock, 2 + 64),
        GgufType.MXFP4 => (32, 1 + 16),
        GgufType.NVFP4 => (64, 4 + 32),
        GgufType.Q1_0 => (128, 2 + 16),
        GgufType.Q2_0 => (64, 2 + 16),
        _ => (0, 0),
    };
}
