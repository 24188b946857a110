// Entry points for the safetensors format: open (validate) a file, stream or byte buffer; write float32 tensors.
// Format: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data buffer the header indexes.
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ResidualLM.IO;

/// <summary>Reads and writes the safetensors format (https://github.com/huggingface/safetensors).</summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted when reading, as in the reference implementation.</summary>
    public const long MaxHeaderBytes = SafeTensorsHeader.MaxHeaderBytes;

    /// <summary>Opens and validates a safetensors file. Dispose the result to close the file.</summary>
    /// <exception cref="InvalidInputException">The file is missing, unreadable or malformed.</exception>
    public static SafeTensorsFile Read(string path) => SafeTensorsFile.Open(new FileByteSource(path));

    /// <summary>
    /// Validates a safetensors file held in a readable, seekable stream; <paramref name="displayName"/> names it in
    /// messages. The stream must stay open while tensors are read and is not closed by the result.
    /// </summary>
    /// <exception cref="InvalidInputException">The content is malformed.</exception>
    public static SafeTensorsFile Read(Stream stream, string displayName) =>
        SafeTensorsFile.Open(new StreamByteSource(stream, displayName));

    /// <summary>Validates a safetensors file held in memory (used by tests and fuzzing; nothing touches disk).</summary>
    /// <exception cref="InvalidInputException">The content is malformed.</exception>
    public static SafeTensorsFile Read(ReadOnlyMemory<byte> bytes, string displayName) =>
        SafeTensorsFile.Open(new MemoryByteSource(bytes, displayName));

    /// <summary>
    /// Writes float32 tensors atomically (temporary file, flush, rename) so a crash leaves the old file or the new
    /// one. Tensors are stored in name order (UTF-8 byte order) and the header is padded with spaces to a multiple
    /// of 8 bytes, as the reference writer does.
    /// </summary>
    /// <exception cref="ArgumentException">A name is empty, repeated, reserved or not valid Unicode, or a shape does not match its data.</exception>
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        // Validate and build the header before touching the disk, so a bad argument leaves no temporary file.
        var prepared = Prepare(tensors);
        byte[] header = BuildHeader(prepared, metadata);
        AtomicFile.Write(path, stream => WritePrepared(stream, header, prepared));
    }

    /// <summary>Writes the same bytes as <see cref="Write(string, IEnumerable{ValueTuple{string, int[], ReadOnlyMemory{float}}}, IReadOnlyDictionary{string, string}?)"/> to a stream.</summary>
    public static void Write(Stream stream, IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var prepared = Prepare(tensors);
        WritePrepared(stream, BuildHeader(prepared, metadata), prepared);
    }

    sealed record PreparedTensor(string Name, byte[] NameUtf8, int[] Shape, ReadOnlyMemory<float> Data);

    static List<PreparedTensor> Prepare(IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var prepared = new List<PreparedTensor>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, int[] shape, ReadOnlyMemory<float> data) in tensors)
        {
            ArgumentNullException.ThrowIfNull(name);
            ArgumentNullException.ThrowIfNull(shape);
            if (name.Length == 0 || name == "__metadata__") throw new ArgumentException($"tensor name \"{name}\" is not allowed");
            if (!names.Add(name)) throw new ArgumentException($"tensor name \"{name}\" appears twice");
            if (shape.Any(size => size < 0)) throw new ArgumentException($"tensor {name} has a negative dimension in [{string.Join(", ", shape)}]");
            long count = shape.Contains(0) ? 0 : 1;
            foreach (int size in shape)
            {
                // Stop once past the data length: the product of further factors (all >= 1) cannot come back down.
                if (count > data.Length) break;
                count *= size;
            }
            if (count != data.Length)
                throw new ArgumentException($"tensor {name}: shape [{string.Join(", ", shape)}] needs {count} values but {data.Length} were given");
            prepared.Add(new PreparedTensor(name, StrictUtf8(name, "tensor name"), (int[])shape.Clone(), data));
        }
        // All tensors are F32, so the reference order (alignment descending, then name) is name order in UTF-8 bytes.
        prepared.Sort((left, right) => left.NameUtf8.AsSpan().SequenceCompareTo(right.NameUtf8));
        return prepared;
    }

    static byte[] BuildHeader(List<PreparedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new StringBuilder("{");
        bool first = true;
        if (metadata is not null && metadata.Count > 0)
        {
            json.Append("\"__metadata__\":{");
            foreach (var (key, value) in metadata.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            {
                StrictUtf8(key, "metadata key");
                StrictUtf8(value ?? throw new ArgumentException($"metadata value of {key} is null"), "metadata value");
                if (!first) json.Append(',');
                AppendString(json, key).Append(':');
                AppendString(json, value);
                first = false;
            }
            json.Append('}');
            first = false;
        }
        long offset = 0;
        foreach (PreparedTensor tensor in tensors)
        {
            if (!first) json.Append(',');
            first = false;
            long end = offset + (long)tensor.Data.Length * sizeof(float);
            AppendString(json, tensor.Name).Append(":{\"dtype\":\"F32\",\"shape\":[");
            json.AppendJoin(',', tensor.Shape.Select(size => size.ToString(CultureInfo.InvariantCulture)));
            json.Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(end.ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset = end;
        }
        json.Append('}');
        // Padding to 8 bytes keeps every tensor's data aligned for readers that map the file.
        int byteCount = Encoding.UTF8.GetByteCount(json.ToString());
        json.Append(' ', (8 - byteCount % 8) % 8);
        return Encoding.UTF8.GetBytes(json.ToString());
    }

    static void WritePrepared(Stream stream, byte[] header, List<PreparedTensor> tensors)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        Span<byte> element = stackalloc byte[4];
        foreach (PreparedTensor tensor in tensors)
        {
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(tensor.Data.Span));
                continue;
            }
            foreach (float value in tensor.Data.Span)
            {
                BinaryPrimitives.WriteSingleLittleEndian(element, value);
                stream.Write(element);
            }
        }
    }

    /// <summary>JSON string with the escapes serde_json uses: quote, backslash and control characters only.</summary>
    static StringBuilder AppendString(StringBuilder json, string text)
    {
        json.Append('"');
        foreach (char character in text)
        {
            switch (character)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                case '\b': json.Append("\\b"); break;
                case '\f': json.Append("\\f"); break;
                default:
                    if (character < 0x20) json.Append("\\u").Append(((int)character).ToString("x4", CultureInfo.InvariantCulture));
                    else json.Append(character);
                    break;
            }
        }
        return json.Append('"');
    }

    static byte[] StrictUtf8(string text, string what)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetBytes(text);
        }
        catch (EncoderFallbackException exception)
        {
            throw new ArgumentException($"{what} \"{MessageText.Printable(text)}\" is not valid Unicode (lone surrogate)", exception);
        }
    }
}
