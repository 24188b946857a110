// The seed statistics of the lab: Student t quantiles and 95% intervals against values computed by hand from a printed
// t table (two-sided 95%, i.e. the 0.975 quantile, as in any statistics textbook's appendix), never from the code.
using ResidualLM.Lab;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class StatisticsTests
{
    [Theory]
    [InlineData(1, 12.706)]
    [InlineData(2, 4.303)]
    [InlineData(3, 3.182)]
    [InlineData(4, 2.776)]
    [InlineData(5, 2.571)]
    [InlineData(9, 2.262)]
    [InlineData(19, 2.093)]
    [InlineData(29, 2.045)]
    [InlineData(120, 1.980)]
    public void StudentQuantile_MatchesTheTable(int degrees, double table) =>
        Assert.Equal(table, Statistics.StudentQuantile(0.975, degrees), 0.0005); // the table rounds to 3 decimals

    [Fact]
    public void StudentQuantile_OtherLevels_MatchTheTable()
    {
        Assert.Equal(6.314, Statistics.StudentQuantile(0.95, 1), 0.0005);
        Assert.Equal(1.812, Statistics.StudentQuantile(0.95, 10), 0.0005);
        Assert.Equal(4.604, Statistics.StudentQuantile(0.995, 4), 0.0005);
    }

    [Fact]
    public void Estimate_FiveValues_IsTheHandComputedInterval()
    {
        // 1..5: mean 3, s² = (4 + 1 + 0 + 1 + 4) / 4 = 2.5, s/√5 = √0.5 = 0.70711, × t(0.975, 4) = 2.776 → 1.9629.
        var e = Statistics.Estimate([1, 2, 3, 4, 5]);
        Assert.Equal(3, e.Mean, 1e-12);
        Assert.Equal(2.776 * Math.Sqrt(0.5), e.HalfWidth, 0.0005);
        Assert.Equal(5, e.Count);
    }

    [Fact]
    public void Estimate_TwoSeeds_IsWide_AndDivergedRunsAreLeftOut()
    {
        // 2.0 and 2.4: mean 2.2, s = 0.4/√2 = 0.28284, s/√2 = 0.2, × t(0.975, 1) = 12.706 → 2.5412.
        var e = Statistics.Estimate([2.0, double.NaN, 2.4]);
        Assert.Equal(2.2, e.Mean, 1e-12);
        Assert.Equal(2.5412, e.HalfWidth, 0.0002);
        Assert.Equal(2, e.Count);
        Assert.Equal("2.2000 ± 2.5412", e.ToString("F4"));
    }

    [Fact]
    public void Estimate_OneSeed_HasNoInterval_AndOverlapsNothing()
    {
        var one = Statistics.Estimate([2.5]);
        Assert.Equal(2.5, one.Mean);
        Assert.True(double.IsNaN(one.HalfWidth));
        Assert.Equal("2.5000", one.ToString("F4"));
        Assert.False(one.Overlaps(Statistics.Estimate([2.4, 2.6])));
    }

    [Fact]
    public void Overlaps_IsTrueOnlyWhenTheIntervalsShareAPoint()
    {
        var a = new Estimate(2.0, 0.1, 3);
        Assert.True(a.Overlaps(new Estimate(2.15, 0.06, 3)));   // [1.9, 2.1] and [2.09, 2.21]
        Assert.False(a.Overlaps(new Estimate(2.25, 0.1, 3)));   // [1.9, 2.1] and [2.15, 2.35]
        Assert.True(new Estimate(2.25, 0.2, 3).Overlaps(a));
    }
}
