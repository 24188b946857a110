// Counts values a chart could not place (non-positive on a log axis, NaN or infinite) so the chart can say so
// in a footnote instead of drawing them at a wrong place or writing NaN coordinates.
namespace ResidualLM.Lab.Charts;

/// <summary>Tally of values left out of a chart, by reason.</summary>
internal sealed class DroppedValues
{
    int nonPositive, nonFinite;

    /// <summary>Records why <paramref name="value"/> cannot be placed on <paramref name="scale"/>; returns true when it can.</summary>
    public bool Accept(double value, ChartScale scale)
    {
        if (scale.CanPlace(value)) return true;
        if (double.IsFinite(value)) nonPositive++;
        else nonFinite++;
        return false;
    }

    /// <summary>The footnote, or null when nothing was dropped.</summary>
    public string? Note()
    {
        var parts = new List<string>();
        if (nonPositive > 0) parts.Add($"{nonPositive} value{(nonPositive == 1 ? "" : "s")} ≤ 0 not shown (log scale)");
        if (nonFinite > 0) parts.Add($"{nonFinite} non-finite value{(nonFinite == 1 ? "" : "s")} (NaN or ∞) not shown");
        return parts.Count == 0 ? null : "Note: " + string.Join("; ", parts) + ".";
    }
}
