// Parses and validates the part of a GGUF file before the tensor data: header, metadata and tensor infos.
// Every count and length is checked against the bytes left in the file before anything is allocated for it, so a
// hostile file costs at most a small multiple of its own size; arrays nest at most MaxArrayDepth deep.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace ResidualLM.IO;

internal sealed record GgufHeaderContent(
    uint Version, int Alignment, long DataStart,
    OrderedDictionary<string, GgufValue> Metadata, List<GgufTensorInfo> Tensors);

internal static class GgufHeader
{
    public const int DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";
    public const int MaxArrayDepth = 4;
    public const int MaxDimensions = 4;
    public const int MaxTensorNameBytes = 64;   // the spec's limit (llama.cpp's is 63, see GgufWriter)
    public static ReadOnlySpan<byte> Magic => "GGUF"u8;

    // Smallest encodings, used to bound counts by the bytes left: a key-value pair is a 1-byte key (8 + 1),
    // a type (4) and a u8 (1); a tensor info is a 1-byte name (8 + 1), n_dims (4), one dimension (8), type (4), offset (8).
    const int MinKeyValueBytes = 14;
    const int MinTensorInfoBytes = 33;
    const int HeaderBytes = 24;

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static GgufHeaderContent Parse(ByteSource source)
    {
        var cursor = new Cursor(source);
        string file = source.DisplayName;
        if (source.Length < HeaderBytes)
        {
            if (source.Length >= 4) CheckMagic(cursor, file);
            throw new InvalidInputException($"is {source.Length} bytes long; a GGUF file starts with a {HeaderBytes}-byte header", file, "header");
        }
        CheckMagic(cursor, file);
        uint version = ReadVersion(cursor, file);
        cursor.Field = "tensor_count";
        ulong tensorCount = cursor.UInt64();
        cursor.Field = "kv_count";
        ulong keyValueCount = cursor.UInt64();
        CheckCounts(tensorCount, keyValueCount, cursor.Remaining, file);

        // Capacities stay small: the counts are bounded by the file size, not by what is sensible to preallocate.
        var metadata = new OrderedDictionary<string, GgufValue>((int)Math.Min(keyValueCount, 1024), StringComparer.Ordinal);
        for (long index = 0; index < (long)keyValueCount; index++)
        {
            cursor.Field = $"metadata[{index}]";
            string key = cursor.String("key");
            if (key.Length == 0) throw cursor.Error("the key is empty");
            if (metadata.ContainsKey(key)) throw new InvalidInputException("appears twice in the metadata", file, MessageText.Printable(key));
            cursor.Field = MessageText.Printable(key);
            metadata.Add(key, ReadValue(cursor, (GgufValueType)cursor.UInt32(), depth: 0));
        }
        int alignment = ReadAlignment(metadata, file);

        var tensors = new List<GgufTensorInfo>((int)Math.Min(tensorCount, 1024));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (long index = 0; index < (long)tensorCount; index++)
        {
            GgufTensorInfo tensor = ReadTensorInfo(cursor, index, alignment);
            if (!names.Add(tensor.Name)) throw new InvalidInputException("appears twice in the tensor infos", file, MessageText.Printable(tensor.Name));
            tensors.Add(tensor);
        }

        // The data section starts at the end of the tensor infos, padded to the alignment.
        long headerEnd = cursor.Position;
        long dataStart = headerEnd + (alignment - headerEnd % alignment) % alignment;
        if (tensors.Count > 0 && dataStart > source.Length)
            throw new InvalidInputException(
                $"would start at byte {dataStart} (the tensor infos end at {headerEnd}, padded to {alignment}), past the end of the file ({source.Length} bytes)", file, "data");
        CheckRanges(tensors, source.Length - dataStart, file);
        return new GgufHeaderContent(version, alignment, dataStart, metadata, tensors);
    }

    static void CheckMagic(Cursor cursor, string file)
    {
        cursor.Field = "magic";
        ReadOnlySpan<byte> magic = cursor.Bytes(4);
        if (magic.SequenceEqual(Magic)) return;
        string shown = string.Concat(magic.ToArray().Select(b => b is >= 0x20 and < 0x7F ? ((char)b).ToString() : "?"));
        throw new InvalidInputException($"is '{shown}' (0x{Convert.ToHexString(magic)}), not 'GGUF': this is not a GGUF file", file, "magic");
    }

    static uint ReadVersion(Cursor cursor, string file)
    {
        cursor.Field = "version";
        uint version = cursor.UInt32();
        if (version is 2 or 3) return version;
        string reason = version switch
        {
            // A big-endian v3 file reads as 0x03000000 here: the low half of any real version is non-zero.
            _ when version != 0 && (version & 0xFFFF) == 0 =>
                $"is 0x{version:X8}: the file looks big-endian, and only little-endian GGUF files are supported",
            1 => "is 1: GGUF v1 (32-bit counts) is not supported; convert the file to v3 with a current llama.cpp",
            _ => $"{version} is not supported (supported: 2 and 3)",
        };
        throw new InvalidInputException(reason, file, "version");
    }

    static void CheckCounts(ulong tensorCount, ulong keyValueCount, long remaining, string file)
    {
        if (keyValueCount > (ulong)(remaining / MinKeyValueBytes))
            throw new InvalidInputException(
                $"{keyValueCount} key-value pairs cannot fit in the {remaining} bytes after the header (each takes at least {MinKeyValueBytes})", file, "kv_count");
        long left = remaining - (long)keyValueCount * MinKeyValueBytes;
        if (tensorCount > (ulong)(left / MinTensorInfoBytes))
            throw new InvalidInputException(
                $"{tensorCount} tensor infos cannot fit in the {remaining} bytes after the header with {keyValueCount} key-value pairs (each takes at least {MinTensorInfoBytes})", file, "tensor_count");
    }

    static int ReadAlignment(OrderedDictionary<string, GgufValue> metadata, string file)
    {
        if (!metadata.TryGetValue(AlignmentKey, out GgufValue? value)) return DefaultAlignment;
        // llama.cpp accepts only a u32 here, so a file we accept loads there too.
        if (value.Type != GgufValueType.UInt32) throw new InvalidInputException($"must be a u32, found {value.TypeName}", file, AlignmentKey);
        uint alignment = (uint)value.Value;
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new InvalidInputException($"{alignment} is not a power of two", file, AlignmentKey);
        if (alignment > 1u << 30) throw new InvalidInputException($"{alignment} is larger than the limit of 2^30", file, AlignmentKey);
        return (int)alignment;
    }

    static GgufValue ReadValue(Cursor cursor, GgufValueType type, int depth)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.Of(cursor.Bytes(1)[0]);
            case GgufValueType.Int8: return GgufValue.Of((sbyte)cursor.Bytes(1)[0]);
            case GgufValueType.UInt16: return GgufValue.Of(BinaryPrimitives.ReadUInt16LittleEndian(cursor.Bytes(2)));
            case GgufValueType.Int16: return GgufValue.Of(BinaryPrimitives.ReadInt16LittleEndian(cursor.Bytes(2)));
            case GgufValueType.UInt32: return GgufValue.Of(cursor.UInt32());
            case GgufValueType.Int32: return GgufValue.Of(BinaryPrimitives.ReadInt32LittleEndian(cursor.Bytes(4)));
            case GgufValueType.Float32: return GgufValue.Of(BinaryPrimitives.ReadSingleLittleEndian(cursor.Bytes(4)));
            case GgufValueType.Bool: return GgufValue.Of(ReadBool(cursor));
            case GgufValueType.String: return GgufValue.Of(cursor.String("value"));
            case GgufValueType.UInt64: return GgufValue.Of(cursor.UInt64());
            case GgufValueType.Int64: return GgufValue.Of(BinaryPrimitives.ReadInt64LittleEndian(cursor.Bytes(8)));
            case GgufValueType.Float64: return GgufValue.Of(BinaryPrimitives.ReadDoubleLittleEndian(cursor.Bytes(8)));
            case GgufValueType.Array: return ReadArray(cursor, depth + 1);
            default: throw cursor.Error($"has unknown value type {(uint)type} (known: 0 to 12)");
        }
    }

    static bool ReadBool(Cursor cursor)
    {
        byte value = cursor.Bytes(1)[0];
        // The spec calls anything but 0 and 1 invalid (llama.cpp would read it as true).
        return value <= 1 ? value == 1 : throw cursor.Error($"holds the bool byte {value}; a bool must be 0 or 1");
    }

    static GgufValue ReadArray(Cursor cursor, int depth)
    {
        if (depth > MaxArrayDepth) throw cursor.Error($"arrays nest more than {MaxArrayDepth} deep");
        var elementType = (GgufValueType)cursor.UInt32();
        int elementBytes = MinBytes(elementType);
        if (elementBytes == 0) throw cursor.Error($"is an array of unknown value type {(uint)elementType} (known: 0 to 12)");
        ulong count = cursor.UInt64();
        if (count > (ulong)(cursor.Remaining / elementBytes))
            throw cursor.Error($"an array of {count} {GgufValue.Name(elementType)} values cannot fit in the {cursor.Remaining} bytes left");
        int length = (int)count; // at most the file length, so it fits
        switch (elementType)
        {
            case GgufValueType.UInt8: return GgufValue.Of(cursor.Array<byte>(length));
            case GgufValueType.Int8: return GgufValue.Of(cursor.Array<sbyte>(length));
            case GgufValueType.UInt16: return GgufValue.Of(cursor.Array<ushort>(length));
            case GgufValueType.Int16: return GgufValue.Of(cursor.Array<short>(length));
            case GgufValueType.UInt32: return GgufValue.Of(cursor.Array<uint>(length));
            case GgufValueType.Int32: return GgufValue.Of(cursor.Array<int>(length));
            case GgufValueType.Float32: return GgufValue.Of(cursor.Array<float>(length));
            case GgufValueType.UInt64: return GgufValue.Of(cursor.Array<ulong>(length));
            case GgufValueType.Int64: return GgufValue.Of(cursor.Array<long>(length));
            case GgufValueType.Float64: return GgufValue.Of(cursor.Array<double>(length));
            case GgufValueType.Bool:
            {
                var flags = new bool[length];
                for (int index = 0; index < length; index++) flags[index] = ReadBool(cursor);
                return GgufValue.Of(flags);
            }
            case GgufValueType.String:
            {
                var strings = new string[length];
                for (int index = 0; index < length; index++) strings[index] = cursor.String($"element {index}");
                return GgufValue.Of(strings);
            }
            default:
            {
                var arrays = new GgufValue[length];
                for (int index = 0; index < length; index++) arrays[index] = ReadArray(cursor, depth + 1);
                return GgufValue.Of(arrays);
            }
        }
    }

    /// <summary>Bytes of the smallest element of a type (an array's is its type and count); 0 when unknown.</summary>
    static int MinBytes(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => 0,
    };

    static GgufTensorInfo ReadTensorInfo(Cursor cursor, long index, int alignment)
    {
        cursor.Field = $"tensor_infos[{index}]";
        string name = cursor.String("name");
        if (name.Length == 0) throw cursor.Error("the tensor name is empty");
        int nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes > MaxTensorNameBytes) throw cursor.Error($"the tensor name is {nameBytes} bytes long; the limit is {MaxTensorNameBytes}");
        cursor.Field = MessageText.Printable(name);

        uint dimensionCount = cursor.UInt32();
        if (dimensionCount is 0 or > MaxDimensions) throw cursor.Error($"has {dimensionCount} dimensions; GGUF allows 1 to {MaxDimensions}");
        var shape = new long[dimensionCount];
        long elementCount = 1;
        for (int axis = 0; axis < shape.Length; axis++)
        {
            ulong size = cursor.UInt64();
            if (size == 0) throw cursor.Error($"ne[{axis}] is 0; every dimension must be positive");
            if (size > long.MaxValue || (long)size > long.MaxValue / elementCount)
                throw cursor.Error($"ne[{axis}] = {size} makes the element count overflow");
            shape[axis] = (long)size;
            elementCount *= (long)size;
        }

        var type = (GgufType)cursor.UInt32();
        if (!GgufTypes.IsKnown(type)) throw cursor.Error($"has unknown ggml type {(uint)type}");
        int blockSize = GgufTypes.BlockSize(type), blockBytes = GgufTypes.BytesPerBlock(type);
        if (shape[0] % blockSize != 0)
            throw cursor.Error($"ne[0] = {shape[0]} is not a multiple of the {GgufTypes.Name(type)} block size {blockSize}");
        long blocks = elementCount / blockSize;
        if (blocks > long.MaxValue / blockBytes) throw cursor.Error($"its size in bytes overflows ({elementCount} {GgufTypes.Name(type)} elements)");

        ulong offset = cursor.UInt64();
        if (offset % (ulong)alignment != 0) throw cursor.Error($"offset {offset} is not a multiple of the alignment {alignment}");
        if (offset > long.MaxValue) throw cursor.Error($"offset {offset} is beyond any file");
        return new GgufTensorInfo(name, type, shape, elementCount, (long)offset, blocks * blockBytes);
    }

    static void CheckRanges(List<GgufTensorInfo> tensors, long dataLength, string file)
    {
        foreach (GgufTensorInfo tensor in tensors)
        {
            if (tensor.Offset > dataLength - tensor.ByteLength)
                throw new InvalidInputException(
                    $"bytes {tensor.Offset}..{tensor.Offset + tensor.ByteLength} of the data section reach past its end ({dataLength} bytes): the file is truncated or the offset is wrong",
                    file, MessageText.Printable(tensor.Name));
        }
        GgufTensorInfo[] byOffset = tensors.OrderBy(tensor => tensor.Offset).ToArray();
        for (int index = 1; index < byOffset.Length; index++)
        {
            GgufTensorInfo previous = byOffset[index - 1], tensor = byOffset[index];
            if (tensor.Offset < previous.Offset + previous.ByteLength)
                throw new InvalidInputException(
                    $"bytes {tensor.Offset}..{tensor.Offset + tensor.ByteLength} overlap tensor \"{MessageText.Printable(previous.Name)}\" (bytes {previous.Offset}..{previous.Offset + previous.ByteLength})",
                    file, MessageText.Printable(tensor.Name));
        }
    }

    /// <summary>Sequential little-endian reads through a small buffer; every read is bounds-checked against the file.</summary>
    sealed class Cursor(ByteSource source)
    {
        const int BufferSize = 1 << 16;
        readonly byte[] buffer = new byte[(int)Math.Min(BufferSize, Math.Max(source.Length, 1))];
        long bufferStart;
        int bufferLength;

        /// <summary>The field being read, named in errors.</summary>
        public string Field { get; set; } = "header";

        public long Position { get; private set; }

        public long Remaining => source.Length - Position;

        public InvalidInputException Error(string message) => new(message, source.DisplayName, Field);

        /// <summary>The next <paramref name="count"/> bytes (at most the buffer size), valid until the next read.</summary>
        public ReadOnlySpan<byte> Bytes(int count)
        {
            if (count > Remaining)
                throw Error($"the file ends at byte {source.Length}, inside this field (needed {count} bytes at {Position}): it is truncated");
            if (Position < bufferStart || Position + count > bufferStart + bufferLength)
            {
                bufferStart = Position;
                bufferLength = (int)Math.Min(buffer.Length, Remaining);
                source.ReadExactly(bufferStart, buffer.AsSpan(0, bufferLength));
            }
            ReadOnlySpan<byte> bytes = buffer.AsSpan((int)(Position - bufferStart), count);
            Position += count;
            return bytes;
        }

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));

        public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));

        /// <summary>A u64 length and that many bytes of UTF-8; <paramref name="what"/> names it in errors.</summary>
        public string String(string what)
        {
            ulong length = UInt64();
            if (length > (ulong)Remaining)
                throw Error($"the {what}'s length {length} reaches past the end of the file ({Remaining} bytes left)");
            byte[]? large = length > (ulong)buffer.Length ? new byte[length] : null;
            if (large is not null)
            {
                source.ReadExactly(Position, large);
                Position += large.Length;
            }
            try
            {
                return StrictUtf8.GetString(large ?? Bytes((int)length));
            }
            catch (DecoderFallbackException)
            {
                throw Error($"the {what} is not valid UTF-8");
            }
        }

        /// <summary>An array of <paramref name="length"/> little-endian values, read in buffer-sized pieces.</summary>
        public T[] Array<T>(int length) where T : unmanaged
        {
            var values = new T[length];
            Span<byte> destination = MemoryMarshal.AsBytes(values.AsSpan());
            for (int done = 0; done < destination.Length;)
            {
                int count = Math.Min(buffer.Length, destination.Length - done);
                Bytes(count).CopyTo(destination[done..]);
                done += count;
            }
            if (!BitConverter.IsLittleEndian) ReverseEndianness(values);
            return values;
        }

        static void ReverseEndianness<T>(T[] values) where T : unmanaged
        {
            int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            Span<byte> bytes = MemoryMarshal.AsBytes(values.AsSpan());
            for (int start = 0; start < bytes.Length; start += size) bytes.Slice(start, size).Reverse();
        }
    }
}
