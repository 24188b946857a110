// Trains the same small GPT on the built-in corpus at several depths under every residual policy, and reports the
// final validation loss (against the corpus's entropy floor and unigram entropy) and the gradient reaching the first
// block at initialisation. With --seeds N every run is repeated with N seeds (weights and data order) and the summary
// gives means with 95% Student t intervals. Limits: a fixed, short step budget; a policy that needs a longer warmup or
// a smaller learning rate at depth is shown as it fares with the shared settings, not tuned.
using System.Diagnostics;
using System.Globalization;
using ResidualLM.Models;

namespace ResidualLM.Lab.Experiments;

/// <summary>Settings of <see cref="DepthSweepExperiment"/>. The defaults finish in about 10 minutes on 2 cores.</summary>
public sealed record DepthSweepOptions
{
    /// <summary>Numbers of blocks to train.</summary>
    public IReadOnlyList<int> Depths { get; init; } = [2, 8, 32, 96];

    /// <summary>Residual policies to train at every depth.</summary>
    /// <remarks>
    /// By default the five classic policies, LayerScale, Admin and static hyper-connections with two copies: one of each
    /// family, so the default sweep stays within minutes (the other hyper-connection variants with --policies).
    /// </remarks>
    public IReadOnlyList<ResidualMode> Policies { get; init; } =
        [ResidualMode.None, ResidualMode.PreNorm, ResidualMode.PostNorm, ResidualMode.ReZero, ResidualMode.DeepNorm,
         ResidualMode.LayerScale, ResidualMode.Admin, ResidualMode.StaticHyper2];

    /// <summary>Width of the stream (C).</summary>
    public int Width { get; init; } = 32;

    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = 2;

    /// <summary>Optimizer steps, batch, context and learning rate shared by every run.</summary>
    public LabTraining Training { get; init; } = new() { Steps = 300, BatchSize = 8, Context = 32, LearningRate = 3e-3, WarmupSteps = 30 };

    /// <summary>Characters of built-in corpus generated (90% train, 10% validation).</summary>
    public int CorpusCharacters { get; init; } = 200_000;

    /// <summary>Validation windows of Context tokens for the final loss.</summary>
    public int EvalWindows { get; init; } = 64;

    /// <summary>Seed of the corpus and of every model's initialisation.</summary>
    public int Seed { get; init; } = 1337;

    /// <summary>Runs per depth and policy, with seeds Seed, Seed + 1, ... for the weights and data order (the corpus stays).</summary>
    public int Seeds { get; init; } = 1;

    /// <summary>Called with one line per finished run (and before the first), e.g. to print progress.</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>
    /// Wall-time budget of each run's training in seconds (null: none): a run still training then stops after its current
    /// step and is evaluated as it stands, with the steps it took recorded. Bounds a sweep of very deep stacks.
    /// </summary>
    public double? TimeLimitSeconds { get; init; }

    /// <summary>
    /// A JSON-lines file: every finished run is appended to it, and runs it already holds for the same settings are
    /// taken from it instead of trained again, so a sweep stopped part-way continues where it stopped (null: none).
    /// </summary>
    public string? JournalPath { get; init; }

    /// <summary>Rejects settings the experiment cannot run with.</summary>
    public void Validate()
    {
        if (Depths.Count == 0 || Depths.Any(d => d is < 1 or > 1000)) throw new InvalidInputException("depths must be between 1 and 1000", field: nameof(Depths));
        if (Policies.Count == 0) throw new InvalidInputException("needs at least one policy", field: nameof(Policies));
        if (Width < 1 || Heads < 1 || Width % Heads != 0) throw new InvalidInputException($"the width {Width} must be a positive multiple of the head count {Heads}", field: nameof(Width));
        if (Training.Steps is < 1 or > 1_000_000) throw new InvalidInputException($"must be between 1 and 1000000, got {Training.Steps}", field: nameof(LabTraining.Steps));
        if (Training.Context is < 2 or > 1024) throw new InvalidInputException($"must be between 2 and 1024, got {Training.Context}", field: nameof(LabTraining.Context));
        if (Training.BatchSize is < 1 or > 1024) throw new InvalidInputException($"must be between 1 and 1024, got {Training.BatchSize}", field: nameof(LabTraining.BatchSize));
        if (!(Training.LearningRate > 0 && Training.LearningRate < 1)) throw new InvalidInputException($"must be in (0, 1), got {Training.LearningRate}", field: nameof(LabTraining.LearningRate));
        if (CorpusCharacters < 20 * Training.Context) throw new InvalidInputException($"too small for context {Training.Context}", field: nameof(CorpusCharacters));
        if (EvalWindows is < 1 or > 10_000) throw new InvalidInputException($"must be between 1 and 10000, got {EvalWindows}", field: nameof(EvalWindows));
        if (Seeds is < 1 or > 100) throw new InvalidInputException($"must be between 1 and 100, got {Seeds}", field: nameof(Seeds));
        if (TimeLimitSeconds is double limit && !(limit > 0 && limit <= 1e7)) throw new InvalidInputException($"must be a positive number of seconds, got {limit}", field: nameof(TimeLimitSeconds));
    }

    /// <summary>What a journal line must match to stand for a run of these options (everything but depth, policy, seed and the journal).</summary>
    internal string SettingsKey => string.Create(CultureInfo.InvariantCulture,
        $"width={Width};heads={Heads};steps={Training.Steps};batch={Training.BatchSize};context={Training.Context};lr={Training.LearningRate:R};" +
        $"warmup={Training.WarmupSteps};corpus={CorpusCharacters};eval={EvalWindows};corpus-seed={Seed};limit={TimeLimitSeconds?.ToString("R", CultureInfo.InvariantCulture) ?? "none"}");
}

/// <summary>One trained model of the sweep.</summary>
/// <param name="Depth">Blocks.</param>
/// <param name="Policy">Residual policy.</param>
/// <param name="ValidationLoss">Final validation loss (nats per character); NaN when training diverged.</param>
/// <param name="TrainLoss">Mean training loss of the last tenth of the steps.</param>
/// <param name="InitialLoss">Validation loss at initialisation.</param>
/// <param name="FirstBlockGradient">|dL/dx| at the first block's input, at initialisation.</param>
/// <param name="OutputGradient">|dL/dx| at the last block's output, at initialisation.</param>
/// <param name="SkippedSteps">Steps skipped for a non-finite loss or gradient.</param>
/// <param name="Seconds">Wall time of the run.</param>
/// <param name="Seed">Seed of the weights and data order.</param>
/// <param name="StepsTaken">Optimizer steps taken: fewer than the budget when the time limit stopped the run.</param>
public sealed record SweepRun(int Depth, ResidualMode Policy, double ValidationLoss, double TrainLoss, double InitialLoss,
    double FirstBlockGradient, double OutputGradient, int SkippedSteps, double Seconds, int Seed = 0, int StepsTaken = 0);

/// <summary>The runs of one depth and policy over seeds: means with 95% intervals.</summary>
/// <param name="Depth">Blocks.</param>
/// <param name="Policy">Residual policy.</param>
/// <param name="ValidationLoss">Final validation loss over the seeds that did not diverge.</param>
/// <param name="FirstBlockGradient">|dL/dx| at the first block's input at initialisation.</param>
/// <param name="Diverged">Seeds whose final loss was not finite.</param>
/// <param name="Seconds">Wall time of one run.</param>
public sealed record SweepCell(int Depth, ResidualMode Policy, Estimate ValidationLoss, Estimate FirstBlockGradient, int Diverged, Estimate Seconds);

/// <summary>Does depth hurt or help, under each residual policy, with everything else fixed?</summary>
public sealed class DepthSweepExperiment(DepthSweepOptions options) : ILabExperiment
{
    public string Name => "depth-sweep";

    /// <summary>Builds, probes and trains one model of the sweep.</summary>
    public static SweepRun TrainOne(int depth, ResidualMode policy, DepthSweepOptions options, LabCorpus corpus)
    {
        var clock = Stopwatch.StartNew();
        var training = options.Training;
        var model = new Gpt(new GptConfig
        {
            VocabSize = corpus.Tokenizer.VocabSize, ContextLength = training.Context, Width = options.Width, HeadCount = options.Heads,
            LayerCount = depth, Dropout = 0f, Residual = policy, TieWeights = true,
        }, (ulong)options.Seed);
        LabModels.InitializeFromData(model, corpus.Train, training.Context, training.BatchSize);
        var (inputs, targets) = LabModels.Windows(corpus.Train, training.Context, training.BatchSize);
        var gradients = LabModels.StreamGradientNorms(model, inputs, targets, training.BatchSize, training.Context);
        double initial = LabModels.Loss(model, corpus.Validation, training.Context, options.EvalWindows);
        int skipped = 0;
        using var limit = options.TimeLimitSeconds is double seconds ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds)) : new CancellationTokenSource();
        var losses = LabModels.Train(model, corpus, training with { Seed = options.Seed }, step => { if (step.Skipped) skipped++; }, limit.Token);
        int tail = Math.Max(1, losses.Count / 10);
        double trainLoss = losses.Skip(losses.Count - tail).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
        double validation = LabModels.Loss(model, corpus.Validation, training.Context, options.EvalWindows);
        return new SweepRun(depth, policy, validation, trainLoss, initial, gradients[0], gradients[^1], skipped, clock.Elapsed.TotalSeconds, options.Seed, losses.Count);
    }

    public ExperimentResult Run()
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var corpus = LabCorpus.Builtin(options.CorpusCharacters, options.Seed);
        var runs = new List<SweepRun>();
        var journal = options.JournalPath is null ? null : new SweepJournal(options.JournalPath, options.SettingsKey);
        int total = options.Depths.Count * options.Policies.Count * options.Seeds;
        options.Progress?.Invoke($"depth-sweep: {total} runs of {options.Training.Steps} steps (width {options.Width}, batch " +
                                 $"{options.Training.BatchSize} x {options.Training.Context}{(options.Seeds > 1 ? $", {options.Seeds} seeds" : "")})");
        foreach (int depth in options.Depths)
            foreach (var policy in options.Policies)
                for (int s = 0; s < options.Seeds; s++)
                {
                    var earlier = journal?.Find(depth, policy, options.Seed + s);
                    var run = earlier ?? TrainOne(depth, policy, options with { Seed = options.Seed + s }, corpus);
                    if (earlier is null) journal?.Append(run);
                    runs.Add(run);
                    string stopped = run.StepsTaken < options.Training.Steps ? $"  stopped by the time limit at step {run.StepsTaken}" : "";
                    string source = earlier is null ? string.Create(CultureInfo.InvariantCulture, $"(total {clock.Elapsed.TotalSeconds:F0} s)") : "(from the journal)";
                    options.Progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                        $"  [{runs.Count}/{total}] depth {depth,3} {ResidualPolicies.Get(policy).Name,-8} seed {run.Seed}  val {run.ValidationLoss:F4}  " +
                        $"|dL/dx_0| at init {run.FirstBlockGradient:G3}  {run.Seconds:F1} s{stopped}  {source}"));
                }
        return BuildResult(runs, corpus, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Tables, charts and findings from finished runs (separate from training so it can be tested on made-up runs).</summary>
    public ExperimentResult BuildResult(IReadOnlyList<SweepRun> runs, LabCorpus corpus, double seconds)
    {
        var t = options.Training;
        double floor = corpus.EntropyFloor ?? double.NaN, unigram = corpus.UnigramEntropy ?? double.NaN;
        int seeds = runs.Select(r => r.Seed).Distinct().Count();
        var cells = Summarise(runs);
        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = "Depth sweep: final validation loss by depth and residual policy",
            Description =
                "The same GPT (width, heads, context, data, seed, optimizer and step budget fixed) is trained at each depth under " +
                "each residual policy on the built-in generated corpus at character level. Its entropy rate is known exactly: " +
                $"{floor:F4} nats per character is the lowest loss any model can reach (the floor), and {unigram:F4} is the loss " +
                "of a model that predicts character frequencies and ignores context (the unigram entropy). A model stuck near the " +
                "unigram loss has learned nothing from context.\n\n" +
                "The gradient at the first block's input is measured once at initialisation, on one training batch, as in " +
                "gradient-profile: without a shortcut it is a product of one Jacobian per block." +
                (seeds > 1 ? $"\n\nEvery run was repeated with {seeds} seeds (weights and data order); the summary gives means with " +
                             "95% Student t intervals (±), and two policies whose intervals overlap are not distinguishable at that many seeds." : ""),
            Parameters =
            [
                new("depths", string.Join(", ", options.Depths)), new("policies", string.Join(", ", options.Policies.Select(p => ResidualPolicies.Get(p).Name))),
                new("width", Text(options.Width)), new("heads", Text(options.Heads)), new("context", Text(t.Context)),
                new("batch", Text(t.BatchSize)), new("steps", Text(t.Steps)),
                new("learning rate", t.LearningRate.ToString("G3", CultureInfo.InvariantCulture), $"AdamW, {t.WarmupSteps} warmup steps, cosine to a tenth, clip 1"),
                new("corpus", $"{options.CorpusCharacters:N0} characters, seed {options.Seed}"),
                new("seeds", Text(seeds), seeds > 1 ? "runs per depth and policy" : "--seeds N repeats every run for intervals"),
                new("eval", $"{options.EvalWindows} validation windows"),
                new("time", $"{seconds:F0} s", "wall time of this invocation (runs reused from the journal take none)"),
                new("run time", $"{runs.Sum(r => r.Seconds):F0} s", "the runs' own wall times added up (runs reused from a journal count what they took then)"),
                .. options.TimeLimitSeconds is double limit ? new[] { new ResultParameter("time limit", $"{limit:G4} s", "per run: training stops after the step that reaches it (steps column)") } : [],
            ],
        };
        var table = new ResultTable
        {
            Id = "runs", Title = "Every run",
            Note = $"Losses in nats per character (train: mean of the last 10% of steps). Floor {floor:F4}, unigram {unigram:F4}. " +
                   "Learned = (unigram − val) / (unigram − floor), the share of the learnable structure captured. |g_0| = |dL/dx| at the " +
                   "first block's input at initialisation, |g_N| at the last block's output. s = seconds.",
            Columns = [new("depth"), new("policy"), new("seed"), new("val loss", Format: "F4"), new("learned", Format: "P0"), new("train loss", Format: "F4"),
                       new("init loss", Format: "F4"), new("|g_0| init", Format: "G3"), new("|g_0|/|g_N|", Format: "G3"),
                       new("skipped"), new("steps"), new("s", Format: "F0")],
        };
        foreach (var r in runs)
            table.AddRow(r.Depth, ResidualPolicies.Get(r.Policy).Name, r.Seed, r.ValidationLoss, (unigram - r.ValidationLoss) / (unigram - floor), r.TrainLoss,
                r.InitialLoss, r.FirstBlockGradient, r.FirstBlockGradient / r.OutputGradient, r.SkippedSteps, r.StepsTaken, r.Seconds);
        result.Tables.Add(table);
        if (seeds > 1) result.Tables.Add(SummaryTable(cells, seeds));
        AddCharts(result, cells, floor, unigram, seeds);
        AddFindings(result, cells, floor, unigram, seeds);
        return result;
    }

    /// <summary>The runs grouped by depth and policy, in the order of the options: means and 95% intervals over seeds.</summary>
    public IReadOnlyList<SweepCell> Summarise(IReadOnlyList<SweepRun> runs) =>
        [.. from depth in options.Depths
            from policy in options.Policies
            let same = runs.Where(r => r.Depth == depth && r.Policy == policy).ToList()
            where same.Count > 0
            select new SweepCell(depth, policy, Statistics.Estimate(same.Select(r => r.ValidationLoss)),
                Statistics.Estimate(same.Select(r => r.FirstBlockGradient)), same.Count(r => !double.IsFinite(r.ValidationLoss)),
                Statistics.Estimate(same.Select(r => r.Seconds)))];

    /// <summary>Mean ± 95% interval of the validation loss per depth and policy, and which policies the seeds cannot tell apart.</summary>
    static ResultTable SummaryTable(IReadOnlyList<SweepCell> cells, int seeds)
    {
        var table = new ResultTable
        {
            Id = "summary", Title = $"Validation loss over {seeds} seeds: mean ± 95% interval",
            Note = "± = t(0.975, n − 1) s / √n over the seeds that did not diverge (Student t). \"Not distinguishable from\" lists the " +
                   "policies at the same depth whose intervals overlap this one's: at this many seeds their order is not resolved.",
            Columns = [new("depth"), new("policy"), new("val loss", Format: "F4"), new("±", Format: "F4"), new("seeds"), new("diverged"),
                       new("not distinguishable from")],
        };
        foreach (var c in cells)
        {
            var overlapping = cells.Where(o => o.Depth == c.Depth && o.Policy != c.Policy && c.ValidationLoss.Overlaps(o.ValidationLoss))
                .Select(o => ResidualPolicies.Get(o.Policy).Name).ToList();
            table.AddRow(c.Depth, ResidualPolicies.Get(c.Policy).Name, c.ValidationLoss.Mean, c.ValidationLoss.HalfWidth, c.ValidationLoss.Count, c.Diverged,
                overlapping.Count == 0 ? "" : string.Join(", ", overlapping));
        }
        return table;
    }

    void AddCharts(ExperimentResult result, IReadOnlyList<SweepCell> cells, double floor, double unigram, int seeds)
    {
        var depths = options.Depths;
        SweepCell? Find(int depth, ResidualMode policy) => cells.FirstOrDefault(r => r.Depth == depth && r.Policy == policy);
        // One line per policy over the depths: the mean of what pick selects, with its 95% half-width as an error bar over seeds.
        List<SeriesSpec> PolicySeries(Func<SweepCell, Estimate> pick) => [.. options.Policies.Select(p => new SeriesSpec
        {
            Name = ResidualPolicies.Get(p).Legend,
            Points = depths.Select(d => Find(d, p) is { } cell
                ? new ChartPoint(d, Finite(pick(cell).Mean), Error: seeds > 1 ? Finite(pick(cell).HalfWidth) : null)
                : new ChartPoint(d, null)).ToList(),
        })];
        result.Charts.Add(new ChartSpec
        {
            Id = "loss", Kind = ChartKind.Line, Title = "Final validation loss by depth",
            Caption = $"Lower is better. The two flat lines: unigram entropy {unigram:F3} (nothing learned from context) and " +
                      $"entropy floor {floor:F3} (perfect). Log depth axis." + (seeds > 1 ? $" Means over {seeds} seeds; error bars are 95% intervals." : ""),
            X = new AxisSpec("depth", "blocks", AxisScale.Log), Y = new AxisSpec("validation loss", "nats per character"),
            Series = [.. PolicySeries(c => c.ValidationLoss),
                new SeriesSpec { Name = "unigram entropy", Points = [new(depths.Min(), unigram), new(depths.Max(), unigram)] },
                new SeriesSpec { Name = "entropy floor", Points = [new(depths.Min(), floor), new(depths.Max(), floor)] }],
        });
        result.Charts.Add(new ChartSpec
        {
            Id = "heatmap", Kind = ChartKind.Heatmap, Title = "Validation loss (nats per character): policy × depth",
            Caption = "Empty cells diverged (non-finite loss)." + (seeds > 1 ? $" Means over {seeds} seeds, ± their 95% intervals." : ""),
            X = new AxisSpec("depth", "blocks"), Y = new AxisSpec("policy"), Value = new AxisSpec("validation loss", "nats"),
            Categories = depths.Select(d => Text(d)).ToList(),
            RowCategories = options.Policies.Select(p => ResidualPolicies.Get(p).Name).ToList(),
            Cells = options.Policies.Select(p => depths.Select(d => Finite(Find(d, p)?.ValidationLoss.Mean)).ToList()).ToList(),
            CellErrors = seeds > 1 ? options.Policies.Select(p => depths.Select(d => Finite(Find(d, p)?.ValidationLoss.HalfWidth)).ToList()).ToList() : null,
        });
        result.Charts.Add(new ChartSpec
        {
            Id = "gradient", Kind = ChartKind.Line, Title = "Gradient at the first block's input, at initialisation",
            Caption = "Log scales. Without shortcuts it falls geometrically with depth (values that underflowed to 0 are left out and counted).",
            X = new AxisSpec("depth", "blocks", AxisScale.Log), Y = new AxisSpec("|dL/dx_0|", Scale: AxisScale.Log),
            Series = PolicySeries(c => c.FirstBlockGradient),
        });
        result.Charts.Add(new ChartSpec
        {
            Id = "time", Kind = ChartKind.Line, Title = "Wall time of one run",
            Caption = "Seconds per run (probe, training, evaluation), log scales: the cost grows with depth; a stalled run costs what a " +
                      "training one does. Wall time on a shared machine varies with its load, so compare within one sweep." +
                      (seeds > 1 ? $" Means over {seeds} seeds; error bars are 95% intervals." : ""),
            X = new AxisSpec("depth", "blocks", AxisScale.Log), Y = new AxisSpec("wall time", "seconds", AxisScale.Log),
            Series = PolicySeries(c => c.Seconds),
        });
    }

    void AddFindings(ExperimentResult result, IReadOnlyList<SweepCell> cells, double floor, double unigram, int seeds)
    {
        int deepest = options.Depths.Max(), shallowest = options.Depths.Min();
        const double margin = 0.1; // nats: "trains" means at least this far below the unigram loss
        string over = seeds > 1 ? $" (means over {seeds} seeds)" : "";
        foreach (var policy in options.Policies)
        {
            var deep = cells.FirstOrDefault(r => r.Depth == deepest && r.Policy == policy);
            var shallow = cells.FirstOrDefault(r => r.Depth == shallowest && r.Policy == policy);
            if (deep is null || shallow is null) continue;
            double loss = deep.ValidationLoss.Mean;
            string verdict = !double.IsFinite(loss) ? "diverged"
                : loss < unigram - margin ? $"trains ({(unigram - loss) / (unigram - floor):P0} of the learnable structure)"
                : $"stalls at or above the unigram loss ({loss - unigram:+0.000;-0.000} nats from it)";
            result.Findings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{ResidualPolicies.Get(policy).Name}: {deepest} blocks {verdict}: val {deep.ValidationLoss.ToString("F3")} against " +
                $"{shallow.ValidationLoss.ToString("F3")} at {shallowest} blocks{over}; " +
                $"|dL/dx_0| at init {deep.FirstBlockGradient.Mean:G3} at {deepest} blocks, {shallow.FirstBlockGradient.Mean:G3} at {shallowest}.") +
                (deep.Diverged > 0 ? $" {deep.Diverged} of {seeds} seeds diverged at {deepest} blocks." : ""));
        }
        var best = cells.Where(r => double.IsFinite(r.ValidationLoss.Mean)).MinBy(r => r.ValidationLoss.Mean);
        if (best is null) return;
        result.Findings.Add(string.Create(CultureInfo.InvariantCulture,
            $"Best: {ResidualPolicies.Get(best.Policy).Name} at {best.Depth} blocks, {best.ValidationLoss.ToString("F4")} nats " +
            $"({best.ValidationLoss.Mean - floor:F3} above the floor){over} after {options.Training.Steps} steps; a longer budget (--steps) ") +
            "lowers every number, the comparison is at equal steps.");
        if (seeds < 2) return;
        // At each depth: the best policy, and which others its interval cannot separate from it.
        foreach (int depth in options.Depths)
        {
            var atDepth = cells.Where(c => c.Depth == depth && double.IsFinite(c.ValidationLoss.Mean)).OrderBy(c => c.ValidationLoss.Mean).ToList();
            if (atDepth.Count < 2) continue;
            var tied = atDepth.Skip(1).Where(c => c.ValidationLoss.Overlaps(atDepth[0].ValidationLoss)).Select(c => ResidualPolicies.Get(c.Policy).Name).ToList();
            result.Findings.Add($"{depth} blocks: {ResidualPolicies.Get(atDepth[0].Policy).Name} is lowest " +
                $"({atDepth[0].ValidationLoss.ToString("F3")}); " + (tied.Count == 0
                    ? $"its interval overlaps no other policy's, so the order is resolved at {seeds} seeds."
                    : $"not distinguishable at {seeds} seeds from {string.Join(", ", tied)} (the 95% intervals overlap)."));
        }
    }

    static double? Finite(double? value) => value is double v && double.IsFinite(v) ? v : null;

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The runs of a sweep as JSON lines, one per finished run with the settings it was trained with: appended as runs
/// finish (a crash loses at most the line being written), read back to skip the runs already done.
/// </summary>
sealed class SweepJournal
{
    static readonly System.Text.Json.JsonSerializerOptions Json = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    sealed record Line(string Settings, SweepRun Run);

    readonly string path, settings;
    readonly List<SweepRun> runs = [];

    /// <summary>Reads the journal at <paramref name="path"/> (none yet is fine), keeping the runs trained with <paramref name="settings"/>.</summary>
    /// <exception cref="InvalidInputException">A line other than the last is not a run (a torn last line is what a crash leaves, and is dropped).</exception>
    public SweepJournal(string path, string settings)
    {
        this.path = path;
        this.settings = settings;
        if (!File.Exists(path)) return;
        string[] lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            Line? line;
            try { line = System.Text.Json.JsonSerializer.Deserialize<Line>(lines[i], Json); }
            catch (System.Text.Json.JsonException) when (i == lines.Length - 1) { continue; }
            catch (System.Text.Json.JsonException e)
            {
                throw new InvalidInputException($"line {i + 1} is not a run of the sweep ({e.Message.Split('.')[0]})", path, nameof(DepthSweepOptions.JournalPath));
            }
            if (line?.Run is { } run && line.Settings == settings) runs.Add(run);
        }
    }

    /// <summary>The run of <paramref name="depth"/>, <paramref name="policy"/> and <paramref name="seed"/> with these settings, if the journal has it.</summary>
    public SweepRun? Find(int depth, ResidualMode policy, int seed) =>
        runs.LastOrDefault(r => r.Depth == depth && r.Policy == policy && r.Seed == seed);

    /// <summary>Appends <paramref name="run"/> as one line.</summary>
    public void Append(SweepRun run)
    {
        runs.Add(run);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is string folder) Directory.CreateDirectory(folder);
        File.AppendAllText(path, System.Text.Json.JsonSerializer.Serialize(new Line(settings, run), Json) + "\n");
    }
}
