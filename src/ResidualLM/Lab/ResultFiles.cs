// Reads and writes experiment results: <name>.json (the source), <name>.csv (primary table) and <name>.svg
// (primary chart); further tables and charts go to <name>.<id>.csv / .svg. Limits: CSV is RFC 4180, comma-separated.
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ResidualLM.Lab.Charts;

namespace ResidualLM.Lab;

/// <summary>JSON, CSV and SVG files of <see cref="ExperimentResult"/>s, and the default run folder.</summary>
public static class ResultFiles
{
    /// <summary>Where results go unless the user says otherwise (relative to the working directory).</summary>
    public static readonly string DefaultDirectory = Path.Combine("runs", "lab");

    /// <summary>camelCase, indented, nulls omitted; NaN and infinities written as strings (JSON has no literal for them).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        // Readable files ("+" not "\u002B"); the JSON is never embedded in HTML, which is rendered from the objects.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    static readonly JsonSerializerOptions CompactOptions = new(JsonOptions) { WriteIndented = false };

    /// <summary>The result as JSON; <paramref name="indented"/> false gives one line (for <c>--json</c>).</summary>
    public static string ToJson(ExperimentResult result, bool indented = true) =>
        JsonSerializer.Serialize(result, indented ? JsonOptions : CompactOptions);

    /// <summary>Parses a result; <paramref name="source"/> names the file in error messages.</summary>
    public static ExperimentResult FromJson(string json, string source = "result")
    {
        ExperimentResult? result;
        try { result = JsonSerializer.Deserialize<ExperimentResult>(json, JsonOptions); }
        catch (JsonException e) { throw new InvalidInputException($"not a lab result: {e.Message}", filePath: source, inner: e); }
        if (result is null) throw new InvalidInputException("empty lab result", filePath: source);
        if (result.Schema != ExperimentResult.CurrentSchema)
            throw new InvalidInputException($"schema is '{result.Schema}', expected '{ExperimentResult.CurrentSchema}'", filePath: source, field: "schema");
        return result;
    }

    /// <summary>Writes json, csv and svg files of <paramref name="result"/> into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(ExperimentResult result, string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        void Save(string fileName, string text)
        {
            string path = Path.Combine(directory, fileName);
            // Write then rename, so a reader (the report) never sees half a file.
            string temporary = path + ".tmp";
            File.WriteAllText(temporary, text, new UTF8Encoding(false));
            File.Move(temporary, path, overwrite: true);
            written.Add(path);
        }
        Save(result.Experiment + ".json", ToJson(result));
        for (int i = 0; i < result.Tables.Count; i++)
            Save(result.Experiment + (i == 0 ? "" : "." + result.Tables[i].Id) + ".csv", ToCsv(result.Tables[i]));
        for (int i = 0; i < result.Charts.Count; i++)
            Save(result.Experiment + (i == 0 ? "" : "." + result.Charts[i].Id) + ".svg", ChartRenderer.Render(result.Charts[i], standalone: true));
        return written;
    }

    /// <summary>
    /// Every result JSON in <paramref name="directory"/> and its subfolders (files named <c>*.json</c>; a deep sweep written
    /// with <c>--out runs/lab/deep</c> is found beside the default one), ordered by experiment name, then the folder's own before its subfolders'. In
    /// subfolders only files that declare the lab's schema are read (a model folder's config.json is not a result); in
    /// the folder itself every JSON file must be a result.
    /// </summary>
    public static List<ExperimentResult> ReadAll(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        string top = Path.GetFullPath(directory);
        return Directory.EnumerateFiles(directory, "*.json", SearchOption.AllDirectories)
            .OrderBy(path => path.Count(c => c == Path.DirectorySeparatorChar)).ThenBy(path => path, StringComparer.Ordinal)  // the folder's own first
            .Select(path => (Path: path, Text: File.ReadAllText(path)))
            .Where(f => Path.GetDirectoryName(Path.GetFullPath(f.Path)) == top || DeclaresSchema(f.Text))
            .Select(f => FromJson(f.Text, f.Path))
            .OrderBy(r => r.Experiment, StringComparer.Ordinal)
            .ToList();
    }

    // Whether the text is a JSON object whose "schema" is the lab's.
    static bool DeclaresSchema(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("schema", out var schema) &&
                   schema.ValueKind == JsonValueKind.String && schema.GetString() == ExperimentResult.CurrentSchema;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The table as CSV: a header row (names with units), then the rows; numbers in round-trip form.</summary>
    public static string ToCsv(ResultTable table)
    {
        var csv = new StringBuilder();
        csv.AppendJoin(',', table.Columns.Select(c => CsvField(c.Header))).Append('\n');
        foreach (var row in table.Rows)
            csv.AppendJoin(',', row.Select(cell => CsvField(cell.Number is double v
                ? (double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : TableCell.NonFiniteText(v))
                : cell.Text ?? ""))).Append('\n');
        return csv.ToString();
    }

    static string CsvField(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + text.Replace("\"", "\"\"") + "\"" : text;
}

/// <summary>Writes a <see cref="TableCell"/> as a JSON number, or string for text and non-finite numbers.</summary>
sealed class TableCellJsonConverter : JsonConverter<TableCell>
{
    public override TableCell Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number: return new TableCell(reader.GetDouble(), null);
            case JsonTokenType.Null: return new TableCell(null, null);
            case JsonTokenType.String:
                string text = reader.GetString()!;
                return text switch
                {
                    "NaN" => new TableCell(double.NaN, null),
                    "Infinity" => new TableCell(double.PositiveInfinity, null),
                    "-Infinity" => new TableCell(double.NegativeInfinity, null),
                    _ => new TableCell(null, text),
                };
            default: throw new JsonException($"a table cell must be a number or a string, found {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, TableCell value, JsonSerializerOptions options)
    {
        if (value.Number is double v)
        {
            if (double.IsFinite(v)) writer.WriteNumberValue(v);
            else writer.WriteStringValue(TableCell.NonFiniteText(v));
        }
        else if (value.Text is not null) writer.WriteStringValue(value.Text);
        else writer.WriteNullValue();
    }
}
