// Means and 95% confidence intervals over a few seeds: the Student t interval mean ± t(0.975, n−1) s / sqrt(n), with the
// t quantile computed from the t distribution's CDF (regularised incomplete beta) by bisection, for any n ≥ 2.
// Limits: assumes the per-seed values are independent and roughly normal; with 2-3 seeds the intervals are wide, as
// they should be.
using System.Globalization;

namespace ResidualLM.Lab;

/// <summary>A mean over seeds with its 95% confidence half-width (NaN for one seed: no interval).</summary>
/// <param name="Mean">Mean of the finite values.</param>
/// <param name="HalfWidth">t(0.975, n−1) × s / sqrt(n); NaN when fewer than two finite values.</param>
/// <param name="Count">Finite values the mean is over.</param>
public readonly record struct Estimate(double Mean, double HalfWidth, int Count)
{
    /// <summary>Lower end of the interval (the mean when there is none).</summary>
    public double Low => double.IsNaN(HalfWidth) ? Mean : Mean - HalfWidth;

    /// <summary>Upper end of the interval (the mean when there is none).</summary>
    public double High => double.IsNaN(HalfWidth) ? Mean : Mean + HalfWidth;

    /// <summary>Whether both have intervals and they share a point: the difference is not resolved at this many seeds.</summary>
    public bool Overlaps(Estimate other) =>
        !double.IsNaN(HalfWidth) && !double.IsNaN(other.HalfWidth) && Low <= other.High && other.Low <= High;

    /// <summary>"2.2110 ± 0.0312" (or just the mean for one seed), with <paramref name="format"/> for both numbers.</summary>
    public string ToString(string format) => double.IsNaN(HalfWidth)
        ? Mean.ToString(format, CultureInfo.InvariantCulture)
        : $"{Mean.ToString(format, CultureInfo.InvariantCulture)} ± {HalfWidth.ToString(format, CultureInfo.InvariantCulture)}";
}

/// <summary>Sample statistics for results repeated over seeds.</summary>
public static class Statistics
{
    /// <summary>Mean and 95% Student t interval of the finite values of <paramref name="values"/> (non-finite ones are runs that diverged).</summary>
    public static Estimate Estimate(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        if (finite.Length == 0) return new Estimate(double.NaN, double.NaN, 0);
        double mean = finite.Average();
        if (finite.Length == 1) return new Estimate(mean, double.NaN, 1);
        double variance = finite.Sum(v => (v - mean) * (v - mean)) / (finite.Length - 1);
        return new Estimate(mean, StudentQuantile(0.975, finite.Length - 1) * Math.Sqrt(variance / finite.Length), finite.Length);
    }

    /// <summary>The <paramref name="p"/> quantile (0.5 &lt; p &lt; 1) of Student's t with <paramref name="degrees"/> degrees of freedom.</summary>
    public static double StudentQuantile(double p, int degrees)
    {
        if (!(p > 0.5 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "must be in (0.5, 1)");
        if (degrees < 1) throw new ArgumentOutOfRangeException(nameof(degrees), degrees, "must be at least 1");
        double low = 0, high = 1;
        while (StudentCdf(high, degrees) < p) high *= 2;
        for (int i = 0; i < 200 && high - low > 1e-12 * high; i++)
        {
            double middle = (low + high) / 2;
            if (StudentCdf(middle, degrees) < p) low = middle; else high = middle;
        }
        return (low + high) / 2;
    }

    /// <summary>P(T ≤ t) for Student's t with <paramref name="degrees"/> degrees of freedom: 1 − I_x(ν/2, 1/2) / 2, x = ν/(ν + t²), for t ≥ 0.</summary>
    public static double StudentCdf(double t, int degrees)
    {
        double tail = 0.5 * RegularizedBeta(degrees / (degrees + t * t), degrees / 2.0, 0.5);
        return t >= 0 ? 1 - tail : tail;
    }

    /// <summary>I_x(a, b) by the continued fraction of Numerical Recipes (§6.4), using the symmetry for x past the mean.</summary>
    static double RegularizedBeta(double x, double a, double b)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2) ? front * BetaFraction(x, a, b) / a : 1 - front * BetaFraction(1 - x, b, a) / b;
    }

    // Modified Lentz evaluation of the incomplete beta continued fraction.
    static double BetaFraction(double x, double a, double b)
    {
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        d = 1 / (Math.Abs(d) < tiny ? tiny : d);
        double h = d;
        for (int m = 1; m <= 300; m++)
        {
            double even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + even * d; d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + even / c; c = Math.Abs(c) < tiny ? tiny : c;
            h *= d * c;
            double odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + odd * d; d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + odd / c; c = Math.Abs(c) < tiny ? tiny : c;
            double step = d * c;
            h *= step;
            if (Math.Abs(step - 1) < 1e-15) break;
        }
        return h;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, 9 terms; about 15 digits).</summary>
    static double LogGamma(double x)
    {
        ReadOnlySpan<double> coefficients =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double sum = coefficients[0], t = x + 7.5;
        for (int i = 1; i < coefficients.Length; i++) sum += coefficients[i] / (x + i);
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}
