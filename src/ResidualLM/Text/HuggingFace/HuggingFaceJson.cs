// Typed reads from a Hugging Face tokenizer.json whose failures name the file and the dotted field path
// (e.g. "pre_tokenizer.pretokenizers[0].pattern.Regex"), so every error is one line that points at the problem.
using System.Text.Json;

namespace ResidualLM.Text.HuggingFace;

/// <summary>A JSON value of a tokenizer file with the file and its field path, for messages.</summary>
internal readonly record struct HuggingFaceJson(JsonElement Element, string FilePath, string Field)
{
    /// <summary>An error about this value: "file: field: message".</summary>
    public InvalidInputException Error(string message) => new(message, FilePath, Field.Length == 0 ? null : Field);

    string PathOf(string name) => Field.Length == 0 ? name : $"{Field}.{name}";

    public bool IsObject => Element.ValueKind == JsonValueKind.Object;

    /// <summary>The field, or null when it is absent or JSON null.</summary>
    public HuggingFaceJson? Optional(string name)
    {
        if (Element.ValueKind != JsonValueKind.Object) throw Error($"expected an object, found {IO.MessageText.Describe(Element)}");
        return Element.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null
            ? new HuggingFaceJson(value, FilePath, PathOf(name)) : null;
    }

    public HuggingFaceJson Required(string name) =>
        Optional(name) ?? throw new InvalidInputException("is missing", FilePath, PathOf(name));

    public HuggingFaceJson RequiredObject(string name)
    {
        HuggingFaceJson value = Required(name);
        return value.IsObject ? value : throw value.Error($"expected an object, found {IO.MessageText.Describe(value.Element)}");
    }

    public string AsString() => Element.ValueKind == JsonValueKind.String
        ? Element.GetString()! : throw Error($"expected a string, found {IO.MessageText.Describe(Element)}");

    public string String(string name) => Required(name).AsString();

    public string? OptionalString(string name) => Optional(name)?.AsString();

    public bool Bool(string name, bool defaultValue)
    {
        if (Optional(name) is not { } value) return defaultValue;
        return value.Element.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw value.Error($"expected true or false, found {IO.MessageText.Describe(value.Element)}"),
        };
    }

    public int AsInt() => TokenizerIO.TryGetInt(Element, out int number)
        ? number : throw Error($"expected an integer, found {IO.MessageText.Describe(Element)}");

    public int Int(string name, int defaultValue) => Optional(name)?.AsInt() ?? defaultValue;

    /// <summary>The items of an array field, each named "field[i]".</summary>
    public IEnumerable<HuggingFaceJson> Items(string name) => Required(name).AsItems();

    public IEnumerable<HuggingFaceJson> AsItems()
    {
        if (Element.ValueKind != JsonValueKind.Array) throw Error($"expected a list, found {IO.MessageText.Describe(Element)}");
        int index = 0;
        foreach (JsonElement item in Element.EnumerateArray())
            yield return new HuggingFaceJson(item, FilePath, $"{Field}[{index++}]");
    }

    /// <summary>The "type" field of a component (normalizer, pre-tokenizer, model, decoder, post-processor).</summary>
    public string Type => String("type");

    /// <summary>An error for a component type this reader does not implement.</summary>
    public InvalidInputException Unsupported(string what, string supported) =>
        new($"unsupported {what} \"{IO.MessageText.Printable(Type)}\"; supported: {supported}", FilePath, PathOf("type"));

    /// <summary>A Split/Replace "pattern": {"String": s} (a literal) or {"Regex": r}.</summary>
    public (string Text, bool IsRegex) Pattern(string name)
    {
        HuggingFaceJson pattern = RequiredObject(name);
        if (pattern.OptionalString("String") is { } literal) return (literal, false);
        if (pattern.OptionalString("Regex") is { } regex) return (regex, true);
        throw pattern.Error("expected {\"String\": ...} or {\"Regex\": ...}");
    }
}
