using System.Globalization;
using System.Xml.Linq;
using ResidualLM.Lab;
using ResidualLM.Lab.Charts;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class ChartTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    static ChartSpec LineSpec(AxisScale yScale, params SeriesSpec[] series) => new()
    {
        Id = "line", Kind = ChartKind.Line, Title = "Gradient by depth",
        X = new AxisSpec("depth", "layers"), Y = new AxisSpec("gradient", Scale: yScale), Series = [.. series],
    };

    static SeriesSpec Series(string name, params (double X, double? Y)[] points) =>
        new() { Name = name, Points = points.Select(p => new ChartPoint(p.X, p.Y)).ToList() };

    /// <summary>No attribute (coordinates, path data, transforms) holds NaN or an infinity; only the footnote may name them.</summary>
    static void AssertNoNonFinite(string svg)
    {
        foreach (var attribute in XDocument.Parse(svg).Descendants().SelectMany(e => e.Attributes()))
        {
            Assert.DoesNotContain("NaN", attribute.Value);
            Assert.DoesNotContain("Infinity", attribute.Value);
            Assert.DoesNotContain("∞", attribute.Value);
        }
    }

    [Fact]
    public void LineChart_IsValidXmlWithEverySeriesAndTooltips()
    {
        var spec = LineSpec(AxisScale.Linear, Series("plain", (1, 0.5), (2, 0.25), (3, 0.125)), Series("residual", (1, 1.5), (2, 1.6), (3, 1.62)));
        string svg = ChartRenderer.Render(spec, standalone: true);
        var document = XDocument.Parse(svg);
        var groups = document.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "series").ToList();
        Assert.Equal(["plain", "residual"], groups.Select(g => (string?)g.Attribute("aria-label")));
        foreach (var group in groups)
        {
            Assert.Single(group.Elements(Svg + "path"), p => (string?)p.Attribute("class") == "series-line");
            Assert.Equal(3, group.Elements(Svg + "path").Count(p => (string?)p.Attribute("class") == "mark" && p.Element(Svg + "title") is not null));
        }
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value == "depth (layers)");
        Assert.Equal("0 0 720 420", (string?)document.Root!.Attribute("viewBox"));
        AssertNoNonFinite(svg);
    }

    [Fact]
    public void LogScale_DropsNonPositiveAndNonFiniteWithANote()
    {
        var spec = LineSpec(AxisScale.Log, Series("s", (1, 1e-3), (2, 0), (3, -5), (4, double.NaN), (5, double.PositiveInfinity), (6, 10), (7, null)));
        string svg = ChartRenderer.Render(spec);
        var document = XDocument.Parse(svg);
        AssertNoNonFinite(svg);
        Assert.Equal(2, document.Descendants(Svg + "path").Count(p => (string?)p.Attribute("class") == "mark"));
        Assert.Contains("2 values ≤ 0 not shown (log scale)", svg);
        Assert.Contains("2 non-finite values", svg);
    }

    [Fact]
    public void LogScale_PositionsAreMonotoneAndTicksArePowersOfTen()
    {
        var scale = LogScale.Covering([3e-18, 0.02, 1.58], 356, 62);
        Assert.Equal((1e-18, 10), scale.Domain);
        double previous = double.PositiveInfinity;
        for (double v = 1e-18; v <= 10; v *= 1.7)
        {
            double y = scale.Map(v);
            Assert.True(y < previous, $"log position of {v} not above the previous one");
            previous = y;
        }
        Assert.All(scale.Ticks, t => Assert.Equal(Math.Round(Math.Log10(t.Value)), Math.Log10(t.Value), 9));
        Assert.InRange(scale.Ticks.Count, 2, 10);
        Assert.Equal(356, scale.Map(1e-18), 6);
        Assert.Equal(62, scale.Map(10), 6);
        Assert.Contains(scale.Ticks, t => t.Label == "10⁻¹⁸" || t.Label == "10⁻¹⁶");
    }

    [Fact]
    public void LogChart_MarkerHeightsFollowValues()
    {
        var spec = LineSpec(AxisScale.Log, Series("s", (1, 1e-6), (2, 1e-3), (3, 1), (4, 1e2)));
        var marks = XDocument.Parse(ChartRenderer.Render(spec)).Descendants(Svg + "path").Where(p => (string?)p.Attribute("class") == "mark").ToList();
        // A circle's path starts at its left edge "Mx,y": read y and check it rises (smaller pixel) as the value grows.
        var heights = marks.Select(m => double.Parse(((string)m.Attribute("d")!)[1..].Split('a')[0].Split(',')[1], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(heights.OrderByDescending(h => h), heights);
        // Equal ratios give equal steps on a log axis: 1e-6 -> 1e-3 -> 1 are both three decades.
        Assert.Equal(heights[0] - heights[1], heights[1] - heights[2], 1);
    }

    [Theory]
    [InlineData(0, 0.93, new[] { 0, 0.2, 0.4, 0.6, 0.8, 1.0 })]
    [InlineData(1, 100, new[] { 0.0, 20, 40, 60, 80, 100 })]
    [InlineData(-2.5, 2.5, new[] { -3.0, -2, -1, 0, 1, 2, 3 })]
    public void LinearScale_TicksAreRoundAndCoverTheData(double low, double high, double[] expected)
    {
        var scale = new LinearScale(low, high, 0, 100);
        Assert.Equal(expected, scale.Ticks.Select(t => Math.Round(t.Value, 9)));
        Assert.True(scale.Domain.Low <= low && scale.Domain.High >= high);
    }

    [Fact]
    public void LinearScale_SingleValueGetsARange()
    {
        var scale = LinearScale.Covering([1.58, 1.58], 0, 100);
        Assert.True(scale.Domain.Low < 1.58 && scale.Domain.High > 1.58);
        Assert.All(scale.Ticks, t => Assert.True(double.IsFinite(t.Value)));
    }

    [Fact]
    public void Text_IsEscaped()
    {
        const string nasty = "<script>alert('x')</script> & \"quotes\"";
        var spec = LineSpec(AxisScale.Linear, Series(nasty, (1, 1), (2, 2))) with { Title = nasty };
        string svg = ChartRenderer.Render(spec);
        Assert.DoesNotContain("<script>", svg);
        var document = XDocument.Parse(svg);
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value == nasty);
        Assert.Equal(nasty, (string?)document.Root!.Attribute("aria-label"));
    }

    [Fact]
    public void BarChart_HasOneBarPerValueAndHandlesNegativeAndMissing()
    {
        var spec = new ChartSpec
        {
            Id = "bar", Kind = ChartKind.Bar, Title = "Gradient", X = new AxisSpec("input"), Y = new AxisSpec("gradient"),
            Categories = ["x = 2", "x = -1", "x = 0.5"],
            Series = [new SeriesSpec { Name = "plain", Values = [0.07, -0.4, null] }, new SeriesSpec { Name = "residual", Values = [1.07, 1.4, 1.8] }],
        };
        string svg = ChartRenderer.Render(spec);
        var document = XDocument.Parse(svg);
        Assert.Equal(5, document.Descendants(Svg + "rect").Count(r => (string?)r.Attribute("class") == "mark"));
        Assert.All(document.Descendants(Svg + "rect"), r => Assert.True(double.Parse((string)r.Attribute("height")!, CultureInfo.InvariantCulture) >= 0));
        AssertNoNonFinite(svg);
    }

    [Fact]
    public void Heatmap_ColoursEveryCellAndMarksMissingOnes()
    {
        var spec = new ChartSpec
        {
            Id = "heat", Kind = ChartKind.Heatmap, Title = "Final loss", X = new AxisSpec("depth", "layers"), Y = new AxisSpec("policy"),
            Value = new AxisSpec("loss", "nats", AxisScale.Log),
            Categories = ["6", "12", "24"], RowCategories = ["none", "pre-norm"],
            Cells = [[2.1, 3.5, null], [1.9, 1.7, 0]],
        };
        string svg = ChartRenderer.Render(spec);
        var document = XDocument.Parse(svg);
        var cells = document.Descendants(Svg + "rect").Where(r => ((string?)r.Attribute("class"))?.StartsWith("mark") == true).ToList();
        Assert.Equal(6, cells.Count);
        Assert.Equal(2, cells.Count(c => ((string)c.Attribute("class")!).Contains("missing")));
        Assert.Contains("1 value ≤ 0 not shown (log scale)", svg);
        AssertNoNonFinite(svg);
    }

    /// <summary>Means over seeds: each cell shows its ± half-width under the value and in its tooltip; cells without one show none.</summary>
    [Fact]
    public void Heatmap_WithIntervals_ShowsThemInTheCellsAndTooltips()
    {
        var spec = new ChartSpec
        {
            Id = "heat", Kind = ChartKind.Heatmap, Title = "Final loss", X = new AxisSpec("depth", "layers"), Y = new AxisSpec("policy"),
            Value = new AxisSpec("loss", "nats"), Categories = ["6", "12"], RowCategories = ["none", "pre-norm"],
            Cells = [[2.1, 3.5], [1.9, 1.7]], CellErrors = [[0.25, null], [0.126, 0.0637]],
        };
        var document = XDocument.Parse(ChartRenderer.Render(spec));
        var texts = document.Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.Equal(["± 0.25", "± 0.13", "± 0.064"], texts.Where(t => t.StartsWith('±')));
        var tips = document.Descendants(Svg + "title").Select(t => t.Value).ToList();
        Assert.Contains(tips, t => t.EndsWith("= 2.1 ± 0.25", StringComparison.Ordinal));
        Assert.Contains(tips, t => t.EndsWith("= 3.5", StringComparison.Ordinal));
    }

    [Fact]
    public void EmptyChart_StillRenders()
    {
        string svg = ChartRenderer.Render(LineSpec(AxisScale.Log));
        XDocument.Parse(svg);
        AssertNoNonFinite(svg);
    }
}
