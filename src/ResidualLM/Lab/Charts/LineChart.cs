// Line charts: several series of (x, y) points on linear or log10 axes, joined by lines, with a marker and a
// tooltip per point. Points that cannot be placed break the line and are counted in a footnote.
namespace ResidualLM.Lab.Charts;

/// <summary>Renders <see cref="ChartKind.Line"/> specifications.</summary>
internal static class LineChart
{
    public static void Render(ChartSpec spec, SvgBuilder svg)
    {
        var names = spec.Series.Select(s => s.Name).ToList();
        var frame = new ChartFrame(svg, legendRows: ChartFrame.LegendRows(names), hasLegend: names.Count > 0);
        var points = spec.Series.SelectMany(s => s.Points ?? []).Where(p => p.Y is not null).ToList();
        // Error bars widen the y range; on a log axis a lower end at or below zero is cut at the axis instead.
        // Inset the data a little from the axes, so markers at the ends of the range are not cut by the axis lines.
        const double inset = 8;
        var xScale = ChartScale.Create(spec.X.Scale, points.Select(p => p.X), frame.PlotLeft + inset, frame.PlotRight - inset);
        // Only x values that can be placed decide the y range, and vice versa for the x range's partner.
        var yScale = ChartScale.Create(spec.Y.Scale, points.Where(p => xScale.CanPlace(p.X)).SelectMany(p => p.Error is double e && double.IsFinite(e)
            ? [p.Y!.Value, p.Y!.Value - e, p.Y!.Value + e] : new[] { p.Y!.Value }), frame.PlotBottom - inset, frame.PlotTop + inset);

        frame.Title(spec.Title);
        frame.VerticalAxis(yScale, spec.Y.Title);
        frame.HorizontalAxis(xScale, spec.X.Title);

        var dropped = new DroppedValues();
        for (int s = 0; s < spec.Series.Count; s++)
        {
            var series = spec.Series[s];
            var seriesPoints = series.Points ?? [];
            string colour = Palette.SeriesColour(s);
            double radius = seriesPoints.Count > 40 ? 2.2 : 4;
            var placed = new List<(double X, double Y, ChartPoint Point)>();
            var path = new System.Text.StringBuilder();
            bool penDown = false;
            foreach (var point in seriesPoints)
            {
                // Check both coordinates (no short-circuit) so each unplaceable value is counted.
                bool xOk = dropped.Accept(point.X, xScale);
                bool yOk = point.Y is double y && dropped.Accept(y, yScale);
                if (!xOk || !yOk) { penDown = false; continue; }
                double px = xScale.Map(point.X), py = yScale.Map(point.Y!.Value);
                path.Append(penDown ? 'L' : 'M').Append(SvgBuilder.Number(px)).Append(',').Append(SvgBuilder.Number(py));
                penDown = true;
                placed.Add((px, py, point));
            }
            svg.Group("series", series.Name);
            if (path.Length > 0) svg.Path(path.ToString(), "none", colour, 2.2, cssClass: "series-line");
            foreach (var (px, _, point) in placed)
                if (point.Error is double error) ErrorBar.Draw(svg, yScale, px, point.Y!.Value, error, 4, colour);
            foreach (var (px, py, point) in placed)
                Markers.Draw(svg, Palette.Marker(s), px, py, radius, colour, Tooltip(series.Name, spec, point));
            svg.EndGroup();
        }
        if (names.Count > 0) frame.Legend(names, lines: true);
        frame.Footnote(dropped.Note());
    }

    static string Tooltip(string seriesName, ChartSpec spec, ChartPoint point)
    {
        string text = $"{seriesName}: {spec.X.Label} = {Format(point.X)}, {spec.Y.Label} = {Format(point.Y!.Value)}" +
                      (point.Error is double e ? $" ± {Format(e)}" : "");
        return point.Label is null ? text : text + " (" + point.Label + ")";
    }

    /// <summary>Tooltip number: up to five significant digits.</summary>
    internal static string Format(double value) => value.ToString("G5", System.Globalization.CultureInfo.InvariantCulture);
}
