using ResidualLM.Lab;
using ResidualLM.Lab.Experiments;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class ExperimentTests
{
    static double Cell(ExperimentResult result, string table, int row, int column) =>
        result.Tables.Single(t => t.Id == table).Rows[row][column].Number!.Value;

    [Fact]
    public void Edits_ReproduceTheSeedExamples()
    {
        var result = new EditsExperiment().Run();
        Assert.Equal([5, 1.5, 4], Enumerable.Range(0, 3).Select(r => Cell(result, "running-sum", r, 2)));
        Assert.Equal([4, 5, 4.5, 6.5], Enumerable.Range(0, 4).Select(r => Cell(result, "stations", r, 2)));
        Assert.All(Enumerable.Range(0, 4), r => Assert.Equal(1, Cell(result, "stations", r, 3)));
        Assert.Equal([1.2, 0.3, 1.0], Enumerable.Range(0, 3).Select(r => Math.Round(Cell(result, "local-gradient", r, 2), 6)));
        double[] inputs = [2, -1, 0.5, -3];
        for (int r = 0; r < inputs.Length; r++)
        {
            double t = Math.Tanh(inputs[r]);
            Assert.Equal(1 - t * t, Cell(result, "tanh", r, 3), 5);
            Assert.Equal(2 - t * t, Cell(result, "tanh", r, 4), 5);
        }
    }

    [Theory]
    [InlineData(0.9f, 0.1f, 50)]
    [InlineData(1.5f, 0f, 20)]
    [InlineData(-0.9f, 0f, 10)]
    public void TanhStack_BackwardMatchesTheProductOfLocalFactors(float weight, float bias, int depth)
    {
        foreach (bool residual in new[] { false, true })
        {
            var run = TanhStackExperiment.RunStack(depth, weight, bias, 1f, residual);
            double h = 1, gradient = 1;
            for (int l = 0; l < depth; l++)
            {
                double t = Math.Tanh(weight * h + bias), local = weight * (1 - t * t);
                gradient *= residual ? 1 + local : local;
                h = residual ? h + t : t;
            }
            Assert.Equal(h, run.Output, Math.Max(1e-4, Math.Abs(h) * 1e-4));
            Assert.True(Math.Abs(run.InputGradient - gradient) <= Math.Abs(gradient) * 1e-3 + 1e-30,
                $"residual={residual}: Backward gave {run.InputGradient}, product of factors {gradient}");
        }
    }

    [Fact]
    public void TanhStack_DefaultsShowVanishingPlainAndHealthyResidualGradient()
    {
        var result = new TanhStackExperiment(new TanhStackOptions { SweepDepth = 100 }).Run();
        double plain = Cell(result, "summary", 0, 2), residual = Cell(result, "summary", 1, 2);
        Assert.InRange(plain, 1e-12, 1e-6);
        Assert.InRange(residual, 1, 3);
        var chart = Assert.Single(result.Charts);
        Assert.Equal(AxisScale.Log, chart.Y.Scale);
        Assert.Equal(2, chart.Series.Count);
        Assert.All(chart.Series, s => Assert.Equal(100, s.Points!.Count));
        // Plain decays monotonically with depth; the residual gradient never drops below 1 for w > 0.
        var plainSweep = chart.Series[0].Points!.Select(p => p.Y!.Value).ToList();
        Assert.Equal(plainSweep.OrderByDescending(v => v), plainSweep);
        Assert.All(chart.Series[1].Points!, p => Assert.True(p.Y >= 1));
        Assert.Contains(result.Findings, f => f.Contains("grew above 1"));
    }

    [Fact]
    public void TanhStack_NegativeWeight_ReportsThatTheResidualGradientShrinksToo()
    {
        var result = new TanhStackExperiment(new TanhStackOptions { Weight = -0.9f, Bias = 0, SweepDepth = 0 }).Run();
        Assert.Empty(result.Charts);
        Assert.Contains(result.Findings, f => f.Contains("subtracts from the identity"));
    }

    [Fact]
    public void TanhStack_RejectsBadDepth() =>
        Assert.Throws<InvalidInputException>(() => new TanhStackExperiment(new TanhStackOptions { Depth = 0 }).Run());

    [Fact]
    public void Catalog_NamesMatchResults()
    {
        foreach (var entry in LabCatalog.All.Where(e => e.IsCheap))
        {
            var experiment = entry.CreateDefault();
            Assert.Equal(entry.Name, experiment.Name);
            Assert.Equal(entry.Name, experiment.Run().Experiment);
        }
    }
}
