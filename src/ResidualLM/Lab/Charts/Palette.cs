// Colours for the lab charts: the Okabe-Ito qualitative palette (distinguishable with the common colour-vision
// deficiencies) for series, and viridis (perceptually uniform, colour-blind safe) for heatmaps.
using System.Globalization;

namespace ResidualLM.Lab.Charts;

/// <summary>Series colours, marker shapes and the heatmap colour map.</summary>
public static class Palette
{
    /// <summary>
    /// Okabe and Ito (2008), "Color Universal Design", without yellow (too light on white): blue, vermillion, bluish
    /// green, reddish purple, orange, sky blue, black. Series beyond seven reuse colours with another marker shape.
    /// </summary>
    public static readonly string[] Series = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];

    /// <summary>Colour of series <paramref name="index"/>.</summary>
    public static string SeriesColour(int index) => Series[index % Series.Length];

    /// <summary>Marker shape of series <paramref name="index"/>, so series differ by more than colour.</summary>
    public static MarkerShape Marker(int index) => (MarkerShape)(index % 5);

    // Viridis sampled at nine evenly spaced points (matplotlib's colormap, as published in its documentation).
    static readonly (double R, double G, double B)[] Viridis =
    [
        (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
        (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
    ];

    /// <summary>Viridis colour at <paramref name="fraction"/> in [0, 1] (clamped), linearly interpolated.</summary>
    public static string Sequential(double fraction)
    {
        if (double.IsNaN(fraction)) fraction = 0;
        double position = Math.Clamp(fraction, 0, 1) * (Viridis.Length - 1);
        int low = Math.Min((int)position, Viridis.Length - 2);
        double t = position - low;
        var (r0, g0, b0) = Viridis[low];
        var (r1, g1, b1) = Viridis[low + 1];
        return Hex(r0 + t * (r1 - r0), g0 + t * (g1 - g0), b0 + t * (b1 - b0));
    }

    /// <summary>True when text drawn on <paramref name="fraction"/> of the sequential map should be dark (the light end).</summary>
    public static bool NeedsDarkText(double fraction) => fraction > 0.6;

    static string Hex(double r, double g, double b) => string.Create(CultureInfo.InvariantCulture,
        $"#{(int)Math.Round(r):X2}{(int)Math.Round(g):X2}{(int)Math.Round(b):X2}");
}

/// <summary>Point marker shapes.</summary>
public enum MarkerShape { Circle, Square, Triangle, Diamond, InvertedTriangle }
