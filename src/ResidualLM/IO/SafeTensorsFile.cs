// An open safetensors file: the validated header in memory, tensor data read on demand in bounded chunks.
// Limits: loads F32, F16, BF16 and F64 (narrowed) as float32; other dtypes are reported, not converted.
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ResidualLM.IO;

/// <summary>
/// A safetensors file whose header has been validated: every tensor's byte range lies in the data buffer, the
/// ranges tile it exactly, and each length matches its shape and dtype. Tensor data is read when asked for.
/// Dispose it to close the file. Safe for concurrent reads.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    // Converting in chunks keeps the extra memory of a F16/BF16/F64 load small whatever the tensor size.
    const int ChunkElements = 1 << 16;

    readonly ByteSource source;
    readonly long dataStart;
    readonly Dictionary<string, TensorInfo> byName;
    bool disposed;

    SafeTensorsFile(ByteSource source, long dataStart, SafeTensorsHeaderContent header)
    {
        this.source = source;
        this.dataStart = dataStart;
        Metadata = header.Metadata;
        Names = header.Tensors.Select(tensor => tensor.Name).ToArray();
        byName = header.Tensors.ToDictionary(tensor => tensor.Name, StringComparer.Ordinal);
    }

    /// <summary>The file path or the display name given when opening.</summary>
    public string FilePath => source.DisplayName;

    /// <summary>The <c>__metadata__</c> strings (empty when the header has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in the order of their data in the file.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Whether the file holds a tensor of this name.</summary>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The dtype, shape and byte range of a tensor.</summary>
    /// <exception cref="InvalidInputException">The file has no tensor of this name.</exception>
    public TensorInfo Info(string name) =>
        byName.TryGetValue(name, out TensorInfo? info)
            ? info
            : throw new InvalidInputException("tensor not found in the file", FilePath, MessageText.Printable(name));

    /// <summary>Reads a tensor as float32: F32 as stored, F16 and BF16 widened exactly, F64 narrowed.</summary>
    /// <exception cref="InvalidInputException">No such tensor, another dtype, or the file changed since it was opened.</exception>
    public float[] ReadFloat32(string name)
    {
        TensorInfo info = Info(name);
        CheckConvertible(info);
        if (info.ElementCount > Array.MaxLength)
            throw new InvalidInputException($"has {info.ElementCount} elements, more than one array can hold", FilePath, MessageText.Printable(name));
        var values = new float[info.ElementCount];
        ReadFloat32(name, values);
        return values;
    }

    /// <summary>Reads a tensor as float32 into <paramref name="destination"/>, which must have exactly its element count.</summary>
    /// <exception cref="InvalidInputException">No such tensor, another dtype, or the file changed since it was opened.</exception>
    /// <exception cref="ArgumentException">The destination length differs from the tensor's element count.</exception>
    public void ReadFloat32(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        TensorInfo info = Info(name);
        CheckConvertible(info);
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"tensor {name} has {info.ElementCount} elements but the destination has {destination.Length}", nameof(destination));

        int elementSize = SafeTensorsDTypes.Size(info.DType);
        byte[]? scratch = info.DType == SafeTensorsDType.F32 ? null : ArrayPool<byte>.Shared.Rent(ChunkElements * elementSize);
        try
        {
            for (int start = 0; start < destination.Length; start += ChunkElements)
            {
                Span<float> chunk = destination.Slice(start, Math.Min(ChunkElements, destination.Length - start));
                long offset = dataStart + info.Begin + (long)start * elementSize;
                if (scratch is null) ReadSingles(offset, chunk);
                else
                {
                    Span<byte> raw = scratch.AsSpan(0, chunk.Length * elementSize);
                    source.ReadExactly(offset, raw);
                    Convert(info.DType, raw, chunk);
                }
            }
        }
        finally
        {
            if (scratch is not null) ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Whether two tensors hold the same dtype, shape and bytes (e.g. an output head saved as a copy of the token
    /// embedding). Compares in chunks, so it needs no memory of the tensors' size.
    /// </summary>
    /// <exception cref="InvalidInputException">Either tensor is missing, or the file changed since it was opened.</exception>
    public bool HaveEqualData(string first, string second)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        TensorInfo left = Info(first), right = Info(second);
        if (left.DType != right.DType || !left.Shape.SequenceEqual(right.Shape)) return false;
        if (left.Begin == right.Begin) return true;
        const int chunkBytes = 1 << 16;
        byte[] leftChunk = ArrayPool<byte>.Shared.Rent(chunkBytes), rightChunk = ArrayPool<byte>.Shared.Rent(chunkBytes);
        try
        {
            for (long done = 0; done < left.ByteLength; done += chunkBytes)
            {
                int length = (int)Math.Min(chunkBytes, left.ByteLength - done);
                source.ReadExactly(dataStart + left.Begin + done, leftChunk.AsSpan(0, length));
                source.ReadExactly(dataStart + right.Begin + done, rightChunk.AsSpan(0, length));
                if (!leftChunk.AsSpan(0, length).SequenceEqual(rightChunk.AsSpan(0, length))) return false;
            }
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(leftChunk);
            ArrayPool<byte>.Shared.Return(rightChunk);
        }
    }

    void ReadSingles(long offset, Span<float> destination)
    {
        source.ReadExactly(offset, MemoryMarshal.AsBytes(destination));
        if (!BitConverter.IsLittleEndian)
        {
            Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
            BinaryPrimitives.ReverseEndianness(bits, bits);
        }
    }

    static void Convert(SafeTensorsDType dtype, ReadOnlySpan<byte> raw, Span<float> destination)
    {
        switch (dtype)
        {
            case SafeTensorsDType.F16 or SafeTensorsDType.BF16:
            {
                ReadOnlySpan<ushort> bits = MemoryMarshal.Cast<byte, ushort>(raw);
                if (!BitConverter.IsLittleEndian)
                {
                    ushort[] swapped = bits.ToArray();
                    BinaryPrimitives.ReverseEndianness(swapped, swapped);
                    bits = swapped;
                }
                if (dtype == SafeTensorsDType.F16) HalfPrecision.Float16ToSingle(bits, destination);
                else HalfPrecision.BFloat16ToSingle(bits, destination);
                break;
            }
            case SafeTensorsDType.F64:
                for (int index = 0; index < destination.Length; index++)
                    destination[index] = (float)BinaryPrimitives.ReadDoubleLittleEndian(raw.Slice(index * sizeof(double), sizeof(double)));
                break;
            default:
                throw new InvalidOperationException($"no float conversion for {dtype}");
        }
    }

    void CheckConvertible(TensorInfo info)
    {
        if (info.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64))
            throw new InvalidInputException(
                $"has dtype {info.DType}, which cannot be read as float32 (supported: F32, F16, BF16, F64)", FilePath, MessageText.Printable(info.Name));
    }

    /// <summary>Closes the underlying file (a caller's stream is left open).</summary>
    public void Dispose()
    {
        disposed = true;
        source.Dispose();
    }

    /// <summary>Reads and validates the header of <paramref name="source"/>; takes ownership of it.</summary>
    internal static SafeTensorsFile Open(ByteSource source)
    {
        try
        {
            string file = source.DisplayName;
            long length = source.Length;
            if (length < 8)
                throw new InvalidInputException($"is {length} bytes long; a safetensors file starts with an 8-byte header length", file, "header length");
            Span<byte> prefix = stackalloc byte[8];
            source.ReadExactly(0, prefix);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength == 0) throw new InvalidInputException("is 0; the header must hold at least '{}'", file, "header length");
            if (headerLength > SafeTensorsHeader.MaxHeaderBytes)
                throw new InvalidInputException($"{headerLength} exceeds the limit of {SafeTensorsHeader.MaxHeaderBytes} bytes", file, "header length");
            if ((long)headerLength > length - 8)
                throw new InvalidInputException($"{headerLength} reaches beyond the end of the file ({length} bytes)", file, "header length");

            var header = new byte[headerLength];
            source.ReadExactly(8, header);
            long dataStart = 8 + (long)headerLength;
            SafeTensorsHeaderContent content = SafeTensorsHeader.Parse(header, length - dataStart, file);
            return new SafeTensorsFile(source, dataStart, content);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }
}
