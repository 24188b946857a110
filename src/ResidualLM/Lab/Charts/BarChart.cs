// Grouped bar charts: one group per category along x, one bar per series in each group, on a linear y axis that
// includes zero (bars grow up or down from it) or a log10 y axis (bars grow from the bottom of the axis).
namespace ResidualLM.Lab.Charts;

/// <summary>Renders <see cref="ChartKind.Bar"/> specifications.</summary>
internal static class BarChart
{
    public static void Render(ChartSpec spec, SvgBuilder svg)
    {
        var categories = spec.Categories ?? [];
        var names = spec.Series.Select(s => s.Name).ToList();
        var frame = new ChartFrame(svg, legendRows: ChartFrame.LegendRows(names), hasLegend: names.Count > 0);
        // Error bars widen the y range (on a log axis a lower end at or below zero is cut at the axis instead).
        var values = spec.Series.SelectMany(s => (s.Values ?? []).Select((v, i) => (Value: v, Error: s.Errors is { } e && i < e.Count ? e[i] : null)))
            .Where(p => p.Value is not null)
            .SelectMany(p => p.Error is double e && double.IsFinite(e) ? [p.Value!.Value, p.Value!.Value - e, p.Value!.Value + e] : new[] { p.Value!.Value });
        var yScale = ChartScale.Create(spec.Y.Scale, values, frame.PlotBottom, frame.PlotTop, includeZero: true);

        frame.Title(spec.Title);
        frame.VerticalAxis(yScale, spec.Y.Title);
        frame.AxisLineAndTitle(spec.X.Title);

        double band = (frame.PlotRight - frame.PlotLeft) / Math.Max(1, categories.Count);
        double groupWidth = band * 0.78;
        double barWidth = groupWidth / Math.Max(1, spec.Series.Count);
        // Bars start at zero on a linear axis, at the bottom of the axis on a log axis (which has no zero).
        double baseline = yScale is LogScale ? frame.PlotBottom : yScale.Map(0);
        bool rotateLabels = categories.Any(c => ChartFrame.EstimateTextWidth(c, 11) > band - 4);
        for (int c = 0; c < categories.Count; c++)
        {
            double centre = frame.PlotLeft + band * (c + 0.5);
            if (rotateLabels) svg.Text(centre, frame.PlotBottom + 14, categories[c], "end", 11, ChartFrame.MutedText, rotate: -30);
            else svg.Text(centre, frame.PlotBottom + 19, categories[c], "middle", 11, ChartFrame.MutedText);
        }

        var dropped = new DroppedValues();
        for (int s = 0; s < spec.Series.Count; s++)
        {
            var series = spec.Series[s];
            svg.Group("series", series.Name);
            var seriesValues = series.Values ?? [];
            for (int c = 0; c < Math.Min(categories.Count, seriesValues.Count); c++)
            {
                if (seriesValues[c] is not double value || !dropped.Accept(value, yScale)) continue;
                double x = frame.PlotLeft + band * c + (band - groupWidth) / 2 + barWidth * s;
                double top = yScale.Map(value);
                svg.Rect(x + 1, Math.Min(top, baseline), barWidth - 2, Math.Max(1, Math.Abs(baseline - top)), Palette.SeriesColour(s),
                    $"{series.Name}, {categories[c]}: {spec.Y.Label} = {LineChart.Format(value)}" +
                    (series.Errors is { } errors && c < errors.Count && errors[c] is double e ? $" ± {LineChart.Format(e)}" : ""), cssClass: "mark");
                if (series.Errors is { } halfWidths && c < halfWidths.Count && halfWidths[c] is double error)
                    ErrorBar.Draw(svg, yScale, x + barWidth / 2, value, error, Math.Min(5, barWidth / 3), ChartFrame.AxisColour);
            }
            svg.EndGroup();
        }
        if (yScale is LinearScale && yScale.Domain.Low < 0) svg.Line(frame.PlotLeft, baseline, frame.PlotRight, baseline, ChartFrame.AxisColour);
        if (names.Count > 0) frame.Legend(names, lines: false);
        frame.Footnote(dropped.Note());
    }
}
