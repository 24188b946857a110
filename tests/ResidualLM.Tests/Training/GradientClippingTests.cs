// Global-norm clipping: the norm against a plain double sum, the same for any thread count, and the clipped result.
using ResidualLM.Tensors;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class GradientClippingTests
{
    /// <summary>Parameters with gradients of sizes around the vector widths and the 65,536-element chunks, one without a gradient.</summary>
    static List<Tensor> Parameters()
    {
        var rng = new Rng(3);
        var list = new List<Tensor>();
        foreach (int size in new[] { 1, 7, 16, 17, 1000, 65536, 65537, 200_003 })
        {
            var p = Tensor.Zeros(size).WithGrad();
            p.Grad = Tensor.Normal(rng, 0f, 0.5f, size);
            list.Add(p);
        }
        list.Add(Tensor.Zeros(5).WithGrad());
        return list;
    }

    [Fact]
    public void GlobalNorm_MatchesDoubleSum_ForEveryThreadCount()
    {
        var parameters = Parameters();
        double expected = Math.Sqrt(parameters.Where(p => p.Grad is not null).SelectMany(p => p.Grad!.Data).Sum(g => (double)g * g));
        var norms = new List<double>();
        ResidualLM.Tests.Kernels.KernelCheck.ForEachThreadCount(threads => norms.Add(GradientClipping.GlobalNorm(parameters, threads)));
        Assert.All(norms, n => Assert.Equal(expected, n, 1e-12 * expected));
        Assert.All(norms, n => Assert.Equal(norms[0], n));
    }

    [Fact]
    public void ClipByGlobalNorm_ScalesToTheLimit_AndLeavesNonFiniteAlone()
    {
        var parameters = Parameters();
        double before = GradientClipping.GlobalNorm(parameters);
        Assert.Equal(before, GradientClipping.ClipByGlobalNorm(parameters, 1.0));
        Assert.Equal(1.0, GradientClipping.GlobalNorm(parameters), 1e-5);
        Assert.Equal(1.0, GradientClipping.ClipByGlobalNorm(parameters, 2.0), 1e-5);   // below the limit: unchanged
        Assert.Equal(1.0, GradientClipping.GlobalNorm(parameters), 1e-5);

        parameters[3].Grad!.Data[2] = float.NaN;
        float[] kept = parameters[0].Grad!.ToArray();
        Assert.True(double.IsNaN(GradientClipping.ClipByGlobalNorm(parameters, 0.5)));
        Assert.Equal(kept, parameters[0].Grad!.Data);
    }

    /// <summary>torch's rule to the bit: scale = max / (norm + 1e-6) in double, applied as a float; none at or below the limit, or with limit 0.</summary>
    [Fact]
    public void ClipByGlobalNorm_UsesTorchsScale_AndNoneAtTheLimitOrWithLimitZero()
    {
        Tensor Gradient(params float[] values)
        {
            var p = Tensor.Zeros(values.Length).WithGrad();
            p.Grad = new Tensor(values, values.Length);
            return p;
        }
        var atLimit = new[] { Gradient(3f, 4f) };                  // norm exactly 5
        Assert.Equal(5.0, GradientClipping.ClipByGlobalNorm(atLimit, 5.0));
        Assert.Equal([3f, 4f], atLimit[0].Grad!.Data);
        var off = new[] { Gradient(3f, 4f) };
        Assert.Equal(5.0, GradientClipping.ClipByGlobalNorm(off, 0.0));   // 0: clipping off
        Assert.Equal([3f, 4f], off[0].Grad!.Data);
        var over = new[] { Gradient(6f, 8f) };                     // norm 10, limit 5
        GradientClipping.ClipByGlobalNorm(over, 5.0);
        float scale = (float)(5.0 / (10.0 + 1e-6));
        Assert.Equal([6f * scale, 8f * scale], over[0].Grad!.Data);
        Assert.NotEqual(3f, over[0].Grad!.Data[0]);                 // 1e-6 keeps the result just under the limit
    }
}
