// Prints an experiment result on the terminal: a heading, Spectre tables (long ones elided in the middle; the
// CSV from --out has every row) and the findings. All text is printed literally, never parsed as Spectre markup.
using ResidualLM.Lab;
using Spectre.Console;

namespace ResidualLM.Cli.Commands;

/// <summary>Terminal rendering of <see cref="ExperimentResult"/>.</summary>
public static class ResultConsole
{
    /// <summary>Tables with more rows than this show their first and last rows only.</summary>
    public const int MaxRows = 24;

    public static void Print(ExperimentResult result)
    {
        AnsiConsole.Write(new Rule(Markup.Escape(result.Title)).LeftJustified());
        if (result.Parameters.Count > 0)
            AnsiConsole.WriteLine(string.Join("  ", result.Parameters.Select(p => $"{p.Name} = {p.Value}")));
        foreach (var table in result.Tables) AnsiConsole.Write(ToSpectre(table));
        foreach (string finding in result.Findings) AnsiConsole.WriteLine("- " + finding);
    }

    static Table ToSpectre(ResultTable source)
    {
        var table = new Table { Border = TableBorder.Rounded, Title = new TableTitle(Markup.Escape(source.Title)) };
        for (int c = 0; c < source.Columns.Count; c++)
        {
            var column = new TableColumn(new Spectre.Console.Text(source.Columns[c].Header));
            if (source.Rows.Count > 0 && source.Rows[0][c].Number is not null) column.RightAligned();
            table.AddColumn(column);
        }
        int count = source.Rows.Count;
        bool elide = count > MaxRows;
        const int head = 10, tail = 5;
        for (int r = 0; r < count; r++)
        {
            if (elide && r == head)
            {
                table.AddRow(source.Columns.Select(_ => (Spectre.Console.Rendering.IRenderable)new Spectre.Console.Text("…")).ToArray());
                r = count - tail;
            }
            table.AddRow(Enumerable.Range(0, source.Columns.Count).Select(c => (Spectre.Console.Rendering.IRenderable)new Spectre.Console.Text(source.Format(r, c))).ToArray());
        }
        if (elide) table.Caption = new TableTitle(Markup.Escape($"{count} rows, {count - head - tail} not shown (all in the CSV of --out)"));
        else if (source.Note is not null) table.Caption = new TableTitle(Markup.Escape(source.Note));
        return table;
    }
}
