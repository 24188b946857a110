// A whole training run: tokenizer and data from a TrainingSpec, the model, the Trainer, evaluation, samples, the
// metrics file and atomic checkpoints; and the exact reconstruction of all of it from a checkpoint (--resume).
using System.Text.Json;
using System.Text.Json.Nodes;
using ResidualLM.Distributed;
using ResidualLM.Generation;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Text;
using ResidualLM.Text.Corpus;

namespace ResidualLM.Training;

/// <summary>One evaluation: losses, and a sample of generated text.</summary>
public sealed record EvaluationResult(int Step, double TrainLoss, double ValidationLoss, string? Sample);

/// <summary>A training run built from a <see cref="TrainingSpec"/>.</summary>
public sealed class TrainingSession
{
    const string StateFile = "trainer_state.json", OptimizerFile = "optimizer.safetensors", MetricsFile = "metrics.jsonl";

    /// <summary>The run's description (as given, or as read back from a checkpoint).</summary>
    public TrainingSpec Spec { get; }
    public ITokenizer Tokenizer { get; }
    public LanguageModel Model { get; }
    public Trainer Trainer { get; }

    /// <summary>Tokens in the training and validation splits.</summary>
    public int TrainTokens { get; }
    public int ValidationTokens { get; }

    /// <summary>The generator's entropy rate in nats per token when training on the built-in corpus at character level; else null.</summary>
    public double? EntropyFloor { get; }

    /// <summary>
    /// On the built-in corpus at character level: the lowest loss any model can reach when, as in training, each
    /// window of <see cref="TrainingOptions.Context"/> characters starts without knowing where in a sentence it is
    /// (an exact Bayesian filter over the generator, averaged over positions). Between the floor and the model's loss.
    /// </summary>
    public double? IdealWindowLoss => idealWindowLoss ??= EntropyFloor is null ? null : BuiltinCorpus.IdealLossByPosition(Trainer.Options.Context, 300).Average();
    double? idealWindowLoss;

    /// <summary>Total optimizer steps of the run (its Steps, or as many as its Epochs take with sliding windows).</summary>
    public int TotalSteps => Trainer.Options.Steps;

    readonly string? validationText;
    readonly Rng sampleRng;

    /// <summary>Whether this process writes the run's files and samples (rank 0 of a distributed run, or the only process).</summary>
    public bool IsWriter { get; }

    TrainingSession(TrainingSpec spec, string? resumeFolder, ICommunicator? communicator)
    {
        spec.Validate();
        Spec = spec;
        communicator ??= SingleProcessCommunicator.Instance;
        if (spec.Distributed == DistributedKind.None && communicator.Size > 1)
            throw new ArgumentException("a communicator of several ranks needs a distributed spec");
        IsWriter = communicator.Rank == 0;
        string text = LoadText(spec);
        Tokenizer = resumeFolder is not null ? TokenizerIO.Load(Path.Combine(resumeFolder, "tokenizer")) : BuildTokenizer(spec, text);
        int[] tokens = Tokenizer.Encode(text);
        var (train, validation) = new TokenDataset(tokens).Split(spec.TrainFraction);
        TrainTokens = train.Count;
        ValidationTokens = validation.Count;
        int context = spec.Options.Context;
        if (spec.DataPath is null && spec.Tokenizer == TokenizerKind.Char) EntropyFloor = BuiltinCorpus.EntropyFloorNatsPerChar;

        Model = resumeFolder is not null ? ModelFiles.Load(resumeFolder) : ModelFactory.Create(spec, Tokenizer.VocabSize);
        if (context > Model.ContextLength)
            throw new InvalidInputException($"{context} is longer than the model's context length {Model.ContextLength} (train on shorter sequences, or give a new model a longer context)", field: nameof(TrainingOptions.Context));
        if (Model.VocabSize < Tokenizer.VocabSize)
            throw new InvalidInputException($"the tokenizer has {Tokenizer.VocabSize} tokens but the model only {Model.VocabSize}", field: "vocabulary");
        // Admin's profiling batch comes from its own sampler, so the training batches are those of any other init; every
        // rank draws the same one and so sets the same weights.
        if (resumeFolder is null) ModelFactory.InitializeFromData(Model, spec, train.RandomOffsets(context, spec.Options.BatchSize, spec.Options.Seed + 4));

        long seed = spec.Options.Seed;
        int stride = spec.Stride ?? context;
        // Distributed: every rank draws the same global batches of ranks x --batch sequences and keeps its slice.
        int globalBatch = spec.Options.BatchSize * communicator.Size;
        IBatchSampler trainBatches = spec.Sampler == SamplerKind.Windows
            ? train.SlidingWindows(context, stride, globalBatch, seed)
            : train.RandomOffsets(context, globalBatch, seed);
        var options = spec.Options;
        if (spec.Epochs is int epochs && trainBatches is SlidingWindowSampler windows)
            options = options with { Steps = Math.Max(1, epochs * windows.BatchesPerEpoch / options.GradientAccumulation) };
        // Validation batches: fixed (unshuffled windows, or offsets from a fixed seed), capped by what the split holds.
        IBatchSampler? validationBatches = null;
        // Evaluation batches are fixed: unshuffled windows, or offsets from a fixed seed.
        IBatchSampler FixedBatches(TokenDataset data, int windowStride, long samplerSeed) => spec.Sampler == SamplerKind.Windows
            ? data.SlidingWindows(context, windowStride, globalBatch, samplerSeed, shuffle: false)
            : data.RandomOffsets(context, globalBatch, samplerSeed);
        // Validation needs at least one full batch of windows; with less validation text, evaluation is skipped.
        if ((validation.Count - 1) / context >= globalBatch)
        {
            validationBatches = FixedBatches(validation, context, seed + 1);
            if (validationBatches is SlidingWindowSampler vw)
                options = options with { EvalBatches = Math.Min(options.EvalBatches, Math.Max(1, vw.BatchesPerEpoch)) };
        }
        // Fixed training batches for an evaluation-mode estimate of the training loss (no dropout), as nanoGPT and the book report it.
        IBatchSampler trainEvaluation = FixedBatches(train, stride, seed + 3);
        Trainer = new Trainer(Model, Model.Forward, options, trainBatches, validationBatches, trainEvaluation, spec.DataParallel, communicator, spec.BucketMegabytes);
        validationText = validation.Count > 0 ? Tokenizer.Decode(validation.Tokens[..Math.Min(validation.Count, 64)]) : null;
        sampleRng = new Rng(seed + 2);
    }

    /// <summary>
    /// Builds a fresh run; distributed (<see cref="TrainingSpec.Distributed"/>) over <paramref name="communicator"/>'s
    /// ranks, of which only rank 0 writes files.
    /// </summary>
    public static TrainingSession Create(TrainingSpec spec, ICommunicator? communicator = null) => new(spec, null, communicator);

    /// <summary>
    /// Rebuilds a run from the newest checkpoint in <paramref name="runFolder"/>: same data, tokenizer, weights,
    /// optimizer moments, data order and generator states, so it continues exactly as if never stopped.
    /// <paramref name="steps"/> may extend the run; <paramref name="dataParallel"/> is as <see cref="TrainingSpec.DataParallel"/>.
    /// A run written by N MPI ranks resumes only on N ranks (<paramref name="communicator"/>), every rank reading the
    /// same checkpoint: its global batch is N x the per-rank batch, and the data order depends on it.
    /// </summary>
    /// <exception cref="InvalidInputException">No checkpoint, a malformed one, or another rank count than the one that wrote it.</exception>
    public static TrainingSession Resume(string runFolder, int? steps = null, int dataParallel = 0, ICommunicator? communicator = null,
        DistributedKind distributed = DistributedKind.None, double bucketMegabytes = Trainer.DefaultBucketMegabytes)
    {
        communicator ??= SingleProcessCommunicator.Instance;
        string folder = new CheckpointDirectory(runFolder).Current()
            ?? throw new InvalidInputException("has no checkpoint to resume from (no 'latest' file)", runFolder);
        string statePath = Path.Combine(folder, StateFile);
        // Read and checked before any model or data is touched.
        TrainerState state = TrainerState.Read(TokenizerIO.ReadBytes(statePath), statePath);
        int ranks = state.Ranks ?? 1;
        if (ranks != communicator.Size)
        {
            int perRank = state.Spec.Options.BatchSize;
            string how = ranks == 1 ? $"resume it in one process (rlm train --resume {runFolder})"
                : $"resume it with mpirun -np {ranks} rlm train --distributed mpi --resume {runFolder}";
            throw new InvalidInputException($"was written by {ranks} rank{(ranks == 1 ? "" : "s")} (global batch {ranks * perRank} = {ranks} x {perRank}) " +
                $"but {communicator.Size} {(communicator.Size == 1 ? "process resumes" : "ranks resume")} it; the data order depends on the rank count: {how}", statePath, "ranks");
        }
        var spec = state.Spec with { OutputDirectory = Path.GetFullPath(runFolder), DataParallel = dataParallel, Distributed = distributed, BucketMegabytes = bucketMegabytes };
        if (steps is int s) spec = spec with { Options = spec.Options with { Steps = s }, Epochs = null };
        var session = new TrainingSession(spec, folder, communicator);
        session.RestoreState(folder, state);
        return session;
    }

    /// <summary>Largest text file trained on: it is read whole into one string.</summary>
    const long MaxDataBytes = 1L << 30;

    static string LoadText(TrainingSpec spec)
    {
        if (spec.DataPath is null) return BuiltinCorpus.Generate(spec.CorpusCharacters, spec.Options.Seed);
        if (!File.Exists(spec.DataPath)) throw new InvalidInputException("file not found", spec.DataPath, nameof(TrainingSpec.DataPath));
        long length = new FileInfo(spec.DataPath).Length;
        if (length > MaxDataBytes)
            throw new InvalidInputException($"is {length} bytes; the limit is {MaxDataBytes} (a .NET string holds at most about a billion characters)", spec.DataPath, nameof(TrainingSpec.DataPath));
        string text = File.ReadAllText(spec.DataPath);
        if (text.Length == 0) throw new InvalidInputException("the file is empty; it needs text to train on", spec.DataPath, nameof(TrainingSpec.DataPath));
        return text;
    }

    static ITokenizer BuildTokenizer(TrainingSpec spec, string text) => spec.Tokenizer switch
    {
        TokenizerKind.Byte => new ByteTokenizer(),
        TokenizerKind.Bpe => BpeTrainer.Train(text, spec.BpeMerges),
        TokenizerKind.Gpt2 => spec.VocabDirectory is null ? Gpt2Tokenizer.BuiltIn : Gpt2Tokenizer.FromDirectory(spec.VocabDirectory),
        _ => CharTokenizer.FromText(text),
    };

    /// <summary>Evaluates, and generates a short sample from the start of the validation text.</summary>
    public EvaluationResult Evaluate()
    {
        double validation = Trainer.Evaluate();
        double trainLoss = Trainer.EvaluateTrain();
        string? sample = null;
        if (IsWriter && Spec.SampleTokens > 0 && validationText is not null)
        {
            var prompt = Tokenizer.Encode(validationText.Length > 16 ? validationText[..16] : validationText);
            if (prompt.Length > 0 && prompt.Length < Model.ContextLength)
            {
                int count = Math.Min(Spec.SampleTokens, Model.ContextLength - prompt.Length);
                var ids = Generator.Generate(Model, prompt, count, new SamplingOptions(0.8f, TopK: 40), sampleRng);
                sample = Tokenizer.Decode([.. prompt, .. ids]);
            }
        }
        return new EvaluationResult(Trainer.Step, trainLoss, validation, sample);
    }

    /// <summary>Appends one JSON line to the run's metrics file (no-op without an output folder).</summary>
    public void LogMetrics(object record)
    {
        if (Spec.OutputDirectory is null || !IsWriter) return;
        Directory.CreateDirectory(Spec.OutputDirectory);
        File.AppendAllText(Path.Combine(Spec.OutputDirectory, MetricsFile), JsonSerializer.Serialize(record, TrainerState.Json) + "\n");
    }

    /// <summary>
    /// Saves weights, tokenizer, optimizer moments and every piece of state needed to resume. Returns the folder (null
    /// without an output folder, and on every rank but 0 of a distributed run).
    /// </summary>
    public string? SaveCheckpoint()
    {
        if (Spec.OutputDirectory is null || !IsWriter) return null;
        var store = new CheckpointDirectory(Spec.OutputDirectory);
        return store.Save(Trainer.Step, folder =>
        {
            ModelFiles.Save(folder, Model);
            Tokenizer.Save(Path.Combine(folder, "tokenizer"));
            var adam = Trainer.Optimizer.GetState(copy: false);   // written now, before the next step changes it
            var tensors = new List<(string, int[], ReadOnlyMemory<float>)>();
            foreach (var (name, m) in adam.FirstMoment) tensors.Add(("m." + name, [m.Length], m));
            foreach (var (name, v) in adam.SecondMoment) tensors.Add(("v." + name, [v.Length], v));
            SafeTensors.Write(Path.Combine(folder, OptimizerFile), tensors);
            var state = new TrainerState
            {
                Step = Trainer.Step, OptimizerStep = adam.Step, Sampler = Trainer.TrainBatches.GetState(),
                ModelRng = Model.GetRngState(), SampleRng = sampleRng.GetState(), Spec = Spec with { OutputDirectory = null },
                Ranks = Trainer.Communicator.Size > 1 ? Trainer.Communicator.Size : null,
            };
            AtomicFile.WriteAllText(Path.Combine(folder, StateFile), state.ToJson());
        });
    }

    void RestoreState(string folder, TrainerState state)
    {
        Trainer.TrainBatches.SetState(state.Sampler);
        Model.SetRngState(state.ModelRng);
        sampleRng.SetState(state.SampleRng);
        int step = state.Step;
        string optimizerPath = Path.Combine(folder, OptimizerFile);
        using var file = SafeTensors.Read(optimizerPath);
        var adam = new AdamWState { Step = state.OptimizerStep };
        foreach (var (name, _) in Model.NamedParameters())
        {
            foreach (var (prefix, target) in new[] { ("m.", adam.FirstMoment), ("v.", adam.SecondMoment) })
            {
                if (!file.Contains(prefix + name)) throw new InvalidInputException("missing optimizer moment", optimizerPath, prefix + name);
                target[name] = file.ReadFloat32(prefix + name);
            }
        }
        Trainer.Optimizer.LoadState(adam);
        Trainer.RestoreStep(step);
        if (IsWriter) TruncateMetrics(step);
    }

    /// <summary>Drops metric lines written after the checkpoint's step (by the interrupted run), so the file reads as one run.</summary>
    void TruncateMetrics(int step)
    {
        if (Spec.OutputDirectory is null) return;
        string path = Path.Combine(Spec.OutputDirectory, MetricsFile);
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(line =>
        {
            try { return JsonNode.Parse(line)?["step"]?.GetValue<int>() is int s && s <= step; }
            catch (JsonException) { return false; }
        });
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }
}
