// Strict reading of JSON configuration files: size limit, UTF-8, no comments or duplicate keys, and typed getters
// whose failures name the file and the field. Limits: documents up to 16 MB (configurable) and 64 levels deep.
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace ResidualLM.IO;

/// <summary>A JSON object read from a file, with the file and the object's field path kept for messages.</summary>
public sealed class JsonInputObject
{
    internal JsonInputObject(JsonElement element, string filePath, string path)
    {
        Element = element;
        FilePath = filePath;
        Path = path;
    }

    /// <summary>The underlying element (an object; independent of any disposed document).</summary>
    public JsonElement Element { get; }

    /// <summary>The file (or display name) the object came from.</summary>
    public string FilePath { get; }

    /// <summary>Dotted path of this object inside the file; empty for the root.</summary>
    public string Path { get; }

    /// <summary>Names of the object's fields, in file order.</summary>
    public IEnumerable<string> FieldNames => Element.EnumerateObject().Select(property => property.Name);

    /// <summary>Whether the field is present and not <c>null</c>.</summary>
    public bool Has(string name) => Element.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null;

    internal string FieldName(string name) => Path.Length == 0 ? MessageText.Printable(name) : $"{Path}.{MessageText.Printable(name)}";
}

/// <summary>Parses JSON configuration files strictly and reads typed fields with messages naming file and field.</summary>
public static partial class JsonInput
{
    /// <summary>Default size limit for <see cref="Parse(string, long)"/>: configs are small, a larger file is a mistake.</summary>
    public const long DefaultMaxBytes = 16L << 20;

    const int MaxDepth = 64;

    /// <summary>Reads and parses a JSON file whose root must be an object.</summary>
    /// <exception cref="InvalidInputException">Missing or unreadable file, too large, not UTF-8, invalid JSON, duplicate keys, or not an object.</exception>
    public static JsonInputObject Parse(string path, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > maxBytes)
                throw new InvalidInputException($"is {stream.Length} bytes, more than the limit of {maxBytes} for a JSON file", path);
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidInputException("file not found", path, inner: exception);
        }
        catch (Exception exception) when (exception is UnauthorizedAccessException or IOException)
        {
            throw new InvalidInputException($"cannot be read: {exception.Message}", path, inner: exception);
        }
        return ParseBytes(bytes, path);
    }

    /// <summary>Parses JSON text; <paramref name="displayName"/> names it in messages.</summary>
    public static JsonInputObject ParseText(string text, string displayName) =>
        ParseBytes(Encoding.UTF8.GetBytes(text ?? throw new ArgumentNullException(nameof(text))), displayName);

    /// <summary>Parses UTF-8 JSON bytes (a leading byte-order mark is skipped); <paramref name="displayName"/> names them in messages.</summary>
    public static JsonInputObject ParseBytes(ReadOnlyMemory<byte> bytes, string displayName)
    {
        ReadOnlySpan<byte> byteOrderMark = [0xEF, 0xBB, 0xBF];
        if (bytes.Span.StartsWith(byteOrderMark)) bytes = bytes[byteOrderMark.Length..];
        if (!Utf8.IsValid(bytes.Span)) throw new InvalidInputException("is not valid UTF-8", displayName);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException exception)
        {
            throw new InvalidInputException(
                $"invalid JSON at line {exception.LineNumber + 1}, byte {exception.BytePositionInLine + 1}: {Reason(exception)}", displayName, inner: exception);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidInputException($"must hold a JSON object, found {MessageText.Describe(root)}", displayName);
            CheckTree(root, displayName, "");
            return new JsonInputObject(root.Clone(), displayName, "");
        }
    }

    /// <summary>
    /// Rejects duplicate keys anywhere (JSON allows them, and which one wins differs between readers) and strings
    /// with escaped lone surrogates, so the getters below can never meet either.
    /// </summary>
    static void CheckTree(JsonElement element, string file, string path)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    var names = new HashSet<string>(StringComparer.Ordinal);
                    foreach (JsonProperty property in element.EnumerateObject())
                    {
                        string field = path.Length == 0 ? MessageText.Printable(property.Name) : $"{path}.{MessageText.Printable(property.Name)}";
                        if (!names.Add(property.Name)) throw new InvalidInputException("appears twice", file, field);
                        CheckTree(property.Value, file, field);
                    }
                    break;
                case JsonValueKind.Array:
                    int index = 0;
                    foreach (JsonElement item in element.EnumerateArray()) CheckTree(item, file, $"{path}[{index++}]");
                    break;
                case JsonValueKind.String:
                    element.GetString();
                    break;
            }
        }
        catch (InvalidOperationException exception)
        {
            throw new InvalidInputException("holds a string that is not valid Unicode", file, path.Length == 0 ? null : path, exception);
        }
    }

    static string Reason(JsonException exception)
    {
        // The message repeats the position ("LineNumber: 0 | BytePositionInLine: 3."): keep only the first sentence.
        string message = exception.Message;
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return MessageText.Printable((cut >= 0 ? message[..cut] : message).TrimEnd());
    }

    /// <summary>Throws if the object has a field not in <paramref name="allowed"/> (catches misspelt settings).</summary>
    public static void RejectUnknown(JsonInputObject obj, params string[] allowed)
    {
        foreach (string name in obj.FieldNames)
        {
            if (Array.IndexOf(allowed, name) < 0)
                throw new InvalidInputException($"is not a known field (expected one of: {string.Join(", ", allowed)})", obj.FilePath, obj.FieldName(name));
        }
    }
}
