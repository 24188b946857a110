// The common result schema of every lab experiment: what the CLI prints, what --out/--json write and what the
// HTML report reads back. The JSON is the single source: tables and charts are rendered from it, never recomputed.
using System.Globalization;
using System.Text.Json.Serialization;

namespace ResidualLM.Lab;

/// <summary>
/// Everything one experiment run produced: its identity, the parameters it ran with, explanatory text, findings,
/// tables and chart specifications. Serialised as <c>runs/lab/&lt;Experiment&gt;.json</c> by <see cref="ResultFiles"/>.
/// </summary>
public sealed record ExperimentResult
{
    /// <summary>Schema tag written into every file, so a reader can reject files that are not lab results.</summary>
    public const string CurrentSchema = "residuallm.lab/1";

    /// <summary>Always <see cref="CurrentSchema"/> for files this version writes.</summary>
    public string Schema { get; init; } = CurrentSchema;

    /// <summary>Short command-style name, also the file stem: <c>tanh-stack</c>.</summary>
    public required string Experiment { get; init; }

    /// <summary>Human title, the section heading in the report.</summary>
    public required string Title { get; init; }

    /// <summary>Explanatory text; paragraphs are separated by a blank line. Plain text (escaped when rendered).</summary>
    public string Description { get; init; } = "";

    /// <summary>The inputs the run used, in display order.</summary>
    public List<ResultParameter> Parameters { get; init; } = [];

    /// <summary>What the numbers show, one sentence each, written by the experiment from the measured values.</summary>
    public List<string> Findings { get; init; } = [];

    /// <summary>Tables, the first one being the primary table (written to <c>&lt;name&gt;.csv</c>).</summary>
    public List<ResultTable> Tables { get; init; } = [];

    /// <summary>Charts, the first one being the primary chart (written to <c>&lt;name&gt;.svg</c>).</summary>
    public List<ChartSpec> Charts { get; init; } = [];

    /// <summary>When the run finished (UTC, ISO 8601).</summary>
    public string CreatedUtc { get; init; } = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}

/// <summary>One named input of a run, already formatted for display: <c>depth = 50</c>.</summary>
public sealed record ResultParameter(string Name, string Value, string? Description = null);

/// <summary>A column of a <see cref="ResultTable"/>.</summary>
/// <param name="Name">Header text.</param>
/// <param name="Unit">Unit shown after the header in brackets, when there is one.</param>
/// <param name="Format">.NET numeric format for numbers in this column (default <c>G6</c>).</param>
public sealed record ResultColumn(string Name, string? Unit = null, string? Format = null)
{
    /// <summary>Header with its unit: <c>gradient (d out / d x)</c>.</summary>
    public string Header => Unit is null ? Name : $"{Name} ({Unit})";
}

/// <summary>A table: columns and rows of cells (numbers or text).</summary>
public sealed record ResultTable
{
    /// <summary>Identifier, unique within the result; used in file names and HTML anchors.</summary>
    public required string Id { get; init; }

    /// <summary>Caption shown above the table.</summary>
    public required string Title { get; init; }

    /// <summary>Optional note shown under the table.</summary>
    public string? Note { get; init; }

    public List<ResultColumn> Columns { get; init; } = [];

    /// <summary>Rows; each has one cell per column.</summary>
    public List<List<TableCell>> Rows { get; init; } = [];

    /// <summary>Adds a row, checking that it has one cell per column.</summary>
    public ResultTable AddRow(params TableCell[] cells)
    {
        if (cells.Length != Columns.Count)
            throw new ArgumentException($"table '{Id}' has {Columns.Count} columns, row has {cells.Length} cells");
        Rows.Add([.. cells]);
        return this;
    }

    /// <summary>The cell text as displayed (numbers formatted by their column's format, invariant culture).</summary>
    public string Format(int row, int column) => Rows[row][column].ToDisplay(Columns[column].Format);
}

/// <summary>
/// A table cell: a number or a text. Non-finite numbers are kept (and written to JSON as the strings
/// <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>, which read back as numbers), because an overflow is a result.
/// </summary>
[JsonConverter(typeof(TableCellJsonConverter))]
public readonly record struct TableCell(double? Number, string? Text)
{
    public static implicit operator TableCell(double value) => new(value, null);
    public static implicit operator TableCell(float value) => new(value, null);
    public static implicit operator TableCell(int value) => new(value, null);
    public static implicit operator TableCell(string value) => new(null, value);

    /// <summary>Display text; <paramref name="format"/> is a .NET numeric format (default G6).</summary>
    public string ToDisplay(string? format = null) => Number is double v
        ? (double.IsFinite(v) ? v.ToString(format ?? "G6", CultureInfo.InvariantCulture) : NonFiniteText(v))
        : Text ?? "";

    internal static string NonFiniteText(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}
