// `rlm lab ...`: the residual lab's experiments and its HTML report. Each experiment subcommand prints Spectre
// tables, and shares --json (one-line JSON as the last line of stdout) and --out DIR (json, csv, svg files).
using System.CommandLine;
using ResidualLM.Lab;
using ResidualLM.Lab.Experiments;
using ResidualLM.Lab.Report;
using ResidualLM.Models;

namespace ResidualLM.Cli.Commands;

/// <summary>Builds the <c>lab</c> command tree. New experiments add a subcommand with <see cref="AddExperiment"/>.</summary>
public static class LabCommand
{
    /// <summary>The <c>lab</c> command with its experiment subcommands and <c>report</c>.</summary>
    public static Command Create()
    {
        var lab = new Command("lab", "Experiments that measure what the residual connection does, and an HTML report of them");
        AddExperiment(lab, "edits", "Worked examples: the residual stream as a running sum, and the local gradient 1 + f'(x)", [],
            _ => new EditsExperiment());
        AddTanhStack(lab);
        AddGradients(lab);
        AddPaths(lab);
        AddGradientProfile(lab);
        AddDepthSweep(lab);
        AddStream(lab);
        AddLesion(lab);
        lab.Subcommands.Add(CreateReport());
        return lab;
    }

    /// <summary>
    /// Adds <c>lab NAME</c>: <paramref name="options"/> are the experiment's own; <paramref name="create"/> reads them
    /// from the parse result and makes the experiment. The command runs it, prints its tables and findings, writes
    /// files with <c>--out DIR</c> and prints one-line JSON last with <c>--json</c> (the whole result, or what
    /// <paramref name="jsonLine"/> makes of it when an experiment promises a compact format).
    /// </summary>
    public static Command AddExperiment(Command lab, string name, string description, IReadOnlyList<Option> options,
        Func<ParseResult, ILabExperiment> create, Func<ExperimentResult, string>? jsonLine = null, IReadOnlyDictionary<string, string>? flags = null)
    {
        var command = new Command(name, description);
        foreach (var option in options) command.Options.Add(option);
        var json = new Option<bool>("--json") { Description = "Also print the result as one line of JSON, the last line of stdout" };
        var output = new Option<string?>("--out") { Description = "Write <name>.json, <name>.csv and <name>.svg into this folder (e.g. runs/lab)" };
        command.Options.Add(json);
        command.Options.Add(output);
        command.SetAction(parseResult => CliErrors.Run(flags ?? Flags, () =>
        {
            var result = create(parseResult).Run();
            ResultConsole.Print(result);
            if (parseResult.GetValue(output) is string directory)
                foreach (string path in ResultFiles.Write(result, directory)) Console.WriteLine($"wrote {path}");
            if (parseResult.GetValue(json)) Console.WriteLine(jsonLine?.Invoke(result) ?? ResultFiles.ToJson(result, indented: false));
            return 0;
        }));
        lab.Subcommands.Add(command);
        return command;
    }

    /// <summary>
    /// The flag of each experiment-option property a library message may name (the same name means the same flag in
    /// every experiment, except where an experiment passes its own map).
    /// </summary>
    static readonly Dictionary<string, string> Flags = new()
    {
        [nameof(LabModelSource.ModelPath)] = "--model", [nameof(LabModelSource.Depth)] = "--depth", [nameof(LabModelSource.Width)] = "--width",
        [nameof(LabModelSource.Heads)] = "--heads", [nameof(LabModelSource.Policy)] = "--residual", [nameof(LabModelSource.CorpusCharacters)] = "--corpus-chars",
        [nameof(LabModelSource.Seed)] = "--seed", [nameof(LabTraining.Steps)] = "--steps", [nameof(LabTraining.BatchSize)] = "--batch",
        [nameof(LabTraining.Context)] = "--context", [nameof(LabTraining.LearningRate)] = "--lr", [nameof(LabTraining.WarmupSteps)] = "--warmup",
        [nameof(DepthSweepOptions.TimeLimitSeconds)] = "--time-limit", [nameof(DepthSweepOptions.JournalPath)] = "--journal", [nameof(DepthSweepOptions.Depths)] = "--depths", [nameof(DepthSweepOptions.Policies)] = "--policies", [nameof(DepthSweepOptions.EvalWindows)] = "--eval-windows",
        [nameof(GradientProfileOptions.Model)] = "--model", [nameof(GradientProfileOptions.Variants)] = "--residual",
        [nameof(GradientsOptions.InitPath)] = "--init", [nameof(GradientsOptions.SummarySeeds)] = "--seeds",
        [nameof(LesionOptions.Windows)] = "--windows", [nameof(LesionOptions.Subsets)] = "--subsets", [nameof(LesionOptions.PlainDepth)] = "--plain-depth",
        [nameof(LesionOptions.Seeds)] = "--seeds",
        [nameof(PathsOptions.Samples)] = "--samples", [nameof(PathsOptions.Gain)] = "--gain", [nameof(PathsOptions.PathSamples)] = "--path-samples",
        [nameof(TanhStackOptions.SweepDepth)] = "--sweep-depth", [nameof(TanhStackOptions.Weight)] = "--weight", [nameof(TanhStackOptions.Bias)] = "--bias",
        [nameof(TanhStackOptions.Input)] = "--input",
    };

    static void AddTanhStack(Command lab)
    {
        var defaults = new TanhStackOptions();
        var depth = new Option<int>("--depth") { Description = "Layers in the stack", DefaultValueFactory = _ => defaults.Depth };
        var weight = new Option<float?>("--weight") { Description = $"Layer weight w (default {defaults.Weight}, or drawn with --seed)" };
        var bias = new Option<float?>("--bias") { Description = $"Layer bias b (default {defaults.Bias}, or drawn with --seed)" };
        var input = new Option<float>("--input") { Description = "Input x", DefaultValueFactory = _ => defaults.Input };
        var seed = new Option<ulong?>("--seed") { Description = "Draw w and b from U(-1, 1), PyTorch's Linear(1,1) init, with this seed" };
        var sweep = new Option<bool>("--sweep") { Description = "Also sweep depth 1..--sweep-depth and chart the gradient (log scale)" };
        var sweepDepth = new Option<int>("--sweep-depth") { Description = "Largest depth of the sweep", DefaultValueFactory = _ => defaults.SweepDepth };
        AddExperiment(lab, "tanh-stack", "A tanh layer applied --depth times, plain vs residual: the gradient reaching the input",
            [depth, weight, bias, input, seed, sweep, sweepDepth],
            parse =>
            {
                ulong? drawSeed = parse.GetValue(seed);
                float? givenWeight = parse.GetValue(weight), givenBias = parse.GetValue(bias);
                if (drawSeed is not null && (givenWeight is not null || givenBias is not null))
                    throw new InvalidInputException("give either --seed (draws w and b) or --weight/--bias, not both", field: "--seed");
                return new TanhStackExperiment(new TanhStackOptions
                {
                    Depth = parse.GetValue(depth),
                    Weight = givenWeight ?? defaults.Weight,
                    Bias = givenBias ?? defaults.Bias,
                    Input = parse.GetValue(input),
                    Seed = drawSeed,
                    SweepDepth = parse.GetValue(sweep) ? parse.GetValue(sweepDepth) : 0,
                });
            });
    }

    static void AddGradients(Command lab)
    {
        var defaults = new GradientsOptions();
        var init = new Option<string?>("--init") { Description = "Safetensors file with layers.{i}.weight (out, in) and layers.{i}.bias: the starting weights of both runs" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the U(-1/sqrt(in), 1/sqrt(in)) init when there is no --init", DefaultValueFactory = _ => defaults.Seed };
        var seeds = new Option<int>("--seeds") { Description = "Repeat the comparison over this many seeded inits (0: off)", DefaultValueFactory = _ => defaults.SummarySeeds };
        AddExperiment(lab, "gradients", "The book's chapter-4 demo: mean |dL/dW| per layer of a 5-layer GELU stack, without and with shortcuts " +
                                        "(--json prints {\"without_shortcut\": [...], \"with_shortcut\": [...]})",
            [init, seed, seeds],
            parse => new GradientsExperiment(new GradientsOptions
            {
                InitPath = parse.GetValue(init), Seed = parse.GetValue(seed), SummarySeeds = parse.GetValue(seeds),
            }),
            GradientsExperiment.CompactJson);
    }

    static void AddPaths(Command lab)
    {
        var d = new PathsOptions();
        var depth = new Option<int>("--depth") { Description = "Residual branches in the deep stack", DefaultValueFactory = _ => d.Depth };
        var width = new Option<int>("--width") { Description = "Stream width", DefaultValueFactory = _ => d.Width };
        var samples = new Option<int>("--samples") { Description = "Input samples in the batch", DefaultValueFactory = _ => d.Samples };
        var gain = new Option<float>("--gain") { Description = "Branch weights are N(0, gain^2/width)", DefaultValueFactory = _ => d.Gain };
        var pathSamples = new Option<int>("--path-samples") { Description = "Single paths sampled per length", DefaultValueFactory = _ => d.PathSamples };
        var seed = new Option<ulong>("--seed") { Description = "Seed of weights, inputs and path sampling", DefaultValueFactory = _ => d.Seed };
        AddExperiment(lab, "paths", "The gradient split into shortcut and branch paths: exactly for two layers, and by path length for a deep stack",
            [depth, width, samples, gain, pathSamples, seed],
            parse => new PathsExperiment(new PathsOptions
            {
                Depth = parse.GetValue(depth), Width = parse.GetValue(width), Samples = parse.GetValue(samples),
                Gain = parse.GetValue(gain), PathSamples = parse.GetValue(pathSamples), Seed = parse.GetValue(seed),
            }));
    }

    static void AddGradientProfile(Command lab)
    {
        var d = new GradientProfileOptions();
        var model = new Option<string>("--model") { Description = "mlp (Linear + activation stack) or gpt", DefaultValueFactory = _ => d.Model };
        var depth = new Option<int>("--depth") { Description = "Layers (mlp) or blocks (gpt)", DefaultValueFactory = _ => d.Depth };
        var width = new Option<int>("--width") { Description = "Stream width", DefaultValueFactory = _ => d.Width };
        var activation = new Option<string>("--activation") { Description = "mlp activation: gelu, tanh or relu", DefaultValueFactory = _ => "gelu" };
        var residual = new Option<string?>("--residual") { Description = "What to compare, comma-separated. mlp: none,residual,prenorm (default all); " +
                                                                         $"gpt: {ResidualPolicies.Names} (default all)" };
        var heads = new Option<int>("--heads") { Description = "gpt attention heads", DefaultValueFactory = _ => d.Heads };
        var batch = new Option<int>("--batch") { Description = "Samples (mlp) or sequences (gpt) in the batch", DefaultValueFactory = _ => d.BatchSize };
        var context = new Option<int>("--context") { Description = "gpt tokens per sequence", DefaultValueFactory = _ => d.Context };
        var seed = new Option<ulong>("--seed") { Description = "Seed of weights and data", DefaultValueFactory = _ => d.Seed };
        AddExperiment(lab, "gradient-profile", "The gradient norm at every layer's input for one batch, by residual policy (log chart)",
            [model, depth, width, activation, residual, heads, batch, context, seed],
            parse =>
            {
                string? compare = parse.GetValue(residual);
                var options = new GradientProfileOptions
                {
                    Model = parse.GetValue(model)!.ToLowerInvariant(), Depth = parse.GetValue(depth), Width = parse.GetValue(width),
                    Activation = parse.GetValue(activation)!.ToLowerInvariant() switch
                    {
                        "gelu" => Activation.Gelu, "tanh" => Activation.Tanh, "relu" => Activation.Relu,
                        var other => throw new InvalidInputException($"must be gelu, tanh or relu, got '{other}'", field: "--activation"),
                    },
                    Heads = parse.GetValue(heads), BatchSize = parse.GetValue(batch), Context = parse.GetValue(context), Seed = parse.GetValue(seed),
                };
                if (compare is not null && options.Model == "gpt")
                    options = options with { Policies = LabModels.ParseList(compare, "--residual", t => ResidualPolicies.Parse(t, "--residual")) };
                else if (compare is not null)
                    options = options with { Variants = LabModels.ParseList(compare, "--residual", t => t.ToLowerInvariant() switch
                    {
                        "none" or "plain" => StackVariant.None, "residual" => StackVariant.Residual, "prenorm" or "pre" => StackVariant.PreNorm,
                        _ => throw new InvalidInputException($"must be none, residual or prenorm for --model mlp, got '{t}'", field: "--residual"),
                    }) };
                return new GradientProfileExperiment(options);
            }, flags: new Dictionary<string, string>(Flags) { [nameof(GradientProfileOptions.Policies)] = "--residual" });
    }

    static void AddDepthSweep(Command lab)
    {
        var d = new DepthSweepOptions();
        var depths = new Option<string>("--depths") { Description = "Depths (blocks), comma-separated", DefaultValueFactory = _ => string.Join(",", d.Depths) };
        var policies = new Option<string>("--policies") { Description = $"Residual policies, comma-separated: {ResidualPolicies.Names}",
                                                          DefaultValueFactory = _ => string.Join(",", d.Policies.Select(p => ResidualPolicies.Get(p).Name)) };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps per run", DefaultValueFactory = _ => d.Training.Steps };
        var width = new Option<int>("--width") { Description = "Width of the stream", DefaultValueFactory = _ => d.Width };
        var heads = new Option<int>("--heads") { Description = "Attention heads", DefaultValueFactory = _ => d.Heads };
        var context = new Option<int>("--context") { Description = "Tokens per sequence", DefaultValueFactory = _ => d.Training.Context };
        var batch = new Option<int>("--batch") { Description = "Sequences per step", DefaultValueFactory = _ => d.Training.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, warmup then cosine)", DefaultValueFactory = _ => d.Training.LearningRate };
        var warmup = new Option<int>("--warmup") { Description = "Warmup steps", DefaultValueFactory = _ => d.Training.WarmupSteps };
        var corpus = new Option<int>("--corpus-chars") { Description = "Characters of built-in corpus", DefaultValueFactory = _ => d.CorpusCharacters };
        var windows = new Option<int>("--eval-windows") { Description = "Validation windows for the final loss", DefaultValueFactory = _ => d.EvalWindows };
        var seed = new Option<int>("--seed") { Description = "Seed of corpus and initialisation", DefaultValueFactory = _ => d.Seed };
        var seeds = new Option<int>("--seeds") { Description = "Runs per depth and policy (seeds --seed, --seed + 1, ...): means with 95% intervals",
                                                 DefaultValueFactory = _ => d.Seeds };
        var timeLimit = new Option<double?>("--time-limit") { Description = "Seconds of training per run at most: a run still training then stops and is evaluated as it stands" };
        var journal = new Option<string?>("--journal") { Description = "JSON-lines file: each finished run is appended, and runs already in it (same settings) are not trained again" };
        AddExperiment(lab, "depth-sweep", "Train the same small GPT at several depths under each residual policy: final validation loss " +
                                          "and first-block gradient (default about 10 minutes on 2 cores)",
            [depths, policies, steps, width, heads, context, batch, lr, warmup, corpus, windows, seed, seeds, timeLimit, journal],
            parse => new DepthSweepExperiment(new DepthSweepOptions
            {
                Depths = LabModels.ParseIntegers(parse.GetValue(depths)!, "--depths"),
                Policies = LabModels.ParseList(parse.GetValue(policies)!, "--policies", t => ResidualPolicies.Parse(t, "--policies")),
                Width = parse.GetValue(width), Heads = parse.GetValue(heads),
                Training = d.Training with
                {
                    Steps = parse.GetValue(steps), Context = parse.GetValue(context), BatchSize = parse.GetValue(batch),
                    LearningRate = parse.GetValue(lr), WarmupSteps = parse.GetValue(warmup),
                },
                CorpusCharacters = parse.GetValue(corpus), EvalWindows = parse.GetValue(windows), Seed = parse.GetValue(seed),
                Seeds = parse.GetValue(seeds), Progress = line => Console.Error.WriteLine(line),
                TimeLimitSeconds = parse.GetValue(timeLimit), JournalPath = parse.GetValue(journal),
            }));
    }

    /// <summary>The options that choose a model to probe: --model DIR, or the shape and training of one made on the fly.</summary>
    static (Option[] Options, Func<ParseResult, LabModelSource> Parse) ModelSourceOptions()
    {
        var d = new LabModelSource();
        var model = new Option<string?>("--model") { Description = "Run or checkpoint folder written by `rlm train --out` (default: train a small GPT first)" };
        var depth = new Option<int>("--depth") { Description = "Blocks of the model trained on the fly", DefaultValueFactory = _ => d.Depth };
        var width = new Option<int>("--width") { Description = "Width of the model trained on the fly", DefaultValueFactory = _ => d.Width };
        var heads = new Option<int>("--heads") { Description = "Heads of the model trained on the fly", DefaultValueFactory = _ => d.Heads };
        var residual = new Option<string>("--residual") { Description = $"Residual policy of the model trained on the fly: {ResidualPolicies.Names}",
                                                          DefaultValueFactory = _ => ResidualPolicies.Get(d.Policy).Name };
        var steps = new Option<int>("--steps") { Description = "Training steps of the model trained on the fly", DefaultValueFactory = _ => d.Training.Steps };
        var context = new Option<int>("--context") { Description = "Tokens per window (training and probing)", DefaultValueFactory = _ => d.Training.Context };
        var seed = new Option<int>("--seed") { Description = "Seed of the corpus and of the model trained on the fly", DefaultValueFactory = _ => d.Seed };
        return ([model, depth, width, heads, residual, steps, context, seed], parse => new LabModelSource
        {
            ModelPath = parse.GetValue(model), Depth = parse.GetValue(depth), Width = parse.GetValue(width), Heads = parse.GetValue(heads),
            Policy = ResidualPolicies.Parse(parse.GetValue(residual)!, "--residual"),
            Training = d.Training with { Steps = parse.GetValue(steps), Context = parse.GetValue(context) },
            Seed = parse.GetValue(seed),
        });
    }

    static void AddStream(Command lab)
    {
        var (sourceOptions, parseSource) = ModelSourceOptions();
        var windows = new Option<int>("--windows") { Description = "Validation windows to average over", DefaultValueFactory = _ => new StreamOptions().Windows };
        AddExperiment(lab, "stream", "The residual stream block by block: stream and edit sizes, their directions, and the logit lens",
            [.. sourceOptions, windows],
            parse => new StreamExperiment(new StreamOptions
            {
                Source = parseSource(parse), Windows = parse.GetValue(windows), Progress = line => Console.Error.WriteLine(line),
            }));
    }

    static void AddLesion(Command lab)
    {
        var (sourceOptions, parseSource) = ModelSourceOptions();
        var d = new LesionOptions();
        var windows = new Option<int>("--windows") { Description = "Validation windows of the loss", DefaultValueFactory = _ => d.Windows };
        var subsets = new Option<int>("--subsets") { Description = "Random subsets per number of deleted blocks", DefaultValueFactory = _ => d.Subsets };
        var noPlain = new Option<bool>("--no-plain") { Description = "Do not train and lesion a plain (no residual) model for comparison" };
        var plainDepth = new Option<int>("--plain-depth") { Description = "Blocks of the plain model (deeper plain transformers do not train)",
                                                           DefaultValueFactory = _ => d.PlainDepth };
        var seeds = new Option<int>("--seeds") { Description = "Train both models with this many seeds: means with 95% intervals", DefaultValueFactory = _ => d.Seeds };
        AddExperiment(lab, "lesion", "Delete each block in turn (its edits removed) and measure the loss: residual vs plain (Veit et al. 2016)",
            [.. sourceOptions, windows, subsets, noPlain, plainDepth, seeds],
            parse => new LesionExperiment(new LesionOptions
            {
                Source = parseSource(parse), Windows = parse.GetValue(windows), Subsets = parse.GetValue(subsets),
                ComparePlain = !parse.GetValue(noPlain), PlainDepth = parse.GetValue(plainDepth), Seeds = parse.GetValue(seeds), Progress = line => Console.Error.WriteLine(line),
            }));
    }

    static Command CreateReport()
    {
        var runs = new Option<string>("--runs") { Description = "Folder of result JSON files", DefaultValueFactory = _ => ResultFiles.DefaultDirectory };
        var output = new Option<string?>("--out") { Description = "HTML file to write (default: <runs>/report.html)" };
        var command = new Command("report", "Build one self-contained HTML page from every result in the run folder and its subfolders " +
                                            "(runs the cheap experiments first when there are none)");
        command.Options.Add(runs);
        command.Options.Add(output);
        command.SetAction(parseResult => CliErrors.Run(() =>
        {
            string directory = parseResult.GetValue(runs)!;
            var results = ResultFiles.ReadAll(directory);
            if (results.Count == 0)
            {
                Console.WriteLine($"no results in {directory} yet: running the cheap experiments first");
                foreach (var entry in LabCatalog.All.Where(e => e.IsCheap))
                {
                    var result = entry.CreateDefault().Run();
                    ResultFiles.Write(result, directory);
                    results.Add(result);
                    Console.WriteLine($"  ran {entry.Name}");
                }
            }
            string path = parseResult.GetValue(output) ?? Path.Combine(directory, "report.html");
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null) Directory.CreateDirectory(folder);
            File.WriteAllText(path, HtmlReport.Render(results));
            Console.WriteLine($"wrote {path} ({results.Count} experiment{(results.Count == 1 ? "" : "s")}: {string.Join(", ", results.Select(r => r.Experiment))})");
            return 0;
        }));
        return command;
    }
}
