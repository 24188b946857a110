// Scalar twins of the activation kernels: one plain loop per function, computed in double. For tests and benchmarks.
// Same signatures and semantics as Kernels.Activations (forward overwrites y, backward ADDS into dx).
// The exact GELU's erf is evaluated another way than the kernel's (one all-positive series against the kernel's
// alternating series and continued fraction), so its twin test does not compare a function with itself.
namespace ResidualLM.Kernels.Reference;

/// <summary>Obviously-correct double-precision versions of <see cref="Activations"/>.</summary>
public static class ActivationsReference
{
    const double GeluScale = 0.79788456080286535588; // sqrt(2/pi)
    const double GeluCubic = 0.044715;

    /// <summary>y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    public static void GeluTanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + Math.Tanh(GeluScale * (v + GeluCubic * v * v * v))));
        }
    }

    /// <summary>dx += dy * d/dx GELU_tanh(x).</summary>
    public static void GeluTanhBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            double t = Math.Tanh(GeluScale * (v + GeluCubic * v * v * v));
            double sech2 = 1.0 - t * t;
            double local = 0.5 * (1.0 + t) + 0.5 * v * sech2 * GeluScale * (1.0 + 3.0 * GeluCubic * v * v);
            dx[i] = (float)(dx[i] + local * dy[i]);
        }
    }

    /// <summary>y = x Phi(x), Phi(x) = 0.5 erfc(-x / sqrt 2) (relative accuracy kept in the tail x -&gt; -inf).</summary>
    public static void GeluErfForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++) y[i] = (float)(x[i] * NormalCdf(x[i]));
    }

    /// <summary>dx += dy (Phi(x) + x phi(x)).</summary>
    public static void GeluErfBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            double pdf = Math.Exp(-0.5 * v * v) / Math.Sqrt(2.0 * Math.PI);
            dx[i] = (float)(dx[i] + (NormalCdf(v) + v * pdf) * dy[i]);
        }
    }

    /// <summary>The standard normal distribution function, 0.5 erfc(-x / sqrt 2).</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2.0));

    /// <summary>y = x / (1 + exp(-x)).</summary>
    public static void SiluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++) y[i] = (float)(x[i] * Sigmoid(x[i]));
    }

    /// <summary>dx += dy s (1 + x (1 - s)), s = sigmoid(x).</summary>
    public static void SiluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        for (int i = 0; i < x.Length; i++)
        {
            double s = Sigmoid(x[i]);
            dx[i] = (float)(dx[i] + dy[i] * s * (1.0 + x[i] * (1.0 - s)));
        }
    }

    /// <summary>y = max(x, 0).</summary>
    public static void ReluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : 0f;
    }

    /// <summary>dx += dy where x &gt; 0 (the derivative at the kink is taken as 0, as PyTorch).</summary>
    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(x.Length, dy.Length); CheckLengths(x.Length, dx.Length);
        for (int i = 0; i < x.Length; i++) if (x[i] > 0f) dx[i] += dy[i];
    }

    /// <summary>y = tanh(x).</summary>
    public static void TanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++) y[i] = (float)Math.Tanh(x[i]);
    }

    /// <summary>dx += dy (1 - y^2), from the forward output y.</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(y.Length, dy.Length); CheckLengths(y.Length, dx.Length);
        for (int i = 0; i < y.Length; i++) dx[i] = (float)(dx[i] + dy[i] * (1.0 - (double)y[i] * y[i]));
    }

    static double Sigmoid(double x) => x >= 0 ? 1.0 / (1.0 + Math.Exp(-x)) : Math.Exp(x) / (1.0 + Math.Exp(x));

    /// <summary>
    /// erf by the all-positive series erf x = 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)) (no cancellation,
    /// unlike the Maclaurin series the kernel uses); for |x| &gt;= 6, erfc(x) &lt; 2.2e-17 so erf is +-1 in double.
    /// </summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (double.IsNaN(x)) return double.NaN;
        if (ax >= 6.0) return Math.Sign(x);
        double term = ax, sum = ax, twoX2 = 2.0 * ax * ax;
        for (int n = 1; n < 400 && term > 1e-18 * sum; n++)
        {
            term *= twoX2 / (2 * n + 1);
            sum += term;
        }
        double r = 2.0 / Math.Sqrt(Math.PI) * Math.Exp(-ax * ax) * sum;
        return x < 0 ? -r : r;
    }

    /// <summary>
    /// erfc(x) = 1 - erf(x) to a relative 1e-11 or better: 1 - erf(x) while erfc(x) &gt; 1e-5 (x &lt; 3, so at most five
    /// digits cancel), the continued fraction erfc x = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
    /// from x = 3 on, evaluated from 300 levels down (far more than it needs there); 2 - erfc(-x) below 0.
    /// </summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return 2.0 - Erfc(-x);
        if (x < 3.0) return 1.0 - Erf(x);
        double f = 0;
        for (int n = 300; n >= 1; n--) f = n / 2.0 / (x + f);
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + f);
    }

    static void CheckLengths(int expected, int actual)
    {
        if (actual != expected) throw new ArgumentException($"span lengths differ: {expected} vs {actual}");
    }
}
