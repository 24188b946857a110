// Turns a ChartSpec (from an experiment result) into a self-contained, responsive SVG string.
namespace ResidualLM.Lab.Charts;

/// <summary>Entry point of the chart writer: one method from specification to SVG text.</summary>
public static class ChartRenderer
{
    /// <summary>
    /// Renders <paramref name="spec"/> as an SVG element with a 720x420 viewBox that scales to its container's
    /// width. With <paramref name="standalone"/> the text starts with an XML declaration (for a .svg file).
    /// </summary>
    public static string Render(ChartSpec spec, bool standalone = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var svg = new SvgBuilder();
        if (standalone) svg.Raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        string title = SvgBuilder.Escape(spec.Title);
        svg.Raw($"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {ChartFrame.Width} {ChartFrame.Height}\" width=\"100%\" " +
                $"preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{title}\" class=\"chart chart-{spec.Kind.ToString().ToLowerInvariant()}\" " +
                $"font-family=\"{SvgBuilder.FontFamily}\" style=\"max-width:{ChartFrame.Width}px;height:auto;display:block\">\n");
        svg.Raw($"<title>{title}</title>\n");
        svg.Rect(0, 0, ChartFrame.Width, ChartFrame.Height, "#fff");
        switch (spec.Kind)
        {
            case ChartKind.Line: LineChart.Render(spec, svg); break;
            case ChartKind.Bar: BarChart.Render(spec, svg); break;
            case ChartKind.Heatmap: Heatmap.Render(spec, svg); break;
            default: throw new ArgumentException($"unknown chart kind {spec.Kind}");
        }
        svg.Raw("</svg>\n");
        return svg.ToString();
    }
}
