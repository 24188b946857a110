// What the model experiments of the lab share: the built-in corpus at character level, training a small GPT with the
// Trainer, a fixed-window validation loss, the gradient reaching every block's input, and loading a saved model.
// Limits: character level only for the built-in corpus; loading expects a folder written by `rlm train`.
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

/// <summary>Training, evaluation and gradient probes on language models, shared by the lab's model experiments.</summary>
public static class LabModels
{
    /// <summary>Trains <paramref name="model"/> on <paramref name="corpus"/>'s training ids with the Trainer; returns the training losses.</summary>
    public static List<double> Train(LanguageModel model, LabCorpus corpus, LabTraining settings, Action<StepResult>? progress = null)
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
        while (trainer.Step < settings.Steps)
        {
            var step = trainer.TrainStep();
            losses.Add(step.Loss);
            progress?.Invoke(step);
        }
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
            return LanguageModel.Loss(logits.Reshape(windows * context, -1), targets).Item();
        }
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
        LanguageModel.Loss(trace.Logits.Reshape(batch * time, -1), targets).Backward();
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
        if (!Directory.Exists(folder)) throw new InvalidInputException("folder not found", folder, "--model");
        string checkpoint = File.Exists(Path.Combine(folder, CheckpointDirectory.LatestFile))
            ? new CheckpointDirectory(folder).Current() ?? folder
            : folder;
        if (!File.Exists(Path.Combine(checkpoint, "config.json")))
            throw new InvalidInputException("has no config.json (expected a folder written by `rlm train --out`)", checkpoint, "--model");
        var model = ModelFiles.Load(checkpoint);
        string tokenizerFolder = Path.Combine(checkpoint, "tokenizer");
        var tokenizer = Directory.Exists(tokenizerFolder) ? TokenizerIO.Load(tokenizerFolder) : null;
        model.Eval();
        return (model, tokenizer, checkpoint);
    }

    /// <summary>A residual policy from its command-line name (none, prenorm/pre, postnorm/post, rezero, deepnorm).</summary>
    public static ResidualMode ParsePolicy(string text, string field) => text.Trim().ToLowerInvariant() switch
    {
        "none" or "plain" => ResidualMode.None,
        "prenorm" or "pre" or "pre-norm" => ResidualMode.PreNorm,
        "postnorm" or "post" or "post-norm" => ResidualMode.PostNorm,
        "rezero" => ResidualMode.ReZero,
        "deepnorm" => ResidualMode.DeepNorm,
        _ => throw new InvalidInputException($"must be none, prenorm, postnorm, rezero or deepnorm, got '{text.Trim()}'", field: field),
    };

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
}
