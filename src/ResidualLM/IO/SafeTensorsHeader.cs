// Parses and validates the JSON header of a safetensors file; every number is checked before it is used.
// Rules follow the reference implementation (huggingface/safetensors, tensor.rs), with stricter field checks.
using System.Text.Json;
using System.Text.Unicode;

namespace ResidualLM.IO;

/// <summary>The validated content of a header: tensors in data order and the <c>__metadata__</c> strings.</summary>
internal sealed record SafeTensorsHeaderContent(IReadOnlyList<TensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata);

internal static class SafeTensorsHeader
{
    /// <summary>Largest header accepted, as in the reference implementation (100,000,000 bytes).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    const string MetadataKey = "__metadata__";

    /// <summary>
    /// Validates <paramref name="header"/> (the N header bytes) against a data buffer of
    /// <paramref name="bufferLength"/> bytes. Throws <see cref="InvalidInputException"/> naming the file and tensor.
    /// </summary>
    public static SafeTensorsHeaderContent Parse(ReadOnlyMemory<byte> header, long bufferLength, string file)
    {
        ReadOnlySpan<byte> span = header.Span;
        if (!Utf8.IsValid(span)) throw new InvalidInputException("is not valid UTF-8", file, "header");
        // The reference (0.4+) requires the header to start with '{': no BOM, no leading whitespace.
        if (span.Length == 0 || span[0] != (byte)'{')
            throw new InvalidInputException("must be a JSON object starting with '{'", file, "header");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException exception)
        {
            throw new InvalidInputException(
                $"is not valid JSON (byte {exception.BytePositionInLine + 1} of line {exception.LineNumber + 1})", file, "header", exception);
        }
        using (document)
        {
            try
            {
                return Interpret(document.RootElement, bufferLength, file);
            }
            catch (InvalidOperationException exception)
            {
                // System.Text.Json throws this when a string holds an escaped lone surrogate ("\ud800").
                throw new InvalidInputException("holds a string that is not valid Unicode", file, "header", exception);
            }
        }
    }

    static SafeTensorsHeaderContent Interpret(JsonElement root, long bufferLength, string file)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidInputException("must be a JSON object", file, "header");

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var tensors = new List<TensorInfo>();
        IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty property in root.EnumerateObject())
        {
            if (!seen.Add(property.Name))
                throw new InvalidInputException("appears twice in the header", file, MessageText.Printable(property.Name));
            if (property.Name == MetadataKey) metadata = ReadMetadata(property.Value, file);
            else tensors.Add(ReadEntry(property.Name, property.Value, bufferLength, file));
        }
        CheckTiling(tensors, bufferLength, file);
        return new SafeTensorsHeaderContent(tensors, metadata);
    }

    static Dictionary<string, string> ReadMetadata(JsonElement value, string file)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidInputException($"must be an object of strings, found {MessageText.Describe(value)}", file, MetadataKey);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty property in value.EnumerateObject())
        {
            string field = $"{MetadataKey}.{MessageText.Printable(property.Name)}";
            if (property.Value.ValueKind != JsonValueKind.String)
                throw new InvalidInputException($"must be a string, found {MessageText.Describe(property.Value)}", file, field);
            if (!metadata.TryAdd(property.Name, property.Value.GetString()!))
                throw new InvalidInputException("appears twice", file, field);
        }
        return metadata;
    }

    static TensorInfo ReadEntry(string name, JsonElement value, long bufferLength, string file)
    {
        string field = MessageText.Printable(name);
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidInputException($"must be an object with dtype, shape and data_offsets, found {MessageText.Describe(value)}", file, field);

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        foreach (JsonProperty property in value.EnumerateObject())
        {
            switch (property.Name)
            {
                case "dtype": dtypeElement = Once(dtypeElement, property, file, field); break;
                case "shape": shapeElement = Once(shapeElement, property, file, field); break;
                case "data_offsets": offsetsElement = Once(offsetsElement, property, file, field); break;
                default: throw new InvalidInputException($"has an unknown field \"{MessageText.Printable(property.Name)}\"", file, field);
            }
        }
        if (dtypeElement is null) throw new InvalidInputException("is missing the field \"dtype\"", file, field);
        if (shapeElement is null) throw new InvalidInputException("is missing the field \"shape\"", file, field);
        if (offsetsElement is null) throw new InvalidInputException("is missing the field \"data_offsets\"", file, field);

        SafeTensorsDType dtype = ReadDType(dtypeElement.Value, file, field);
        (long[] shape, long elementCount) = ReadShape(shapeElement.Value, file, field);
        (long begin, long end) = ReadOffsets(offsetsElement.Value, bufferLength, file, field);

        long expectedBytes;
        try
        {
            expectedBytes = checked(elementCount * SafeTensorsDTypes.Size(dtype));
        }
        catch (OverflowException)
        {
            throw new InvalidInputException($"byte size of shape [{string.Join(", ", shape)}] of {dtype} overflows", file, field);
        }
        if (end - begin != expectedBytes)
            throw new InvalidInputException(
                $"data_offsets [{begin}, {end}] hold {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {expectedBytes}", file, field);
        return new TensorInfo(file, name, dtype, shape, elementCount, begin, end);
    }

    static JsonElement Once(JsonElement? previous, JsonProperty property, string file, string field) =>
        previous is null ? property.Value : throw new InvalidInputException($"has the field \"{property.Name}\" twice", file, field);

    static SafeTensorsDType ReadDType(JsonElement value, string file, string field)
    {
        if (value.ValueKind != JsonValueKind.String)
            throw new InvalidInputException($"dtype must be a string, found {MessageText.Describe(value)}", file, field);
        string text = value.GetString()!;
        return SafeTensorsDTypes.TryParse(text, out SafeTensorsDType dtype)
            ? dtype
            : throw new InvalidInputException($"dtype \"{MessageText.Printable(text)}\" is unknown", file, field);
    }

    static (long[] Shape, long ElementCount) ReadShape(JsonElement value, string file, string field)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException($"shape must be a list of non-negative integers, found {MessageText.Describe(value)}", file, field);
        var shape = new long[value.GetArrayLength()];
        long elementCount = 1;
        int axis = 0;
        foreach (JsonElement dimension in value.EnumerateArray())
        {
            if (!TryGetNonNegativeInteger(dimension, out long size))
                throw new InvalidInputException($"shape[{axis}] must be a non-negative integer below 2^63, found {MessageText.Describe(dimension)}", file, field);
            // Checked in order, as the reference does: a product that overflows before a later 0 is still rejected.
            try
            {
                elementCount = checked(elementCount * size);
            }
            catch (OverflowException)
            {
                throw new InvalidInputException($"shape product overflows at shape[{axis}] = {size}", file, field);
            }
            shape[axis++] = size;
        }
        return (shape, elementCount);
    }

    static (long Begin, long End) ReadOffsets(JsonElement value, long bufferLength, string file, string field)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != 2)
            throw new InvalidInputException($"data_offsets must be a list of 2 integers, found {MessageText.Describe(value)}", file, field);
        if (!TryGetNonNegativeInteger(value[0], out long begin) || !TryGetNonNegativeInteger(value[1], out long end))
            throw new InvalidInputException($"data_offsets must be 2 non-negative integers, found {MessageText.Describe(value)}", file, field);
        if (begin > end) throw new InvalidInputException($"data_offsets begin {begin} is after end {end}", file, field);
        if (end > bufferLength)
            throw new InvalidInputException($"data_offsets end {end} is beyond the data buffer of {bufferLength} bytes", file, field);
        return (begin, end);
    }

    /// <summary>
    /// The reference requires the ranges, sorted by offset, to tile the buffer exactly: no overlap, no hole, no
    /// trailing bytes. Zero-length tensors sort before a range starting at the same offset and so fit anywhere.
    /// </summary>
    static void CheckTiling(List<TensorInfo> tensors, long bufferLength, string file)
    {
        // Ties broken by name so the tensor named in an overlap message does not depend on the sort's whims.
        tensors.Sort((left, right) =>
            left.Begin != right.Begin ? left.Begin.CompareTo(right.Begin)
            : left.End != right.End ? left.End.CompareTo(right.End)
            : string.CompareOrdinal(left.Name, right.Name));
        long position = 0;
        TensorInfo? previous = null;
        foreach (TensorInfo tensor in tensors)
        {
            if (tensor.Begin < position)
                throw new InvalidInputException(
                    $"data_offsets [{tensor.Begin}, {tensor.End}] overlap tensor \"{MessageText.Printable(previous!.Name)}\" [{previous.Begin}, {previous.End}]",
                    file, MessageText.Printable(tensor.Name));
            if (tensor.Begin > position)
                throw new InvalidInputException(
                    $"data_offsets [{tensor.Begin}, {tensor.End}] leave bytes {position}..{tensor.Begin} of the buffer unused", file, MessageText.Printable(tensor.Name));
            position = tensor.End;
            previous = tensor;
        }
        if (position != bufferLength)
            throw new InvalidInputException(
                $"tensors cover {position} bytes but the data buffer has {bufferLength}: the buffer must be covered exactly", file, "data_offsets");
    }

    static bool TryGetNonNegativeInteger(JsonElement element, out long value)
    {
        // TryGetInt64 rejects fractions and exponents ("2.0", "2e3"), as serde's usize does.
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value) && value >= 0;
    }
}
