// Writes GGUF v3 files as llama.cpp's gguf_write_to_file does: header, metadata in the order added, tensor infos,
// zero padding to the alignment, then each tensor's bytes padded to the alignment, offsets in the order added.
// general.alignment is written only when the caller adds it (the default of 32 needs no key).
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace ResidualLM.IO;

/// <summary>
/// Collects ordered metadata and tensors (name, ggml type, shape in ne order, raw bytes) and writes them as one
/// GGUF file. Tensor bytes are taken as given: quantized blocks must already be in ggml's layout.
/// </summary>
public sealed class GgufWriter
{
    /// <summary>
    /// The longest tensor name written: llama.cpp stores names in 64 bytes with a terminating NUL and refuses longer
    /// ones, though the spec allows 64.
    /// </summary>
    public const int MaxTensorNameBytes = 63;

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    readonly OrderedDictionary<string, GgufValue> metadata = new(StringComparer.Ordinal);
    readonly List<PendingTensor> tensors = [];
    readonly HashSet<string> tensorNames = new(StringComparer.Ordinal);

    sealed record PendingTensor(string Name, byte[] NameBytes, GgufType Type, long[] Shape, long ByteLength, Action<Stream> WriteData);

    /// <summary>The alignment of the data: 32, or the value of <c>general.alignment</c> when it was added.</summary>
    public int Alignment { get; private set; } = GgufFile.DefaultAlignment;

    /// <summary>The metadata added so far, in order.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata => metadata;

    /// <summary>
    /// Adds a metadata pair. Adding <c>general.alignment</c> (a u32 power of two) sets <see cref="Alignment"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The key is empty or already added, a string is not valid Unicode, arrays
    /// nest too deep, or the alignment is not a u32 power of two.</exception>
    public void Add(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (metadata.ContainsKey(key)) throw new ArgumentException($"metadata key {key} was already added", nameof(key));
        Utf8(key, nameof(key));
        CheckValue(value, key, depth: 0);
        if (key == GgufHeader.AlignmentKey)
        {
            if (value is not { IsArray: false, Value: uint alignment } || alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 1u << 30)
                throw new ArgumentException($"{key} must be a u32 power of two up to 2^30, got {value.TypeName} {value}", nameof(value));
            Alignment = (int)alignment;
        }
        metadata.Add(key, value);
    }

    /// <summary>
    /// Adds a tensor whose bytes are in memory. <paramref name="shape"/> is in ne order (innermost first): 1 to 4
    /// positive dimensions, the first a multiple of the type's block size.
    /// </summary>
    /// <exception cref="ArgumentException">Bad name, type or shape, or <paramref name="data"/> is not exactly the
    /// tensor's byte length.</exception>
    public void AddTensor(string name, GgufType type, ReadOnlySpan<long> shape, ReadOnlyMemory<byte> data)
    {
        long byteLength = CheckTensor(name, type, shape);
        if (data.Length != byteLength)
            throw new ArgumentException($"tensor {name}: {GgufTypes.Name(type)} [{string.Join(", ", shape.ToArray())}] takes {byteLength} bytes but {data.Length} were given", nameof(data));
        AddChecked(name, type, shape, byteLength, stream => stream.Write(data.Span));
    }

    /// <summary>
    /// Adds a tensor whose bytes <paramref name="writeData"/> writes when the file is written, so a large model need
    /// not hold every converted tensor at once. It must write exactly the tensor's byte length.
    /// </summary>
    /// <exception cref="ArgumentException">Bad name, type or shape.</exception>
    public void AddTensor(string name, GgufType type, ReadOnlySpan<long> shape, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        long byteLength = CheckTensor(name, type, shape);
        AddChecked(name, type, shape, byteLength, writeData);
    }

    void AddChecked(string name, GgufType type, ReadOnlySpan<long> shape, long byteLength, Action<Stream> writeData)
    {
        tensorNames.Add(name);
        tensors.Add(new PendingTensor(name, Encoding.UTF8.GetBytes(name), type, shape.ToArray(), byteLength, writeData));
    }

    long CheckTensor(string name, GgufType type, ReadOnlySpan<long> shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        int nameBytes = Utf8(name, nameof(name)).Length;
        if (nameBytes > MaxTensorNameBytes)
            throw new ArgumentException($"tensor name {name} is {nameBytes} bytes long; llama.cpp accepts at most {MaxTensorNameBytes}", nameof(name));
        if (tensorNames.Contains(name)) throw new ArgumentException($"tensor {name} was already added", nameof(name));
        if (!GgufTypes.IsKnown(type)) throw new ArgumentException($"tensor {name}: unknown ggml type {(uint)type}", nameof(type));
        if (shape.Length is 0 or > GgufHeader.MaxDimensions)
            throw new ArgumentException($"tensor {name} has {shape.Length} dimensions; GGUF allows 1 to {GgufHeader.MaxDimensions}", nameof(shape));
        long elementCount = 1;
        foreach (long size in shape)
        {
            if (size <= 0) throw new ArgumentException($"tensor {name}: every dimension must be positive, got [{string.Join(", ", shape.ToArray())}]", nameof(shape));
            elementCount = size <= long.MaxValue / elementCount ? elementCount * size
                : throw new ArgumentException($"tensor {name}: the element count overflows", nameof(shape));
        }
        int blockSize = GgufTypes.BlockSize(type);
        if (shape[0] % blockSize != 0)
            throw new ArgumentException($"tensor {name}: ne[0] = {shape[0]} is not a multiple of the {GgufTypes.Name(type)} block size {blockSize}", nameof(shape));
        return GgufTypes.ByteLength(type, elementCount);
    }

    static void CheckValue(GgufValue value, string key, int depth)
    {
        if (value.Value is string text) Utf8(text, nameof(value));
        else if (value.Value is string[] texts) foreach (string item in texts) Utf8(item, nameof(value));
        else if (value.Value is GgufValue[] arrays)
        {
            // The reader refuses deeper nesting, so the writer does not produce it.
            if (depth + 2 > GgufHeader.MaxArrayDepth) throw new ArgumentException($"metadata {key}: arrays nest more than {GgufHeader.MaxArrayDepth} deep", nameof(value));
            foreach (GgufValue array in arrays) CheckValue(array, key, depth + 1);
        }
    }

    static byte[] Utf8(string text, string parameter)
    {
        try
        {
            return StrictUtf8.GetBytes(text);
        }
        catch (EncoderFallbackException exception)
        {
            throw new ArgumentException($"\"{MessageText.Printable(text)}\" is not valid Unicode (a lone surrogate)", parameter, exception);
        }
    }

    /// <summary>Writes the file atomically: to a temporary file in the same folder, renamed over <paramref name="path"/>.</summary>
    /// <exception cref="InvalidInputException">The folder does not exist or cannot be written.</exception>
    public void Write(string path) => AtomicFile.Write(path, Write);

    /// <summary>Writes the file to <paramref name="stream"/> from its current position; the stream need not seek.</summary>
    /// <exception cref="InvalidOperationException">A data callback wrote the wrong number of bytes.</exception>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var output = new CountingStream(stream);
        output.Write(GgufHeader.Magic);
        WriteUInt32(output, 3);
        WriteUInt64(output, (ulong)tensors.Count);
        WriteUInt64(output, (ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(output, key);
            WriteUInt32(output, (uint)value.Type);
            WriteValue(output, value);
        }
        long offset = 0;
        foreach (PendingTensor tensor in tensors)
        {
            WriteUInt64(output, (ulong)tensor.NameBytes.Length);
            output.Write(tensor.NameBytes);
            WriteUInt32(output, (uint)tensor.Shape.Length);
            foreach (long size in tensor.Shape) WriteUInt64(output, (ulong)size);
            WriteUInt32(output, (uint)tensor.Type);
            WriteUInt64(output, (ulong)offset);
            offset += Padded(tensor.ByteLength);
        }
        Pad(output);
        foreach (PendingTensor tensor in tensors)
        {
            long before = output.Written;
            tensor.WriteData(output);
            long written = output.Written - before;
            if (written != tensor.ByteLength)
                throw new InvalidOperationException($"tensor {tensor.Name}: its data callback wrote {written} bytes instead of {tensor.ByteLength}");
            Pad(output);
        }
    }

    long Padded(long length) => length + (Alignment - length % Alignment) % Alignment;

    void Pad(CountingStream output)
    {
        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        for (long padding = Padded(output.Written) - output.Written; padding > 0; padding -= Math.Min(padding, zeros.Length))
            output.Write(zeros[..(int)Math.Min(padding, zeros.Length)]);
    }

    static void WriteValue(Stream output, GgufValue value)
    {
        switch (value.Value)
        {
            case byte number: output.WriteByte(number); break;
            case sbyte number: output.WriteByte((byte)number); break;
            case ushort number: WriteScalar(output, number); break;
            case short number: WriteScalar(output, number); break;
            case uint number: WriteScalar(output, number); break;
            case int number: WriteScalar(output, number); break;
            case float number: WriteScalar(output, number); break;
            case bool flag: output.WriteByte(flag ? (byte)1 : (byte)0); break;
            case string text: WriteString(output, text); break;
            case ulong number: WriteScalar(output, number); break;
            case long number: WriteScalar(output, number); break;
            case double number: WriteScalar(output, number); break;
            case Array array:
                WriteUInt32(output, (uint)value.ElementType);
                WriteUInt64(output, (ulong)array.Length);
                WriteElements(output, array);
                break;
            default: throw new InvalidOperationException($"unexpected metadata value {value.Value.GetType()}");
        }
    }

    static void WriteElements(Stream output, Array array)
    {
        switch (array)
        {
            case string[] texts: foreach (string text in texts) WriteString(output, text); break;
            case GgufValue[] arrays: foreach (GgufValue inner in arrays) WriteValue(output, inner); break;
            case bool[] flags: foreach (bool flag in flags) output.WriteByte(flag ? (byte)1 : (byte)0); break;
            case byte[] bytes: output.Write(bytes); break;
            case sbyte[] numbers: WriteArray(output, numbers); break;
            case ushort[] numbers: WriteArray(output, numbers); break;
            case short[] numbers: WriteArray(output, numbers); break;
            case uint[] numbers: WriteArray(output, numbers); break;
            case int[] numbers: WriteArray(output, numbers); break;
            case float[] numbers: WriteArray(output, numbers); break;
            case ulong[] numbers: WriteArray(output, numbers); break;
            case long[] numbers: WriteArray(output, numbers); break;
            case double[] numbers: WriteArray(output, numbers); break;
            default: throw new InvalidOperationException($"unexpected metadata array {array.GetType()}");
        }
    }

    static void WriteArray<T>(Stream output, T[] values) where T : unmanaged
    {
        if (BitConverter.IsLittleEndian) output.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        else foreach (T value in values) WriteScalar(output, value);
    }

    static void WriteScalar<T>(Stream output, T value) where T : unmanaged
    {
        Span<byte> bytes = MemoryMarshal.AsBytes(new Span<T>(ref value));
        if (!BitConverter.IsLittleEndian) bytes.Reverse();
        output.Write(bytes);
    }

    static void WriteUInt32(Stream output, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        output.Write(bytes);
    }

    static void WriteUInt64(Stream output, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        output.Write(bytes);
    }

    static void WriteString(Stream output, string text)
    {
        byte[] bytes = StrictUtf8.GetBytes(text);
        WriteUInt64(output, (ulong)bytes.Length);
        output.Write(bytes);
    }

    /// <summary>Passes writes through and counts them, so padding needs no seekable stream.</summary>
    sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Written += buffer.Length;
        }

        public override void WriteByte(byte value)
        {
            inner.WriteByte(value);
            Written++;
        }

        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
