// The parts every lab chart shares: the 720x420 canvas, title, legend row, axes with gridlines, tick labels and
// axis titles, and a footnote for values that could not be drawn. Chart kinds fill in the plot area.
namespace ResidualLM.Lab.Charts;

/// <summary>Canvas size, plot-area margins and the drawing of frame elements around the plot area.</summary>
internal sealed class ChartFrame
{
    /// <summary>viewBox size: readable on a laptop at full width, scales down on narrow screens.</summary>
    public const double Width = 720, Height = 420;

    public const string AxisColour = "#444", GridColour = "#e3e3e3", MinorGridColour = "#f1f1f1", MutedText = "#555";

    public double PlotLeft { get; }
    public double PlotRight { get; }
    public double PlotTop { get; }
    public double PlotBottom { get; }

    readonly SvgBuilder svg;

    public ChartFrame(SvgBuilder svg, double leftMargin = 78, double rightMargin = 24, bool hasLegend = true, int legendRows = 1)
    {
        this.svg = svg;
        PlotLeft = leftMargin;
        PlotRight = Width - rightMargin;
        PlotTop = 40 + (hasLegend ? 22 * legendRows : 0) + 8;
        PlotBottom = Height - 66;
    }

    /// <summary>Number of legend rows the names need (items flow left to right and wrap).</summary>
    public static int LegendRows(IReadOnlyList<string> names, double available = Width - 100)
    {
        int rows = 1;
        double x = 0;
        foreach (string name in names)
        {
            double itemWidth = LegendItemWidth(name);
            if (x > 0 && x + itemWidth > available) { rows++; x = 0; }
            x += itemWidth;
        }
        return rows;
    }

    static double LegendItemWidth(string name) => 34 + EstimateTextWidth(name, 12) + 18;

    /// <summary>Rough width of <paramref name="text"/> in pixels (average glyph ~0.56 em), for layout only.</summary>
    public static double EstimateTextWidth(string text, double fontSize) => text.Length * fontSize * 0.56;

    /// <summary>Title centred at the top.</summary>
    public void Title(string title) => svg.Text(Width / 2, 26, title, "middle", 16, "#111", "600");

    /// <summary>Legend items (swatch line + marker + name) flowing across rows below the title.</summary>
    public void Legend(IReadOnlyList<string> names, bool lines)
    {
        svg.Group("legend");
        double x = PlotLeft, y = 50;
        for (int i = 0; i < names.Count; i++)
        {
            double itemWidth = LegendItemWidth(names[i]);
            if (x > PlotLeft && x + itemWidth > Width - 20) { x = PlotLeft; y += 22; }
            string colour = Palette.SeriesColour(i);
            if (lines)
            {
                svg.Line(x, y, x + 26, y, colour, 2.5);
                Markers.Draw(svg, Palette.Marker(i), x + 13, y, 4.5, colour, null, "legend-mark");
            }
            else svg.Rect(x + 4, y - 7, 18, 14, colour);
            svg.Text(x + 32, y, names[i], size: 12, fill: "#222", baseline: "central");
            x += itemWidth;
        }
        svg.EndGroup();
    }

    /// <summary>Horizontal gridlines and labels at the y scale's ticks, the y axis line and its rotated title.</summary>
    public void VerticalAxis(ChartScale scale, string title)
    {
        svg.Group("y-axis");
        foreach (double minor in scale.MinorTicks)
            svg.Line(PlotLeft, scale.Map(minor), PlotRight, scale.Map(minor), MinorGridColour);
        foreach (var tick in scale.Ticks)
        {
            double y = scale.Map(tick.Value);
            svg.Line(PlotLeft, y, PlotRight, y, GridColour);
            svg.Line(PlotLeft - 5, y, PlotLeft, y, AxisColour);
            svg.Text(PlotLeft - 8, y, tick.Label, "end", 11, MutedText, baseline: "central");
        }
        svg.Line(PlotLeft, PlotTop, PlotLeft, PlotBottom, AxisColour);
        svg.Text(18, (PlotTop + PlotBottom) / 2, title, "middle", 12, "#222", rotate: -90, baseline: "central");
        svg.EndGroup();
    }

    /// <summary>Vertical gridlines and labels at the x scale's ticks, the x axis line and its title.</summary>
    public void HorizontalAxis(ChartScale scale, string title)
    {
        svg.Group("x-axis");
        foreach (double minor in scale.MinorTicks)
            svg.Line(scale.Map(minor), PlotTop, scale.Map(minor), PlotBottom, MinorGridColour);
        foreach (var tick in scale.Ticks)
        {
            double x = scale.Map(tick.Value);
            svg.Line(x, PlotTop, x, PlotBottom, GridColour);
            svg.Line(x, PlotBottom, x, PlotBottom + 5, AxisColour);
            svg.Text(x, PlotBottom + 19, tick.Label, "middle", 11, MutedText);
        }
        AxisLineAndTitle(title);
        svg.EndGroup();
    }

    /// <summary>The x axis line and title only (category axes draw their own labels).</summary>
    public void AxisLineAndTitle(string title)
    {
        svg.Line(PlotLeft, PlotBottom, PlotRight, PlotBottom, AxisColour);
        svg.Text((PlotLeft + PlotRight) / 2, PlotBottom + 42, title, "middle", 12, "#222");
    }

    /// <summary>A footnote at the bottom left, e.g. "3 values &lt;= 0 not shown (log scale)".</summary>
    public void Footnote(string? note)
    {
        if (string.IsNullOrEmpty(note)) return;
        svg.Text(PlotLeft, Height - 6, note, "start", 11, "#8a3b00");
    }
}

/// <summary>Draws point markers.</summary>
internal static class Markers
{
    /// <summary>A marker centred at (x, y); data points use the class "mark", legend swatches another.</summary>
    public static void Draw(SvgBuilder svg, MarkerShape shape, double x, double y, double radius, string colour, string? tooltip, string cssClass = "mark")
    {
        string N(double v) => SvgBuilder.Number(v);
        string data = shape switch
        {
            MarkerShape.Circle =>
                $"M{N(x - radius)},{N(y)}a{N(radius)},{N(radius)} 0 1,0 {N(2 * radius)},0a{N(radius)},{N(radius)} 0 1,0 {N(-2 * radius)},0Z",
            MarkerShape.Square => Polygon((x - radius * 0.85, y - radius * 0.85), (x + radius * 0.85, y - radius * 0.85),
                (x + radius * 0.85, y + radius * 0.85), (x - radius * 0.85, y + radius * 0.85)),
            MarkerShape.Triangle => Polygon((x, y - radius * 1.1), (x + radius, y + radius * 0.75), (x - radius, y + radius * 0.75)),
            MarkerShape.Diamond => Polygon((x, y - radius * 1.15), (x + radius, y), (x, y + radius * 1.15), (x - radius, y)),
            _ => Polygon((x, y + radius * 1.1), (x + radius, y - radius * 0.75), (x - radius, y - radius * 0.75)),
        };
        svg.Path(data, colour, "#fff", 0.8, tooltip, cssClass);
    }

    static string Polygon(params (double X, double Y)[] corners) =>
        "M" + string.Join("L", corners.Select(c => SvgBuilder.Number(c.X) + "," + SvgBuilder.Number(c.Y))) + "Z";
}
