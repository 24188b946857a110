// The screen's bounds at every width this machine runs equal the one-row definition (the scalar path) bit for bit:
// every row count 1..257 (tails of 8, 4 and 2 rows), both passes, extreme integer products and zero scales.
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class ScreenBoundsTests
{
    [Fact]
    public void EveryWidth_EveryRowCount_EqualsTheScalarPath()
    {
        var rng = new Rng(11);
        const int rows = KernelCheck.MaxLength;
        int[] dots = new int[rows], refined = new int[rows], sums = new int[rows];
        float[] scales = new float[rows], quantizedNorms = new float[rows], deviations = new float[rows];
        for (int j = 0; j < rows; j++)
        {
            dots[j] = j % 9 == 0 ? -255 * 127 * 768 : rng.NextInt(2_000_000) - 1_000_000;
            refined[j] = rng.NextInt(2_000_000) - 1_000_000;
            sums[j] = rng.NextInt(20000) - 10000;
            scales[j] = j % 11 == 0 ? 0f : rng.NextFloat() * 1e-3f;
            quantizedNorms[j] = rng.NextFloat(); deviations[j] = rng.NextFloat() * 1e-3f;
        }
        var widths = Enum.GetValues<VectorPath>().Where(ScreenBounds.IsSupported).ToArray();
        Assert.Contains(VectorIsa.Path, widths);
        foreach (bool refinedPass in new[] { false, true })
        {
            var pass = new ScreenPass(0.013, 1e-4, 27.5, 0.31, 770 * Math.ScaleB(1.0, -149), refinedPass);
            for (int n = 1; n <= rows; n++)
            {
                var expected = new double[n];
                double expectedLower = ScreenBounds.BoundsOn(VectorPath.Scalar, pass, dots, refined, sums, scales, quantizedNorms, deviations, 0, n, expected);
                foreach (var width in widths)
                {
                    var upper = new double[n];
                    double lower = ScreenBounds.BoundsOn(width, pass, dots, refined, sums, scales, quantizedNorms, deviations, 0, n, upper);
                    Assert.True(lower.Equals(expectedLower), $"{width}, {n} rows, refined {refinedPass}: lower {lower:R} vs {expectedLower:R}");
                    Assert.Equal(expected, upper);
                }
            }
        }
    }
}
