// Chart specifications stored in result JSON: the data and labelling of a chart, independent of how it is drawn.
// Rendered to SVG by ResidualLM.Lab.Charts.ChartRenderer. Missing values are null (JSON has no NaN).
using System.Text.Json.Serialization;

namespace ResidualLM.Lab;

/// <summary>What a chart draws.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ChartKind>))]
public enum ChartKind
{
    /// <summary>Series of (x, y) points joined by lines, with markers.</summary>
    Line,
    /// <summary>Grouped bars: one group per category, one bar per series.</summary>
    Bar,
    /// <summary>A grid of coloured cells: rows by columns (e.g. loss by depth x policy).</summary>
    Heatmap,
}

/// <summary>How an axis maps values to positions.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AxisScale>))]
public enum AxisScale
{
    Linear,
    /// <summary>log10; values &lt;= 0 cannot be placed and are dropped with a note on the chart.</summary>
    Log,
}

/// <summary>An axis: label, unit and scale. For a heatmap the value (colour) axis is <see cref="ChartSpec.Value"/>.</summary>
public sealed record AxisSpec(string Label, string? Unit = null, AxisScale Scale = AxisScale.Linear)
{
    /// <summary>Label with its unit: <c>depth (layers)</c>.</summary>
    public string Title => Unit is null ? Label : $"{Label} ({Unit})";
}

/// <summary>
/// A point of a line series; <see cref="Label"/> is extra tooltip text; <see cref="Error"/>, when given, is drawn as an
/// error bar from Y − Error to Y + Error (a 95% confidence half-width over seeds, say).
/// </summary>
public sealed record ChartPoint(double X, double? Y, string? Label = null, double? Error = null);

/// <summary>One series: points (line charts) or one value per category (bar charts).</summary>
public sealed record SeriesSpec
{
    public required string Name { get; init; }

    /// <summary>Line charts: the points, in drawing order. A null Y breaks the line.</summary>
    public List<ChartPoint>? Points { get; init; }

    /// <summary>Bar charts: one value per entry of <see cref="ChartSpec.Categories"/>; null draws no bar.</summary>
    public List<double?>? Values { get; init; }

    /// <summary>Bar charts: the error half-width of each value (drawn as an error bar), or null for none.</summary>
    public List<double?>? Errors { get; init; }
}

/// <summary>
/// A chart: kind, title, axes and data. Line charts use <see cref="Series"/> with points; bar charts use
/// <see cref="Categories"/> and series with values; heatmaps use <see cref="Categories"/> (columns),
/// <see cref="RowCategories"/>, <see cref="Cells"/> and <see cref="Value"/> (the colour axis).
/// </summary>
public sealed record ChartSpec
{
    /// <summary>Identifier, unique within the result; used in file names and HTML anchors.</summary>
    public required string Id { get; init; }

    public required ChartKind Kind { get; init; }

    public required string Title { get; init; }

    /// <summary>One or two sentences under the chart: what to look at.</summary>
    public string? Caption { get; init; }

    /// <summary>Horizontal axis (for bar charts and heatmaps: the categories' label).</summary>
    public required AxisSpec X { get; init; }

    /// <summary>Vertical axis (for heatmaps: the rows' label).</summary>
    public required AxisSpec Y { get; init; }

    /// <summary>Heatmaps: what the colour encodes, and its scale.</summary>
    public AxisSpec? Value { get; init; }

    public List<SeriesSpec> Series { get; init; } = [];

    /// <summary>Bar groups, or heatmap columns.</summary>
    public List<string>? Categories { get; init; }

    /// <summary>Heatmap rows, top to bottom.</summary>
    public List<string>? RowCategories { get; init; }

    /// <summary>Heatmap values, [row][column]; null is a missing cell (e.g. a run that diverged).</summary>
    public List<List<double?>>? Cells { get; init; }

    /// <summary>
    /// Heatmap half-widths, [row][column], when the values are means over seeds (95% intervals, say): printed as
    /// "± e" under the value and in the cell's tooltip. Null where there is none.
    /// </summary>
    public List<List<double?>>? CellErrors { get; init; }
}
