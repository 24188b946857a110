// Lesions: delete one block at a time (its edits removed, the stream passed through) and measure the validation loss;
// then delete several at random. Veit et al. 2016: residual networks behave like ensembles of shallow paths, so one
// block matters little; in a plain stack every block is on the only path. Limits: one seed, a few random subsets.
using System.Globalization;
using ResidualLM.Models;
using ResidualLM.Tensors;

namespace ResidualLM.Lab.Experiments;

/// <summary>Settings of <see cref="LesionExperiment"/>.</summary>
public sealed record LesionOptions
{
    /// <summary>The model to lesion (loaded, or trained on the fly).</summary>
    public LabModelSource Source { get; init; } = new();

    /// <summary>When training on the fly, also train the same shape without residuals and lesion it too.</summary>
    public bool ComparePlain { get; init; } = true;

    /// <summary>Validation windows of the loss.</summary>
    public int Windows { get; init; } = 32;

    /// <summary>Random subsets averaged per number of deleted blocks.</summary>
    public int Subsets { get; init; } = 4;

    /// <summary>Called with progress lines (training on the fly).</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>Rejects settings the experiment cannot run with.</summary>
    public void Validate()
    {
        Source.Validate();
        if (Windows is < 1 or > 4096) throw new InvalidInputException($"must be between 1 and 4096, got {Windows}", field: nameof(Windows));
        if (Subsets is < 1 or > 1000) throw new InvalidInputException($"must be between 1 and 1000, got {Subsets}", field: nameof(Subsets));
    }
}

/// <summary>One model's lesion results.</summary>
/// <param name="Name">Display name.</param>
/// <param name="Baseline">Validation loss with every block.</param>
/// <param name="WithoutBlock">Loss with block i deleted, i = 0..n−1.</param>
/// <param name="WithoutCount">Mean loss with k random blocks deleted, k = 0..n.</param>
public sealed record LesionProfile(string Name, double Baseline, double[] WithoutBlock, double[] WithoutCount);

/// <summary>How much does each block matter, with and without residual connections?</summary>
public sealed class LesionExperiment(LesionOptions options) : ILabExperiment
{
    public string Name => "lesion";

    /// <summary>Deletes each block in turn, then k random blocks for every k, on fixed validation windows.</summary>
    public static LesionProfile Measure(string name, LabModel model, int windows, int subsets, ulong seed)
    {
        var lm = model.Model;
        int n = lm.Blocks.Count;
        double Loss() => LabModels.Loss(lm, model.Corpus.Validation, model.Context, windows);
        lm.SkippedBlocks.Clear();
        double baseline = Loss();
        var withoutBlock = new double[n];
        for (int i = 0; i < n; i++)
        {
            lm.SkippedBlocks.Add(i);
            withoutBlock[i] = Loss();
            lm.SkippedBlocks.Clear();
        }
        var rng = new Rng(seed);
        var withoutCount = new double[n + 1];
        withoutCount[0] = baseline;
        for (int k = 1; k <= n; k++)
        {
            int draws = k == n ? 1 : subsets;
            double sum = 0;
            for (int s = 0; s < draws; s++)
            {
                foreach (int i in Enumerable.Range(0, n).OrderBy(_ => rng.NextUInt64()).Take(k)) lm.SkippedBlocks.Add(i);
                sum += Loss();
                lm.SkippedBlocks.Clear();
            }
            withoutCount[k] = sum / draws;
        }
        return new LesionProfile(name, baseline, withoutBlock, withoutCount);
    }

    public ExperimentResult Run()
    {
        options.Validate();
        var models = new List<(string Name, LabModel Model)>();
        var first = LabModels.Obtain(options.Source, options.Progress);
        models.Add((first.Model.ResidualMode == ResidualMode.None ? "plain" : $"residual ({first.Model.ResidualMode})", first));
        if (options.Source.ModelPath is null && options.ComparePlain && options.Source.Policy != ResidualMode.None)
        {
            // A plain stack needs a variance-preserving init to train at all (GPT-2's 0.02 starves it; see depth-sweep).
            var plain = LabModels.Train(options.Source, first.Corpus, ResidualMode.None, options.Progress, fanInInit: true);
            models.Add(("plain", new LabModel(plain, first.Corpus,
                LabModels.Describe(options.Source, ResidualMode.None) + ", weights N(0, 1/fan_in)", first.Context)));
        }
        var profiles = models.Select(m => Measure(m.Name, m.Model, options.Windows, options.Subsets, (ulong)options.Source.Seed)).ToList();
        var corpus = first.Corpus;
        int n = first.Model.Blocks.Count;
        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = "Lesions: delete one block and measure the loss",
            Description =
                "Each block is deleted in turn: its edits are removed and the stream passes through it unchanged (for pre-norm, " +
                "output = input), and the validation loss is measured again with nothing retrained. Then k blocks are deleted " +
                "at random, for every k.\n\n" +
                "Veit et al. (2016) found that residual networks behave like ensembles of many relatively shallow paths: " +
                "deleting one block removes only the paths through it, half of them, while the other half still connect input " +
                "to output, so the loss rises a little and smoothly with the number deleted. In a plain stack every block lies on " +
                "the only path, and skipping one hands the next block a representation it was never trained on.",
            Parameters =
            [
                .. models.Select((m, i) => new ResultParameter(i == 0 ? "model" : "compared with", m.Model.Description)),
                new("windows", Text(options.Windows), $"validation windows of {first.Context} tokens"),
                new("subsets", Text(options.Subsets), "random subsets per number of deleted blocks"),
            ],
        };
        var table = new ResultTable
        {
            Id = "blocks", Title = "Validation loss with one block deleted",
            Note = "Δ = loss without the block − loss with every block (nats per token).",
            Columns = [new("deleted block"), .. profiles.SelectMany(p => new[] { new ResultColumn($"{p.Name} loss", Format: "F4"), new ResultColumn($"{p.Name} Δ", Format: "+0.0000;-0.0000") })],
        };
        table.AddRow(["none", .. profiles.SelectMany(p => new TableCell[] { p.Baseline, 0.0 })]);
        for (int i = 0; i < n; i++)
            table.AddRow([Text(i + 1), .. profiles.SelectMany(p => new TableCell[] { p.WithoutBlock[i], p.WithoutBlock[i] - p.Baseline })]);
        result.Tables.Add(table);
        var counts = new ResultTable
        {
            Id = "counts", Title = "Validation loss with k random blocks deleted",
            Columns = [new("blocks deleted"), .. profiles.Select(p => new ResultColumn($"{p.Name} loss", Format: "F4"))],
        };
        for (int k = 0; k <= n; k++) counts.AddRow([k, .. profiles.Select(p => (TableCell)p.WithoutCount[k])]);
        result.Tables.Add(counts);
        AddCharts(result, profiles, corpus, n);
        AddFindings(result, profiles, corpus);
        return result;
    }

    static void AddCharts(ExperimentResult result, List<LesionProfile> profiles, LabCorpus corpus, int n)
    {
        result.Charts.Add(new ChartSpec
        {
            Id = "blocks", Kind = ChartKind.Bar, Title = "Loss increase when one block is deleted",
            Caption = "Log scale: the height is the damage. Small and even for a residual model; large for a plain stack.",
            X = new AxisSpec("deleted block"), Y = new AxisSpec("Δ validation loss", "nats", AxisScale.Log),
            Categories = Enumerable.Range(1, n).Select(Text).ToList(),
            Series = profiles.Select(p => new SeriesSpec { Name = p.Name, Values = p.WithoutBlock.Select(v => (double?)(v - p.Baseline)).ToList() }).ToList(),
        });
        var series = profiles.Select(p => new SeriesSpec { Name = p.Name, Points = p.WithoutCount.Select((v, k) => new ChartPoint(k, v)).ToList() }).ToList();
        if (corpus.UnigramEntropy is double unigram) series.Add(new SeriesSpec { Name = "unigram entropy", Points = [new(0, unigram), new(n, unigram)] });
        result.Charts.Add(new ChartSpec
        {
            Id = "counts", Kind = ChartKind.Line, Title = "Loss with k random blocks deleted",
            Caption = "An ensemble of paths degrades smoothly as blocks go; a single path breaks at the first deletion.",
            X = new AxisSpec("blocks deleted"), Y = new AxisSpec("validation loss", "nats per token"), Series = series,
        });
    }

    static void AddFindings(ExperimentResult result, List<LesionProfile> profiles, LabCorpus corpus)
    {
        foreach (var p in profiles)
        {
            var deltas = p.WithoutBlock.Select(v => v - p.Baseline).ToArray();
            int worst = Array.IndexOf(deltas, deltas.Max());
            string learned = corpus.UnigramEntropy is double u
                ? p.Baseline < u - 0.1 ? $", {u - p.Baseline:F3} nats below the unigram entropy" : $"; it did not learn beyond the unigram entropy {u:F3}, so its lesions say little"
                : "";
            result.Findings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{p.Name}: loss {p.Baseline:F4} with every block{learned}. Deleting one block raises it by {deltas.Average():F4} on average, " +
                $"median {deltas.Order().ElementAt(deltas.Length / 2):F4} (largest {deltas[worst]:F4}, block {worst + 1}); deleting all " +
                $"{deltas.Length} gives {p.WithoutCount[^1]:F4}."));
        }
        if (profiles.Count == 2)
        {
            double residual = profiles[0].WithoutBlock.Average() - profiles[0].Baseline, plain = profiles[1].WithoutBlock.Average() - profiles[1].Baseline;
            result.Findings.Add(string.Create(CultureInfo.InvariantCulture,
                $"Mean damage of one deletion: {residual:F4} nats (residual) against {plain:F4} (plain), {(residual > 0 ? plain / residual : double.PositiveInfinity):G3}× as much."));
        }
    }

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
