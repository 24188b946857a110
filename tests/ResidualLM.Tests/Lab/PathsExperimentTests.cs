// `rlm lab paths`: the path expansion of a residual stack's gradient is exact (sums to Backward(), and each
// degree-k term equals the sum over every subset of k branches enumerated one by one).
using ResidualLM.Lab.Experiments;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class PathsExperimentTests
{
    [Theory]
    [InlineData(2, 3, 1, 0.9f)]
    [InlineData(12, 5, 3, 0.5f)]
    [InlineData(30, 8, 2, 1.5f)]
    public void PathTerms_SumToTheBackwardGradient(int depth, int width, int samples, float gain)
    {
        var stack = new PathExpansion(depth, width, samples, gain, seed: 11);
        var (total, g, _) = stack.Gradients();
        var terms = stack.PathTerms(g, stack.Stream(), out _);
        Assert.Equal(depth + 1, terms.Length);
        var sum = new double[total.Length];
        foreach (var term in terms) for (int i = 0; i < sum.Length; i++) sum[i] += term[i];
        double error = PathExpansion.Norm(sum.Zip(total, (a, b) => a - b).ToArray());
        Assert.True(error <= 1e-5 * PathExpansion.Norm(total), $"|sum − total| = {error:G3}, |total| = {PathExpansion.Norm(total):G3}");
        Assert.Equal(g, terms[0]); // the path through no branch is g itself
    }

    [Fact]
    public void PathTerms_EqualTheSumOverEnumeratedSubsets()
    {
        const int depth = 6;
        var stack = new PathExpansion(depth, width: 4, samples: 2, gain: 1f, seed: 5);
        var (_, g, _) = stack.Gradients();
        var terms = stack.PathTerms(g, stack.Stream(), out var jacobians);
        var bySubsets = Enumerable.Range(0, depth + 1).Select(_ => new double[g.Length]).ToArray();
        for (int mask = 0; mask < 1 << depth; mask++)
        {
            var branches = Enumerable.Range(0, depth).Where(i => (mask >> i & 1) == 1).ToArray();
            var path = stack.PathGradient(g, jacobians, branches);
            for (int i = 0; i < g.Length; i++) bySubsets[branches.Length][i] += path[i];
        }
        for (int k = 0; k <= depth; k++)
            for (int i = 0; i < g.Length; i++)
                Assert.Equal(bySubsets[k][i], terms[k][i], 1e-9);
    }

    [Theory]
    [InlineData(8, 0.5f)]
    [InlineData(12, 1.5f)]
    public void SharePerPathLength_Enumerated_EqualsTheDynamicProgram(int depth, float gain)
    {
        var stack = new PathExpansion(depth, width: 3, samples: 2, gain, seed: 17);
        var (total, g, _) = stack.Gradients();
        var byProgram = PathExpansion.Shares(stack.PathTerms(g, stack.Stream(), out var jacobians), total);
        // Brute force, written out here: every subset of branches is one path, g times its branch Jacobians from the top down.
        var byEnumeration = new double[depth + 1];
        double square = total.Sum(v => v * v);
        for (int mask = 0; mask < 1 << depth; mask++)
        {
            var v = (double[])g.Clone();
            for (int i = depth - 1; i >= 0; i--)
            {
                if ((mask >> i & 1) == 0) continue;
                var next = new double[v.Length];
                for (int s = 0; s < 2; s++)
                    for (int row = 0; row < 3; row++)
                        for (int m = 0; m < 3; m++) next[s * 3 + m] += v[s * 3 + row] * jacobians[i][s][row * 3 + m];
                v = next;
            }
            byEnumeration[System.Numerics.BitOperations.PopCount((uint)mask)] += v.Zip(total, (a, b) => a * b).Sum() / square;
        }
        for (int k = 0; k <= depth; k++) Assert.Equal(byEnumeration[k], byProgram[k], 1e-9);
        Assert.Equal(byEnumeration, PathExpansion.Shares(stack.EnumeratedTerms(g, jacobians), total), (a, b) => Math.Abs(a - b) < 1e-9);
        Assert.Equal(1.0, byEnumeration.Sum(), 1e-5); // float32 Backward() against double path sums
    }

    [Fact]
    public void Jacobians_MatchVectorJacobianProducts()
    {
        var stack = new PathExpansion(3, width: 5, samples: 2, gain: 1f, seed: 3);
        var stream = stack.Stream();
        var v = Enumerable.Range(0, 10).Select(i => Math.Sin(i + 1.0)).ToArray();
        var jacobians = stack.Jacobians(1, stream[1]);
        var direct = stack.VectorJacobian(1, stream[1], v);
        for (int s = 0; s < 2; s++)
            for (int m = 0; m < 5; m++)
                Assert.Equal(direct[s * 5 + m], Enumerable.Range(0, 5).Sum(j => v[s * 5 + j] * jacobians[s][j * 5 + m]), 1e-5);
    }

    [Fact]
    public void Paths_TwoLayerTermsSumToBackward_AndTheSharesAddUp()
    {
        var result = new PathsExperiment(new PathsOptions { Depth = 10, Width = 6, PathSamples = 4 }).Run();
        var twoLayer = result.Tables.Single(t => t.Id == "two-layer");
        double shares = Enumerable.Range(0, 4).Sum(r => twoLayer.Rows[r][3].Number!.Value);
        Assert.Equal(1.0, shares, 1e-5);
        Assert.True(twoLayer.Rows[6][2].Number!.Value <= 1e-5 * twoLayer.Rows[5][2].Number!.Value);
        var weights = result.Tables.Single(t => t.Id == "first-layer-weight");
        Assert.Equal(1.0, weights.Rows[0][3].Number!.Value + weights.Rows[1][3].Number!.Value, 1e-4);
        Assert.Equal(11 + 2, result.Tables.Single(t => t.Id == "path-lengths").Rows.Count);
        Assert.Contains(result.Findings, f => f.StartsWith("Deep stack: the 11 path-length terms"));
        var enumerated = result.Tables.Single(t => t.Id == "enumerated");
        Assert.Equal(11, enumerated.Rows.Count);
        Assert.All(enumerated.Rows, row => Assert.True(row[4].Number < 1e-9));
    }
}
