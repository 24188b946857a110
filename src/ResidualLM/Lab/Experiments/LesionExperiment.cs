// Lesions: delete one block at a time (its edits removed, the stream passed through) and measure the validation loss;
// then delete several at random. Veit et al. 2016: residual networks behave like ensembles of shallow paths, so one
// block matters little; in a plain stack every block is on the only path. With --seeds N both networks are trained N
// times and every number is a mean with a 95% Student t interval. Limits: the plain network is shallower (a plain
// transformer deeper than about 2 blocks does not train in the lab's budget), a few random subsets per count.
using System.Globalization;
using ResidualLM.Models;
using ResidualLM.Tensors;

namespace ResidualLM.Lab.Experiments;

/// <summary>Settings of <see cref="LesionExperiment"/>.</summary>
public sealed record LesionOptions
{
    /// <summary>The model to lesion (loaded, or trained on the fly).</summary>
    public LabModelSource Source { get; init; } = new();

    /// <summary>When training on the fly, also train a plain network (no residuals) and lesion it too.</summary>
    public bool ComparePlain { get; init; } = true;

    /// <summary>
    /// Blocks of the plain network. Without shortcuts every block mixes the positions again and the stream collapses to
    /// one direction (Dong et al. 2021), so a plain transformer of 3 or more blocks stays at the unigram loss here; at 2
    /// it learns, which makes its lesions meaningful (Veit et al. 2016 likewise set a 15-layer VGG against a deep ResNet).
    /// </summary>
    public int PlainDepth { get; init; } = 2;

    /// <summary>Training seeds (models trained on the fly only): seed, seed + 1, ... for the weights and data order; same corpus.</summary>
    public int Seeds { get; init; } = 1;

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
        if (PlainDepth is < 1 or > 1000) throw new InvalidInputException($"must be between 1 and 1000, got {PlainDepth}", field: nameof(PlainDepth));
        if (Seeds is < 1 or > 100) throw new InvalidInputException($"must be between 1 and 100, got {Seeds}", field: nameof(Seeds));
        if (Seeds > 1 && Source.ModelPath is not null)
            throw new InvalidInputException("needs models trained on the fly (a loaded model is one seed)", field: nameof(Seeds));
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

    /// <summary>Trains (or loads) the models of every seed and lesions each; profiles grouped by model name, seeds in order.</summary>
    public List<(string Name, string Description, List<LesionProfile> Seeds)> MeasureAll(out LabCorpus corpus)
    {
        options.Validate();
        var residual = new List<LesionProfile>();
        var plain = new List<LesionProfile>();
        string residualName = "", residualDescription = "", plainDescription = "";
        corpus = null!;
        for (int s = 0; s < options.Seeds; s++)
        {
            var source = options.Source with { Seed = options.Source.Seed + s };
            var model = s == 0 ? LabModels.Obtain(source, options.Progress)
                : new LabModel(LabModels.Train(source, corpus, source.Policy, options.Progress), corpus, LabModels.Describe(source, source.Policy), source.Training.Context);
            corpus = model.Corpus;
            residualName = model.Model.ResidualMode == ResidualMode.None ? "plain" : $"residual ({model.Model.ResidualMode})";
            residualDescription = s == 0 ? model.Description : residualDescription;
            residual.Add(Measure(residualName, model, options.Windows, options.Subsets, (ulong)source.Seed));
            if (options.Source.ModelPath is null && options.ComparePlain && options.Source.Policy != ResidualMode.None)
            {
                // A plain stack needs a variance-preserving init to train at all (GPT-2's 0.02 starves it; see depth-sweep).
                var shape = source with { Depth = options.PlainDepth };
                var trained = LabModels.Train(shape, corpus, ResidualMode.None, options.Progress, fanInInit: true);
                plainDescription = LabModels.Describe(shape, ResidualMode.None) + ", weights N(0, 1/fan_in)";
                plain.Add(Measure("plain", new LabModel(trained, corpus, plainDescription, model.Context), options.Windows, options.Subsets, (ulong)source.Seed));
            }
        }
        var groups = new List<(string, string, List<LesionProfile>)> { (residualName, residualDescription, residual) };
        if (plain.Count > 0) groups.Add(("plain", plainDescription, plain));
        return groups;
    }

    public ExperimentResult Run()
    {
        var groups = MeasureAll(out var corpus);
        int seeds = options.Seeds, context = options.Source.ModelPath is null ? options.Source.Training.Context : 0;
        var summaries = groups.Select(g => Summarise(g.Name, g.Seeds)).ToList();
        int most = summaries.Max(p => p.WithoutBlock.Length);
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
                "the only path, and skipping one hands the next block a representation it was never trained on. As in their " +
                "Fig. 3, the plain network is shallower: a plain transformer of more than about two blocks does not train at all " +
                "here, and lesioning an untrained network says nothing." +
                (seeds > 1 ? $"\n\nBoth networks were trained with {seeds} seeds; numbers are means with 95% Student t intervals (±)." : ""),
            Parameters =
            [
                .. groups.Select((g, i) => new ResultParameter(i == 0 ? "model" : "compared with", g.Description)),
                new("seeds", Text(seeds), seeds > 1 ? "weights and data order; the corpus is the same" : "--seeds N repeats the training for intervals"),
                new("windows", Text(options.Windows), context > 0 ? $"validation windows of {context} tokens" : "validation windows"),
                new("subsets", Text(options.Subsets), "random subsets per number of deleted blocks"),
            ],
        };
        var table = new ResultTable
        {
            Id = "blocks", Title = "Validation loss with one block deleted",
            Note = "Δ = loss without the block − loss with every block (nats per token)." + (seeds > 1 ? $" ± = 95% Student t interval over {seeds} seeds." : ""),
            Columns = [new("deleted block"), .. summaries.SelectMany(p => Columns(p.Name, seeds))],
        };
        table.AddRow(["none", .. summaries.SelectMany(p => Cells(p.Baseline, new Estimate(0, double.NaN, seeds), seeds))]);
        for (int i = 0; i < most; i++)
            table.AddRow([Text(i + 1), .. summaries.SelectMany(p => i < p.WithoutBlock.Length
                ? Cells(p.WithoutBlock[i], p.Damage[i], seeds)
                : Enumerable.Repeat((TableCell)"", seeds > 1 ? 3 : 2))]);
        result.Tables.Add(table);
        var counts = new ResultTable
        {
            Id = "counts", Title = "Validation loss with k random blocks deleted",
            Columns = [new("blocks deleted"), .. summaries.Select(p => new ResultColumn($"{p.Name} loss", Format: "F4"))],
        };
        for (int k = 0; k <= most; k++)
            counts.AddRow([k, .. summaries.Select(p => k < p.WithoutCount.Length ? (TableCell)p.WithoutCount[k].Mean : "")]);
        result.Tables.Add(counts);
        AddCharts(result, summaries, corpus, most, seeds);
        AddFindings(result, summaries, corpus, seeds);
        return result;
    }

    /// <summary>One network's lesions over seeds: every number a mean with its 95% interval.</summary>
    /// <param name="Name">Display name.</param>
    /// <param name="Baseline">Loss with every block.</param>
    /// <param name="WithoutBlock">Loss with block i deleted.</param>
    /// <param name="Damage">Loss increase with block i deleted (per seed, then over seeds).</param>
    /// <param name="MeanDamage">Per seed the mean increase over blocks, then over seeds.</param>
    /// <param name="WithoutCount">Loss with k random blocks deleted.</param>
    public sealed record LesionSummary(string Name, Estimate Baseline, Estimate[] WithoutBlock, Estimate[] Damage, Estimate MeanDamage, Estimate[] WithoutCount);

    /// <summary>Means and intervals over the seeds of one network.</summary>
    public static LesionSummary Summarise(string name, IReadOnlyList<LesionProfile> seeds)
    {
        int n = seeds[0].WithoutBlock.Length;
        return new LesionSummary(name, Statistics.Estimate(seeds.Select(p => p.Baseline)),
            Enumerable.Range(0, n).Select(i => Statistics.Estimate(seeds.Select(p => p.WithoutBlock[i]))).ToArray(),
            Enumerable.Range(0, n).Select(i => Statistics.Estimate(seeds.Select(p => p.WithoutBlock[i] - p.Baseline))).ToArray(),
            Statistics.Estimate(seeds.Select(p => p.WithoutBlock.Average() - p.Baseline)),
            Enumerable.Range(0, n + 1).Select(k => Statistics.Estimate(seeds.Select(p => p.WithoutCount[k]))).ToArray());
    }

    static IEnumerable<ResultColumn> Columns(string name, int seeds) => seeds > 1
        ? [new($"{name} loss", Format: "F4"), new($"{name} Δ", Format: "+0.0000;-0.0000"), new($"{name} Δ ±", Format: "F4")]
        : [new($"{name} loss", Format: "F4"), new($"{name} Δ", Format: "+0.0000;-0.0000")];

    static IEnumerable<TableCell> Cells(Estimate loss, Estimate damage, int seeds) => seeds > 1
        ? [loss.Mean, damage.Mean, double.IsNaN(damage.HalfWidth) ? "" : damage.HalfWidth]
        : [loss.Mean, damage.Mean];

    static void AddCharts(ExperimentResult result, List<LesionSummary> summaries, LabCorpus corpus, int most, int seeds)
    {
        result.Charts.Add(new ChartSpec
        {
            Id = "blocks", Kind = ChartKind.Bar, Title = "Loss increase when one block is deleted",
            Caption = "Log scale: the height is the damage. Small for a residual model except where one block does most of the work; " +
                      "large for every block of a plain stack." + (seeds > 1 ? $" Error bars: 95% intervals over {seeds} seeds." : ""),
            X = new AxisSpec("deleted block"), Y = new AxisSpec("Δ validation loss", "nats", AxisScale.Log),
            Categories = Enumerable.Range(1, most).Select(Text).ToList(),
            Series = summaries.Select(p => new SeriesSpec
            {
                Name = p.Name,
                Values = Enumerable.Range(0, most).Select(i => i < p.Damage.Length ? (double?)p.Damage[i].Mean : null).ToList(),
                Errors = seeds > 1 ? Enumerable.Range(0, most).Select(i => i < p.Damage.Length ? (double?)p.Damage[i].HalfWidth : null).ToList() : null,
            }).ToList(),
        });
        var series = summaries.Select(p => new SeriesSpec
        {
            Name = p.Name,
            Points = p.WithoutCount.Select((v, k) => new ChartPoint(k, v.Mean, Error: seeds > 1 ? v.HalfWidth : null)).ToList(),
        }).ToList();
        if (corpus.UnigramEntropy is double unigram) series.Add(new SeriesSpec { Name = "unigram entropy", Points = [new(0, unigram), new(most, unigram)] });
        result.Charts.Add(new ChartSpec
        {
            Id = "counts", Kind = ChartKind.Line, Title = "Loss with k random blocks deleted",
            Caption = "An ensemble of paths degrades smoothly as blocks go; a single path breaks at the first deletion.",
            X = new AxisSpec("blocks deleted"), Y = new AxisSpec("validation loss", "nats per token"), Series = series,
        });
    }

    static void AddFindings(ExperimentResult result, List<LesionSummary> summaries, LabCorpus corpus, int seeds)
    {
        foreach (var p in summaries)
        {
            var deltas = p.Damage.Select(d => d.Mean).ToArray();
            int worst = Array.IndexOf(deltas, deltas.Max());
            string learned = corpus.UnigramEntropy is double u
                ? p.Baseline.Mean < u - 0.1 ? $", {u - p.Baseline.Mean:F3} nats below the unigram entropy" : $"; it did not learn beyond the unigram entropy {u:F3}, so its lesions say little"
                : "";
            result.Findings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{p.Name}: loss {p.Baseline.ToString("F4")} with every block{learned}. Deleting one block raises it by {p.MeanDamage.ToString("F4")} on average, " +
                $"median {deltas.Order().ElementAt(deltas.Length / 2):F4} (largest {deltas[worst]:F4}, block {worst + 1}); deleting all " +
                $"{deltas.Length} gives {p.WithoutCount[^1].ToString("F4")}."));
        }
        if (summaries.Count == 2)
        {
            var (residual, plain) = (summaries[0].MeanDamage, summaries[1].MeanDamage);
            string verdict = seeds == 1 ? "one seed: run with --seeds N for intervals"
                : residual.Overlaps(plain) ? $"the intervals overlap: not distinguishable at {seeds} seeds"
                : $"the intervals do not overlap at {seeds} seeds";
            result.Findings.Add(string.Create(CultureInfo.InvariantCulture,
                $"Mean damage of one deletion: {residual.ToString("F4")} nats (residual) against {plain.ToString("F4")} (plain), " +
                $"{(residual.Mean > 0 ? plain.Mean / residual.Mean : double.PositiveInfinity):G3}× as much ({verdict})."));
        }
    }

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
