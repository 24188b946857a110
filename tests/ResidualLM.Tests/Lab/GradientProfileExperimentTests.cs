// `rlm lab gradient-profile`: the retained stream gradients are the right ones (checked where they are known
// exactly), and the qualitative profile of plain, residual and pre-norm stacks.
using ResidualLM.Lab.Experiments;
using ResidualLM.Models;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class GradientProfileExperimentTests
{
    [Fact]
    public void MlpProfile_PlainVanishes_PreNormStaysLevel()
    {
        var experiment = new GradientProfileExperiment(new GradientProfileOptions { Depth = 30, Width = 16, BatchSize = 4 });
        var plain = experiment.MlpProfile(StackVariant.None);
        var preNorm = experiment.MlpProfile(StackVariant.PreNorm);
        Assert.Equal(31, plain.Length);
        Assert.True(plain[0] < 1e-6 * plain[^1], $"plain: input {plain[0]:G3}, output {plain[^1]:G3}");
        Assert.InRange(preNorm[0] / preNorm[^1], 0.1, 10);
        // Every norm is a finite positive number, and the plain profile falls at (almost) every layer towards the input.
        Assert.All(preNorm, v => Assert.True(double.IsFinite(v) && v > 0));
        Assert.True(Enumerable.Range(0, 30).Count(l => plain[l] < plain[l + 1]) >= 27);
    }

    [Fact]
    public void GptProfile_ReZeroAtInit_PassesTheGradientUnchanged()
    {
        // a = 0 makes every block the identity, so dL/dx is the same tensor at every block input.
        var experiment = new GradientProfileExperiment(new GradientProfileOptions { Model = "gpt", Depth = 3, Width = 8, Heads = 2, BatchSize = 2, Context = 8 });
        var rezero = experiment.GptProfile(ResidualMode.ReZero);
        Assert.Equal(4, rezero.Length);
        Assert.All(rezero, v => Assert.Equal(rezero[^1], v, 1e-6 * rezero[^1]));
        var preNorm = experiment.GptProfile(ResidualMode.PreNorm);
        Assert.All(preNorm, v => Assert.True(v > 0 && double.IsFinite(v)));
        Assert.NotEqual(preNorm[0], preNorm[^1]);
    }

    [Fact]
    public void GradientProfile_Gpt_ChartsOneSeriesPerPolicy()
    {
        var result = new GradientProfileExperiment(new GradientProfileOptions
        {
            Model = "gpt", Depth = 4, Width = 8, Heads = 2, BatchSize = 2, Context = 8, Policies = [ResidualMode.None, ResidualMode.PreNorm],
        }).Run();
        var chart = Assert.Single(result.Charts);
        Assert.Equal(2, chart.Series.Count);
        Assert.All(chart.Series, s => Assert.Equal(5, s.Points!.Count));
        Assert.Equal(2, result.Tables.Single(t => t.Id == "summary").Rows.Count);
    }

    [Fact]
    public void GradientProfile_HeadsMustDivideWidth() =>
        Assert.Equal(nameof(GradientProfileOptions.Heads), Assert.Throws<InvalidInputException>(() =>
            new GradientProfileExperiment(new GradientProfileOptions { Model = "gpt", Width = 10, Heads = 3 }).Run()).Field);
}
