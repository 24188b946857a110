// Hugging Face GPT-2 folders (GPT2LMHeadModel) <-> our Gpt: config keys, tensor names, and the Conv1D transposes.
// HF's Conv1D stores weight (in, out) and computes x W + b; our Linear stores (out, in) as nn.Linear does. Limits: one
// model.safetensors (no shards, no pickle); configs that change the math in ways our Gpt lacks are refused.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ResidualLM.Models;
using ResidualLM.Tensors;

namespace ResidualLM.IO;

internal static partial class HuggingFaceGpt2
{
    const string Prefix = "transformer.", HeadName = "lm_head.weight";

    // gelu_new and gelu_pytorch_tanh are the tanh approximation (ours by default); gelu is the exact erf form.
    static readonly string[] activations = ["gelu_new", "gelu_pytorch_tanh", "gelu"];

    /// <summary>Our config field -> HF key, to re-report GptConfig.Validate failures in the file's own terms.</summary>
    static readonly Dictionary<string, string> hfKeyOf = new(StringComparer.Ordinal)
    {
        ["VocabSize"] = "vocab_size", ["ContextLength"] = "n_positions", ["Width"] = "n_embd", ["HeadCount"] = "n_head",
        ["LayerCount"] = "n_layer", ["Dropout"] = "resid_pdrop", ["FeedForwardWidth"] = "n_inner", ["NormEps"] = "layer_norm_epsilon",
    };

    /// <summary>One tensor: its HF name (without the <c>transformer.</c> prefix), ours, and whether it is a transposed Conv1D weight.</summary>
    readonly record struct Mapping(string HfName, string OurName, bool Transposed);

    [GeneratedRegex(@"^h\.[0-9]+\.attn\.(bias|masked_bias)$")]
    private static partial Regex AttentionBuffer();

    /// <summary>Every parameter tensor of a GPT-2 with <paramref name="layers"/> blocks, in file order.</summary>
    static IEnumerable<Mapping> Mappings(int layers, bool untiedHead)
    {
        yield return new("wte.weight", "token_embedding.weight", false);
        yield return new("wpe.weight", "position_embedding.weight", false);
        for (int i = 0; i < layers; i++)
        {
            string h = $"h.{i}.", ours = $"blocks.{i}.";
            foreach ((string hf, string our, bool conv) in new[]
                     {
                         ("ln_1", "norm1", false), ("attn.c_attn", "attn.qkv", true), ("attn.c_proj", "attn.proj", true),
                         ("ln_2", "norm2", false), ("mlp.c_fc", "ffn.fc", true), ("mlp.c_proj", "ffn.proj", true),
                     })
            {
                yield return new(h + hf + ".weight", ours + our + ".weight", conv);
                yield return new(h + hf + ".bias", ours + our + ".bias", false);
            }
        }
        yield return new("ln_f.weight", "final_norm.weight", false);
        yield return new("ln_f.bias", "final_norm.bias", false);
        // lm_head is an nn.Linear, (V, C) like ours: no transpose.
        if (untiedHead) yield return new(HeadName, "head.weight", false);
    }

    public static Gpt Load(string folder, JsonInputObject config)
    {
        GptConfig shape = ReadConfig(config);
        bool tieRequested = JsonInput.GetOptionalBool(config, "tie_word_embeddings", true);
        using SafeTensorsFile file = ModelFiles.OpenWeights(folder);
        Dictionary<string, string> stored = CanonicalNames(file);
        string context = Describe(shape);

        bool untied;
        if (!tieRequested) untied = true;
        else if (!stored.TryGetValue(HeadName, out string? headKey)) untied = false;
        else
        {
            string tableKey = stored.GetValueOrDefault("wte.weight") ?? throw Missing(file, "wte.weight");
            if (!file.HaveEqualData(headKey, tableKey))
                throw new InvalidInputException(
                    $"differs from wte.weight, but {ModelFiles.ConfigFileName} ties the head to the embedding (tie_word_embeddings is true or absent), " +
                    "so transformers would ignore it; set tie_word_embeddings to false to use it, or remove the tensor", file.FilePath, headKey);
            untied = false;
        }
        ModelFiles.RequireRoomFor(shape.VocabSize, shape.Width, shape.LayerCount, ModelFiles.StoredValues(file), config.FilePath);
        var model = new Gpt(shape with { TieWeights = !untied });
        var mappings = Mappings(shape.LayerCount, untied).ToList();

        var known = mappings.Select(mapping => mapping.HfName).ToHashSet(StringComparer.Ordinal);
        if (!untied) known.Add(HeadName);                                         // an exact copy of wte, checked above
        foreach ((string canonical, string key) in stored)
            if (!known.Contains(canonical) && !AttentionBuffer().IsMatch(canonical))
                throw new InvalidInputException($"unexpected tensor: a GPT-2 with {context} has no such parameter", file.FilePath, MessageText.Printable(key));

        Dictionary<string, Tensor> parameters = model.StateDict();
        foreach (Mapping mapping in mappings)
        {
            string key = stored.GetValueOrDefault(mapping.HfName) ?? throw Missing(file, mapping.HfName);
            Tensor target = parameters[mapping.OurName];
            int[] expected = mapping.Transposed ? [target.Dim(1), target.Dim(0)] : target.Shape.ToArray();
            ModelFiles.RequireShape(file, key, expected, $"{ModelFiles.ConfigFileName} ({context})");
            if (!mapping.Transposed)
            {
                file.ReadFloat32(key, target.Data);
                continue;
            }
            var conv = new float[target.Size];                                      // (in, out): one tensor's temporary
            file.ReadFloat32(key, conv);
            Transpose(conv, target.Data, rows: expected[0], columns: expected[1]);
        }
        return model;
    }

    static InvalidInputException Missing(SafeTensorsFile file, string name) =>
        new($"missing tensor (looked for \"{name}\" and \"{Prefix}{name}\")", file.FilePath, name);

    /// <summary>Stored name without the optional <c>transformer.</c> prefix -> stored name.</summary>
    static Dictionary<string, string> CanonicalNames(SafeTensorsFile file)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string key in file.Names)
        {
            string canonical = key.StartsWith(Prefix, StringComparison.Ordinal) ? key[Prefix.Length..] : key;
            if (!names.TryAdd(canonical, key))
                throw new InvalidInputException($"is stored twice, as \"{names[canonical]}\" and \"{key}\"", file.FilePath, canonical);
        }
        return names;
    }

    /// <summary>Reads a GPT2Config: the shape keys, and refuses the options that change the math in ways Gpt lacks.</summary>
    internal static GptConfig ReadConfig(JsonInputObject obj)
    {
        string? modelType = JsonInput.GetOptionalString(obj, "model_type", "gpt2");
        if (modelType != "gpt2")
            throw new InvalidInputException($"\"{MessageText.Printable(modelType!)}\" is not supported; of Hugging Face models GPT-2 (\"gpt2\") and the Llama family (\"llama\", \"qwen2\", \"mistral\") are read", obj.FilePath, "model_type");
        Refuse(obj, "scale_attn_by_inverse_layer_idx", true, "scales attention scores by 1/(layer index + 1), which this library does not implement");
        Refuse(obj, "scale_attn_weights", false, "turns off the 1/sqrt(head size) attention scaling, which this library always applies");
        Refuse(obj, "add_cross_attention", true, "adds encoder-decoder cross-attention, which GPT here does not have");
        // reorder_and_upcast_attn only changes the float16 evaluation order; the function is the same, so it is accepted.
        int width = JsonInput.GetInt(obj, "n_embd", 1, ModelConfigJson.MaxWidth);
        int positions = obj.Has("n_positions")
            ? JsonInput.GetInt(obj, "n_positions", 1, ModelConfigJson.MaxContext)
            : JsonInput.GetInt(obj, "n_ctx", 1, ModelConfigJson.MaxContext);
        int? inner = obj.Has("n_inner") ? JsonInput.GetInt(obj, "n_inner", 1, ModelConfigJson.MaxHidden) : null;
        var config = new GptConfig
        {
            VocabSize = JsonInput.GetInt(obj, "vocab_size", 1, ModelConfigJson.MaxVocabulary),
            ContextLength = positions,
            Width = width,
            HeadCount = JsonInput.GetInt(obj, "n_head", 1, width),
            LayerCount = JsonInput.GetInt(obj, "n_layer", 1, ModelConfigJson.MaxLayers),
            // One dropout rate in Gpt; HF's three are equal in every released config. Inference ignores it.
            Dropout = (float)JsonInput.GetOptionalDouble(obj, "resid_pdrop", 0.1, 0, 0.999999),
            QkvBias = true,
            Residual = ResidualMode.PreNorm,
            FeedForwardWidth = inner == 4 * width ? null : inner,
            ExactGelu = JsonInput.GetOptionalString(obj, "activation_function", "gelu_new", activations) == "gelu",
            NormEps = (float)JsonInput.GetOptionalDouble(obj, "layer_norm_epsilon", 1e-5, 1e-12, 1),
        };
        return ModelConfigJson.Validated(obj, config, c => c.Validate(), hfKeyOf);
    }

    static void Refuse(JsonInputObject obj, string name, bool unsupported, string why)
    {
        if (obj.Has(name) && JsonInput.GetBool(obj, name) == unsupported)
            throw new InvalidInputException($"{(unsupported ? "true" : "false")} is not supported: it {why}", obj.FilePath, name);
    }

    static string Describe(GptConfig c) => string.Create(CultureInfo.InvariantCulture,
        $"vocab_size {c.VocabSize}, n_positions {c.ContextLength}, n_embd {c.Width}, n_layer {c.LayerCount}, n_inner {c.HiddenWidth}");

    /// <summary>source (rows, columns) row-major -> destination (columns, rows) row-major.</summary>
    static void Transpose(ReadOnlySpan<float> source, Span<float> destination, int rows, int columns)
    {
        for (int row = 0; row < rows; row++)
            for (int column = 0; column < columns; column++)
                destination[column * rows + row] = source[row * columns + column];
    }

    public static void Save(string folder, Gpt model)
    {
        GptConfig config = model.Config;
        if (config.Residual != ResidualMode.PreNorm)
            throw new InvalidInputException(
                $"the model uses the {config.Residual} residual policy; Hugging Face GPT-2 has only pre-norm blocks (export it with --format rlm instead)", field: "residual");
        Dictionary<string, Tensor> parameters = model.StateDict();
        var tensors = new List<(string, int[], ReadOnlyMemory<float>)>();
        foreach (Mapping mapping in Mappings(config.LayerCount, untiedHead: model.Head is not null))
        {
            string name = mapping.HfName == HeadName ? HeadName : Prefix + mapping.HfName;
            if (!parameters.TryGetValue(mapping.OurName, out Tensor? tensor))
            {
                // Only the qkv bias can be absent: a zero bias adds nothing, so the exported model computes the same logits.
                int outFeatures = 3 * config.Width;
                tensors.Add((name, [outFeatures], new float[outFeatures]));
                continue;
            }
            if (!mapping.Transposed)
            {
                tensors.Add((name, tensor.Shape.ToArray(), tensor.Data));
                continue;
            }
            int rows = tensor.Dim(0), columns = tensor.Dim(1);                      // ours (out, in)
            var conv = new float[tensor.Size];
            Transpose(tensor.Data, conv, rows, columns);                            // -> HF (in, out)
            tensors.Add((name, [columns, rows], conv));
        }
        string json = ConfigJson(config, tied: model.Head is null).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        Directory.CreateDirectory(folder);
        SafeTensors.Write(Path.Combine(folder, ModelFiles.WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(folder, ModelFiles.ConfigFileName), json);
    }

    static JsonObject ConfigJson(GptConfig config, bool tied)
    {
        double dropout = ModelConfigJson.Number(config.Dropout);
        var json = new JsonObject
        {
            ["activation_function"] = config.ExactGelu ? "gelu" : "gelu_new",
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["attn_pdrop"] = dropout,
            ["embd_pdrop"] = dropout,
            ["initializer_range"] = 0.02,
            ["layer_norm_epsilon"] = ModelConfigJson.Number(config.NormEps),
            ["model_type"] = "gpt2",
            ["n_ctx"] = config.ContextLength,
            ["n_embd"] = config.Width,
            ["n_head"] = config.HeadCount,
            ["n_inner"] = config.FeedForwardWidth,
            ["n_layer"] = config.LayerCount,
            ["n_positions"] = config.ContextLength,
            ["resid_pdrop"] = dropout,
            ["scale_attn_weights"] = true,
            ["tie_word_embeddings"] = tied,
            ["torch_dtype"] = "float32",
            ["use_cache"] = true,
            ["vocab_size"] = config.VocabSize,
        };
        // GPT-2's <|endoftext|> is id 50256; for other vocabularies we know no such id, so HF's defaults stand.
        if (config.VocabSize == 50257)
        {
            json["bos_token_id"] = 50256;
            json["eos_token_id"] = 50256;
        }
        return json;
    }
}
