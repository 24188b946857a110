// Finite-difference gradient checks of LayerNorm (input, weight, bias) and RMSNorm (input, weight).
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class NormalizationGradTests
{
    static readonly int[][] Shapes = [[1], [3], [2, 7], [2, 3, 17]];

    [Fact]
    public void LayerNorm_OddShapes_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(131);
        foreach (int[] shape in Shapes)
        {
            int cols = shape[^1];
            var x = Tensor.Normal(rng, 0.5f, 1.5f, shape);
            var weight = Tensor.Normal(rng, 1, 0.5f, cols);
            var bias = Tensor.Normal(rng, 0, 0.5f, cols);
            GradCheck.Check(t => O.LayerNorm(Kernels.KernelCheck.Threads, t[0], t[1], t[2]), [x, weight, bias]);
        }
    }

    [Fact]
    public void RmsNorm_OddShapes_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(132);
        // Not C = 1: there y = w x / sqrt(x^2 + eps) ~ w sign(x) and dy/dx ~ eps / |x|^3 is below the finite-difference
        // round-off (~eps32 |loss| / h ~ 1e-5), so the check could not tell right from wrong.
        foreach (int[] shape in Shapes.Where(s => s[^1] > 1))
        {
            var x = Tensor.Normal(rng, 0.5f, 1.5f, shape);
            var weight = Tensor.Normal(rng, 1, 0.5f, shape[^1]);
            GradCheck.Check(t => O.RmsNorm(Kernels.KernelCheck.Threads, t[0], t[1]), [x, weight]);
        }
    }

    [Fact]
    public void LayerNorm_OnlyWeightRequiresGrad_LeavesInputWithoutGradient()
    {
        var rng = new Rng(133);
        var x = Tensor.Normal(rng, 0, 1, 3, 5);
        var weight = Tensor.Ones(5).WithGrad(); var bias = Tensor.Zeros(5);
        O.Sum(O.LayerNorm(Kernels.KernelCheck.Threads, x, weight, bias) * x).Backward();
        Assert.Null(x.Grad);
        Assert.Null(bias.Grad);
        Assert.NotNull(weight.Grad);
    }
}
