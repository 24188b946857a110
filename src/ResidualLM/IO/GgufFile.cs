// An open GGUF file (llama.cpp's format, v2 and v3, little-endian): metadata and tensor infos validated in memory,
// tensor data read on demand. Limits: only F32, F16 and BF16 tensors convert to float32 here; quantized tensors are
// read as raw bytes.
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ResidualLM.IO;

/// <summary>
/// A GGUF file whose header, metadata and tensor infos have been validated: every tensor has a known type, a byte
/// size that matches its shape, and an aligned range inside the file that overlaps no other tensor. Dispose it to
/// close the file. Safe for concurrent tensor reads.
/// </summary>
public sealed class GgufFile : IDisposable
{
    /// <summary>The alignment a file has when it does not set <c>general.alignment</c>.</summary>
    public const int DefaultAlignment = GgufHeader.DefaultAlignment;

    // Converting in chunks keeps the extra memory of an F16/BF16 load small whatever the tensor size.
    const int ChunkElements = 1 << 16;

    readonly ByteSource source;
    readonly OrderedDictionary<string, GgufValue> metadata;
    readonly Dictionary<string, GgufTensorInfo> byName;
    bool disposed;

    GgufFile(ByteSource source, GgufHeaderContent content)
    {
        this.source = source;
        metadata = content.Metadata;
        Version = content.Version;
        Alignment = content.Alignment;
        DataOffset = content.DataStart;
        Tensors = content.Tensors;
        byName = content.Tensors.ToDictionary(tensor => tensor.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates a GGUF file; tensor data is read later, on demand.</summary>
    /// <exception cref="InvalidInputException">The file is missing, unreadable or not a valid GGUF file.</exception>
    public static GgufFile Open(string path) => Open(new FileByteSource(path));

    /// <summary>Reads a GGUF file from a readable, seekable stream, which stays open after disposal.</summary>
    public static GgufFile Open(Stream stream, string displayName) => Open(new StreamByteSource(stream, displayName));

    /// <summary>Reads a GGUF file held in memory; <paramref name="displayName"/> stands for the path in messages.</summary>
    public static GgufFile Open(ReadOnlyMemory<byte> bytes, string displayName) => Open(new MemoryByteSource(bytes, displayName));

    static GgufFile Open(ByteSource source)
    {
        try
        {
            return new GgufFile(source, GgufHeader.Parse(source));
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>The file path or the display name given when opening.</summary>
    public string FilePath => source.DisplayName;

    /// <summary>The format version: 2 or 3 (they differ only in that v3 may be big-endian, which is refused).</summary>
    public uint Version { get; }

    /// <summary>The alignment of the data section and of every tensor's offset (<c>general.alignment</c>, default 32).</summary>
    public int Alignment { get; }

    /// <summary>Where the data section starts, in bytes from the start of the file.</summary>
    public long DataOffset { get; }

    /// <summary>The metadata; enumeration follows the order of the file.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata => metadata;

    /// <summary>The tensors in the order of their infos in the file.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Whether the metadata holds this key.</summary>
    public bool HasKey(string key) => metadata.ContainsKey(key);

    /// <summary>Whether the file holds a tensor of this name.</summary>
    public bool HasTensor(string name) => byName.ContainsKey(name);

    /// <summary>The info of a tensor.</summary>
    /// <exception cref="InvalidInputException">The file has no tensor of this name.</exception>
    public GgufTensorInfo Tensor(string name) =>
        byName.TryGetValue(name, out GgufTensorInfo? tensor) ? tensor : throw new InvalidInputException("tensor not found in the file", FilePath, MessageText.Printable(name));

    /// <summary>A metadata value of any type.</summary>
    /// <exception cref="InvalidInputException">The key is missing.</exception>
    public GgufValue Get(string key) =>
        metadata.TryGetValue(key, out GgufValue? value) ? value : throw new InvalidInputException("is missing from the metadata", FilePath, MessageText.Printable(key));

    /// <summary>A string value.</summary>
    /// <exception cref="InvalidInputException">The key is missing or not a string.</exception>
    public string GetString(string key) => Get(key).Value is string text ? text : throw WrongType(key, "a string");

    /// <summary>A bool value.</summary>
    /// <exception cref="InvalidInputException">The key is missing or not a bool.</exception>
    public bool GetBool(string key) => Get(key) is { IsArray: false, Value: bool flag } ? flag : throw WrongType(key, "a bool");

    /// <summary>An integer of any integer type whose value fits a u32 (as llama.cpp reads its u32 fields).</summary>
    /// <exception cref="InvalidInputException">The key is missing, not an integer, or out of range.</exception>
    public uint GetUInt32(string key) => (uint)GetInteger(key, uint.MinValue, uint.MaxValue, "u32");

    /// <summary>An integer of any integer type whose value fits an i32.</summary>
    /// <exception cref="InvalidInputException">The key is missing, not an integer, or out of range.</exception>
    public int GetInt32(string key) => (int)GetInteger(key, int.MinValue, int.MaxValue, "i32");

    /// <summary>An integer of any integer type whose value fits a u64.</summary>
    /// <exception cref="InvalidInputException">The key is missing, not an integer, or negative.</exception>
    public ulong GetUInt64(string key) => (ulong)GetInteger(key, ulong.MinValue, ulong.MaxValue, "u64");

    /// <summary>An integer of any integer type whose value fits an i64.</summary>
    /// <exception cref="InvalidInputException">The key is missing, not an integer, or out of range.</exception>
    public long GetInt64(string key) => (long)GetInteger(key, long.MinValue, long.MaxValue, "i64");

    /// <summary>An f32 value, or an f64 narrowed to float32.</summary>
    /// <exception cref="InvalidInputException">The key is missing or not a float.</exception>
    public float GetFloat32(string key) => Get(key) switch
    {
        { IsArray: false, Value: float single } => single,
        { IsArray: false, Value: double number } => (float)number,
        _ => throw WrongType(key, "an f32"),
    };

    /// <summary>An array of strings (a new copy).</summary>
    /// <exception cref="InvalidInputException">The key is missing or not an array of strings.</exception>
    public string[] GetStringArray(string key) => Get(key).Value is string[] strings ? (string[])strings.Clone() : throw WrongType(key, "an array of string");

    /// <summary>An array of f32 values, or of f64 narrowed to float32 (a new copy).</summary>
    /// <exception cref="InvalidInputException">The key is missing or not an array of floats.</exception>
    public float[] GetFloat32Array(string key) => Get(key).Value switch
    {
        float[] singles => (float[])singles.Clone(),
        double[] numbers => Array.ConvertAll(numbers, number => (float)number),
        _ => throw WrongType(key, "an array of f32"),
    };

    /// <summary>An array of any integer type whose every element fits an i32 (e.g. token types).</summary>
    /// <exception cref="InvalidInputException">The key is missing, not an integer array, or an element is out of range.</exception>
    public int[] GetInt32Array(string key)
    {
        GgufValue value = Get(key);
        if (!value.IsArray || value.Value is not Array elements || !IsInteger(value.ElementType)) throw WrongType(key, "an array of i32");
        var result = new int[elements.Length];
        for (int index = 0; index < result.Length; index++)
        {
            Int128 element = elements.GetValue(index) switch
            {
                ulong unsigned => unsigned,
                object other => Convert.ToInt64(other, System.Globalization.CultureInfo.InvariantCulture),
                null => 0,
            };
            if (element < int.MinValue || element > int.MaxValue)
                throw new InvalidInputException($"element {index} is {element}, which does not fit an i32", FilePath, MessageText.Printable(key));
            result[index] = (int)element;
        }
        return result;
    }

    Int128 GetInteger(string key, Int128 minimum, Int128 maximum, string typeName)
    {
        if (!Get(key).TryGetInteger(out Int128 integer)) throw WrongType(key, $"an integer that fits {Article(typeName)}");
        if (integer < minimum || integer > maximum)
            throw new InvalidInputException($"is {integer}, which does not fit {Article(typeName)}", FilePath, MessageText.Printable(key));
        return integer;
    }

    static bool IsInteger(GgufValueType type) => type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16
        or GgufValueType.Int16 or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    InvalidInputException WrongType(string key, string expected) =>
        new($"is {Article(Get(key).TypeName)}, expected {expected}", FilePath, MessageText.Printable(key));

    static string Article(string typeName) => (typeName[0] is 'a' or 'i' or 'f' ? "an " : "a ") + typeName;

    /// <summary>Copies a tensor's raw bytes (any type, quantized blocks as stored) into <paramref name="destination"/>.</summary>
    /// <exception cref="InvalidInputException">No such tensor, or the file changed since it was opened.</exception>
    /// <exception cref="ArgumentException">The destination length differs from the tensor's byte length.</exception>
    public void ReadBytes(string name, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        GgufTensorInfo tensor = Tensor(name);
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException($"tensor {name} has {tensor.ByteLength} bytes but the destination has {destination.Length}", nameof(destination));
        source.ReadExactly(DataOffset + tensor.Offset, destination);
    }

    /// <summary>A tensor's raw bytes in a new array.</summary>
    /// <exception cref="InvalidInputException">No such tensor, too large for one array, or the file changed.</exception>
    public byte[] ReadBytes(string name)
    {
        GgufTensorInfo tensor = Tensor(name);
        if (tensor.ByteLength > Array.MaxLength)
            throw new InvalidInputException($"has {tensor.ByteLength} bytes, more than one array can hold", FilePath, MessageText.Printable(name));
        var bytes = new byte[tensor.ByteLength];
        ReadBytes(name, bytes);
        return bytes;
    }

    /// <summary>Reads an F32, F16 or BF16 tensor as float32 (half precision widened exactly), in ne order.</summary>
    /// <exception cref="InvalidInputException">No such tensor, another type, too large, or the file changed.</exception>
    public float[] ReadFloat32(string name)
    {
        GgufTensorInfo tensor = Tensor(name);
        CheckConvertible(tensor);
        if (tensor.ElementCount > Array.MaxLength)
            throw new InvalidInputException($"has {tensor.ElementCount} elements, more than one array can hold", FilePath, MessageText.Printable(name));
        var values = new float[tensor.ElementCount];
        ReadFloat32(name, values);
        return values;
    }

    /// <summary>Reads an F32, F16 or BF16 tensor as float32 into <paramref name="destination"/> (exactly its element count).</summary>
    /// <exception cref="InvalidInputException">No such tensor, another type, or the file changed since it was opened.</exception>
    /// <exception cref="ArgumentException">The destination length differs from the tensor's element count.</exception>
    public void ReadFloat32(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        GgufTensorInfo tensor = Tensor(name);
        CheckConvertible(tensor);
        if (destination.Length != tensor.ElementCount)
            throw new ArgumentException($"tensor {name} has {tensor.ElementCount} elements but the destination has {destination.Length}", nameof(destination));
        long start = DataOffset + tensor.Offset;
        if (tensor.Type == GgufType.F32)
        {
            source.ReadExactly(start, MemoryMarshal.AsBytes(destination));
            if (!BitConverter.IsLittleEndian)
            {
                Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
                BinaryPrimitives.ReverseEndianness(bits, bits);
            }
            return;
        }
        ushort[] scratch = ArrayPool<ushort>.Shared.Rent(ChunkElements);
        try
        {
            for (int done = 0; done < destination.Length; done += ChunkElements)
            {
                Span<float> chunk = destination.Slice(done, Math.Min(ChunkElements, destination.Length - done));
                Span<ushort> bits = scratch.AsSpan(0, chunk.Length);
                source.ReadExactly(start + (long)done * sizeof(ushort), MemoryMarshal.AsBytes(bits));
                if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(bits, bits);
                if (tensor.Type == GgufType.F16) HalfPrecision.Float16ToSingle(bits, chunk);
                else HalfPrecision.BFloat16ToSingle(bits, chunk);
            }
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(scratch);
        }
    }

    void CheckConvertible(GgufTensorInfo tensor)
    {
        if (tensor.Type is not (GgufType.F32 or GgufType.F16 or GgufType.BF16))
            throw new InvalidInputException(
                $"has type {GgufTypes.Name(tensor.Type)}, which cannot be read as float32 here (supported: f32, f16, bf16)", FilePath, MessageText.Printable(tensor.Name));
    }

    /// <summary>Closes the underlying file (a caller's stream is left open).</summary>
    public void Dispose()
    {
        disposed = true;
        source.Dispose();
    }
}
