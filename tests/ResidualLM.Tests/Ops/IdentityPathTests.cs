using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class IdentityPathTests
{
    /// <summary>For y = x + tanh(x), autograd gives dy/dx = 1 + (1 - tanh(x)^2) element-wise: the shortcut adds exactly 1.</summary>
    [Fact]
    public void Residual_GradientIsOnePlusBranchDerivative()
    {
        var x = Tensor.FromArray([2f, -1f, 0.5f, -3f, 0f, 7f], 6).WithGrad();
        var y = x + O.Tanh(x);
        O.Sum(y).Backward();
        for (int i = 0; i < x.Size; i++)
        {
            double t = Math.Tanh(x.Data[i]);
            Assert.Equal(1.0 + (1.0 - t * t), x.Grad!.Data[i], 6);
        }
    }

    [Fact]
    public void Mlp_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(1);
        var x = Tensor.Normal(rng, 0, 1, 3, 5);
        var w = Tensor.Normal(rng, 0, 0.5f, 4, 5);
        var b = Tensor.Normal(rng, 0, 0.5f, 4);
        GradCheck.Check(t => { var h = O.MatMul(Kernels.KernelCheck.Threads, t[0], t[1], transposeB: true) + t[2]; return h + O.Gelu(Kernels.KernelCheck.Threads, h); }, [x, w, b]);
    }
}
