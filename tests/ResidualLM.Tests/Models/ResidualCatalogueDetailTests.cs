// What the mutation run of Models/ found untested in the residual catalogue: aliases are command-line words, the
// hyper-connection entries name their copies, unknown modes give a clear error, ReZero and DeepNorm draw the weights
// their papers give (GPT-2's scaled writers under ReZero's gains; DeepNorm's beta on the readers too), and Admin's
// profiling runs without dropout, with time longer than width, and names the policy it refuses.
using ResidualLM.Models;
using Xunit;

namespace ResidualLM.Tests.Models;

public class ResidualCatalogueDetailTests
{
    [Fact]
    public void Aliases_AreCommandLineWords()
    {
        foreach (var policy in ResidualPolicies.All)
            foreach (string alias in policy.Aliases)
                Assert.Matches("^[a-z][a-z0-9-]*$", alias);
        // The aliases docs/lab.md and the README give.
        foreach (var (alias, mode) in new[] { ("plain", ResidualMode.None), ("pre-norm", ResidualMode.PreNorm), ("post", ResidualMode.PostNorm),
                     ("dense", ResidualMode.DenseFormer), ("resformer", ResidualMode.ValueResidual), ("resi-dual", ResidualMode.ResiDual) })
            Assert.Equal(mode, ResidualPolicies.Parse(alias));
    }

    [Theory]
    [InlineData(ResidualMode.StaticHyper1, "shc1", "SHC×1", "1 copy H", false)]
    [InlineData(ResidualMode.StaticHyper2, "shc2", "SHC×2", "2 copies H", false)]
    [InlineData(ResidualMode.StaticHyper4, "shc4", "SHC×4", "4 copies H", false)]
    [InlineData(ResidualMode.DynamicHyper1, "dhc1", "DHC×1", "1 copy H", true)]
    [InlineData(ResidualMode.DynamicHyper2, "dhc2", "DHC×2", "2 copies H", true)]
    [InlineData(ResidualMode.DynamicHyper4, "dhc4", "DHC×4", "4 copies H", true)]
    public void HyperConnections_NameTheirCopiesAndKind(ResidualMode mode, string name, string title, string copies, bool dynamic)
    {
        var policy = ResidualPolicies.Get(mode);
        Assert.Equal(name, policy.Name);
        Assert.Equal(title, policy.Title);
        Assert.Equal("y = B f(norm(A_m H)) + A_r H", policy.Equation);
        Assert.Contains($"The stream widened to {copies};", policy.Description);
        Assert.Equal(dynamic, policy.Description.Contains("depending on the token", StringComparison.Ordinal));
        Assert.Equal(mode == ResidualMode.StaticHyper1, policy.Description.Contains("pre-norm at init", StringComparison.Ordinal));
        Assert.EndsWith(").", policy.Description);
        Assert.Contains("(Zhu et al. 2025, hyper-connections", policy.Description);
    }

    [Fact]
    public void AnUnknownMode_IsAClearError()
    {
        var e = Assert.Throws<InvalidInputException>(() => ResidualPolicies.Get((ResidualMode)42));
        Assert.Equal("Residual", e.Field);
        Assert.Equal("unknown residual mode 42", e.Reason);
        Assert.False(ResidualPolicies.TryParse(null, out _));
        Assert.False(ResidualPolicies.TryParse("  ", out _));
    }

    static double Std(ReadOnlySpan<float> values)
    {
        double sum = 0, squares = 0;
        foreach (float v in values) { sum += v; squares += (double)v * v; }
        double mean = sum / values.Length;
        return Math.Sqrt(squares / values.Length - mean * mean);
    }

    [Fact]
    public void ReZero_DrawsGpt2sScaledWriters()
    {
        // 8 blocks: the projections that write into the stream get 0.02 / sqrt(16), the others 0.02.
        var config = GptConfig.Preset("deep-narrow") with { LayerCount = 8, Residual = ResidualMode.ReZero };
        var block = new Gpt(config).Blocks[0];
        Assert.Equal(0.02, Std(block.Attention.Qkv.Weight.Data), 0.002);
        Assert.Equal(0.005, Std(block.Attention.Proj.Weight.Data), 0.0005);
        Assert.Equal(0f, ((ReZeroResidual)block.Residual1).Gain.Data[0]);
    }

    [Fact]
    public void DeepNorm_ScalesTheFeedForwardReadersByBeta()
    {
        var config = GptConfig.Preset("deep-narrow") with { LayerCount = 8, Residual = ResidualMode.DeepNorm };
        var block = new Gpt(config).Blocks[0];
        double beta = Math.Pow(8.0 * 8, -0.25);
        foreach (var linear in new[] { block.Attention.Proj }.Concat(Linears(block.FeedForward)))
        {
            double xavier = beta * Math.Sqrt(2.0 / (linear.InFeatures + linear.OutFeatures));
            Assert.Equal(xavier, Std(linear.Weight.Data), 0.05 * xavier);
        }
    }

    static IEnumerable<ResidualLM.Nn.Linear> Linears(ResidualLM.Nn.Module module)
    {
        if (module is ResidualLM.Nn.Linear linear) yield return linear;
        foreach (var (_, child) in module.Children)
            foreach (var inner in Linears(child)) yield return inner;
    }

    [Fact]
    public void AdminProfiling_RunsWithoutDropout_AndAtAnyLength()
    {
        // Time 16 is longer than the width 8, and dropout 0.3 would change every statistic if it ran.
        var config = GptConfig.Preset("test") with { Width = 8, ContextLength = 16, Residual = ResidualMode.Admin };
        var ids = Enumerable.Range(0, 32).Select(i => i * 7 % 11).ToArray();
        var plain = new Gpt(config);
        var withDropout = new Gpt(config with { Dropout = 0.3f });
        withDropout.LoadStateDict(plain.StateDict());
        var expected = AdminResidual.Profile(plain, ids, 2, 16);
        Assert.Equal(4, expected.Count);
        Assert.Equal(1f, expected[0]);
        Assert.All(expected.Skip(1), r => Assert.True(r > 0f && r != 1f, $"ratio {r}"));
        Assert.Equal(expected, AdminResidual.Profile(withDropout, ids, 2, 16));
        Assert.True(withDropout.Training, "profiling leaves the model training");
    }

    [Fact]
    public void AdminProfiling_OfAnotherPolicy_NamesIt()
    {
        var e = Assert.Throws<InvalidInputException>(() => AdminResidual.Profile(new Gpt(GptConfig.Preset("test")), [1, 2], 1, 2));
        Assert.Equal("Residual", e.Field);
        Assert.Equal("Admin's profiling sets the shortcut weights of the admin residual policy, not of prenorm", e.Reason);
    }
}
