// Typed field getters of JsonInput: each names the file and field when the value is missing, of the wrong type or
// out of range. Optional getters treat a missing field and an explicit null alike (Hugging Face configs use null).
using System.Globalization;
using System.Text.Json;

namespace ResidualLM.IO;

public static partial class JsonInput
{
    /// <summary>A required integer in [<paramref name="min"/>, <paramref name="max"/>]; fractions such as 2.0 or 2e3 are rejected.</summary>
    public static int GetInt(JsonInputObject obj, string name, int min = int.MinValue, int max = int.MaxValue) =>
        (int)ReadInteger(obj, name, Required(obj, name), min, max);

    /// <summary>An optional integer in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="defaultValue"/> when absent or null.</summary>
    public static int GetOptionalInt(JsonInputObject obj, string name, int defaultValue, int min = int.MinValue, int max = int.MaxValue) =>
        TryOptional(obj, name, out JsonElement value) ? (int)ReadInteger(obj, name, value, min, max) : defaultValue;

    /// <summary>A required 64-bit integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static long GetLong(JsonInputObject obj, string name, long min = long.MinValue, long max = long.MaxValue) =>
        ReadInteger(obj, name, Required(obj, name), min, max);

    /// <summary>An optional 64-bit integer, or <paramref name="defaultValue"/> when absent or null.</summary>
    public static long GetOptionalLong(JsonInputObject obj, string name, long defaultValue, long min = long.MinValue, long max = long.MaxValue) =>
        TryOptional(obj, name, out JsonElement value) ? ReadInteger(obj, name, value, min, max) : defaultValue;

    /// <summary>A required finite number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static double GetDouble(JsonInputObject obj, string name, double min = double.MinValue, double max = double.MaxValue) =>
        ReadDouble(obj, name, Required(obj, name), min, max);

    /// <summary>An optional finite number, or <paramref name="defaultValue"/> when absent or null.</summary>
    public static double GetOptionalDouble(JsonInputObject obj, string name, double defaultValue, double min = double.MinValue, double max = double.MaxValue) =>
        TryOptional(obj, name, out JsonElement value) ? ReadDouble(obj, name, value, min, max) : defaultValue;

    /// <summary>A required string, restricted to <paramref name="allowedValues"/> when given.</summary>
    public static string GetString(JsonInputObject obj, string name, IReadOnlyCollection<string>? allowedValues = null) =>
        ReadString(obj, name, Required(obj, name), allowedValues);

    /// <summary>An optional string, or <paramref name="defaultValue"/> when absent or null.</summary>
    public static string? GetOptionalString(JsonInputObject obj, string name, string? defaultValue, IReadOnlyCollection<string>? allowedValues = null) =>
        TryOptional(obj, name, out JsonElement value) ? ReadString(obj, name, value, allowedValues) : defaultValue;

    /// <summary>A required boolean (<c>true</c> or <c>false</c>, not 0/1 or "true").</summary>
    public static bool GetBool(JsonInputObject obj, string name) => ReadBool(obj, name, Required(obj, name));

    /// <summary>An optional boolean, or <paramref name="defaultValue"/> when absent or null.</summary>
    public static bool GetOptionalBool(JsonInputObject obj, string name, bool defaultValue) =>
        TryOptional(obj, name, out JsonElement value) ? ReadBool(obj, name, value) : defaultValue;

    /// <summary>A required list of integers, each in [<paramref name="min"/>, <paramref name="max"/>], of exactly <paramref name="length"/> items when given.</summary>
    public static int[] GetIntArray(JsonInputObject obj, string name, int min = int.MinValue, int max = int.MaxValue, int? length = null)
    {
        JsonElement value = Required(obj, name);
        if (value.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException($"must be a list of integers, found {MessageText.Describe(value)}", obj.FilePath, obj.FieldName(name));
        int count = value.GetArrayLength();
        if (length is int expected && count != expected)
            throw new InvalidInputException($"must have {expected} items, found {count}", obj.FilePath, obj.FieldName(name));
        var result = new int[count];
        int index = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            result[index] = (int)ReadInteger(obj, $"{name}[{index}]", item, min, max);
            index++;
        }
        return result;
    }

    /// <summary>A required nested object; messages about its fields use the dotted path (<c>outer.inner</c>).</summary>
    public static JsonInputObject GetObject(JsonInputObject obj, string name)
    {
        JsonElement value = Required(obj, name);
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidInputException($"must be an object, found {MessageText.Describe(value)}", obj.FilePath, obj.FieldName(name));
        return new JsonInputObject(value, obj.FilePath, obj.FieldName(name));
    }

    static JsonElement Required(JsonInputObject obj, string name)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return obj.Element.TryGetProperty(name, out JsonElement value)
            ? value
            : throw new InvalidInputException("is missing (required field)", obj.FilePath, obj.FieldName(name));
    }

    static bool TryOptional(JsonInputObject obj, string name, out JsonElement value)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return obj.Element.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;
    }

    static long ReadInteger(JsonInputObject obj, string name, JsonElement value, long min, long max)
    {
        string range = $"between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}";
        if (value.ValueKind != JsonValueKind.Number)
            throw new InvalidInputException($"must be an integer {range}, found {MessageText.Describe(value)}", obj.FilePath, obj.FieldName(name));
        if (value.TryGetInt64(out long integer))
        {
            if (integer < min || integer > max)
                throw new InvalidInputException($"is {integer}, out of range: must be {range}", obj.FilePath, obj.FieldName(name));
            return integer;
        }
        // Not a 64-bit integer: either a fraction (2.5, 2.0, 1e-3) or an integer too large for any range we accept.
        bool finite = value.TryGetDouble(out double number) && double.IsFinite(number);
        bool fraction = finite && (Math.Floor(number) != number || value.GetRawText().Contains('.'));
        string problem = fraction ? "not an integer" : "out of range";
        throw new InvalidInputException($"is {MessageText.Printable(value.GetRawText())}, {problem}: must be an integer {range}", obj.FilePath, obj.FieldName(name));
    }

    static double ReadDouble(JsonInputObject obj, string name, JsonElement value, double min, double max)
    {
        if (value.ValueKind != JsonValueKind.Number)
            throw new InvalidInputException($"must be a number, found {MessageText.Describe(value)}", obj.FilePath, obj.FieldName(name));
        // TryGetDouble fails (or gives infinity) for magnitudes beyond double, such as 1e999.
        if (!value.TryGetDouble(out double number) || !double.IsFinite(number))
            throw new InvalidInputException($"is {MessageText.Printable(value.GetRawText())}, out of range for a finite number", obj.FilePath, obj.FieldName(name));
        if (number < min || number > max)
            throw new InvalidInputException(
                $"is {number.ToString("R", CultureInfo.InvariantCulture)}, out of range: must be between {min.ToString("R", CultureInfo.InvariantCulture)} and {max.ToString("R", CultureInfo.InvariantCulture)}",
                obj.FilePath, obj.FieldName(name));
        return number;
    }

    static string ReadString(JsonInputObject obj, string name, JsonElement value, IReadOnlyCollection<string>? allowedValues)
    {
        if (value.ValueKind != JsonValueKind.String)
            throw new InvalidInputException($"must be a string, found {MessageText.Describe(value)}", obj.FilePath, obj.FieldName(name));
        string text = value.GetString()!;
        if (allowedValues is not null && !allowedValues.Contains(text, StringComparer.Ordinal))
            throw new InvalidInputException($"is \"{MessageText.Printable(text)}\", expected one of: {string.Join(", ", allowedValues)}", obj.FilePath, obj.FieldName(name));
        return text;
    }

    static bool ReadBool(JsonInputObject obj, string name, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new InvalidInputException($"must be true or false, found {MessageText.Describe(value)}", obj.FilePath, obj.FieldName(name)),
    };
}
