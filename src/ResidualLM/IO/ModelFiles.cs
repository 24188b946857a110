// Model checkpoints on disk: a folder with config.json and model.safetensors, in ResidualLM's own layout or in
// Hugging Face's GPT-2 layout (read and written by HuggingFaceGpt2). Loading reads tensor by tensor straight into the
// model's buffers, so it needs the model's memory plus at most one tensor; every problem is an InvalidInputException
// naming the file, the tensor or field, and what was expected.
using System.Text.Json;
using ResidualLM.Models;
using ResidualLM.Tensors;

namespace ResidualLM.IO;

/// <summary>The two layouts of a model folder.</summary>
public enum ModelFileFormat
{
    /// <summary>config.json with <c>"architecture"</c> and our field names; tensors named as <see cref="ResidualLM.Nn.Module.StateDict"/>.</summary>
    ResidualLM,

    /// <summary>Hugging Face GPT-2 (GPT2LMHeadModel): its config.json keys and tensor names, Conv1D weights stored (in, out).</summary>
    HuggingFaceGpt2,

    /// <summary>
    /// Hugging Face Llama family (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM): <c>model.layers.N.self_attn.q_proj</c>
    /// and so on, one model.safetensors or shards listed by model.safetensors.index.json.
    /// </summary>
    HuggingFaceLlama,
}

/// <summary>Saves and loads model folders (config.json + model.safetensors).</summary>
public static class ModelFiles
{
    /// <summary>Name of the config file in a model folder.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>Name of the weights file in a model folder.</summary>
    public const string WeightsFileName = "model.safetensors";

    static readonly JsonSerializerOptions indented = new() { WriteIndented = true };

    /// <summary>
    /// Writes <paramref name="model"/> (GPT or Llama) to <paramref name="folder"/> in ResidualLM's layout, creating the
    /// folder if needed. Each file is replaced atomically; float32 values are stored as they are, so a reload is bitwise.
    /// </summary>
    /// <exception cref="ArgumentException">The model is neither <see cref="Gpt"/> nor <see cref="Llama"/>.</exception>
    public static void Save(string folder, LanguageModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        string config = ModelConfigJson.ToJson(model).ToJsonString(indented) + "\n";
        Directory.CreateDirectory(folder);
        SafeTensors.Write(Path.Combine(folder, WeightsFileName),
            model.NamedParameters().Select(parameter => (parameter.Name, parameter.Tensor.Shape.ToArray(), (ReadOnlyMemory<float>)parameter.Tensor.Data)));
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), config);
    }

    /// <summary>
    /// Writes a GPT model in Hugging Face's GPT-2 layout (config.json with <c>model_type: gpt2</c>, tensors named
    /// <c>transformer.h.0.attn.c_attn.weight</c> ..., Conv1D weights transposed to (in, out), <c>lm_head.weight</c>
    /// only when the head is untied). Only pre-norm models exist in GPT-2; a model without qkv bias is written with a
    /// zero <c>c_attn.bias</c>, which computes the same function. Needs up to one model's size of extra memory for the
    /// transposed copies.
    /// </summary>
    /// <exception cref="InvalidInputException">The model's residual policy is not PreNorm.</exception>
    public static void SaveHuggingFaceGpt2(string folder, Gpt model) => HuggingFaceGpt2.Save(folder, model);

    /// <summary>
    /// Writes a Llama model in the Hugging Face layout transformers loads: <c>LlamaForCausalLM</c> (or
    /// <c>Qwen2ForCausalLM</c> for q/k/v biases without an output bias), q/k/v split out of our fused rows, float32.
    /// <paramref name="bosTokenId"/> and <paramref name="eosTokenId"/> go into config.json when given.
    /// </summary>
    /// <exception cref="InvalidInputException">The residual policy is not PreNorm, or the biases match no HF class.</exception>
    public static void SaveHuggingFaceLlama(string folder, Llama model, int? bosTokenId = null, int? eosTokenId = null) =>
        HuggingFaceLlama.Save(folder, model, bosTokenId, eosTokenId);

    /// <summary>Which layout a model folder holds, judged from its config.json.</summary>
    /// <exception cref="InvalidInputException">The folder or its config.json is missing, or it is neither layout.</exception>
    public static ModelFileFormat DetectFormat(string folder) => Detect(ReadConfig(folder));

    /// <summary>
    /// Loads a model folder: a ResidualLM checkpoint (config.json has <c>"architecture"</c>) or a Hugging Face GPT-2
    /// folder. A training run folder resolves to its newest checkpoint. The model is returned in evaluation mode.
    /// </summary>
    /// <exception cref="InvalidInputException">
    /// A file is missing or malformed, a tensor is missing, unexpected or of the wrong shape, or the config is out of range.
    /// </exception>
    public static LanguageModel Load(string folder)
    {
        JsonInputObject config = ReadConfig(folder);
        string resolved = Path.GetDirectoryName(config.FilePath)!;
        LanguageModel model = Detect(config) switch
        {
            ModelFileFormat.ResidualLM => LoadResidualLM(resolved, config),
            ModelFileFormat.HuggingFaceLlama => HuggingFaceLlama.Load(resolved, config),
            _ => HuggingFaceGpt2.Load(resolved, config),
        };
        model.Eval();
        return model;
    }

    static JsonInputObject ReadConfig(string folder)
    {
        string resolved = CheckpointDirectory.ResolveModelFolder(folder);
        string path = Path.Combine(resolved, ConfigFileName);
        if (!File.Exists(path))
            throw new InvalidInputException($"has no {ConfigFileName}; expected a ResidualLM checkpoint or a Hugging Face GPT-2 or Llama-family folder", resolved);
        return JsonInput.Parse(path);
    }

    static ModelFileFormat Detect(JsonInputObject config)
    {
        if (config.Has(ModelConfigJson.ArchitectureField)) return ModelFileFormat.ResidualLM;
        if (HuggingFaceLlama.Describes(config)) return ModelFileFormat.HuggingFaceLlama;
        if (config.Has("model_type") || config.Has("n_embd")) return ModelFileFormat.HuggingFaceGpt2;
        throw new InvalidInputException(
            $"has neither \"{ModelConfigJson.ArchitectureField}\" (ResidualLM checkpoint) nor \"model_type\"/\"n_embd\" (Hugging Face GPT-2)", config.FilePath);
    }

    /// <summary>Name of the weights file of a quantised model folder (written by <c>rlm quantize</c>): ResidualLM's GGUF layout.</summary>
    public const string QuantizedWeightsFileName = "model.gguf";

    /// <summary>
    /// Writes a model whose matrices are block-quantised: config.json as <see cref="Save"/> writes it and the weights as
    /// model.gguf (state-dict names, matrices in their block format). A model.safetensors left in the folder is removed,
    /// so the folder holds one set of weights.
    /// </summary>
    public static void SaveQuantized(string folder, LanguageModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        string config = ModelConfigJson.ToJson(model).ToJsonString(indented) + "\n";
        Directory.CreateDirectory(folder);
        GgufModels.SaveOwn(Path.Combine(folder, QuantizedWeightsFileName), model);
        File.Delete(Path.Combine(folder, WeightsFileName));
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), config);
    }

    static LanguageModel LoadResidualLM(string folder, JsonInputObject config)
    {
        string quantized = Path.Combine(folder, QuantizedWeightsFileName);
        if (!File.Exists(Path.Combine(folder, WeightsFileName)) && File.Exists(quantized))
        {
            long stored;
            using (var gguf = GgufFile.Open(quantized)) stored = gguf.Tensors.Sum(t => t.ElementCount);
            LanguageModel fromGguf = ModelConfigJson.CreateModel(config, stored);
            GgufModels.LoadOwn(quantized, fromGguf);
            return fromGguf;
        }
        using SafeTensorsFile file = OpenWeights(folder);
        LanguageModel model = ModelConfigJson.CreateModel(config, StoredValues(file));
        var parameters = model.NamedParameters();
        var expected = parameters.Select(parameter => parameter.Name).ToHashSet(StringComparer.Ordinal);
        // Unexpected names first: they cost nothing to find and usually mean the config does not belong to the weights.
        foreach (string name in file.Names)
            if (!expected.Contains(name))
                throw new InvalidInputException($"unexpected tensor: the model described by {ConfigFileName} has no parameter of this name", file.FilePath, MessageText.Printable(name));
        foreach ((string name, Tensor tensor) in parameters)
        {
            RequireTensor(file, name, ConfigFileName);
            RequireShape(file, name, tensor.Shape, $"the model described by {ConfigFileName}");
            file.ReadFloat32(name, tensor.Data);
        }
        return model;
    }

    /// <summary>Opens folder/model.safetensors, explaining the layouts we do not read.</summary>
    internal static SafeTensorsFile OpenWeights(string folder)
    {
        string path = Path.Combine(folder, WeightsFileName);
        if (!File.Exists(path))
        {
            string hint = File.Exists(Path.Combine(folder, WeightsFileName + ".index.json"))
                ? "; sharded checkpoints (model.safetensors.index.json) are not supported"
                : File.Exists(Path.Combine(folder, "pytorch_model.bin"))
                    ? "; pytorch_model.bin (pickle) is not read, for safety: convert it to safetensors"
                    : "";
            throw new InvalidInputException($"weights file not found{hint}", path);
        }
        return SafeTensors.Read(path);
    }

    /// <summary>Values stored in the file (the reader has checked that they fit inside it).</summary>
    internal static long StoredValues(SafeTensorsFile file) => file.Names.Sum(name => file.Info(name).ElementCount);

    /// <summary>
    /// Refuses a config whose model could not fit in the weights file before the model is allocated, so a config
    /// with huge sizes beside a small file is an error, not an attempt to allocate terabytes. The count is a lower
    /// bound on any GPT or Llama parameter count: the token embedding (V x C) and four C x C attention matrices per block.
    /// Within twice the stored values the load goes on, so that a smaller mismatch is reported tensor by tensor.
    /// </summary>
    internal static void RequireRoomFor(long vocabulary, long width, long layers, long storedValues, string configPath)
    {
        long needed = vocabulary * width + layers * 4 * width * width;
        if (needed > 2 * storedValues + (1 << 16))
            throw new InvalidInputException(
                $"describes a model of at least {needed:N0} parameters, but {WeightsFileName} holds only {storedValues:N0} values", configPath);
    }

    internal static void RequireTensor(SafeTensorsFile file, string name, string configFile)
    {
        if (!file.Contains(name))
            throw new InvalidInputException($"missing tensor: the model described by {configFile} needs it", file.FilePath, name);
    }

    /// <summary>Throws unless the stored tensor has exactly <paramref name="expected"/> as its shape.</summary>
    internal static void RequireShape(SafeTensorsFile file, string name, ReadOnlySpan<int> expected, string source)
    {
        TensorInfo info = file.Info(name);
        bool same = info.Shape.Count == expected.Length;
        for (int i = 0; same && i < expected.Length; i++) same = info.Shape[i] == expected[i];
        if (!same)
            throw new InvalidInputException(
                $"wrong shape: found [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", expected.ToArray())}] for {source}", file.FilePath, name);
    }
}
