// Reading and writing GPT-2's vocabulary files with strict validation: every malformed entry is reported with the
// file, and the line or token at fault, as an InvalidInputException.
using System.Text;
using System.Text.Json;
using ResidualLM.IO;

namespace ResidualLM.Text;

/// <summary>encoder.json / vocab.json (token -> id) and vocab.bpe / merges.txt (one "left right" merge per line).</summary>
internal static class Gpt2VocabularyFiles
{
    /// <summary>Reads a token -> id object; ids must be distinct and cover 0..count-1.</summary>
    public static (string[] Tokens, Dictionary<string, int> IdOfToken) ReadEncoder(ReadOnlyMemory<byte> bytes, string path)
    {
        JsonElement root = TokenizerIO.ParseObject(bytes, path);
        int count = 0;
        foreach (JsonProperty _ in root.EnumerateObject()) count++;
        var tokens = new string[count];   // filled below; a slot still null means the id is unused so far
        var idOfToken = new Dictionary<string, int>(count, StringComparer.Ordinal);
        foreach (JsonProperty entry in root.EnumerateObject())
        {
            string token = entry.Name;
            string field = Quoted(token);
            if (!TokenizerIO.TryGetInt(entry.Value, out int id))
                throw new InvalidInputException($"expected an integer id, found {entry.Value.ValueKind}", path, field);
            if ((uint)id >= (uint)count)
                throw new InvalidInputException($"id {id} is out of range: ids must be in [0, {count}) for {count} tokens", path, field);
            if (tokens[id] is not null)
                throw new InvalidInputException($"id {id} is duplicated: it is also the id of {Quoted(tokens[id])}", path, field);
            if (!idOfToken.TryAdd(token, id))
                throw new InvalidInputException("token appears twice", path, field);
            tokens[id] = token;
        }
        // Distinct ids in [0, count) for count entries cover every id, so no slot is null here.
        return (tokens, idOfToken);
    }

    /// <summary>
    /// Reads merges in rank order. The first line is skipped when it starts with "#version" (both OpenAI's and Hugging
    /// Face's files have one); empty lines are skipped; every other line must be two tokens separated by one space,
    /// and the two tokens and their concatenation must be in the encoder.
    /// </summary>
    public static (int Left, int Right, int Merged)[] ReadMerges(string text, string path, string encoderPath, Dictionary<string, int> idOfToken)
    {
        string[] lines = text.Split('\n');
        var merges = new List<(int, int, int)>(lines.Length);
        var seen = new HashSet<(int, int)>();
        for (int lineIndex = 0; lineIndex < lines.Length; lineIndex++)
        {
            string line = lines[lineIndex].TrimEnd('\r');
            if (line.Length == 0 || (lineIndex == 0 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            string field = $"line {lineIndex + 1}";
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidInputException($"expected two tokens separated by one space, found {parts.Length} field(s): {Quoted(line)}", path, field);
            int left = IdOf(parts[0]), right = IdOf(parts[1]), merged = IdOf(parts[0] + parts[1]);
            if (!seen.Add((left, right)))
                throw new InvalidInputException($"merge {Quoted(line)} appears twice", path, field);
            merges.Add((left, right, merged));

            int IdOf(string token) => idOfToken.TryGetValue(token, out int id) ? id
                : throw new InvalidInputException($"token {Quoted(token)} is not in {Path.GetFileName(encoderPath)}", path, field);
        }
        return [.. merges];
    }

    /// <summary>A token or line from the file as a JSON string for a message, cut to a few dozen characters.</summary>
    internal static string Quoted(string text) => MessageText.Printable(JsonSerializer.Serialize(text));

    public static void WriteEncoder(string path, string[] tokens) => TokenizerIO.WriteAtomically(path, stream =>
    {
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        writer.WriteStartObject();
        for (int id = 0; id < tokens.Length; id++) writer.WriteNumber(tokens[id], id);
        writer.WriteEndObject();
    });

    /// <summary>Writes the merges with OpenAI's header line and a final newline, which encoder.py's [1:-1] slice expects.</summary>
    public static void WriteMerges(string path, string[] tokens, IReadOnlyList<(int Left, int Right)> merges) =>
        TokenizerIO.WriteAtomically(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), bufferSize: 1 << 16, leaveOpen: true) { NewLine = "\n" };
            writer.WriteLine("#version: 0.2");
            foreach (var (left, right) in merges) writer.WriteLine($"{tokens[left]} {tokens[right]}");
        });
}
