// Opens the lab report in headless Chromium (the system's /usr/bin/chromium, driven by Playwright's bundled node
// driver; no browser is ever downloaded) and checks that it loads cleanly and every chart draws. Saves a
// screenshot to docs/lab-report.png. Skipped, with the reason shown, where /usr/bin/chromium is absent.
using Microsoft.Playwright;
using ResidualLM.Lab;
using ResidualLM.Lab.Experiments;
using ResidualLM.Lab.Report;
using Xunit;

namespace ResidualLM.Tests.Lab;

/// <summary>A fact that is skipped, with a visible reason, when the system Chromium is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string ChromiumPath = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(ChromiumPath)) Skip = $"needs {ChromiumPath} (Debian: apt-get install -y chromium), which is absent on this machine";
    }
}

public class HtmlReportBrowserTests
{
    static readonly string[] ChromiumArguments =
        ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    [ChromiumFact]
    public async Task Report_RendersEveryChartWithoutErrors()
    {
        // NOTE: Playwright would look for its own browser build under ~/.cache/ms-playwright; ExecutablePath avoids that,
        // and skipping the host check keeps it from complaining about missing system libraries it never needs here.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_VALIDATE_HOST_REQUIREMENTS", "1");
        string work = Path.Combine(Path.GetTempPath(), "rlm-lab-browser-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            // Every cheap experiment, run now, plus the committed results of the expensive ones (docs/lab/*.json).
            var results = LabCatalog.All.Where(e => e.IsCheap).Select(e => e.CreateDefault().Run()).ToList();
            string? committed = DocsDirectory() is string d ? Path.Combine(d, "lab") : null;
            if (committed is not null && Directory.Exists(committed))
                results.AddRange(ResultFiles.ReadAll(committed).Where(r => results.All(c => c.Experiment != r.Experiment)));
            int chartCount = results.Sum(r => r.Charts.Count);
            string reportPath = Path.Combine(work, "report.html");
            File.WriteAllText(reportPath, HtmlReport.Render(results));

            using var playwright = await Playwright.CreateAsync();
            await using var context = await playwright.Chromium.LaunchPersistentContextAsync(Path.Combine(work, "profile"), new()
            {
                ExecutablePath = ChromiumFactAttribute.ChromiumPath,
                Headless = true,
                Args = ChromiumArguments,
                ViewportSize = new() { Width = 1280, Height = 800 },
                Timeout = 20_000,
            });
            var page = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync();
            var problems = new List<string>();
            page.Console += (_, message) => { if (message.Type == "error") problems.Add("console: " + message.Text); };
            page.PageError += (_, error) => problems.Add("page error: " + error);
            page.RequestFailed += (_, request) => problems.Add("request failed: " + request.Url);
            var requests = new List<string>();
            page.Request += (_, request) => requests.Add(request.Url);

            await page.GotoAsync(new Uri(reportPath).AbsoluteUri, new() { WaitUntil = WaitUntilState.Load, Timeout = 10_000 });

            Assert.Empty(problems);
            // Self-contained: the page itself is the only thing loaded.
            Assert.Equal([new Uri(reportPath).AbsoluteUri], requests);
            var charts = page.Locator("figure svg.chart");
            Assert.Equal(chartCount, await charts.CountAsync());
            for (int i = 0; i < chartCount; i++)
            {
                var chart = charts.Nth(i);
                string label = await chart.GetAttributeAsync("aria-label") ?? $"chart {i}";
                var box = await chart.BoundingBoxAsync();
                Assert.True(box is { Width: > 300, Height: > 150 }, $"{label}: bounding box {box?.Width}x{box?.Height}");
                int marks = await chart.Locator(".mark").CountAsync();
                Assert.True(marks > 0, $"{label}: no data marks");
                var firstMark = await chart.Locator(".mark").First.BoundingBoxAsync();
                Assert.True(firstMark is { Width: > 0, Height: > 0 }, $"{label}: first data mark has an empty box");
            }
            Assert.Equal(results.Count, await page.Locator("nav.toc li").CountAsync());

            // The screenshot always goes to the work folder; RLM_UPDATE_SCREENSHOTS=1 also refreshes docs/lab-report.png.
            string shot = Path.Combine(work, "lab-report.png");
            await page.ScreenshotAsync(new() { Path = shot, FullPage = true });
            Assert.True(new FileInfo(shot).Length > 10_000, "the screenshot is nearly empty");
            string? docs = DocsDirectory();
            if (docs is not null && Environment.GetEnvironmentVariable("RLM_UPDATE_SCREENSHOTS") == "1")
                File.Copy(shot, Path.Combine(docs, "lab-report.png"), overwrite: true);
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    /// <summary>The repository's docs folder (next to ResidualLM.sln), or null when the tests run outside a checkout.</summary>
    static string? DocsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ResidualLM.sln")))
                return Directory.CreateDirectory(Path.Combine(dir.FullName, "docs")).FullName;
        return null;
    }
}
