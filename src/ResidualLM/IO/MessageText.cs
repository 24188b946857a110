// Text for one-line error messages built from hostile input: short descriptions of JSON values, safe names.
using System.Text;
using System.Text.Json;

namespace ResidualLM.IO;

internal static class MessageText
{
    /// <summary>A short description of a JSON value for messages, never echoing more than a few dozen characters.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => $"a list of {value.GetArrayLength()}",
        JsonValueKind.String => $"the string \"{Printable(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {Printable(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => "null",
    };

    /// <summary>
    /// A name made safe for a one-line message: control characters escaped and long names cut, because tensor
    /// names come from the (hostile) file.
    /// </summary>
    public static string Printable(string text)
    {
        const int MaxLength = 80;
        bool clean = text.Length <= MaxLength;
        foreach (char character in text)
        {
            if (char.IsControl(character) || char.IsSurrogate(character)) { clean = false; break; }
        }
        if (clean) return text;
        var builder = new StringBuilder();
        foreach (char character in text)
        {
            if (builder.Length >= MaxLength) { builder.Append("..."); break; }
            if (char.IsControl(character) || char.IsSurrogate(character)) builder.Append($"\\u{(int)character:x4}");
            else builder.Append(character);
        }
        return builder.ToString();
    }
}
