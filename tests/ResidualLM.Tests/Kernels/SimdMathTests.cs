// The kernels' vector exp against double-precision Math.Exp over the whole float range, and its scalar twin bit for bit.
using System.Runtime.Intrinsics;
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class SimdMathTests
{
    /// <summary>Arguments: a dense sweep of [-110, 95], random ones, and the edges (overflow, underflow, denormals, 0, NaN, inf).</summary>
    static float[] Arguments()
    {
        var values = new List<float>();
        for (double x = -110; x <= 95; x += 0.0137) values.Add((float)x);
        var rng = new Rng(5);
        for (int i = 0; i < 20000; i++) values.Add((rng.NextFloat() - 0.5f) * 40f);
        values.AddRange([0f, -0f, 1e-30f, -1e-30f, 88.72f, 88.7228f, 88.73f, 89f, -87.33f, -87.34f, -100f, -103.9f, -104.5f, -200f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, float.MinValue, 0.5f * MathF.Log(2f), -0.5f * MathF.Log(2f)]);
        while (values.Count % 16 != 0) values.Add(1f);
        return values.ToArray();
    }

    static void AssertExp(float x, float actual)
    {
        double expected = Math.Exp(x);
        if (float.IsNaN(x)) { Assert.True(float.IsNaN(actual), $"exp(NaN) = {actual}"); return; }
        if (expected > float.MaxValue) { Assert.True(float.IsPositiveInfinity(actual), $"exp({x}) = {actual}, expected +inf"); return; }
        // Normal results: a few ulp (2^-23 ~ 1.2e-7 relative). Denormal results: a few units of the smallest denormal.
        double allowed = expected >= 1.1754944e-38 ? 4e-7 * expected : 4 * 1.401298464e-45;
        Assert.True(Math.Abs(actual - expected) <= allowed, $"exp({x:R}) = {actual:R}, expected {expected:R} (error {Math.Abs(actual - expected):G3}, allowed {allowed:G3})");
    }

    [Fact]
    public void Exp_WholeFloatRange_MatchesDoubleExp()
    {
        foreach (float x in Arguments()) AssertExp(x, SimdMath.Exp(x));
    }

    [Fact]
    public void Exp_Vectors_MatchScalarTwinBitForBit()
    {
        float[] xs = Arguments();
        for (int i = 0; i < xs.Length; i += 16)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var v = SimdMath.Exp(Vector512.Create(xs.AsSpan(i, 16)));
                for (int j = 0; j < 16; j++) Assert.True(SimdMath.Exp(xs[i + j]).Equals(v[j]), $"512-bit exp({xs[i + j]:R}) = {v[j]:R}, scalar {SimdMath.Exp(xs[i + j]):R}");
            }
            if (Vector256.IsHardwareAccelerated)
            {
                var v = SimdMath.Exp(Vector256.Create(xs.AsSpan(i, 8)));
                for (int j = 0; j < 8; j++) Assert.True(SimdMath.Exp(xs[i + j]).Equals(v[j]), $"256-bit exp({xs[i + j]:R}) = {v[j]:R}, scalar {SimdMath.Exp(xs[i + j]):R}");
            }
            // The 128-bit form runs everywhere (software on a machine without vectors): ARM64's width, and the kernels' tails.
            for (int k = 0; k < 16; k += 4)
            {
                var v = SimdMath.Exp(Vector128.Create(xs.AsSpan(i + k, 4)));
                for (int j = 0; j < 4; j++) Assert.True(SimdMath.Exp(xs[i + k + j]).Equals(v[j]), $"128-bit exp({xs[i + k + j]:R}) = {v[j]:R}, scalar {SimdMath.Exp(xs[i + k + j]):R}");
            }
        }
    }
}
