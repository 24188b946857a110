// Assembles experiment results into one self-contained HTML page: inline CSS and SVG, no scripts, fonts or
// network requests, so it opens from disk anywhere. Limits: plain-text descriptions (paragraphs on blank lines).
using System.Globalization;
using System.Text;
using ResidualLM.Lab.Charts;

namespace ResidualLM.Lab.Report;

/// <summary>Renders the lab report: a title, a table of contents and one section per experiment result.</summary>
public static class HtmlReport
{
    /// <summary>Tables longer than this are folded into a &lt;details&gt; element (the CSV has them in full).</summary>
    public const int FoldRowsAbove = 14;

    /// <summary>
    /// The page for <paramref name="results"/>, ordered as in <see cref="LabCatalog"/> (unknown experiments last, by name).
    /// Charts are drawn from each result's chart specifications.
    /// </summary>
    public static string Render(IEnumerable<ExperimentResult> results, string title = "ResidualLM residual lab")
    {
        var ordered = results.OrderBy(r => LabCatalog.OrderOf(r.Experiment)).ThenBy(r => r.Experiment, StringComparer.Ordinal).ToList();
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(E(title)).Append("</title>\n<style>\n").Append(Stylesheet.Css).Append("</style>\n</head>\n<body>\n<main>\n");
        html.Append("<header>\n<h1>").Append(E(title)).Append("</h1>\n")
            .Append("<p class=\"lead\">Every block of a residual network computes <code>y = x + f(norm(x))</code>: it adds an edit to a running ")
            .Append("vector instead of replacing it. Its gradient is <code>dy/dx = I + df/dx</code>, so an identity path stays open through ")
            .Append("any depth. The experiments below measure that, with the engine's own autograd.</p>\n")
            .Append("<p class=\"meta\">").Append(ordered.Count).Append(ordered.Count == 1 ? " experiment" : " experiments")
            .Append(" · generated ").Append(E(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture))).Append("</p>\n</header>\n");

        if (ordered.Count == 0)
        {
            html.Append("<p class=\"empty\">No experiment results yet. Run for example <code>rlm lab edits --out runs/lab</code>, then <code>rlm lab report</code>.</p>\n");
        }
        else
        {
            var sections = Sections(ordered);
            html.Append("<nav class=\"toc\" aria-label=\"Contents\">\n<h2>Contents</h2>\n<ol>\n");
            foreach (var (result, anchor, variant) in sections)
            {
                html.Append("<li><a href=\"#").Append(anchor).Append("\">").Append(E(result.Title)).Append("</a> <span class=\"name\">")
                    .Append(E(result.Experiment)).Append("</span>");
                if (variant is not null) html.Append(" <span class=\"variant\">").Append(E(variant)).Append("</span>");
                html.Append("</li>\n");
            }
            html.Append("</ol>\n</nav>\n");
            foreach (var (result, anchor, variant) in sections) Section(html, result, anchor, variant);
        }
        html.Append("<footer>Made by <code>rlm lab report</code> from the JSON results in the run folder; each section's data is in ")
            .Append("<code>&lt;experiment&gt;.json</code> and <code>.csv</code> beside this page.</footer>\n</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>
    /// Each result with its section id and, when the same experiment ran more than once (a default sweep and a deep one,
    /// say), what sets this run apart: the parameters whose values differ between the runs ("depths 2, 8, 32, 96").
    /// The second run of an experiment gets the id <c>name-2</c>, and so on.
    /// </summary>
    static List<(ExperimentResult Result, string Anchor, string? Variant)> Sections(IReadOnlyList<ExperimentResult> ordered)
    {
        var sections = new List<(ExperimentResult, string, string?)>();
        foreach (var group in ordered.GroupBy(r => r.Experiment))
        {
            var runs = group.ToList();
            for (int i = 0; i < runs.Count; i++)
            {
                string anchor = Anchor(runs[i].Experiment) + (i == 0 ? "" : "-" + (i + 1).ToString(CultureInfo.InvariantCulture));
                string? variant = null;
                if (runs.Count > 1)
                {
                    var differing = runs[i].Parameters
                        .Where(p => runs.Any(other => other.Parameters.FirstOrDefault(q => q.Name == p.Name)?.Value != p.Value))
                        .Select(p => $"{p.Name} {p.Value}").ToList();
                    variant = differing.Count > 0 ? string.Join(" · ", differing) : $"run {i + 1} of {runs.Count}, {runs[i].CreatedUtc}";
                }
                sections.Add((runs[i], anchor, variant));
            }
        }
        return sections;
    }

    static void Section(StringBuilder html, ExperimentResult result, string anchor, string? variant)
    {
        html.Append("<section id=\"").Append(anchor).Append("\">\n<h2>").Append(E(result.Title)).Append("</h2>\n");
        if (variant is not null) html.Append("<p class=\"variant\">").Append(E(variant)).Append("</p>\n");
        html.Append("<p class=\"command\"><code>rlm lab ").Append(E(result.Experiment)).Append("</code> · ").Append(E(result.CreatedUtc)).Append("</p>\n");
        foreach (string paragraph in result.Description.Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            html.Append("<p>").Append(E(paragraph)).Append("</p>\n");
        if (result.Parameters.Count > 0)
        {
            html.Append("<dl class=\"parameters\">\n");
            foreach (var parameter in result.Parameters)
            {
                html.Append("<div><dt>").Append(E(parameter.Name)).Append("</dt><dd>").Append(E(parameter.Value));
                if (parameter.Description is not null) html.Append(" <span>").Append(E(parameter.Description)).Append("</span>");
                html.Append("</dd></div>\n");
            }
            html.Append("</dl>\n");
        }
        if (result.Findings.Count > 0)
        {
            html.Append("<div class=\"findings\"><h3>What the numbers show</h3>\n<ul>\n");
            foreach (string finding in result.Findings) html.Append("<li>").Append(E(finding)).Append("</li>\n");
            html.Append("</ul></div>\n");
        }
        foreach (var chart in result.Charts)
        {
            html.Append("<figure id=\"").Append(anchor).Append('-').Append(Anchor(chart.Id)).Append("\">\n").Append(ChartRenderer.Render(chart));
            if (chart.Caption is not null) html.Append("<figcaption>").Append(E(chart.Caption)).Append("</figcaption>\n");
            html.Append("</figure>\n");
        }
        foreach (var table in result.Tables) Table(html, table, anchor);
        html.Append("</section>\n");
    }

    static void Table(StringBuilder html, ResultTable table, string sectionAnchor)
    {
        bool fold = table.Rows.Count > FoldRowsAbove;
        if (fold) html.Append("<details><summary>").Append(E(table.Title)).Append(" (").Append(table.Rows.Count).Append(" rows)</summary>\n");
        html.Append("<div class=\"table-wrap\"><table id=\"").Append(sectionAnchor).Append('-').Append(Anchor(table.Id)).Append("\">\n");
        html.Append("<caption>").Append(E(table.Title)).Append("</caption>\n<thead><tr>");
        for (int c = 0; c < table.Columns.Count; c++)
        {
            // Numeric columns (judged by the first row) are right-aligned, header included.
            bool numeric = table.Rows.Count > 0 && table.Rows[0][c].Number is not null;
            html.Append(numeric ? "<th scope=\"col\" class=\"num\">" : "<th scope=\"col\">").Append(E(table.Columns[c].Header)).Append("</th>");
        }
        html.Append("</tr></thead>\n<tbody>\n");
        for (int r = 0; r < table.Rows.Count; r++)
        {
            html.Append("<tr>");
            for (int c = 0; c < table.Columns.Count; c++)
            {
                bool number = table.Rows[r][c].Number is not null;
                html.Append(number ? "<td class=\"num\">" : "<td>").Append(E(table.Format(r, c))).Append("</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</tbody>\n</table></div>\n");
        if (table.Note is not null) html.Append("<p class=\"note\">").Append(E(table.Note)).Append("</p>\n");
        if (fold) html.Append("</details>\n");
    }

    /// <summary>An id-safe slug: lower-case letters, digits and hyphens.</summary>
    internal static string Anchor(string text)
    {
        var slug = new StringBuilder();
        foreach (char c in text.ToLowerInvariant())
            slug.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        return slug.Length == 0 ? "section" : slug.ToString();
    }

    static string E(string text) => SvgBuilder.Escape(text);
}
