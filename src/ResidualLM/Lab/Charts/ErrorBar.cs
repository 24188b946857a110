// Error bars: a vertical line from y − error to y + error with short caps, for values that are means over seeds.
namespace ResidualLM.Lab.Charts;

/// <summary>Draws one error bar.</summary>
internal static class ErrorBar
{
    /// <summary>
    /// A bar at <paramref name="x"/> (pixels) from value − error to value + error on <paramref name="scale"/>; an end that
    /// cannot be placed (at or below zero on a log axis) is cut at the axis and drawn without a cap.
    /// </summary>
    public static void Draw(SvgBuilder svg, ChartScale scale, double x, double value, double error, double capHalfWidth, string colour)
    {
        if (!double.IsFinite(error) || error <= 0 || !scale.CanPlace(value)) return;
        double low = value - error, high = value + error;
        bool lowPlaced = scale.CanPlace(low), highPlaced = scale.CanPlace(high);
        double y1 = lowPlaced ? scale.Map(low) : scale.RangeStart, y2 = highPlaced ? scale.Map(high) : scale.RangeEnd;
        svg.Line(x, y1, x, y2, colour, 1.4);
        if (lowPlaced) svg.Line(x - capHalfWidth, y1, x + capHalfWidth, y1, colour, 1.4);
        if (highPlaced) svg.Line(x - capHalfWidth, y2, x + capHalfWidth, y2, colour, 1.4);
    }
}
