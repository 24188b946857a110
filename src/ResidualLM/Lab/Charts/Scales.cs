// Value-to-pixel scales for the charts: linear with "nice" round ticks (1, 2, 2.5, 5 x 10^k) and log10 with ticks
// at powers of ten. A scale only maps values it accepts (CanPlace); callers drop the rest and say so on the chart.
using System.Globalization;

namespace ResidualLM.Lab.Charts;

/// <summary>A tick: its value and its label.</summary>
public readonly record struct Tick(double Value, string Label);

/// <summary>Maps data values on one axis to pixel positions between <see cref="RangeStart"/> and <see cref="RangeEnd"/>.</summary>
public abstract class ChartScale
{
    /// <summary>Pixel position of the domain's lower end (for a y axis this is the bottom, the larger pixel value).</summary>
    public double RangeStart { get; }

    /// <summary>Pixel position of the domain's upper end.</summary>
    public double RangeEnd { get; }

    protected ChartScale(double rangeStart, double rangeEnd)
    {
        RangeStart = rangeStart;
        RangeEnd = rangeEnd;
    }

    /// <summary>Lower and upper end of the domain (after rounding to ticks).</summary>
    public abstract (double Low, double High) Domain { get; }

    /// <summary>Whether <paramref name="value"/> can be placed on this scale (finite, and positive for log).</summary>
    public abstract bool CanPlace(double value);

    /// <summary>Pixel position of <paramref name="value"/>, which must satisfy <see cref="CanPlace"/>.</summary>
    public abstract double Map(double value);

    /// <summary>Labelled ticks, in increasing value.</summary>
    public abstract IReadOnlyList<Tick> Ticks { get; }

    /// <summary>Unlabelled minor tick values (log scale: 2..9 x 10^k when few decades are shown).</summary>
    public virtual IReadOnlyList<double> MinorTicks => [];

    /// <summary>Builds a scale of the given kind covering <paramref name="values"/> (those it can place).</summary>
    public static ChartScale Create(AxisScale kind, IEnumerable<double> values, double rangeStart, double rangeEnd, bool includeZero = false) =>
        kind == AxisScale.Log
            ? LogScale.Covering(values, rangeStart, rangeEnd)
            : LinearScale.Covering(values, rangeStart, rangeEnd, includeZero);

    /// <summary>A compact number label: no trailing zeros, scientific form only for very large or small values.</summary>
    public static string FormatNumber(double value, double step)
    {
        if (value == 0) return "0";
        double magnitude = Math.Abs(value);
        if (magnitude >= 1e6 || magnitude < 1e-4) return Superscript(value.ToString("0.##E+0", CultureInfo.InvariantCulture));
        int decimals = Math.Clamp(-(int)Math.Floor(Math.Log10(step) + 1e-9), 0, 8);
        // A step of 2.5 x 10^k needs one more decimal than 10^k.
        if (Math.Abs(step / Math.Pow(10, Math.Floor(Math.Log10(step))) - 2.5) < 1e-9) decimals++;
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>"1.5E-07" as "1.5×10⁻⁷".</summary>
    static string Superscript(string scientific)
    {
        int e = scientific.IndexOf('E');
        string mantissa = scientific[..e];
        int exponent = int.Parse(scientific[(e + 1)..], CultureInfo.InvariantCulture);
        return (mantissa == "1" ? "" : mantissa + "×") + PowerOfTen(exponent);
    }

    /// <summary>10^k written with superscript digits: 10⁻⁵.</summary>
    public static string PowerOfTen(int exponent)
    {
        const string digits = "⁰¹²³⁴⁵⁶⁷⁸⁹";
        string text = Math.Abs(exponent).ToString(CultureInfo.InvariantCulture);
        var power = new System.Text.StringBuilder("10");
        if (exponent < 0) power.Append('⁻');
        foreach (char c in text) power.Append(digits[c - '0']);
        return power.ToString();
    }
}

/// <summary>A linear scale whose domain is widened to round tick values.</summary>
public sealed class LinearScale : ChartScale
{
    readonly double low, high, step;

    public LinearScale(double low, double high, double rangeStart, double rangeEnd, int targetTicks = 6) : base(rangeStart, rangeEnd)
    {
        if (!double.IsFinite(low) || !double.IsFinite(high)) throw new ArgumentException("scale bounds must be finite");
        if (high < low) (low, high) = (high, low);
        if (high == low)
        {
            // A single value: centre it in a small round interval.
            double pad = low == 0 ? 1 : Math.Abs(low) * 0.1;
            low -= pad;
            high += pad;
        }
        step = NiceStep((high - low) / Math.Max(1, targetTicks - 1));
        this.low = Math.Floor(low / step + 1e-9) * step;
        this.high = Math.Ceiling(high / step - 1e-9) * step;
    }

    /// <summary>A scale covering the finite values in <paramref name="values"/> (0..1 when there are none).</summary>
    public static LinearScale Covering(IEnumerable<double> values, double rangeStart, double rangeEnd, bool includeZero = false)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (double v in values)
            if (double.IsFinite(v)) { min = Math.Min(min, v); max = Math.Max(max, v); }
        if (min > max) (min, max) = (0, 1);
        if (includeZero) { min = Math.Min(min, 0); max = Math.Max(max, 0); }
        return new LinearScale(min, max, rangeStart, rangeEnd);
    }

    /// <summary>The round step (1, 2, 2.5 or 5 times a power of ten) nearest above <paramref name="rough"/>.</summary>
    public static double NiceStep(double rough)
    {
        if (!(rough > 0) || !double.IsFinite(rough)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double fraction = rough / power;
        double nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
        return nice * power;
    }

    public override (double Low, double High) Domain => (low, high);

    public override bool CanPlace(double value) => double.IsFinite(value);

    public override double Map(double value) => RangeStart + (value - low) / (high - low) * (RangeEnd - RangeStart);

    public override IReadOnlyList<Tick> Ticks
    {
        get
        {
            var ticks = new List<Tick>();
            int count = (int)Math.Round((high - low) / step);
            for (int i = 0; i <= count; i++)
            {
                double v = low + i * step;
                if (Math.Abs(v) < step * 1e-9) v = 0; // no "-0" or 1e-17 from accumulated rounding
                ticks.Add(new Tick(v, FormatNumber(v, step)));
            }
            return ticks;
        }
    }
}

/// <summary>A log10 scale from a power of ten to a power of ten. Only positive finite values can be placed.</summary>
public sealed class LogScale : ChartScale
{
    readonly int lowExponent, highExponent;

    public LogScale(int lowExponent, int highExponent, double rangeStart, double rangeEnd) : base(rangeStart, rangeEnd)
    {
        if (highExponent <= lowExponent) highExponent = lowExponent + 1;
        this.lowExponent = lowExponent;
        this.highExponent = highExponent;
    }

    /// <summary>A scale from the power of ten at or below the smallest positive value to the one at or above the largest.</summary>
    public static LogScale Covering(IEnumerable<double> values, double rangeStart, double rangeEnd)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (double v in values)
            if (double.IsFinite(v) && v > 0) { min = Math.Min(min, v); max = Math.Max(max, v); }
        if (min > max) (min, max) = (1, 10);
        // The small tolerance keeps an exact power of ten (1e-3 computed as 0.0010000000000000002) on its own decade.
        int lowExponent = (int)Math.Floor(Math.Log10(min) + 1e-9);
        int highExponent = (int)Math.Ceiling(Math.Log10(max) - 1e-9);
        return new LogScale(lowExponent, highExponent, rangeStart, rangeEnd);
    }

    public override (double Low, double High) Domain => (Math.Pow(10, lowExponent), Math.Pow(10, highExponent));

    public override bool CanPlace(double value) => double.IsFinite(value) && value > 0;

    public override double Map(double value) =>
        RangeStart + (Math.Log10(value) - lowExponent) / (highExponent - lowExponent) * (RangeEnd - RangeStart);

    /// <summary>Decades between labelled ticks, so that at most about eight are labelled.</summary>
    int Stride => Math.Max(1, (int)Math.Ceiling((highExponent - lowExponent) / 8.0));

    public override IReadOnlyList<Tick> Ticks
    {
        get
        {
            var ticks = new List<Tick>();
            int first = (int)Math.Ceiling(lowExponent / (double)Stride) * Stride;
            for (int k = first; k <= highExponent; k += Stride) ticks.Add(new Tick(Math.Pow(10, k), Label(k)));
            if (highExponent - lowExponent == 1)
            {
                // One decade has only two powers of ten: label 2x and 5x as well.
                double b = Math.Pow(10, lowExponent);
                ticks.Insert(1, new Tick(2 * b, FormatNumber(2 * b, b)));
                ticks.Insert(2, new Tick(5 * b, FormatNumber(5 * b, b)));
            }
            return ticks;
        }
    }

    public override IReadOnlyList<double> MinorTicks
    {
        get
        {
            if (highExponent - lowExponent > 6) return [];
            var minor = new List<double>();
            for (int k = lowExponent; k < highExponent; k++)
                for (int m = 2; m <= 9; m++) minor.Add(m * Math.Pow(10, k));
            return minor;
        }
    }

    /// <summary>Powers from 0.01 to 1000 in plain decimals, others as 10ⁿ.</summary>
    static string Label(int exponent) => exponent is >= -2 and <= 3
        ? Math.Pow(10, exponent).ToString(exponent < 0 ? "0.##" : "0", CultureInfo.InvariantCulture)
        : PowerOfTen(exponent);
}
