// The AdamW update kernel against its scalar twin: every length 0..257 and a long one, with and without decay.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class OptimizerTests
{
    // Tolerance: none. The kernel does the twin's operations in the same order without fused multiply-adds, and
    // vector sqrt and division are correctly rounded, so results must be bit-identical.
    const double Exact = 0;

    [Fact]
    public void AdamWUpdate_EveryLength_MatchesReference()
    {
        var rng = new Rng(3);
        foreach (int n in Enumerable.Range(0, KernelCheck.MaxLength + 1).Append(100_003))
            foreach (float shrink in new[] { 1f, 0.999f })
            {
                float[] g = KernelCheck.Normal(rng, n), p = KernelCheck.Normal(rng, n), m = KernelCheck.Normal(rng, n);
                float[] v = KernelCheck.Normal(rng, n).Select(MathF.Abs).ToArray();
                float[] p2 = (float[])p.Clone(), m2 = (float[])m.Clone(), v2 = (float[])v.Clone();
                Optimizer.AdamWUpdate(g, p, m, v, 0.9f, 0.999f, shrink, 3e-4f / (1f - 0.9f * 0.9f), MathF.Sqrt(1f - 0.999f * 0.999f), 1e-8f);
                OptimizerReference.AdamWUpdate(g, p2, m2, v2, 0.9f, 0.999f, shrink, 3e-4f / (1f - 0.9f * 0.9f), MathF.Sqrt(1f - 0.999f * 0.999f), 1e-8f);
                KernelCheck.AssertClose(m2, m, Exact, $"first moment n={n}");
                KernelCheck.AssertClose(v2, v, Exact, $"second moment n={n}");
                KernelCheck.AssertClose(p2, p, Exact, $"parameter n={n}");
            }
    }
}
