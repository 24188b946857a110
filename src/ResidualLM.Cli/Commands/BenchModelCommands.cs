// `rlm bench train` and `rlm bench generate`: full training steps (forward + backward + AdamW) and greedy decoding
// of preset-shaped GPTs with random weights, so no download is needed. Shapes match ../shared/bench/torch_gpt_bench.py.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ResidualLM.Distributed;
using ResidualLM.Generation;
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Training;

namespace ResidualLM.Cli.Commands;

/// <summary>Model-level benchmarks.</summary>
public static class BenchModelCommands
{
    /// <summary>A benchmark preset: model shape and the batch the reference benchmark uses.</summary>
    public sealed record BenchPreset(string Name, GptConfig Config, int Batch, int Time);

    /// <summary>
    /// The presets of torch_gpt_bench.py: GPT-2 layout with biases and a tied head, dropout off, tanh GELU.
    /// </summary>
    public static BenchPreset Preset(string name) => name.ToLowerInvariant() switch
    {
        "gpt2-124m" => new(name, GptConfig.Preset("gpt2") with { Dropout = 0f }, 4, 64),
        "shakespeare-char" => new(name, GptConfig.Preset("shakespeare-char") with { QkvBias = true, TieWeights = true }, 12, 64),
        "deep-narrow" => new(name, GptConfig.Preset("deep-narrow") with { QkvBias = true, TieWeights = true }, 8, 64),
        "tiny" => new(name, GptConfig.Preset("tiny"), 16, 64),
        _ => throw new InvalidInputException($"unknown benchmark preset '{name}' (expected gpt2-124m, shakespeare-char, deep-narrow or tiny)", field: "--preset"),
    };

    public static Command CreateTrain()
    {
        var preset = new Option<string>("--preset") { Description = "gpt2-124m, shakespeare-char, deep-narrow or tiny", DefaultValueFactory = _ => "shakespeare-char" };
        var steps = new Option<int>("--steps") { Description = "Timed steps (after 3 warm-up steps)", DefaultValueFactory = _ => 10 };
        var batch = new Option<int?>("--batch") { Description = "Sequences per step (default: the preset's)" };
        var dataParallel = new Option<int>("--data-parallel") { Description = "Shards per batch, one replica each (0: as rlm train chooses, 1: off)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON line" };
        var distributed = new Option<string>("--distributed") { Description = "none, or mpi: under mpirun -np N, each rank steps on --batch sequences and the gradients are all-reduced", DefaultValueFactory = _ => "none" };
        var bucketMb = new Option<double>("--bucket-mb") { Description = "With --distributed: megabytes per all-reduce bucket, reduced during backward (0: one all-reduce after backward)", DefaultValueFactory = _ => Trainer.DefaultBucketMegabytes };
        var cmd = new Command("train", "Milliseconds per training step (forward + backward + AdamW), median after warm-up; with --distributed mpi, the all-reduce's share");
        foreach (Option o in new Option[] { preset, steps, batch, dataParallel, distributed, bucketMb, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var backend = ChoiceNames.Parse<DistributedKind>(parse.GetValue(distributed)!, "--distributed");
            var benchPreset = WithBatch(Preset(parse.GetValue(preset)!), parse.GetValue(batch));
            double bucket = parse.GetValue(bucketMb);
            if (!(bucket >= 0 && bucket <= 1 << 20)) throw new InvalidInputException($"must be between 0 and {1 << 20}, got {bucket}", field: "--bucket-mb");
            return DistributedCli.Run(backend, null, communicator =>
                RunTrain(benchPreset, parse.GetValue(steps), parse.GetValue(dataParallel), parse.GetValue(json), communicator, bucket));
        }));
        return cmd;
    }

    public static Command CreateGenerate()
    {
        var preset = new Option<string>("--preset") { Description = "gpt2-124m, shakespeare-char, deep-narrow or tiny", DefaultValueFactory = _ => "gpt2-124m" };
        var prompt = new Option<int>("--prompt") { Description = "Prompt tokens", DefaultValueFactory = _ => 16 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens to generate", DefaultValueFactory = _ => 64 };
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute the window for every token" };
        var reps = new Option<int>("--reps") { Description = "Repetitions (median reported)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print one JSON line" };
        var weights = new Option<string>("--weights") { Description = "Matrices in f32, q8_0 or q4_0 (ggml's block formats)", DefaultValueFactory = _ => "f32" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "The prompt as comma-separated token ids (instead of --prompt random ids), e.g. to match llamacpp_bench" };
        var showTokens = new Option<bool>("--show-tokens") { Description = "Also print the generated token ids (JSON field tokens)" };
        var modelPath = new Option<string?>("--model") { Description = "Time this model instead of a preset's random weights: a GGUF file (llama.cpp's gpt2) or a model folder" };
        var cmd = new Command("generate", "Greedy decoding tokens/s at batch 1 (random weights, or --model)");
        foreach (Option o in new Option[] { preset, prompt, newTokens, noCache, reps, weights, modelPath, promptIds, showTokens, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var blockFormat = ParseWeights(parse.GetValue(weights));
            string? path = parse.GetValue(modelPath);
            var (name, model) = path is null ? PresetModel(Preset(parse.GetValue(preset)!)) : (Path.GetFileName(Path.TrimEndingDirectorySeparator(path)), LoadModel(path));
            int[]? ids = parse.GetValue(promptIds) is { } text ? LogitsCommand.ParseTokens(text, model.VocabSize, model.ContextLength) : null;
            return RunGenerate(name, model, ids, parse.GetValue(prompt), parse.GetValue(newTokens), !parse.GetValue(noCache), parse.GetValue(reps), blockFormat,
                parse.GetValue(showTokens), parse.GetValue(json));
        }));
        return cmd;
    }

    static BenchPreset WithBatch(BenchPreset preset, int? batch) => batch switch
    {
        null => preset,
        < 1 => throw new InvalidInputException($"must be positive, got {batch}", field: "--batch"),
        _ => preset with { Batch = batch.Value },
    };

    static int RunTrain(BenchPreset preset, int steps, int dataParallel, bool json, ICommunicator communicator, double bucketMegabytes)
    {
        if (steps < 1) throw new InvalidInputException($"must be positive, got {steps}", field: "--steps");
        if (dataParallel < 0) throw new InvalidInputException($"must be >= 0, got {dataParallel}", field: "--data-parallel");
        var model = new Gpt(preset.Config, 1337);
        var threads = model.Context.Threads;
        int shards = DataParallel.ChooseShards(model, preset.Batch, threads.ThreadCount, dataParallel);
        var replicas = shards > 1 ? new DataParallel(model, shards) : null;
        int ranks = communicator.Size;
        // Distributed: every rank its own random batch; the gradients averaged as rlm train --distributed does.
        using var averager = ranks > 1 ? GradientAverager.WithBuckets(model.NamedParameters().Select(p => p.Tensor), communicator, bucketMegabytes) : null;
        var rng = new Rng(7 + (ulong)communicator.Rank);
        var reduceTimes = new List<double>();
        var exposedTimes = new List<double>();
        int b = preset.Batch, t = preset.Time, v = preset.Config.VocabSize;
        var optimizer = new AdamW(model.NamedParameters(), new AdamWSettings { LearningRate = 3e-4f, WeightDecay = 0.1f }, threads: threads);
        var inputs = new int[b * t];
        var targets = new int[b * t];
        var times = new List<double>();
        long allocatedBefore = 0;
        int[] collectionsBefore = [];
        for (int i = 0; i < steps + 3; i++)
        {
            if (i == 3)
            {
                allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                collectionsBefore = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
            }
            for (int j = 0; j < inputs.Length; j++) { inputs[j] = rng.NextInt(v); targets[j] = rng.NextInt(v); }
            var clock = Stopwatch.StartNew();
            model.ZeroGrad(reuseBuffers: true);
            if (replicas is not null) replicas.ForwardBackward(model.Forward, inputs, targets, b, t);
            else
            {
                var loss = LanguageModel.Loss(threads, model.Forward(inputs, b, t).Reshape(b * t, v), targets);
                if (averager is not null) averager.Backward(loss);
                else loss.Backward(reuseBuffers: true);
            }
            averager?.Complete();
            optimizer.Step();
            if (i >= 3)
            {
                times.Add(clock.Elapsed.TotalMilliseconds);
                if (averager is not null) { reduceTimes.Add(averager.ReduceSeconds * 1000); exposedTimes.Add(averager.ExposedSeconds * 1000); }
            }
        }
        // Steady-state allocation: what the timed steps hand the GC, and how often it had to run.
        double allocatedPerStep = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)steps / (1 << 20);
        int[] collections = [GC.CollectionCount(0) - collectionsBefore[0], GC.CollectionCount(1) - collectionsBefore[1], GC.CollectionCount(2) - collectionsBefore[2]];
        times.Sort();
        double median = times[times.Count / 2];
        double tokensPerSecond = ranks * b * t / (median / 1000);
        if (averager is not null)
        {
            reduceTimes.Sort();
            exposedTimes.Sort();
            double reduce = reduceTimes[reduceTimes.Count / 2], exposed = exposedTimes[exposedTimes.Count / 2];
            long bytes = model.ParameterCount() * sizeof(float);
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    preset = preset.Name, ranks, batch_per_rank = b, ms_per_step = Math.Round(median, 1), compute_ms = Math.Round(median - exposed, 1),
                    allreduce_ms = Math.Round(reduce, 1), allreduce_exposed_ms = Math.Round(exposed, 1), buckets = averager.Buckets, overlap = averager.Overlaps,
                    gradient_mb = Math.Round(bytes / 1e6, 1), tokens_per_s = Math.Round(tokensPerSecond, 1), threads = threads.ThreadCount, isa = VectorIsa.Name, shards,
                }));
            else
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"train {preset.Name} ({ranks} ranks x B {b}, T {t}, {model.ParameterCount():N0} parameters, {threads.ThreadCount} threads per rank, isa {VectorIsa.Name}): {median:F1} ms/step (min {times[0]:F1}, max {times[^1]:F1}), " +
                    $"compute {median - exposed:F1} ms, all-reduce {reduce:F1} ms of which {exposed:F1} ms exposed ({averager.Buckets} bucket{(averager.Buckets == 1 ? "" : "s")} of {bytes / 1e6:F1} MB of gradients{(averager.Overlaps ? ", during backward" : ", after backward")}), " +
                    $"{tokensPerSecond:F0} tokens/s over all ranks"));
            return 0;
        }
        double peak = PeakResidentMegabytes();
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                preset = preset.Name, ms_per_step = Math.Round(median, 1), tokens_per_s = Math.Round(tokensPerSecond, 1),
                peak_rss_mb = Math.Round(peak, 1), threads = threads.ThreadCount, isa = VectorIsa.Name, shards,
                allocated_mb_per_step = Math.Round(allocatedPerStep, 2), gc_gen0 = collections[0], gc_gen1 = collections[1], gc_gen2 = collections[2],
            }));
        else
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"train {preset.Name} (B {b}, T {t}, {model.ParameterCount():N0} parameters, {threads.ThreadCount} threads, {shards} shard{(shards == 1 ? "" : "s")}, isa {VectorIsa.Name}): {median:F1} ms/step (min {times[0]:F1}, max {times[^1]:F1}), {tokensPerSecond:F0} tokens/s, peak RSS {peak:F0} MB, allocated {allocatedPerStep:F1} MB/step, GCs {collections[0]}/{collections[1]}/{collections[2]} (gen 0/1/2)"));
        return 0;
    }

    /// <summary>f32 (null) or a block format, from --weights.</summary>
    internal static BlockFormat? ParseWeights(string? text) =>
        text is null || string.Equals(text, "f32", StringComparison.OrdinalIgnoreCase) ? null
        : BlockQuant.TryParse(text, out var format) ? format
        : throw new InvalidInputException($"must be f32, q8_0 or q4_0, got '{text}'", field: "--weights");

    static (string, LanguageModel) PresetModel(BenchPreset preset) => (preset.Name, new Gpt(preset.Config, 1337));

    static LanguageModel LoadModel(string path) =>
        ModelFolder.IsGguf(path) ? IO.GgufModels.Load(path).Model : IO.ModelFiles.Load(IO.CheckpointDirectory.ResolveModelFolder(path));

    static int RunGenerate(string name, LanguageModel model, int[]? promptIds, int promptLength, int newTokens, bool cache, int reps, BlockFormat? weights,
        bool showTokens, bool json)
    {
        if (promptIds is not null) promptLength = promptIds.Length;
        if (promptLength < 1 || newTokens < 1 || reps < 1) throw new InvalidInputException("--prompt, --new-tokens and --reps must be positive", field: "--prompt");
        if (weights is { } blockFormat) model.Quantize(blockFormat);
        model.Eval();
        if (promptLength + newTokens > model.ContextLength) throw new InvalidInputException($"prompt + new tokens exceed the context {model.ContextLength}", field: "--new-tokens");
        var rng = new Rng(3);
        var prompt = promptIds ?? Enumerable.Range(0, promptLength).Select(_ => rng.NextInt(model.VocabSize)).ToArray();
        // Warm-up: one whole generation, as the PyTorch reference does (it also lets the JIT finish tiering the decode loop).
        Generator.Generate(model, prompt, newTokens, SamplingOptions.Greedy, rng, useCache: cache);
        var rates = new List<double>();
        var promptRates = new List<double>();
        int[] tokens = [];
        for (int r = 0; r < reps; r++)
        {
            var clock = Stopwatch.StartNew();
            var output = Generator.Generate(model, prompt, newTokens, SamplingOptions.Greedy, rng, useCache: cache);
            rates.Add(output.Length / clock.Elapsed.TotalSeconds);
            tokens = output;
            // The prompt alone (and the first token from its logits), as llama.cpp's prompt_ms is timed.
            clock.Restart();
            Generator.Generate(model, prompt, 1, SamplingOptions.Greedy, rng, useCache: cache);
            promptRates.Add(promptLength / clock.Elapsed.TotalSeconds);
        }
        rates.Sort();
        promptRates.Sort();
        double median = rates[rates.Count / 2], promptMedian = promptRates[promptRates.Count / 2];
        string format = model.WeightFormat;
        if (json) Console.WriteLine(JsonSerializer.Serialize(new
        {
            preset = name, kv_cache = cache, isa = VectorIsa.Name, weights = format, int_dot = BlockDot.Path.ToString(),
            tokens_per_s = Math.Round(median, 2), prompt_tokens_per_s = Math.Round(promptMedian, 1),
            tokens = showTokens ? tokens : null,
        }, new JsonSerializerOptions { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull }));
        else
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"generate {name} (batch 1, prompt {promptLength}, {newTokens} new tokens, {(cache ? "KV cache" : "no cache")}, weights {format}, isa {VectorIsa.Name}): {median:F2} tokens/s, prompt {promptMedian:F1} tokens/s"));
            if (showTokens) Console.WriteLine($"tokens: {string.Join(',', tokens)}");
        }
        return 0;
    }

    /// <summary>Peak resident set size of this process (VmHWM), in MB; NaN where /proc is unavailable.</summary>
    static double PeakResidentMegabytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { }
        return double.NaN;
    }
}
