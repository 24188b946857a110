// Shared helpers for kernel-vs-scalar-twin tests: inputs with extreme values, a tolerance check, thread budgets.
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit.Sdk;

namespace ResidualLM.Tests.Kernels;

static class KernelCheck
{
    /// <summary>Every length 1..257: all SIMD widths (4/8/16 floats), their tails, and several full vectors.</summary>
    public const int MaxLength = 257;

    /// <summary>One thread (inline path) and two (the workers' path, chunk boundaries between threads).</summary>
    public static readonly int[] ThreadCounts = [1, 2];

    /// <summary>
    /// Row counts per column count: 1, 3, and enough rows that rows * cols * 6 &gt; 65536, so every row kernel (each costs at
    /// least 6 flops per element) takes the multi-threaded path of <see cref="Parallelism.For"/> when it has 2 threads.
    /// </summary>
    public static int[] RowCounts(int cols) => [1, 3, 11000 / cols + 1];

    /// <summary>
    /// Runs <paramref name="body"/> with a budget of each of <see cref="ThreadCounts"/> threads, each its own (no other
    /// test shares its workers, so the two-thread run really splits the work).
    /// </summary>
    public static void ForEachThreadCount(Action<Parallelism> body)
    {
        foreach (int count in ThreadCounts)
        {
            using var threads = new Parallelism(count);
            body(threads);
        }
    }

    /// <summary>A budget of two threads for tests that only need some threads (shared: it may run a call inline when busy).</summary>
    public static readonly Parallelism Threads = new(2);

    /// <summary>
    /// Normal(0, std) values with extremes sprinkled in: +-30 at every 13th element, +-100 at every 29th, and tiny values
    /// (~1e-6, where functions like tanh x ~ x must keep their relative accuracy) at every 17th.
    /// </summary>
    public static float[] WithExtremes(Rng rng, int n, float std = 2f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = std * rng.NextGaussian();
            if (i % 13 == 5) x[i] = x[i] < 0 ? -30f : 30f;
            if (i % 29 == 7) x[i] = x[i] < 0 ? -100f : 100f;
            if (i % 17 == 3) x[i] *= 1e-6f;
        }
        return x;
    }

    public static float[] Normal(Rng rng, int n, float std = 1f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = std * rng.NextGaussian();
        return x;
    }

    /// <summary>
    /// Asserts |actual_i - expected_i| &lt;= rtol (|expected_i| + scale_i) for every i, where scale_i (default 0) is the size
    /// of the terms that produced element i (round-off is relative to them, not to a result that may cancel).
    /// NaN must match NaN and infinities must match exactly.
    /// </summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, string context,
        ReadOnlySpan<float> scale = default)
    {
        if (expected.Length != actual.Length) throw new XunitException($"{context}: lengths {expected.Length} vs {actual.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (e == a || (float.IsNaN(e) && float.IsNaN(a))) continue;
            double s = scale.IsEmpty ? 0 : scale[i];
            double error = Math.Abs((double)a - e);
            if (!(error <= rtol * (Math.Abs((double)e) + s)))
                throw new XunitException($"{context}: element {i} is {a:G9}, reference {e:G9} (error {error:G3}, allowed {rtol * (Math.Abs((double)e) + s):G3})");
        }
    }
}
