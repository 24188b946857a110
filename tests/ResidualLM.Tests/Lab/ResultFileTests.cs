using ResidualLM.Lab;
using ResidualLM.Lab.Report;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class ResultFileTests
{
    static ExperimentResult Sample() => new()
    {
        Experiment = "sample", Title = "Sample <result>", Description = "First paragraph.\n\nSecond & last.",
        Parameters = [new("depth", "50")],
        Findings = ["It works."],
        Tables =
        [
            new ResultTable { Id = "main", Title = "Main", Columns = [new("name"), new("value", "nats")] }
                .AddRow("a, \"quoted\"", 1.5).AddRow("overflow", double.PositiveInfinity).AddRow("nan", double.NaN),
        ],
        Charts =
        [
            new ChartSpec
            {
                Id = "c", Kind = ChartKind.Line, Title = "C", X = new AxisSpec("x"), Y = new AxisSpec("y", Scale: AxisScale.Log),
                Series = [new SeriesSpec { Name = "s", Points = [new(1, 1), new(2, double.NaN), new(3, null)] }],
            },
        ],
    };

    [Fact]
    public void Json_RoundTripsIncludingNonFiniteNumbers()
    {
        var original = Sample();
        var copy = ResultFiles.FromJson(ResultFiles.ToJson(original));
        Assert.Equal(ResultFiles.ToJson(original), ResultFiles.ToJson(copy));
        Assert.Equal(double.PositiveInfinity, copy.Tables[0].Rows[1][1].Number);
        Assert.True(double.IsNaN(copy.Tables[0].Rows[2][1].Number!.Value));
        Assert.Equal(AxisScale.Log, copy.Charts[0].Y.Scale);
        Assert.Contains("\"kind\": \"Line\"", ResultFiles.ToJson(original));
    }

    [Fact]
    public void Json_OneLineForm_HasNoNewlines() => Assert.DoesNotContain('\n', ResultFiles.ToJson(Sample(), indented: false));

    [Fact]
    public void FromJson_RejectsOtherSchemasAndGarbage()
    {
        string other = ResultFiles.ToJson(Sample() with { Schema = "something/2" });
        var e = Assert.Throws<InvalidInputException>(() => ResultFiles.FromJson(other, "x.json"));
        Assert.Contains("x.json", e.Message);
        Assert.Throws<InvalidInputException>(() => ResultFiles.FromJson("{ not json", "y.json"));
    }

    [Fact]
    public void Csv_QuotesFieldsAndWritesUnits()
    {
        string csv = ResultFiles.ToCsv(Sample().Tables[0]);
        Assert.Equal("name,value (nats)\n\"a, \"\"quoted\"\"\",1.5\noverflow,Infinity\nnan,NaN\n", csv);
    }

    [Fact]
    public void Write_ThenReadAll_GivesTheResultBackWithCsvAndSvg()
    {
        string directory = Path.Combine(Path.GetTempPath(), "rlm-lab-" + Guid.NewGuid().ToString("N"));
        try
        {
            var written = ResultFiles.Write(Sample(), directory);
            Assert.Equal(["sample.json", "sample.csv", "sample.svg"], written.Select(Path.GetFileName));
            var all = ResultFiles.ReadAll(directory);
            Assert.Equal("sample", Assert.Single(all).Experiment);
            System.Xml.Linq.XDocument.Parse(File.ReadAllText(Path.Combine(directory, "sample.svg")));
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>
    /// A deep sweep written to a subfolder is read beside the default one; a model folder's config.json there is not a
    /// result and is passed over, while a broken result in the folder itself is still an error naming it.
    /// </summary>
    [Fact]
    public void ReadAll_FindsResultsInSubfolders_AndSkipsOtherJsonThere()
    {
        string directory = Path.Combine(Path.GetTempPath(), "rlm-lab-" + Guid.NewGuid().ToString("N"));
        try
        {
            ResultFiles.Write(Sample(), directory);
            ResultFiles.Write(Sample() with { Parameters = [new("depth", "1000")] }, Path.Combine(directory, "deep"));
            Directory.CreateDirectory(Path.Combine(directory, "deep", "model"));
            File.WriteAllText(Path.Combine(directory, "deep", "model", "config.json"), "{\"architecture\": \"gpt\"}");
            var all = ResultFiles.ReadAll(directory);
            Assert.Equal(["50", "1000"], all.Select(r => r.Parameters[0].Value));
            File.WriteAllText(Path.Combine(directory, "broken.json"), "{ not json");
            var e = Assert.Throws<InvalidInputException>(() => ResultFiles.ReadAll(directory));
            Assert.Contains("broken.json", e.Message);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>
    /// Two runs of one experiment get two sections with distinct ids, each linked from the contents and each labelled
    /// with the parameters that differ between them.
    /// </summary>
    [Fact]
    public void HtmlReport_SameExperimentTwice_TwoSectionsWithDistinctIdsAndWhatDiffers()
    {
        var deep = Sample() with { Parameters = [new("depth", "1000")] };
        string html = HtmlReport.Render([Sample(), deep]);
        Assert.Contains("<section id=\"sample\">", html);
        Assert.Contains("<section id=\"sample-2\">", html);
        Assert.Contains("href=\"#sample\"", html);
        Assert.Contains("href=\"#sample-2\"", html);
        Assert.Contains("<p class=\"variant\">depth 50</p>", html);
        Assert.Contains("<p class=\"variant\">depth 1000</p>", html);
        var ids = System.Text.RegularExpressions.Regex.Matches(html, "id=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.DoesNotContain("class=\"variant\"", HtmlReport.Render([Sample()]));
    }

    [Fact]
    public void HtmlReport_IsSelfContainedAndEscaped()
    {
        string html = HtmlReport.Render([Sample()]);
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("<section id=\"sample\">", html);
        Assert.Contains("href=\"#sample\"", html);
        Assert.Contains("Sample &lt;result&gt;", html);
        Assert.Equal(2, html.Split("<p>").Length - 1); // the two description paragraphs; other paragraphs have classes
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html);
        // The only URL is the SVG namespace, which is a name, not a request.
        Assert.DoesNotContain(System.Text.RegularExpressions.Regex.Matches(html, "https?://"), m => !html[m.Index..].StartsWith("http://www.w3.org/2000/svg"));
    }

    [Fact]
    public void HtmlReport_WithNoResults_SaysHowToMakeThem() => Assert.Contains("rlm lab edits", HtmlReport.Render([]));
}
