// What a GGUF tensor info says about one tensor, after validation: a known type, 1-4 positive dimensions whose
// innermost is whole blocks, and an aligned byte range inside the data section that overlaps no other tensor.
namespace ResidualLM.IO;

/// <summary>One tensor of a GGUF file.</summary>
public sealed class GgufTensorInfo
{
    readonly long[] shape;

    internal GgufTensorInfo(string name, GgufType type, long[] shape, long elementCount, long offset, long byteLength)
    {
        Name = name;
        Type = type;
        this.shape = shape;
        ElementCount = elementCount;
        Offset = offset;
        ByteLength = byteLength;
    }

    /// <summary>The tensor's name, e.g. "blk.0.attn_qkv.weight".</summary>
    public string Name { get; }

    /// <summary>The ggml type of its elements.</summary>
    public GgufType Type { get; }

    /// <summary>
    /// The dimensions in ggml's ne order: <c>Shape[0]</c> is the innermost, contiguous one. A weight with
    /// ne = [in, out] is a row-major (out, in) matrix.
    /// </summary>
    public IReadOnlyList<long> Shape => shape;

    /// <summary>The product of the dimensions.</summary>
    public long ElementCount { get; }

    /// <summary>First byte of the data, relative to the start of the data section (a multiple of the alignment).</summary>
    public long Offset { get; }

    /// <summary>Length of the data in bytes: whole blocks of <see cref="Type"/>.</summary>
    public long ByteLength { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {GgufTypes.Name(Type)} [{string.Join(", ", shape)}] at {Offset}, {ByteLength} bytes";
}
