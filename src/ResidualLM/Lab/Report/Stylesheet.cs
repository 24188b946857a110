// The report's inline stylesheet: one readable column on a laptop, system fonts only, tables with aligned numbers.
namespace ResidualLM.Lab.Report;

/// <summary>CSS embedded in every report page.</summary>
internal static class Stylesheet
{
    public const string Css = """
        :root { --ink: #1d1f23; --muted: #5b616b; --line: #dfe2e6; --accent: #0072B2; --paper: #ffffff; --tint: #f6f7f9; }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--tint); color: var(--ink);
               font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        main { max-width: 860px; margin: 0 auto; padding: 24px 20px 48px; background: var(--paper); min-height: 100vh; }
        h1 { font-size: 1.8rem; margin: 0.4em 0 0.3em; }
        h2 { font-size: 1.35rem; margin: 0 0 0.4em; padding-top: 0.2em; }
        h3 { font-size: 1rem; margin: 0 0 0.3em; }
        p { margin: 0.5em 0 0.8em; }
        code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.92em;
               background: var(--tint); padding: 0.05em 0.3em; border-radius: 3px; }
        a { color: var(--accent); }
        .lead { font-size: 1.05rem; }
        .meta, .command, .note, .variant, figcaption, footer, .toc .name { color: var(--muted); font-size: 0.88rem; }
        .toc { border: 1px solid var(--line); border-radius: 6px; padding: 10px 18px; margin: 16px 0 28px; background: var(--tint); }
        .toc h2 { font-size: 1rem; margin: 0 0 4px; }
        .toc ol { margin: 0; padding-left: 1.3em; }
        section { border-top: 1px solid var(--line); padding: 22px 0 10px; }
        .parameters { display: flex; flex-wrap: wrap; gap: 6px 10px; margin: 0.6em 0 1em; }
        .parameters div { background: var(--tint); border: 1px solid var(--line); border-radius: 4px; padding: 2px 8px; font-size: 0.88rem; }
        .parameters dt { display: inline; font-weight: 600; }
        .parameters dt::after { content: " = "; font-weight: 400; }
        .parameters dd { display: inline; margin: 0; }
        .parameters dd span { color: var(--muted); }
        .parameters dd span::before { content: "· "; }
        .findings { border-left: 4px solid var(--accent); background: #eef5fb; padding: 8px 14px; margin: 1em 0 1.2em; border-radius: 0 6px 6px 0; }
        .findings ul { margin: 0; padding-left: 1.2em; }
        figure { margin: 18px 0; padding: 8px; border: 1px solid var(--line); border-radius: 6px; }
        figure svg { width: 100%; height: auto; }
        figcaption { padding: 4px 6px 0; }
        .table-wrap { overflow-x: auto; margin: 12px 0 4px; }
        table { border-collapse: collapse; min-width: 60%; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
        caption { text-align: left; font-weight: 600; padding: 0 0 6px; }
        th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        th { background: var(--tint); font-weight: 600; border-bottom: 2px solid #c9ced5; }
        td.num, th.num { text-align: right; }
        td.num { white-space: nowrap; }
        tbody tr:nth-child(even) { background: #fafbfc; }
        details { margin: 12px 0; }
        summary { cursor: pointer; color: var(--accent); font-weight: 600; font-size: 0.92rem; }
        footer { border-top: 1px solid var(--line); margin-top: 28px; padding-top: 12px; }
        .empty { padding: 16px; background: var(--tint); border-radius: 6px; }

        """;
}
