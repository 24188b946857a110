// Turns the model part of a TrainingSpec (architecture, preset, the overrides and the initialisation) into a config,
// and a config into a freshly initialised model. Limits: GPT and Llama only.
using ResidualLM.Models;

namespace ResidualLM.Training;

/// <summary>Builds the model a training run starts from.</summary>
public static class ModelFactory
{
    /// <summary>Whether <paramref name="architecture"/> has a preset called <paramref name="preset"/>.</summary>
    public static bool HasPreset(ModelArchitecture architecture, ModelPreset preset) => architecture == ModelArchitecture.Llama
        ? LlamaConfig.PresetNames.Contains(LlamaPresetName(preset), StringComparer.OrdinalIgnoreCase)
        : GptConfig.PresetNames.Contains(ChoiceNames.Name(preset), StringComparer.OrdinalIgnoreCase);

    /// <summary>Throws <see cref="InvalidInputException"/> unless <paramref name="architecture"/> has <paramref name="preset"/>.</summary>
    public static void RequirePreset(ModelArchitecture architecture, ModelPreset preset)
    {
        if (!HasPreset(architecture, preset))
            throw new InvalidInputException($"{ChoiceNames.Name(architecture)} has no preset '{ChoiceNames.Name(preset)}'", field: nameof(TrainingSpec.Preset));
    }

    /// <summary>The context length a model of this preset has, unless <paramref name="modelContext"/> overrides it.</summary>
    public static int ContextLength(ModelArchitecture architecture, ModelPreset preset, int? modelContext)
    {
        RequirePreset(architecture, preset);
        return modelContext ?? (architecture == ModelArchitecture.Llama
            ? LlamaConfig.Preset(LlamaPresetName(preset)).ContextLength
            : GptConfig.Preset(ChoiceNames.Name(preset)).ContextLength);
    }

    /// <summary>
    /// The config <paramref name="spec"/> describes for a vocabulary of <paramref name="vocabSize"/> tokens: its preset
    /// with every override the spec sets; a <see cref="GptConfig"/> or a <see cref="LlamaConfig"/>, validated.
    /// </summary>
    public static object Config(TrainingSpec spec, int vocabSize)
    {
        if (spec.Architecture == ModelArchitecture.Llama)
        {
            var l = LlamaConfig.Preset(LlamaPresetName(spec.Preset)) with { VocabSize = vocabSize };
            return (l with
            {
                LayerCount = spec.Layers ?? l.LayerCount, HeadCount = spec.Heads ?? l.HeadCount, Width = spec.Width ?? l.Width,
                KeyValueHeadCount = spec.KvHeads ?? l.KeyValueHeadCount,
                ContextLength = spec.ModelContext ?? l.ContextLength, Dropout = spec.Dropout ?? l.Dropout,
                Residual = ResidualOf(spec) ?? l.Residual,
            }).Validate();
        }
        var g = GptConfig.Preset(ChoiceNames.Name(spec.Preset)) with { VocabSize = vocabSize };
        return (g with
        {
            LayerCount = spec.Layers ?? g.LayerCount, HeadCount = spec.Heads ?? g.HeadCount, Width = spec.Width ?? g.Width,
            ContextLength = spec.ModelContext ?? g.ContextLength, Dropout = spec.Dropout ?? g.Dropout,
            Residual = ResidualOf(spec) ?? g.Residual, TorchDefaultInit = spec.Init == WeightInit.Torch,
        }).Validate();
    }

    /// <summary>A freshly initialised model of <paramref name="config"/> (a <see cref="GptConfig"/> or <see cref="LlamaConfig"/>), weights drawn from <paramref name="seed"/>.</summary>
    public static LanguageModel Create(object config, ulong seed) => config switch
    {
        GptConfig gpt => new Gpt(gpt, seed),
        LlamaConfig llama => new Llama(llama, seed),
        _ => throw new ArgumentException($"no model for a {config.GetType().Name}", nameof(config)),
    };

    /// <summary>The model <paramref name="spec"/> describes, initialised from its seed.</summary>
    public static LanguageModel Create(TrainingSpec spec, int vocabSize) => Create(Config(spec, vocabSize), (ulong)spec.Options.Seed);

    // The policy the spec asks for: its own, or Admin's for --init admin (TrainingSpec.Validate refuses any other pairing).
    static ResidualMode? ResidualOf(TrainingSpec spec) => spec.Residual ?? (spec.Init == WeightInit.Admin ? ResidualMode.Admin : null);

    /// <summary>
    /// The init that needs data: for <see cref="WeightInit.Admin"/>, the policy's <see cref="ResidualPolicy.InitializeFromBatch"/>
    /// (Admin's profiling pass, <see cref="AdminResidual.Profile"/>) over one batch of <paramref name="sampler"/>; nothing otherwise.
    /// </summary>
    public static void InitializeFromData(LanguageModel model, TrainingSpec spec, IBatchSampler sampler)
    {
        if (spec.Init != WeightInit.Admin || ResidualPolicies.Get(model.ResidualMode).InitializeFromBatch is not { } initialize) return;
        var batch = sampler.NextBatch();
        initialize(model, batch.Inputs, batch.BatchSize, batch.Context);
    }

    // Llama's default preset is its own small model: "tiny" names it for either family.
    static string LlamaPresetName(ModelPreset preset) => preset == ModelPreset.Tiny ? "llama-tiny" : ChoiceNames.Name(preset);
}
