// Heatmaps: a rows x columns grid of cells coloured by value (viridis; linear or log10), with the value printed in
// cells large enough to hold it and a colour bar with ticks. Missing or unplaceable cells are grey and noted.
namespace ResidualLM.Lab.Charts;

/// <summary>Renders <see cref="ChartKind.Heatmap"/> specifications (e.g. final loss by depth x residual policy).</summary>
internal static class Heatmap
{
    const string MissingColour = "#d9d9d9";

    public static void Render(ChartSpec spec, SvgBuilder svg)
    {
        var columns = spec.Categories ?? [];
        var rows = spec.RowCategories ?? [];
        var cells = spec.Cells ?? [];
        var valueAxis = spec.Value ?? new AxisSpec("value");
        double labelWidth = rows.Count == 0 ? 0 : rows.Max(r => ChartFrame.EstimateTextWidth(r, 11));
        var frame = new ChartFrame(svg, leftMargin: Math.Clamp(labelWidth + 40, 70, 220), rightMargin: 110, hasLegend: false);
        var values = cells.SelectMany(r => r).Where(v => v is not null).Select(v => v!.Value).ToList();
        // Colour position in [0, 1]; the colour bar uses the same kind of scale over its own pixels.
        var colourScale = ChartScale.Create(valueAxis.Scale, values, 0, 1);
        var barScale = ChartScale.Create(valueAxis.Scale, values, frame.PlotBottom, frame.PlotTop);

        frame.Title(spec.Title);
        double cellWidth = (frame.PlotRight - frame.PlotLeft) / Math.Max(1, columns.Count);
        double cellHeight = (frame.PlotBottom - frame.PlotTop) / Math.Max(1, rows.Count);
        for (int r = 0; r < rows.Count; r++)
            svg.Text(frame.PlotLeft - 8, frame.PlotTop + cellHeight * (r + 0.5), rows[r], "end", 11, ChartFrame.MutedText, baseline: "central");
        for (int c = 0; c < columns.Count; c++)
            svg.Text(frame.PlotLeft + cellWidth * (c + 0.5), frame.PlotBottom + 19, columns[c], "middle", 11, ChartFrame.MutedText);
        svg.Text(frame.PlotLeft - 8, frame.PlotTop - 10, spec.Y.Title, "end", 12, "#222");
        svg.Text((frame.PlotLeft + frame.PlotRight) / 2, frame.PlotBottom + 42, spec.X.Title, "middle", 12, "#222");

        var dropped = new DroppedValues();
        bool showValues = cellWidth >= 40 && cellHeight >= 18;
        svg.Group("cells");
        for (int r = 0; r < rows.Count; r++)
        {
            for (int c = 0; c < columns.Count; c++)
            {
                double? value = r < cells.Count && c < cells[r].Count ? cells[r][c] : null;
                double x = frame.PlotLeft + cellWidth * c, y = frame.PlotTop + cellHeight * r;
                string where = $"{spec.Y.Label} = {rows[r]}, {spec.X.Label} = {columns[c]}";
                if (value is not double v || !dropped.Accept(v, colourScale))
                {
                    string shown = value is double bad ? LineChart.Format(bad) : "missing";
                    svg.Rect(x + 1, y + 1, cellWidth - 2, cellHeight - 2, MissingColour, $"{where}: {valueAxis.Label} {shown}", cssClass: "mark missing");
                    if (showValues) svg.Text(x + cellWidth / 2, y + cellHeight / 2, "n/a", "middle", 11, "#666", baseline: "central");
                    continue;
                }
                double fraction = colourScale.Map(v);
                double? error = spec.CellErrors is { } errors && r < errors.Count && c < errors[r].Count && errors[r][c] is double e && double.IsFinite(e) ? e : null;
                svg.Rect(x + 1, y + 1, cellWidth - 2, cellHeight - 2, Palette.Sequential(fraction),
                    $"{where}: {valueAxis.Label} = {LineChart.Format(v)}" + (error is double tip ? $" ± {LineChart.Format(tip)}" : ""), cssClass: "mark");
                if (!showValues) continue;
                string ink = Palette.NeedsDarkText(fraction) ? "#111" : "#fff";
                bool twoLines = error is not null && cellHeight >= 30;
                svg.Text(x + cellWidth / 2, y + cellHeight / 2 - (twoLines ? 6 : 0), v.ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
                    "middle", 11, ink, baseline: "central");
                if (twoLines)
                    svg.Text(x + cellWidth / 2, y + cellHeight / 2 + 7, "± " + error!.Value.ToString("G2", System.Globalization.CultureInfo.InvariantCulture),
                        "middle", 9, ink, baseline: "central");
            }
        }
        svg.EndGroup();
        ColourBar(svg, frame, barScale, valueAxis.Title);
        frame.Footnote(dropped.Note());
    }

    /// <summary>A vertical colour bar right of the grid, drawn as thin bands (no gradient ids, so many charts fit one page).</summary>
    static void ColourBar(SvgBuilder svg, ChartFrame frame, ChartScale scale, string title)
    {
        const int bands = 48;
        double left = frame.PlotRight + 24, width = 16, height = frame.PlotBottom - frame.PlotTop;
        svg.Group("colour-bar");
        for (int i = 0; i < bands; i++)
        {
            double fraction = (i + 0.5) / bands;
            double top = frame.PlotBottom - height * (i + 1) / bands;
            svg.Rect(left, top, width, height / bands + 0.5, Palette.Sequential(fraction));
        }
        foreach (var tick in scale.Ticks)
        {
            double y = scale.Map(tick.Value);
            svg.Line(left + width, y, left + width + 4, y, ChartFrame.AxisColour);
            svg.Text(left + width + 7, y, tick.Label, "start", 10, ChartFrame.MutedText, baseline: "central");
        }
        svg.Text(left + width / 2, frame.PlotTop - 10, title, "middle", 11, "#222");
        svg.EndGroup();
    }
}
