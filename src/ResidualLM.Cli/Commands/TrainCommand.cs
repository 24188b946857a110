// `rlm train`: trains a model (by default a small GPT on the built-in corpus) with a live progress line, periodic
// evaluation with a sample, a metrics file, atomic checkpoints, Ctrl-C saving, and a one-line (or JSON) summary.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ResidualLM.Distributed;
using ResidualLM.Models;
using ResidualLM.Training;

namespace ResidualLM.Cli.Commands;

/// <summary>The train command.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train", "Train a language model (default: a small GPT on the built-in generated corpus, about 2.5 minutes on 2 cores)");
        // Every default is the library's: the records are the one place they are defined.
        var d = new TrainingSpec();
        var o = d.Options;
        var data = Opt<string?>("--data", "Text file to train on (default: the built-in generated corpus)");
        var tokenizer = Opt("--tokenizer", ChoiceNames.Alternatives<TokenizerKind>(), ChoiceNames.Name(d.Tokenizer));
        var vocab = Opt<string?>("--vocab", "Folder with GPT-2's encoder.json and vocab.bpe for --tokenizer gpt2 (default: the built-in copy of that vocabulary)");
        var bpeMerges = Opt("--bpe-merges", "Merges to learn for --tokenizer bpe", d.BpeMerges);
        var arch = Opt("--arch", ChoiceNames.Alternatives<ModelArchitecture>(), ChoiceNames.Name(d.Architecture));
        var preset = Opt("--preset", $"Model preset to start from: {ChoiceNames.Alternatives<ModelPreset>()}", ChoiceNames.Name(d.Preset));
        var residual = Opt<string?>("--residual", "Residual policy (default: the preset's): " +
                                                  string.Join(", ", ResidualPolicies.All.Select(p => $"{p.Name} ({p.Equation})")));
        var layers = Opt<int?>("--layers", "Transformer blocks");
        var heads = Opt<int?>("--heads", "Attention heads");
        var kvHeads = Opt<int?>("--kv-heads", "Key/value heads of a Llama model (grouped-query attention; must divide --heads)");
        var width = Opt<int?>("--width", "Width of the residual stream");
        var modelContext = Opt<int?>("--model-context", "Model's maximum context length (default: the preset's)");
        var dropout = Opt<float?>("--dropout", "Dropout probability");
        var init = Opt("--init", "Weight init: gpt2 (N(0, 0.02), scaled projections), torch (PyTorch module defaults, as the book) or admin (gpt2, then Admin's shortcut weights from a profiling pass; selects --residual admin)", ChoiceNames.Name(d.Init));
        var steps = Opt("--steps", "Optimizer steps (with --resume: the run's own unless given)", o.Steps);
        var epochs = Opt<int?>("--epochs", "Epochs over the training windows (with --sampler windows)");
        var batch = Opt("--batch", "Sequences per micro-batch", o.BatchSize);
        var context = Opt<int?>("--context", "Tokens per training sequence (default: the model's context length)");
        var accumulation = Opt("--accumulation", "Micro-batches per optimizer step", o.GradientAccumulation);
        var lr = Opt("--lr", "Peak learning rate", o.LearningRate);
        var minLr = Opt<double?>("--min-lr", "Cosine floor (default lr/10)");
        var warmup = Opt("--warmup", "Warmup steps", o.WarmupSteps);
        var constantLr = Opt("--constant-lr", "Keep the rate constant after warmup (no cosine decay)", !o.CosineDecay);
        var weightDecay = Opt("--weight-decay", "AdamW weight decay (matrices only)", o.WeightDecay);
        var beta2 = Opt("--beta2", "AdamW beta2", o.Beta2);
        var clip = Opt("--clip", "Gradient clipping global norm (0: off)", o.GradientClip);
        var sampler = Opt("--sampler", "random (nanoGPT offsets) or windows (sliding windows per epoch)", ChoiceNames.Name(d.Sampler));
        var stride = Opt<int?>("--stride", "Stride between sliding windows (default: --context)");
        var split = Opt("--split", "Fraction of tokens used for training", d.TrainFraction);
        var corpusChars = Opt("--corpus-chars", "Characters of built-in corpus to generate", d.CorpusCharacters);
        var evalInterval = Opt("--eval-interval", "Evaluate every N steps (0: only at the end)", o.EvalInterval);
        var evalBatches = Opt("--eval-batches", "Validation batches per evaluation", o.EvalBatches);
        var checkpointInterval = Opt("--checkpoint-interval", "Save every N steps (0: at each evaluation)", o.CheckpointInterval);
        var skipNonFinite = Opt("--skip-nonfinite", "Skip steps with a NaN/inf loss or gradient instead of stopping", o.SkipNonFinite);
        var seed = Opt("--seed", "Seed for init, data order, dropout and sampling", o.Seed);
        var sampleTokens = Opt("--sample-tokens", "Tokens to generate as a sample at each evaluation", d.SampleTokens);
        var output = Opt<string?>("--out", "Run folder for checkpoints and metrics (default: runs/<time>)");
        var resume = Opt<string?>("--resume", "Continue the run saved in this folder");
        var dataParallel = Opt("--data-parallel", "Replicas per batch, each on its own thread (0: one per thread for models up to 16M parameters, 1: off)", d.DataParallel);
        var distributed = Opt("--distributed", "none, or mpi: one rank per process under mpirun -np N, each taking --batch sequences of every global batch of N x --batch", ChoiceNames.Name(d.Distributed));
        var bucketMb = Opt("--bucket-mb", "With --distributed: megabytes of gradients per all-reduce, each reduced while backward goes on (0: one all-reduce after backward)", Trainer.DefaultBucketMegabytes);
        var json = Opt("--json", "End with a one-line JSON summary", false);
        foreach (Option option in new Option[] { data, tokenizer, vocab, bpeMerges, arch, preset, residual, layers, heads, kvHeads, width, modelContext, dropout, init,
                     steps, epochs, batch, context, accumulation, lr, minLr, warmup, constantLr, weightDecay, beta2, clip, sampler, stride, split,
                     corpusChars, evalInterval, evalBatches, checkpointInterval, skipNonFinite, seed, sampleTokens, output, resume, dataParallel, distributed, bucketMb, json })
            cmd.Options.Add(option);

        cmd.SetAction(parse => CliErrors.Run(Flags, () =>
        {
            var backend = ChoiceNames.Parse<DistributedKind>(parse.GetValue(distributed)!, "--distributed");
            return DistributedCli.Run(backend, Flags, communicator => Train(parse, backend, communicator));
        }));

        int Train(ParseResult parse, DistributedKind backend, ICommunicator communicator)
        {
            TrainingSession session;
            if (parse.GetValue(resume) is string resumeFolder)
            {
                int? moreSteps = parse.GetResult(steps) is { Implicit: false } ? parse.GetValue(steps) : null;
                session = TrainingSession.Resume(resumeFolder, moreSteps, parse.GetValue(dataParallel), communicator, backend, parse.GetValue(bucketMb));
            }
            else
            {
                var architecture = ChoiceNames.Parse<ModelArchitecture>(parse.GetValue(arch)!, "--arch");
                var modelPreset = ChoiceNames.Parse<ModelPreset>(parse.GetValue(preset)!, "--preset");
                var options = new TrainingOptions
                {
                    Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch),
                    Context = parse.GetValue(context) ?? ModelFactory.ContextLength(architecture, modelPreset, parse.GetValue(modelContext)),
                    GradientAccumulation = parse.GetValue(accumulation), LearningRate = parse.GetValue(lr), MinLearningRate = parse.GetValue(minLr),
                    WarmupSteps = parse.GetValue(warmup), CosineDecay = !parse.GetValue(constantLr), WeightDecay = parse.GetValue(weightDecay),
                    Beta2 = parse.GetValue(beta2), GradientClip = parse.GetValue(clip), EvalInterval = parse.GetValue(evalInterval),
                    EvalBatches = parse.GetValue(evalBatches), CheckpointInterval = parse.GetValue(checkpointInterval),
                    SkipNonFinite = parse.GetValue(skipNonFinite), Seed = parse.GetValue(seed),
                };
                var spec = new TrainingSpec
                {
                    DataPath = parse.GetValue(data), Tokenizer = ChoiceNames.Parse<TokenizerKind>(parse.GetValue(tokenizer)!, "--tokenizer"),
                    VocabDirectory = parse.GetValue(vocab), BpeMerges = parse.GetValue(bpeMerges), Architecture = architecture, Preset = modelPreset,
                    Residual = ParseResidual(parse.GetValue(residual)), Layers = parse.GetValue(layers), Heads = parse.GetValue(heads), KvHeads = parse.GetValue(kvHeads),
                    Width = parse.GetValue(width), ModelContext = parse.GetValue(modelContext), Dropout = parse.GetValue(dropout),
                    Init = ChoiceNames.Parse<WeightInit>(parse.GetValue(init)!, "--init"),
                    Epochs = parse.GetValue(epochs), Sampler = ChoiceNames.Parse<SamplerKind>(parse.GetValue(sampler)!, "--sampler"), Stride = parse.GetValue(stride),
                    TrainFraction = parse.GetValue(split), CorpusCharacters = parse.GetValue(corpusChars), Options = options,
                    SampleTokens = parse.GetValue(sampleTokens), DataParallel = parse.GetValue(dataParallel), Distributed = backend, BucketMegabytes = parse.GetValue(bucketMb),
                    OutputDirectory = parse.GetValue(output) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)),
                };
                if (communicator.Rank == 0) CheckOutputFolder(spec.OutputDirectory!);
                session = TrainingSession.Create(spec, communicator);
            }
            return Run(session, parse.GetValue(json));
        }
        return cmd;
    }

    /// <summary>
    /// The flag that sets each property of <see cref="TrainingSpec"/>, <see cref="TrainingOptions"/> and the model config
    /// they build, so that a library message about, say, LearningRate reads --lr.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>
    {
        [nameof(TrainingSpec.DataPath)] = "--data", [nameof(TrainingSpec.CorpusCharacters)] = "--corpus-chars",
        [nameof(TrainingSpec.Tokenizer)] = "--tokenizer", [nameof(TrainingSpec.VocabDirectory)] = "--vocab", [nameof(TrainingSpec.BpeMerges)] = "--bpe-merges",
        [nameof(TrainingSpec.TrainFraction)] = "--split", [nameof(TrainingSpec.Sampler)] = "--sampler", [nameof(TrainingSpec.Stride)] = "--stride",
        [nameof(TrainingSpec.Epochs)] = "--epochs", [nameof(TrainingSpec.Architecture)] = "--arch", [nameof(TrainingSpec.Preset)] = "--preset",
        [nameof(TrainingSpec.Layers)] = "--layers", [nameof(TrainingSpec.Heads)] = "--heads", [nameof(TrainingSpec.KvHeads)] = "--kv-heads", [nameof(TrainingSpec.Width)] = "--width",
        [nameof(TrainingSpec.ModelContext)] = "--model-context", [nameof(TrainingSpec.Dropout)] = "--dropout", [nameof(TrainingSpec.Residual)] = "--residual",
        [nameof(TrainingSpec.Init)] = "--init", [nameof(TrainingSpec.OutputDirectory)] = "--out", [nameof(TrainingSpec.SampleTokens)] = "--sample-tokens",
        [nameof(TrainingSpec.DataParallel)] = "--data-parallel", [nameof(TrainingSpec.Distributed)] = "--distributed", [nameof(TrainingSpec.BucketMegabytes)] = "--bucket-mb",
        [nameof(TrainingOptions.Steps)] = "--steps", [nameof(TrainingOptions.BatchSize)] = "--batch", [nameof(TrainingOptions.Context)] = "--context",
        [nameof(TrainingOptions.GradientAccumulation)] = "--accumulation", [nameof(TrainingOptions.LearningRate)] = "--lr",
        [nameof(TrainingOptions.MinLearningRate)] = "--min-lr", [nameof(TrainingOptions.WarmupSteps)] = "--warmup",
        [nameof(TrainingOptions.CosineDecay)] = "--constant-lr", [nameof(TrainingOptions.WeightDecay)] = "--weight-decay",
        [nameof(TrainingOptions.Beta2)] = "--beta2", [nameof(TrainingOptions.GradientClip)] = "--clip", [nameof(TrainingOptions.EvalInterval)] = "--eval-interval",
        [nameof(TrainingOptions.EvalBatches)] = "--eval-batches", [nameof(TrainingOptions.CheckpointInterval)] = "--checkpoint-interval",
        [nameof(TrainingOptions.SkipNonFinite)] = "--skip-nonfinite", [nameof(TrainingOptions.Seed)] = "--seed",
        // The model config's names for the same settings (a preset's width that --heads does not divide, say).
        [nameof(GptConfig.HeadCount)] = "--heads", [nameof(LlamaConfig.KeyValueHeadCount)] = "--kv-heads", [nameof(GptConfig.LayerCount)] = "--layers", [nameof(GptConfig.ContextLength)] = "--model-context",
    };

    static Option<T> Opt<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };

    static Option<T> Opt<T>(string name, string description) => new(name) { Description = description };

    internal static ResidualMode? ParseResidual(string? text) => text is null ? null : ResidualPolicies.Parse(text, "--residual");

    /// <summary>Fails early (before any work) when the output folder cannot be created or written.</summary>
    static void CheckOutputFolder(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, ".write-test-" + Guid.NewGuid().ToString("N"));
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"cannot write there ({e.Message})", folder, "--out");
        }
    }

    static int Run(TrainingSession session, bool json)
    {
        var trainer = session.Trainer;
        var model = session.Model;
        var info = ModelInfo.Of(model);
        Console.WriteLine($"model: {info.Architecture}, {info.Parameters:N0} parameters, {model.Blocks.Count} blocks, residual {model.ResidualMode}, context {model.ContextLength}");
        Console.WriteLine($"data: {(session.Spec.DataPath ?? "built-in corpus")}, tokenizer {session.Tokenizer.Kind} ({session.Tokenizer.VocabSize} tokens), {session.TrainTokens:N0} train / {session.ValidationTokens:N0} validation tokens");
        if (session.EntropyFloor is double floor)
            Console.WriteLine($"entropy floor of the generated corpus: {floor:F4} nats/char (no model can average below it; " +
                $"with windows of {trainer.Options.Context} characters the best possible is {session.IdealWindowLoss:F4})");
        Console.WriteLine($"run: {trainer.Options.Steps} steps of {trainer.Options.BatchSize}x{trainer.Options.Context} tokens, output {session.Spec.OutputDirectory}" +
            (trainer.Step > 0 ? $", resuming at step {trainer.Step}" : ""));
        Console.WriteLine($"threads: {session.Model.Context.Threads.ThreadCount}" + (trainer.Shards > 1 ? $", each batch split into {trainer.Shards} data-parallel replicas" : "") +
            (trainer.Communicator.Size > 1 ? $"; {trainer.Communicator.Size} MPI ranks, global batch {trainer.Communicator.Size * trainer.Options.BatchSize} sequences (--batch per rank)" : ""));

        // Ctrl-C: the run finishes the current step, saves a checkpoint and returns.
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var progress = new ProgressLine(trainer.Options.Steps, trainer.Step);
        TrainingSummary summary;
        try
        {
            summary = new TrainingRun(session).Run(report =>
            {
                switch (report)
                {
                    case StepTaken step:
                        progress.Update(step.Result.Step, step.SmoothedLoss, step.Tokens / step.Seconds);
                        break;
                    case Evaluated { Result: var result }:
                        progress.Finish();
                        string floorText = session.EntropyFloor is double f ? $", floor {f:F4} (+{(result.ValidationLoss / f - 1) * 100:F1}%)" : "";
                        Console.WriteLine($"step {result.Step}: train {result.TrainLoss:F4}, val {result.ValidationLoss:F4}{floorText}");
                        if (result.Sample is not null) Console.WriteLine("  sample: " + OneLine(result.Sample));
                        break;
                }
            }, stop.Token);
        }
        catch (NonFiniteException e)
        {
            progress.Finish();
            Console.Error.WriteLine($"error: {e.Message}; lower --lr or use --skip-nonfinite");
            return 3;
        }
        finally { Console.CancelKeyPress -= onCancel; }
        progress.Finish();
        if (summary.Cancelled)
        {
            Console.WriteLine($"interrupted at step {summary.Steps}: checkpoint saved to {summary.Checkpoint}; continue with --resume {session.Spec.OutputDirectory}");
            return 130;
        }
        double seconds = summary.Seconds;
        string floorSummary = session.EntropyFloor is double ef ? $", entropy floor {ef:F4} (val is {(summary.ValidationLoss / ef - 1) * 100:F1}% above)" : "";
        Console.WriteLine($"done: {summary.Steps} steps in {seconds:F1} s, train loss {summary.TrainLoss:F4}, val loss {summary.ValidationLoss:F4}{floorSummary}, " +
                          $"{summary.Tokens / seconds:F0} tokens/s; model saved in {summary.Checkpoint ?? "(nowhere)"}");
        if (trainer.Averager is { } averager && summary.StepSeconds > 0)
            Console.WriteLine($"all-reduce: {summary.ReduceSeconds:F2} s of {summary.StepSeconds:F2} s of steps ({summary.ReduceSeconds / summary.StepSeconds * 100:F1}%), " +
                $"{summary.ExposedReduceSeconds:F2} s waited for after backward ({summary.ExposedReduceSeconds / summary.StepSeconds * 100:F1}%); " +
                $"{averager.Buckets} bucket{(averager.Buckets == 1 ? "" : "s")}, " + (averager.Overlaps ? (averager.Buckets == 1 ? "" : "each ") + "reduced as soon as backward has finished its gradients" : "reduced after backward"));
        if (json)
        {
            var line = new Dictionary<string, object?>
            {
                ["steps"] = summary.Steps, ["train_loss"] = Round(summary.TrainLoss), ["last_step_loss"] = Round(summary.LastStepLoss),
                ["val_loss"] = Round(summary.ValidationLoss), ["seconds"] = Math.Round(seconds, 2), ["tokens_per_s"] = Math.Round(summary.Tokens / seconds),
                ["out"] = session.Spec.OutputDirectory,
            };
            if (trainer.Communicator.Size > 1)
            {
                line["ranks"] = trainer.Communicator.Size;
                line["step_seconds"] = Math.Round(summary.StepSeconds, 3);
                line["allreduce_seconds"] = Math.Round(summary.ReduceSeconds, 3);
                line["allreduce_exposed_seconds"] = Math.Round(summary.ExposedReduceSeconds, 3);
            }
            if (session.EntropyFloor is double e) { line["entropy_floor"] = Round(e); line["ideal_window_loss"] = Round(session.IdealWindowLoss ?? double.NaN); }
            Console.WriteLine(JsonSerializer.Serialize(line));
        }
        return 0;
    }

    static double? Round(double value) => double.IsFinite(value) ? Math.Round(value, 5) : null;

    static string OneLine(string text) => text.Replace("\r", "").Replace("\n", "⏎");
}
