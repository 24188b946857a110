// `rlm train`: trains a model (by default a small GPT on the built-in corpus) with a live progress line, periodic
// evaluation with a sample, a metrics file, atomic checkpoints, Ctrl-C saving, and a one-line (or JSON) summary.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ResidualLM.Models;
using ResidualLM.Training;

namespace ResidualLM.Cli.Commands;

/// <summary>The train command.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train", "Train a language model (default: a small GPT on the built-in generated corpus, about 2.5 minutes on 2 cores)");
        var data = Opt<string?>("--data", "Text file to train on (default: the built-in generated corpus)");
        var tokenizer = Opt("--tokenizer", "char, byte, bpe or gpt2", "char");
        var vocab = Opt<string?>("--vocab", "Folder with GPT-2's encoder.json and vocab.bpe (for --tokenizer gpt2)");
        var bpeMerges = Opt("--bpe-merges", "Merges to learn for --tokenizer bpe", 512);
        var arch = Opt("--arch", "gpt or llama", "gpt");
        var preset = Opt("--preset", "Model preset to start from (tiny, shakespeare-char, deep-narrow, gpt2-124m, ...)", "tiny");
        var residual = Opt<string?>("--residual", "Residual policy: none, prenorm, postnorm, rezero, deepnorm");
        var layers = Opt<int?>("--layers", "Transformer blocks");
        var heads = Opt<int?>("--heads", "Attention heads");
        var width = Opt<int?>("--width", "Width of the residual stream");
        var modelContext = Opt<int?>("--model-context", "Model's maximum context length (default: the preset's, at least --context)");
        var dropout = Opt<float?>("--dropout", "Dropout probability");
        var init = Opt("--init", "Weight init: gpt2 (N(0, 0.02), scaled projections) or torch (PyTorch module defaults, as the book)", "gpt2");
        var steps = Opt<int?>("--steps", "Optimizer steps (default 2000)");
        var epochs = Opt<int?>("--epochs", "Epochs over the training windows (with --sampler windows)");
        var batch = Opt("--batch", "Sequences per micro-batch", 16);
        var context = Opt<int?>("--context", "Tokens per training sequence (default: the model's context length)");
        var accumulation = Opt("--accumulation", "Micro-batches per optimizer step", 1);
        var lr = Opt("--lr", "Peak learning rate", 2e-3);
        var minLr = Opt<double?>("--min-lr", "Cosine floor (default lr/10)");
        var warmup = Opt("--warmup", "Warmup steps", 50);
        var constantLr = Opt("--constant-lr", "Keep the rate constant after warmup (no cosine decay)", false);
        var weightDecay = Opt("--weight-decay", "AdamW weight decay (matrices only)", 0.1);
        var beta2 = Opt("--beta2", "AdamW beta2", 0.99);
        var clip = Opt("--clip", "Gradient clipping global norm (0: off)", 1.0);
        var sampler = Opt("--sampler", "random (nanoGPT offsets) or windows (sliding windows per epoch)", "random");
        var stride = Opt<int?>("--stride", "Stride between sliding windows (default: --context)");
        var split = Opt("--split", "Fraction of tokens used for training", 0.9);
        var corpusChars = Opt("--corpus-chars", "Characters of built-in corpus to generate", 1_000_000);
        var evalInterval = Opt("--eval-interval", "Evaluate every N steps", 500);
        var evalBatches = Opt("--eval-batches", "Validation batches per evaluation", 20);
        var checkpointInterval = Opt("--checkpoint-interval", "Save every N steps (0: at each evaluation)", 0);
        var skipNonFinite = Opt("--skip-nonfinite", "Skip steps with a NaN/inf loss or gradient instead of stopping", false);
        var seed = Opt("--seed", "Seed for init, data order, dropout and sampling", 1337);
        var sampleTokens = Opt("--sample-tokens", "Tokens to generate as a sample at each evaluation", 120);
        var output = Opt<string?>("--out", "Run folder for checkpoints and metrics (default: runs/<time>)");
        var resume = Opt<string?>("--resume", "Continue the run saved in this folder");
        var dataParallel = Opt("--data-parallel", "Replicas per batch, each on its own thread (0: one per thread for models up to 16M parameters, 1: off)", 0);
        var json = Opt("--json", "End with a one-line JSON summary", false);
        foreach (Option o in new Option[] { data, tokenizer, vocab, bpeMerges, arch, preset, residual, layers, heads, width, modelContext, dropout, init,
                     steps, epochs, batch, context, accumulation, lr, minLr, warmup, constantLr, weightDecay, beta2, clip, sampler, stride, split,
                     corpusChars, evalInterval, evalBatches, checkpointInterval, skipNonFinite, seed, sampleTokens, output, resume, dataParallel, json })
            cmd.Options.Add(o);

        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            TrainingSession session;
            if (parse.GetValue(resume) is string resumeFolder)
            {
                session = TrainingSession.Resume(resumeFolder, parse.GetValue(steps), parse.GetValue(dataParallel));
            }
            else
            {
                var options = new TrainingOptions
                {
                    Steps = parse.GetValue(steps) ?? 2000, BatchSize = parse.GetValue(batch),
                    Context = parse.GetValue(context) ?? TrainingSession.PresetContext(parse.GetValue(arch)!, parse.GetValue(preset)!, parse.GetValue(modelContext)),
                    GradientAccumulation = parse.GetValue(accumulation), LearningRate = parse.GetValue(lr), MinLearningRate = parse.GetValue(minLr),
                    WarmupSteps = parse.GetValue(warmup), CosineDecay = !parse.GetValue(constantLr), WeightDecay = parse.GetValue(weightDecay),
                    Beta2 = parse.GetValue(beta2), GradientClip = parse.GetValue(clip), EvalInterval = parse.GetValue(evalInterval),
                    EvalBatches = parse.GetValue(evalBatches), CheckpointInterval = parse.GetValue(checkpointInterval),
                    SkipNonFinite = parse.GetValue(skipNonFinite), Seed = parse.GetValue(seed),
                };
                var spec = new TrainingSpec
                {
                    DataPath = parse.GetValue(data), Tokenizer = parse.GetValue(tokenizer)!, VocabDirectory = parse.GetValue(vocab),
                    BpeMerges = parse.GetValue(bpeMerges), Architecture = parse.GetValue(arch)!, Preset = parse.GetValue(preset)!,
                    Residual = ParseResidual(parse.GetValue(residual)), Layers = parse.GetValue(layers), Heads = parse.GetValue(heads),
                    Width = parse.GetValue(width), ModelContext = parse.GetValue(modelContext), Dropout = parse.GetValue(dropout), Init = parse.GetValue(init)!,
                    Epochs = parse.GetValue(epochs), Sampler = parse.GetValue(sampler)!, Stride = parse.GetValue(stride),
                    TrainFraction = parse.GetValue(split), CorpusCharacters = parse.GetValue(corpusChars), Options = options,
                    SampleTokens = parse.GetValue(sampleTokens), DataParallel = parse.GetValue(dataParallel),
                    OutputDirectory = parse.GetValue(output) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)),
                };
                CheckOutputFolder(spec.OutputDirectory!);
                session = TrainingSession.Create(spec);
            }
            return Run(session, parse.GetValue(json));
        }));
        return cmd;
    }

    static Option<T> Opt<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };

    static Option<T> Opt<T>(string name, string description) => new(name) { Description = description };

    internal static ResidualMode? ParseResidual(string? text) => text?.ToLowerInvariant() switch
    {
        null => null,
        "none" or "plain" => ResidualMode.None,
        "prenorm" or "pre" or "pre-norm" => ResidualMode.PreNorm,
        "postnorm" or "post" or "post-norm" => ResidualMode.PostNorm,
        "rezero" => ResidualMode.ReZero,
        "deepnorm" => ResidualMode.DeepNorm,
        _ => throw new InvalidInputException($"must be none, prenorm, postnorm, rezero or deepnorm, got '{text}'", field: "--residual"),
    };

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
        Console.WriteLine($"threads: {session.Model.Context.Threads.ThreadCount}" + (trainer.Shards > 1 ? $", each batch split into {trainer.Shards} data-parallel replicas" : ""));

        // Ctrl-C: finish the current step, save a checkpoint and exit cleanly.
        bool interrupted = false;
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; interrupted = true; };
        Console.CancelKeyPress += onCancel;
        var clock = Stopwatch.StartNew();
        var progress = new ProgressLine(trainer.Options.Steps, trainer.Step);
        double lastTrain = double.NaN, lastValidation = double.NaN, lastTrainEvaluation = double.NaN, smoothed = double.NaN;
        long tokens = 0;
        try
        {
            while (trainer.Step < trainer.Options.Steps && !interrupted)
            {
                StepResult step;
                try { step = trainer.TrainStep(); }
                catch (NonFiniteException e)
                {
                    progress.Finish();
                    Console.Error.WriteLine($"error: {e.Message}");
                    return 3;
                }
                tokens += step.Tokens;
                lastTrain = step.Loss;
                smoothed = double.IsNaN(smoothed) ? step.Loss : 0.9 * smoothed + 0.1 * step.Loss;
                progress.Update(step.Step, smoothed, tokens / clock.Elapsed.TotalSeconds);
                session.LogMetrics(new { step = step.Step, loss = step.Loss, lr = step.LearningRate, grad_norm = step.GradientNorm, seconds = clock.Elapsed.TotalSeconds, skipped = step.Skipped });
                bool evaluate = trainer.EvaluationDue;
                if (evaluate)
                {
                    var result = session.Evaluate();
                    lastValidation = result.ValidationLoss;
                    lastTrainEvaluation = result.TrainLoss;
                    progress.Finish();
                    string floorText = session.EntropyFloor is double f ? $", floor {f:F4} (+{(result.ValidationLoss / f - 1) * 100:F1}%)" : "";
                    Console.WriteLine($"step {result.Step}: train {result.TrainLoss:F4}, val {result.ValidationLoss:F4}{floorText}");
                    if (result.Sample is not null) Console.WriteLine("  sample: " + OneLine(result.Sample));
                    session.LogMetrics(new { step = result.Step, train_eval_loss = result.TrainLoss, val_loss = result.ValidationLoss, sample = result.Sample });
                }
                int every = trainer.Options.CheckpointInterval;
                if ((every > 0 && trainer.Step % every == 0) || (every == 0 && evaluate)) session.SaveCheckpoint();
            }
            if (interrupted)
            {
                progress.Finish();
                string? folder = session.SaveCheckpoint();
                Console.WriteLine($"interrupted at step {trainer.Step}: checkpoint saved to {folder}; continue with --resume {session.Spec.OutputDirectory}");
                return 130;
            }
        }
        finally { Console.CancelKeyPress -= onCancel; }
        if (double.IsNaN(lastValidation)) { lastValidation = trainer.Evaluate(); lastTrainEvaluation = trainer.EvaluateTrain(); }
        string? saved = session.SaveCheckpoint();
        double seconds = clock.Elapsed.TotalSeconds;
        progress.Finish();
        string floorSummary = session.EntropyFloor is double ef ? $", entropy floor {ef:F4} (val is {(lastValidation / ef - 1) * 100:F1}% above)" : "";
        Console.WriteLine($"done: {trainer.Step} steps in {seconds:F1} s, train loss {lastTrainEvaluation:F4}, val loss {lastValidation:F4}{floorSummary}, {tokens / seconds:F0} tokens/s; model saved in {saved ?? "(nowhere)"}");
        if (json)
        {
            var summary = new Dictionary<string, object?>
            {
                ["steps"] = trainer.Step, ["train_loss"] = Round(lastTrainEvaluation), ["last_step_loss"] = Round(lastTrain), ["val_loss"] = Round(lastValidation),
                ["seconds"] = Math.Round(seconds, 2), ["tokens_per_s"] = Math.Round(tokens / seconds), ["out"] = session.Spec.OutputDirectory,
            };
            if (session.EntropyFloor is double e) { summary["entropy_floor"] = Round(e); summary["ideal_window_loss"] = Round(session.IdealWindowLoss ?? double.NaN); }
            Console.WriteLine(JsonSerializer.Serialize(summary));
        }
        return 0;
    }

    static double? Round(double value) => double.IsFinite(value) ? Math.Round(value, 5) : null;

    static string OneLine(string text) => text.Replace("\r", "").Replace("\n", "⏎");
}
