// Test helper: GGUF bytes written field by field, so a test can write any field wrong (the library's writer refuses
// to). Little-endian throughout, as the format is.
using System.Buffers.Binary;
using System.Text;

namespace ResidualLM.Tests.IO;

public sealed class GgufBuilder
{
    readonly List<byte> bytes = [];

    public int Length => bytes.Count;

    public GgufBuilder Raw(params byte[] raw)
    {
        bytes.AddRange(raw);
        return this;
    }

    public GgufBuilder U8(byte value) => Raw(value);

    public GgufBuilder U32(uint value)
    {
        var buffer = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        return Raw(buffer);
    }

    public GgufBuilder U64(ulong value)
    {
        var buffer = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
        return Raw(buffer);
    }

    /// <summary>A string: its UTF-8 length as u64, then the bytes.</summary>
    public GgufBuilder Str(string text) => StrBytes(Encoding.UTF8.GetBytes(text));

    /// <summary>A string from raw bytes (maybe not UTF-8), with a length prefix that may lie.</summary>
    public GgufBuilder StrBytes(byte[] text, ulong? declaredLength = null) => U64(declaredLength ?? (ulong)text.Length).Raw(text);

    /// <summary>Magic, version and the two counts.</summary>
    public GgufBuilder Header(ulong tensorCount, ulong keyValueCount, uint version = 3) =>
        Raw("GGUF"u8.ToArray()).U32(version).U64(tensorCount).U64(keyValueCount);

    /// <summary>A key and its value type; the caller writes the value.</summary>
    public GgufBuilder Key(string key, uint valueType) => Str(key).U32(valueType);

    /// <summary>A u32 metadata pair.</summary>
    public GgufBuilder KeyU32(string key, uint value) => Key(key, 4).U32(value);

    /// <summary>A tensor info: name, n_dims, ne, ggml type, offset.</summary>
    public GgufBuilder TensorInfo(string name, ulong[] shape, uint type, ulong offset)
    {
        Str(name).U32((uint)shape.Length);
        foreach (ulong size in shape) U64(size);
        return U32(type).U64(offset);
    }

    /// <summary>Zero bytes up to the next multiple of <paramref name="alignment"/>.</summary>
    public GgufBuilder Pad(int alignment = 32) => Raw(new byte[(alignment - Length % alignment) % alignment]);

    public GgufBuilder Zeros(int count) => Raw(new byte[count]);

    public byte[] ToArray() => [.. bytes];
}
