// Op values against numbers computed by hand in double (independent of the engine's kernels and of their twins).
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class HandComputedTests
{
    // float32 results of a handful of operations: 1e-6 relative is ~16 eps.
    const double Rtol = 1e-6;

    [Fact]
    public void Softmax_OfOneTwoThree_MatchesHandComputed()
    {
        // e^1, e^2, e^3 over their sum: 0.0900305732, 0.2447284711, 0.6652409558.
        var y = O.Softmax(Kernels.KernelCheck.Threads, Tensor.FromArray([1f, 2f, 3f], 1, 3));
        AssertClose([0.09003057317038046, 0.24472847105479764, 0.6652409557748219], y.Data);
        // Shifting a row changes nothing; a masked entry gets exactly 0.
        AssertClose([0.09003057317038046, 0.24472847105479764, 0.6652409557748219], O.Softmax(Kernels.KernelCheck.Threads, Tensor.FromArray([101f, 102f, 103f], 3)).Data);
        var masked = O.Softmax(Kernels.KernelCheck.Threads, Tensor.FromArray([1f, float.NegativeInfinity, 1f], 3));
        Assert.Equal([0.5f, 0f, 0.5f], masked.Data);
    }

    [Fact]
    public void LayerNorm_SmallRow_MatchesHandComputed()
    {
        // x = [1, 2, 3, 6]: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5, rstd = 1/sqrt(3.5 + 1e-5).
        double rstd = 1 / Math.Sqrt(3.5 + 1e-5);
        var y = O.LayerNorm(Kernels.KernelCheck.Threads, Tensor.FromArray([1f, 2f, 3f, 6f], 1, 4), Tensor.FromArray([1f, 2f, 1f, 0.5f], 4), Tensor.FromArray([0f, 0f, 1f, -1f], 4));
        AssertClose([-2 * rstd, -1 * rstd * 2, 0 + 1, 3 * rstd * 0.5 - 1], y.Data);
        // RMSNorm of [3, 4]: mean square 12.5.
        double rms = 1 / Math.Sqrt(12.5 + 1e-5);
        AssertClose([3 * rms, 4 * rms], O.RmsNorm(Kernels.KernelCheck.Threads, Tensor.FromArray([3f, 4f], 2), Tensor.Ones(2)).Data);
    }

    [Fact]
    public void CrossEntropy_TinyBatch_MatchesHandComputed()
    {
        // Row 0: logits [0, 0, ln 2] -> p(target 2) = 2/4, loss ln 2. Row 1: [1, 1, 1] -> loss ln 3. Row 2 ignored.
        var logits = Tensor.FromArray([0f, 0f, MathF.Log(2f), 1f, 1f, 1f, 5f, -5f, 0f], 3, 3).WithGrad();
        var loss = O.CrossEntropy(Kernels.KernelCheck.Threads, logits, [2, 0, -100]);
        AssertClose([(Math.Log(2) + Math.Log(3)) / 2], loss.Data);
        // d loss / d logits = (softmax - onehot) / counted rows.
        loss.Backward();
        AssertClose([0.125, 0.125, -0.25, 1 / 6.0 - 0.5, 1 / 6.0, 1 / 6.0, 0, 0, 0], logits.Grad!.Data);
    }

    [Fact]
    public void Activations_KnownPoints_MatchHandComputed()
    {
        // GELU(1) = Phi(1) = 0.8413447460685429; tanh-GELU(1) = 0.5 (1 + tanh(sqrt(2/pi) 1.044715)); SiLU(1) = 1/(1 + 1/e).
        var x = Tensor.FromArray([1f], 1);
        AssertClose([0.8413447460685429], O.Gelu(Kernels.KernelCheck.Threads, x, exact: true).Data);
        AssertClose([0.5 * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * 1.044715))], O.Gelu(Kernels.KernelCheck.Threads, x).Data);
        AssertClose([1 / (1 + Math.Exp(-1))], O.Silu(x).Data);
        // Near 0 tanh x ~ x must stay accurate relative to x itself, not to 1.
        AssertClose([Math.Tanh((double)1e-6f), Math.Tanh((double)-3e-9f)], O.Tanh(Tensor.FromArray([1e-6f, -3e-9f], 2)).Data, floor: 0);
    }

    /// <summary>|actual - expected| &lt;= Rtol max(floor, |expected|): relative, or absolute below <paramref name="floor"/>.</summary>
    static void AssertClose(double[] expected, float[] actual, double floor = 1)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= Rtol * Math.Max(floor, Math.Abs(expected[i])), $"element {i}: {actual[i]:G9} vs {expected[i]:G9}");
    }
}
