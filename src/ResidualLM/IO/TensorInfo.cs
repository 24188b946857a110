// What a safetensors header says about one tensor: element type, shape and byte range. Only the byte-aligned
// dtypes of the reference implementation are known; packed 4- and 6-bit types are rejected as unknown.
namespace ResidualLM.IO;

/// <summary>Element types of the safetensors format, named as they appear in the header.</summary>
public enum SafeTensorsDType
{
    BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
}

/// <summary>Sizes and names of <see cref="SafeTensorsDType"/> values.</summary>
public static class SafeTensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8
            or SafeTensorsDType.F8_E5M2 or SafeTensorsDType.F8_E4M3 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Parses a header dtype name (exact, case-sensitive as the reference does).</summary>
    public static bool TryParse(string text, out SafeTensorsDType dtype)
    {
        // NOTE: Enum.TryParse would also accept "11", " F32" and "f32"; the format does not.
        foreach (SafeTensorsDType candidate in Enum.GetValues<SafeTensorsDType>())
        {
            if (string.Equals(candidate.ToString(), text, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }
}

/// <summary>
/// One tensor of a safetensors file as the header describes it, after validation: the byte range lies inside the
/// data buffer and its length is exactly the element count times the element size.
/// </summary>
public sealed class TensorInfo
{
    readonly long[] shape;
    readonly string filePath;

    internal TensorInfo(string filePath, string name, SafeTensorsDType dtype, long[] shape, long elementCount, long begin, long end)
    {
        this.filePath = filePath;
        Name = name;
        DType = dtype;
        this.shape = shape;
        ElementCount = elementCount;
        Begin = begin;
        End = end;
    }

    /// <summary>The tensor's name (its key in the header).</summary>
    public string Name { get; }

    /// <summary>The element type stored in the file.</summary>
    public SafeTensorsDType DType { get; }

    /// <summary>The dimensions, outermost first; empty for a scalar.</summary>
    public IReadOnlyList<long> Shape => shape;

    /// <summary>Product of the dimensions (1 for a scalar, 0 when any dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>First byte of the tensor, relative to the start of the data buffer.</summary>
    public long Begin { get; }

    /// <summary>One past the last byte of the tensor, relative to the start of the data buffer.</summary>
    public long End { get; }

    /// <summary>Length of the tensor's data in bytes.</summary>
    public long ByteLength => End - Begin;

    /// <summary>The shape as 32-bit dimensions, for callers that index with <c>int</c>.</summary>
    /// <exception cref="InvalidInputException">A dimension exceeds <see cref="int.MaxValue"/>.</exception>
    public int[] ShapeAsInt32()
    {
        var result = new int[shape.Length];
        for (int axis = 0; axis < shape.Length; axis++)
        {
            if (shape[axis] > int.MaxValue)
                throw new InvalidInputException($"dimension {axis} ({shape[axis]}) is too large", filePath, MessageText.Printable(Name));
            result[axis] = (int)shape[axis];
        }
        return result;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType} [{string.Join(", ", shape)}] bytes {Begin}..{End}";
}
