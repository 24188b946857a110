// What the model experiments of the lab share: the built-in corpus at character level, training a small GPT with the
// Trainer, a fixed-window validation loss, the gradient reaching every block's input, and loading a saved model.
// Limits: character level only for the built-in corpus; loading expects a folder written by `rlm train`.
using System.Diagnostics;
using System.Globalization;
using ResidualLM.Autograd;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Text;
using ResidualLM.Text.Corpus;
using ResidualLM.Training;

namespace ResidualLM.Lab;

/// <summary>Token ids split for training and validation, with the tokenizer and, for the built-in corpus, its known entropies.</summary>
/// <param name="Tokenizer">Maps text to ids and back.</param>
/// <param name="Train">Training ids (the first 90%).</param>
/// <param name="Validation">Validation ids (the rest).</param>
/// <param name="EntropyFloor">The generator's entropy rate in nats per token (built-in corpus only): the lowest achievable loss.</param>
/// <param name="UnigramEntropy">The entropy of the character frequencies (built-in corpus only): the loss of a model that ignores context.</param>
public sealed record LabCorpus(ITokenizer Tokenizer, int[] Train, int[] Validation, double? EntropyFloor, double? UnigramEntropy)
{
    /// <summary>
    /// <paramref name="characters"/> characters of the built-in generated corpus, character-level, with a vocabulary of
    /// the generator's whole character set (so every seed and length gives the same ids).
    /// </summary>
    public static LabCorpus Builtin(int characters, int seed)
    {
        var tokenizer = CharTokenizer.FromText(new string(BuiltinCorpus.Charset.ToArray()));
        return Split(tokenizer, tokenizer.Encode(BuiltinCorpus.Generate(characters, seed)),
            BuiltinCorpus.EntropyFloorNatsPerChar, BuiltinCorpus.UnigramEntropyNatsPerChar);
    }

    /// <summary>90% / 10% split of <paramref name="tokens"/>.</summary>
    public static LabCorpus Split(ITokenizer tokenizer, int[] tokens, double? floor = null, double? unigram = null)
    {
        var (train, validation) = new TokenDataset(tokens).Split(0.9);
        return new LabCorpus(tokenizer, train.Tokens.ToArray(), validation.Tokens.ToArray(), floor, unigram);
    }
}

/// <summary>How the lab trains a small model: steps, batch, context and a constant-after-warmup learning rate.</summary>
public sealed record LabTraining
{
    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 300;

    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Tokens per sequence.</summary>
    public int Context { get; init; } = 32;

    /// <summary>Peak learning rate (AdamW), reached after <see cref="WarmupSteps"/>, then cosine decay to a tenth.</summary>
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Linear warmup steps.</summary>
    public int WarmupSteps { get; init; } = 30;

    /// <summary>Seed of the data order.</summary>
    public int Seed { get; init; } = 1337;
}

/// <summary>
/// Where a model experiment gets its model: a folder written by <c>rlm train --out</c>, or a small GPT trained on the
/// built-in corpus on the fly with these settings.
/// </summary>
public sealed record LabModelSource
{
    /// <summary>A run or checkpoint folder; null trains a model on the fly.</summary>
    public string? ModelPath { get; init; }

    /// <summary>Blocks of the model trained on the fly.</summary>
    public int Depth { get; init; } = 6;

    /// <summary>Width of the model trained on the fly.</summary>
    public int Width { get; init; } = 64;

    /// <summary>Attention heads of the model trained on the fly.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Residual policy of the model trained on the fly.</summary>
    public ResidualMode Policy { get; init; } = ResidualMode.PreNorm;

    /// <summary>Training of the model trained on the fly.</summary>
    public LabTraining Training { get; init; } = new() { Steps = 400, BatchSize = 8, Context = 64, LearningRate = 3e-3, WarmupSteps = 40 };

    /// <summary>Characters of built-in corpus (training when trained on the fly; evaluation text in both cases).</summary>
    public int CorpusCharacters { get; init; } = 200_000;

    /// <summary>Seed of the corpus and of the model trained on the fly.</summary>
    public int Seed { get; init; } = 1337;

    /// <summary>Rejects settings that cannot work.</summary>
    public void Validate()
    {
        if (ModelPath is null && (Depth is < 1 or > 1000)) throw new InvalidInputException($"must be between 1 and 1000, got {Depth}", field: nameof(Depth));
        if (ModelPath is null && (Width < 1 || Heads < 1 || Width % Heads != 0))
            throw new InvalidInputException($"the width {Width} must be a positive multiple of the head count {Heads}", field: nameof(Width));
        if (Training.Steps is < 0 or > 1_000_000) throw new InvalidInputException($"must be between 0 and 1000000, got {Training.Steps}", field: nameof(LabTraining.Steps));
        if (Training.Context is < 2 or > 4096) throw new InvalidInputException($"must be between 2 and 4096, got {Training.Context}", field: nameof(LabTraining.Context));
        if (CorpusCharacters < 20 * Training.Context) throw new InvalidInputException($"too small for context {Training.Context}", field: nameof(CorpusCharacters));
    }
}

/// <summary>A model ready for a lab experiment, the text to probe it on, and how it was obtained.</summary>
/// <param name="Model">The model, in evaluation mode.</param>
/// <param name="Corpus">Its tokenizer and text: the validation ids are text it was not trained on.</param>
/// <param name="Description">One line: where it came from.</param>
/// <param name="Context">Tokens per evaluation window.</param>
public sealed record LabModel(LanguageModel Model, LabCorpus Corpus, string Description, int Context);

/// <summary>Training, evaluation and gradient probes on language models, shared by the lab's model experiments.</summary>
public static class LabModels
{
    /// <summary>Trains <paramref name="model"/> on <paramref name="corpus"/>'s training ids with the Trainer; returns the training losses.</summary>
    public static List<double> Train(LanguageModel model, LabCorpus corpus, LabTraining settings, Action<StepResult>? progress = null)
        => Train(model, corpus, settings, progress, CancellationToken.None);

    /// <summary>
    /// <see cref="Train(LanguageModel, LabCorpus, LabTraining, Action{StepResult}?)"/> that stops after the step during which
    /// <paramref name="stop"/> is signalled (a time limit, say): fewer losses than steps then.
    /// </summary>
    public static List<double> Train(LanguageModel model, LabCorpus corpus, LabTraining settings, Action<StepResult>? progress, CancellationToken stop)
    {
        var options = new TrainingOptions
        {
            Steps = settings.Steps, BatchSize = settings.BatchSize, Context = settings.Context, LearningRate = settings.LearningRate,
            WarmupSteps = Math.Min(settings.WarmupSteps, settings.Steps), EvalInterval = 0, EvalBatches = 1, GradientClip = 1.0,
            WeightDecay = 0.1, SkipNonFinite = true, Seed = settings.Seed,
        };
        var sampler = new TokenDataset(corpus.Train).RandomOffsets(settings.Context, settings.BatchSize, settings.Seed);
        var trainer = new Trainer(model, model.Forward, options, sampler, null);
        var losses = new List<double>(settings.Steps);
        new TrainingRun(trainer).Run(report =>
        {
            if (report is not StepTaken { Result: var step }) return;
            losses.Add(step.Loss);
            progress?.Invoke(step);
        }, stop);
        model.Eval();
        return losses;
    }

    /// <summary>
    /// Mean cross-entropy (nats per token) over <paramref name="windows"/> evenly spaced windows of
    /// <paramref name="context"/> tokens of <paramref name="tokens"/>: the same windows every call, no gradient.
    /// </summary>
    public static double Loss(LanguageModel model, int[] tokens, int context, int windows)
    {
        var (inputs, targets) = Windows(tokens, context, windows);
        model.Eval();
        using (Graph.NoGrad())
        {
            var logits = model.Forward(inputs, windows, context);
            return LanguageModel.Loss(model.Context.Threads, logits.Reshape(windows * context, -1), targets).Item();
        }
    }

    /// <summary>
    /// Runs the part of <paramref name="model"/>'s policy init that needs data (Admin's profiling pass) on the first
    /// <paramref name="batch"/> windows of <paramref name="tokens"/>, so that a lab model of a policy is the policy as its
    /// paper sets it up; nothing for the other policies.
    /// </summary>
    public static void InitializeFromData(LanguageModel model, int[] tokens, int context, int batch)
    {
        if (ResidualPolicies.Get(model.ResidualMode).InitializeFromBatch is not { } initialize) return;
        var (inputs, _) = Windows(tokens, context, batch);
        initialize(model, inputs, batch, context);
    }

    /// <summary><paramref name="count"/> evenly spaced windows of <paramref name="context"/> ids and their next-token targets, row-major (count, context).</summary>
    public static (int[] Inputs, int[] Targets) Windows(int[] tokens, int context, int count)
    {
        if (tokens.Length < context + 1) throw new InvalidInputException($"needs more than {context} tokens, has {tokens.Length}", field: "text");
        var inputs = new int[count * context];
        var targets = new int[count * context];
        long span = tokens.Length - context - 1;
        for (int w = 0; w < count; w++)
        {
            int start = count == 1 ? 0 : (int)(span * w / (count - 1));
            Array.Copy(tokens, start, inputs, w * context, context);
            Array.Copy(tokens, start + 1, targets, w * context, context);
        }
        return (inputs, targets);
    }

    /// <summary>
    /// The norm of dL/dx at every block's input and at the last block's output (Depth + 1 values, block 0's input first)
    /// for one batch, by Backward() with <see cref="Tensor.RetainGrad"/> on the stream tensors of a traced forward.
    /// Parameter gradients are cleared afterwards.
    /// </summary>
    public static double[] StreamGradientNorms(LanguageModel model, int[] inputs, int[] targets, int batch, int time)
    {
        model.Eval(); // no dropout: the measurement is of the function, not of a mask
        var trace = model.ForwardTrace(inputs, batch, time);
        var stream = trace.Blocks.Select(b => b.Input).Append(trace.Blocks[^1].Output).ToList();
        foreach (var tensor in stream) tensor.RetainGrad = true;
        LanguageModel.Loss(model.Context.Threads, trace.Logits.Reshape(batch * time, -1), targets).Backward();
        var norms = stream.Select(t => t.Grad is null ? 0 : Math.Sqrt(t.Grad.Data.Sum(g => (double)g * g))).ToArray();
        model.ZeroGrad();
        return norms;
    }

    /// <summary>
    /// Loads a model saved by <c>rlm train --out DIR</c>: <paramref name="folder"/> is the run folder (its newest
    /// checkpoint is used) or one checkpoint folder (config.json, model.safetensors, tokenizer/).
    /// </summary>
    public static (LanguageModel Model, ITokenizer? Tokenizer, string Folder) Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new InvalidInputException("folder not found", folder, nameof(LabModelSource.ModelPath));
        string checkpoint = File.Exists(Path.Combine(folder, CheckpointDirectory.LatestFile))
            ? new CheckpointDirectory(folder).Current() ?? folder
            : folder;
        if (!File.Exists(Path.Combine(checkpoint, "config.json")))
            throw new InvalidInputException("has no config.json (expected a folder written by `rlm train --out`)", checkpoint, nameof(LabModelSource.ModelPath));
        var model = ModelFiles.Load(checkpoint);
        string tokenizerFolder = Path.Combine(checkpoint, "tokenizer");
        var tokenizer = Directory.Exists(tokenizerFolder) ? TokenizerIO.Load(tokenizerFolder) : null;
        model.Eval();
        return (model, tokenizer, checkpoint);
    }

    /// <summary>Comma-separated items parsed one by one: <c>none,prenorm</c>.</summary>
    public static List<T> ParseList<T>(string text, string field, Func<string, T> parse)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToList();
        if (items.Count == 0) throw new InvalidInputException("needs at least one value", field: field);
        return items;
    }

    /// <summary>Comma-separated positive integers: <c>2,8,32</c>.</summary>
    public static List<int> ParseIntegers(string text, string field) => ParseList(text, field, item =>
        int.TryParse(item, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new InvalidInputException($"must be positive integers separated by commas, got '{item}'", field: field));

    /// <summary>
    /// Loads the model of <paramref name="source"/> or trains one on the fly. A loaded model is probed on freshly
    /// generated built-in text (a different seed from any training run's default) encoded with its own tokenizer.
    /// </summary>
    public static LabModel Obtain(LabModelSource source, Action<string>? progress = null)
    {
        source.Validate();
        if (source.ModelPath is string path)
        {
            var (model, tokenizer, folder) = Load(path);
            tokenizer ??= CharTokenizer.FromText(new string(BuiltinCorpus.Charset.ToArray()));
            if (tokenizer.VocabSize > model.VocabSize)
                throw new InvalidInputException($"the tokenizer has {tokenizer.VocabSize} tokens, the model {model.VocabSize}", folder, nameof(LabModelSource.ModelPath));
            bool characterLevel = tokenizer is CharTokenizer;
            string text = BuiltinCorpus.Generate(source.CorpusCharacters, source.Seed + 7919);
            var corpus = new LabCorpus(tokenizer, [], tokenizer.Encode(text),
                characterLevel ? BuiltinCorpus.EntropyFloorNatsPerChar : null, characterLevel ? BuiltinCorpus.UnigramEntropyNatsPerChar : null);
            int context = Math.Min(model.ContextLength, source.Training.Context);
            return new LabModel(model, corpus, $"loaded from {folder} ({model.Blocks.Count} blocks, {model.ResidualMode})", context);
        }
        var data = LabCorpus.Builtin(source.CorpusCharacters, source.Seed);
        var trained = Train(source, data, source.Policy, progress);
        return new LabModel(trained, data, Describe(source, source.Policy), source.Training.Context);
    }

    /// <summary>
    /// Trains a GPT of <paramref name="source"/>'s shape with <paramref name="policy"/> on <paramref name="corpus"/>.
    /// <paramref name="fanInInit"/> redraws every block's linear weights from N(0, 1/fan_in) (see <see cref="FanInInit"/>).
    /// </summary>
    public static LanguageModel Train(LabModelSource source, LabCorpus corpus, ResidualMode policy, Action<string>? progress = null, bool fanInInit = false)
    {
        var model = new Gpt(new GptConfig
        {
            VocabSize = corpus.Tokenizer.VocabSize, ContextLength = source.Training.Context, Width = source.Width, HeadCount = source.Heads,
            LayerCount = source.Depth, Dropout = 0f, Residual = policy, TieWeights = true,
        }, (ulong)source.Seed);
        if (fanInInit) FanInInit(model, (ulong)source.Seed + 1);
        InitializeFromData(model, corpus.Train, source.Training.Context, source.Training.BatchSize);
        progress?.Invoke($"training {Describe(source, policy)}{(fanInInit ? " with fan-in init" : "")} ...");
        var clock = Stopwatch.StartNew();
        var losses = Train(model, corpus, source.Training with { Seed = source.Seed });
        progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"  done in {clock.Elapsed.TotalSeconds:F0} s, final training loss {losses.TakeLast(Math.Max(1, losses.Count / 10)).Average():F3}"));
        return model;
    }

    /// <summary>
    /// Redraws every linear weight inside the blocks from N(0, 1/fan_in) and the embeddings from N(0, 1): the
    /// variance-preserving init a plain stack needs (LeCun et al. 1998; He et al. 2015 for ReLU). GPT-2's N(0, 0.02²) is
    /// tuned for a residual stream and shrinks the signal of a plain stack by orders of magnitude per block.
    /// </summary>
    public static void FanInInit(LanguageModel model, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var (name, tensor) in model.NamedParameters())
        {
            if (name.StartsWith("blocks.", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal) && tensor.Rank == 2)
            {
                float std = 1f / MathF.Sqrt(tensor.Dim(1));
                for (int i = 0; i < tensor.Size; i++) tensor.Data[i] = std * rng.NextGaussian();
            }
            else if (name == "token_embedding.weight" || name == "position_embedding.weight")
                for (int i = 0; i < tensor.Size; i++) tensor.Data[i] = rng.NextGaussian();
        }
    }

    /// <summary>"a 6-block pre-norm GPT (width 64) trained on the fly for 400 steps".</summary>
    public static string Describe(LabModelSource source, ResidualMode policy) =>
        $"a {source.Depth}-block {policy} GPT (width {source.Width}) trained on the fly for {source.Training.Steps} steps on the built-in corpus";
}
