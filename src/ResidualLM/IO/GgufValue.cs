// One GGUF metadata value: a scalar, a string, or an array of them (arrays may nest, as the spec allows).
// Values compare by content, floats by bit pattern, so a round trip can be checked with Equals.
using System.Collections;

namespace ResidualLM.IO;

/// <summary>GGUF metadata value types, numbered as in the file (gguf_metadata_value_type).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>
/// A typed metadata value. <see cref="Value"/> holds the .NET value: <c>byte</c>, <c>sbyte</c>, <c>ushort</c>,
/// <c>short</c>, <c>uint</c>, <c>int</c>, <c>float</c>, <c>bool</c>, <c>string</c>, <c>ulong</c>, <c>long</c> or
/// <c>double</c>; an array holds a typed .NET array of those (<c>string[]</c>, <c>int[]</c>, ...), or
/// <c>GgufValue[]</c> for an array of arrays.
/// </summary>
public sealed class GgufValue : IEquatable<GgufValue>
{
    GgufValue(GgufValueType type, GgufValueType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        Value = value;
    }

    /// <summary>The value's type; <see cref="GgufValueType.Array"/> for arrays.</summary>
    public GgufValueType Type { get; }

    /// <summary>For an array, the type of its elements; for a scalar, the same as <see cref="Type"/>.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The .NET value (see the class summary for the mapping).</summary>
    public object Value { get; }

    /// <summary>Whether this is an array.</summary>
    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>The number of elements of an array; 1 for a scalar.</summary>
    public int Count => IsArray ? ((Array)Value).Length : 1;

    /// <summary>The type as a short name: "u32", "string", "array of i32", "array of array".</summary>
    public string TypeName => IsArray ? $"array of {Name(ElementType)}" : Name(Type);

    /// <summary>The short name of a value type, as gguf.cpp prints it ("u8", "f32", "string", "array").</summary>
    public static string Name(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => "u8",
        GgufValueType.Int8 => "i8",
        GgufValueType.UInt16 => "u16",
        GgufValueType.Int16 => "i16",
        GgufValueType.UInt32 => "u32",
        GgufValueType.Int32 => "i32",
        GgufValueType.Float32 => "f32",
        GgufValueType.Bool => "bool",
        GgufValueType.String => "string",
        GgufValueType.Array => "array",
        GgufValueType.UInt64 => "u64",
        GgufValueType.Int64 => "i64",
        GgufValueType.Float64 => "f64",
        _ => $"type {(uint)type}",
    };

    public static GgufValue Of(byte value) => new(GgufValueType.UInt8, GgufValueType.UInt8, value);
    public static GgufValue Of(sbyte value) => new(GgufValueType.Int8, GgufValueType.Int8, value);
    public static GgufValue Of(ushort value) => new(GgufValueType.UInt16, GgufValueType.UInt16, value);
    public static GgufValue Of(short value) => new(GgufValueType.Int16, GgufValueType.Int16, value);
    public static GgufValue Of(uint value) => new(GgufValueType.UInt32, GgufValueType.UInt32, value);
    public static GgufValue Of(int value) => new(GgufValueType.Int32, GgufValueType.Int32, value);
    public static GgufValue Of(float value) => new(GgufValueType.Float32, GgufValueType.Float32, value);
    public static GgufValue Of(bool value) => new(GgufValueType.Bool, GgufValueType.Bool, value);
    public static GgufValue Of(string value) => new(GgufValueType.String, GgufValueType.String, value ?? throw new ArgumentNullException(nameof(value)));
    public static GgufValue Of(ulong value) => new(GgufValueType.UInt64, GgufValueType.UInt64, value);
    public static GgufValue Of(long value) => new(GgufValueType.Int64, GgufValueType.Int64, value);
    public static GgufValue Of(double value) => new(GgufValueType.Float64, GgufValueType.Float64, value);

    public static GgufValue Of(byte[] values) => ArrayOf(GgufValueType.UInt8, values);
    public static GgufValue Of(sbyte[] values) => ArrayOf(GgufValueType.Int8, values);
    public static GgufValue Of(ushort[] values) => ArrayOf(GgufValueType.UInt16, values);
    public static GgufValue Of(short[] values) => ArrayOf(GgufValueType.Int16, values);
    public static GgufValue Of(uint[] values) => ArrayOf(GgufValueType.UInt32, values);
    public static GgufValue Of(int[] values) => ArrayOf(GgufValueType.Int32, values);
    public static GgufValue Of(float[] values) => ArrayOf(GgufValueType.Float32, values);
    public static GgufValue Of(bool[] values) => ArrayOf(GgufValueType.Bool, values);
    public static GgufValue Of(ulong[] values) => ArrayOf(GgufValueType.UInt64, values);
    public static GgufValue Of(long[] values) => ArrayOf(GgufValueType.Int64, values);
    public static GgufValue Of(double[] values) => ArrayOf(GgufValueType.Float64, values);

    public static GgufValue Of(string[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Any(value => value is null)) throw new ArgumentException("a string array holds null", nameof(values));
        return ArrayOf(GgufValueType.String, values);
    }

    /// <summary>An array of arrays; each element must itself be an array (their element types may differ).</summary>
    public static GgufValue Of(GgufValue[] arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        if (arrays.Any(element => element is null || !element.IsArray))
            throw new ArgumentException("every element of an array of arrays must be an array", nameof(arrays));
        return ArrayOf(GgufValueType.Array, arrays);
    }

    static GgufValue ArrayOf(GgufValueType elementType, Array values) =>
        new(GgufValueType.Array, elementType, values ?? throw new ArgumentNullException(nameof(values)));

    /// <summary>The value as a signed 128-bit integer when it is a scalar of an integer type.</summary>
    internal bool TryGetInteger(out Int128 integer)
    {
        (bool isInteger, integer) = Value switch
        {
            byte value when !IsArray => (true, value),
            sbyte value when !IsArray => (true, value),
            ushort value when !IsArray => (true, value),
            short value when !IsArray => (true, value),
            uint value when !IsArray => (true, value),
            int value when !IsArray => (true, value),
            ulong value when !IsArray => (true, value),
            long value when !IsArray => (true, (Int128)value),
            _ => (false, Int128.Zero),
        };
        return isInteger;
    }

    public bool Equals(GgufValue? other) =>
        other is not null && Type == other.Type && ElementType == other.ElementType && SameContent(Value, other.Value);

    public override bool Equals(object? obj) => Equals(obj as GgufValue);

    public override int GetHashCode() => HashCode.Combine(Type, ElementType, IsArray ? Count : Value.GetHashCode());

    /// <summary>A short description for messages and test output (long arrays and strings are cut).</summary>
    public override string ToString()
    {
        if (!IsArray) return Value is string text ? $"\"{MessageText.Printable(text)}\"" : Format(Value);
        IEnumerable<string> items = ((IEnumerable)Value).Cast<object>().Take(8).Select(item => item is string text ? $"\"{MessageText.Printable(text)}\"" : Format(item));
        return $"[{string.Join(", ", items)}{(Count > 8 ? $", ... ({Count} in all)" : "")}]";
    }

    static string Format(object value) => value switch
    {
        float single => single.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        double number => number.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        _ => value.ToString() ?? "",
    };

    static bool SameContent(object left, object right) => (left, right) switch
    {
        (float a, float b) => BitConverter.SingleToUInt32Bits(a) == BitConverter.SingleToUInt32Bits(b),
        (double a, double b) => BitConverter.DoubleToUInt64Bits(a) == BitConverter.DoubleToUInt64Bits(b),
        (float[] a, float[] b) => a.Select(BitConverter.SingleToUInt32Bits).SequenceEqual(b.Select(BitConverter.SingleToUInt32Bits)),
        (double[] a, double[] b) => a.Select(BitConverter.DoubleToUInt64Bits).SequenceEqual(b.Select(BitConverter.DoubleToUInt64Bits)),
        (GgufValue[] a, GgufValue[] b) => a.SequenceEqual(b),
        (Array a, Array b) => a.GetType() == b.GetType() && ((IStructuralEquatable)a).Equals(b, StructuralComparisons.StructuralEqualityComparer),
        _ => left.Equals(right),
    };
}
