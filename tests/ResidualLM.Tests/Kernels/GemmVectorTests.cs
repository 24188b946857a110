// The matrix-vector kernel on whichever path this run takes: every length 1..257 against a double-precision twin (within
// the round-off of a k-term float sum), W stored either way round, accumulating or not; and GemmVector.Dot, which the
// decoder uses to recompute one element alone, equals bit for bit what the whole product wrote there.
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public unsafe class GemmVectorTests
{
    /// <summary>sum_p x[p] W(p, j) in double, and sum_p |x[p] W(p, j)| for the error bound.</summary>
    static (double Value, double Magnitude) Reference(float[] x, float[] w, int k, int n, int j, bool transposed)
    {
        double value = 0, magnitude = 0;
        for (int p = 0; p < k; p++)
        {
            double term = (double)x[p] * (transposed ? w[j * k + p] : w[p * n + j]);
            value += term; magnitude += Math.Abs(term);
        }
        return (value, magnitude);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EveryLength_MatchesTheTwin_AndDotEqualsTheProduct(bool transposed)
    {
        var rng = new Rng(transposed ? 3UL : 4UL);
        foreach (int n in new[] { 1, 5, 37 })
            for (int k = 1; k <= KernelCheck.MaxLength; k++)
            {
                float[] x = KernelCheck.Normal(rng, k), w = KernelCheck.Normal(rng, n * k), start = KernelCheck.Normal(rng, n);
                foreach (bool accumulate in new[] { false, true })
                {
                    float[] c = (float[])start.Clone();
                    fixed (float* px = x, pw = w, pc = c) GemmVector.Run(px, pw, pc, k, n, transposed, accumulate, KernelCheck.Threads, threadLimit: 1);
                    for (int j = 0; j < n; j++)
                    {
                        var (value, magnitude) = Reference(x, w, k, n, j, transposed);
                        if (accumulate) { value += start[j]; magnitude += Math.Abs(start[j]); }
                        double bound = (k + 2) * Math.ScaleB(1.0, -23) * magnitude + 1e-30;
                        Assert.True(Math.Abs(c[j] - value) <= bound, $"{VectorIsa.Name}, k = {k}, n = {n}, column {j}: {c[j]:R} vs {value:R}");
                        if (!transposed || accumulate) continue;
                        float alone;
                        fixed (float* px = x, pw = w) alone = GemmVector.Dot(px, pw + j * k, k, GemmVector.IsWideRow(j, n));
                        Assert.True(BitConverter.SingleToInt32Bits(alone) == BitConverter.SingleToInt32Bits(c[j]),
                            $"{VectorIsa.Name}, k = {k}, n = {n}, row {j}: Dot {alone:R}, product {c[j]:R}");
                    }
                }
            }
    }
}
