// Hugging Face Llama-family folders (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM) <-> our Llama: config
// keys, tensor names, q/k/v fused into our qkv rows [q; k; v]. nn.Linear weights are (out, in) on both sides, so nothing
// is transposed. Rotary positions use HF's rotate_half convention (the two halves of each head), which is ours.
// Limits: sliding-window attention is read as a context cap (the graph is the same for sequences that fit the window);
// rope_scaling other than llama3 is refused; weights load as float32 (F32, F16, BF16 stored).
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ResidualLM.Models;
using ResidualLM.Tensors;

namespace ResidualLM.IO;

internal static partial class HuggingFaceLlama
{
    /// <summary>The <c>model_type</c> values read here; all three share the Llama graph.</summary>
    public static readonly string[] ModelTypes = ["llama", "qwen2", "mistral"];

    const string HeadName = "lm_head.weight", TableName = "model.embed_tokens.weight";

    // Buffers some older checkpoints store beside the parameters; they are recomputed, not read.
    [GeneratedRegex(@"^model\.layers\.[0-9]+\.self_attn\.rotary_emb\.inv_freq$")]
    private static partial Regex RotaryBuffer();

    /// <summary>Our config field -> HF key, to re-report LlamaConfig.Validate failures in the file's own terms.</summary>
    static readonly Dictionary<string, string> hfKeyOf = new(StringComparer.Ordinal)
    {
        ["VocabSize"] = "vocab_size", ["ContextLength"] = "max_position_embeddings", ["Width"] = "hidden_size",
        ["HeadCount"] = "num_attention_heads", ["KeyValueHeadCount"] = "num_key_value_heads", ["HeadSize"] = "head_dim",
        ["LayerCount"] = "num_hidden_layers", ["FeedForwardWidth"] = "intermediate_size", ["NormEps"] = "rms_norm_eps",
        ["RopeTheta"] = "rope_theta",
    };

    /// <summary>One HF tensor and where its rows go in ours: rows [RowStart, RowStart + rows) of OurName.</summary>
    readonly record struct Mapping(string HfName, string OurName, int RowStart);

    /// <summary>Every parameter of a Llama of <paramref name="config"/> in HF's names, in HF's file order.</summary>
    static IEnumerable<Mapping> Mappings(LlamaConfig config, bool untiedHead)
    {
        int q = config.HeadCount * config.HeadDim, kv = config.KvHeads * config.HeadDim;
        yield return new(TableName, "token_embedding.weight", 0);
        for (int i = 0; i < config.LayerCount; i++)
        {
            string h = $"model.layers.{i}.", ours = $"blocks.{i}.";
            yield return new(h + "input_layernorm.weight", ours + "norm1.weight", 0);
            foreach (string kind in config.QkvBias ? new[] { "weight", "bias" } : ["weight"])
            {
                yield return new(h + "self_attn.q_proj." + kind, ours + "attn.qkv." + kind, 0);
                yield return new(h + "self_attn.k_proj." + kind, ours + "attn.qkv." + kind, q);
                yield return new(h + "self_attn.v_proj." + kind, ours + "attn.qkv." + kind, q + kv);
            }
            yield return new(h + "self_attn.o_proj.weight", ours + "attn.proj.weight", 0);
            if (config.OutputBias) yield return new(h + "self_attn.o_proj.bias", ours + "attn.proj.bias", 0);
            yield return new(h + "post_attention_layernorm.weight", ours + "norm2.weight", 0);
            foreach ((string hf, string our) in new[] { ("gate_proj", "w1"), ("up_proj", "w3"), ("down_proj", "w2") })
            {
                yield return new(h + "mlp." + hf + ".weight", ours + "ffn." + our + ".weight", 0);
                if (config.MlpBias) yield return new(h + "mlp." + hf + ".bias", ours + "ffn." + our + ".bias", 0);
            }
        }
        yield return new("model.norm.weight", "final_norm.weight", 0);
        if (untiedHead) yield return new(HeadName, "head.weight", 0);
    }

    /// <summary>Whether a config.json describes a model of this family.</summary>
    public static bool Describes(JsonInputObject config) =>
        JsonInput.GetOptionalString(config, "model_type", null) is string type && ModelTypes.Contains(type);

    public static Llama Load(string folder, JsonInputObject json)
    {
        LlamaConfig shape = ReadConfig(json);
        using WeightFiles files = WeightFiles.Open(folder);
        string context = Describe(shape);

        bool untied;
        if (!shape.TieWeights) untied = true;
        else if (!files.Contains(HeadName)) untied = false;
        else
        {
            if (!files.Contains(TableName)) throw Missing(files, TableName);
            if (!files.HaveEqualData(HeadName, TableName))
                throw new InvalidInputException(
                    $"differs from {TableName}, but {ModelFiles.ConfigFileName} ties the head to the embedding (tie_word_embeddings is true), " +
                    "so transformers would ignore it; set tie_word_embeddings to false to use it, or remove the tensor", files.FileOf(HeadName).FilePath, HeadName);
            untied = false;
        }
        ModelFiles.RequireRoomFor(shape.VocabSize, shape.Width, shape.LayerCount, files.StoredValues, json.FilePath);
        var model = new Llama(shape with { TieWeights = !untied });
        var mappings = Mappings(model.Config, untied).ToList();

        var known = mappings.Select(mapping => mapping.HfName).ToHashSet(StringComparer.Ordinal);
        if (!untied) known.Add(HeadName);                                           // an exact copy of the table, checked above
        foreach (string name in files.Names)
            if (!known.Contains(name) && !RotaryBuffer().IsMatch(name))
                throw new InvalidInputException($"unexpected tensor: a {shape.GetType().Name[..^6]} with {context} has no such parameter",
                    files.FileOf(name).FilePath, MessageText.Printable(name));

        Dictionary<string, Tensor> parameters = model.StateDict();
        foreach (Mapping mapping in mappings)
        {
            if (!files.Contains(mapping.HfName)) throw Missing(files, mapping.HfName);
            SafeTensorsFile file = files.FileOf(mapping.HfName);
            Tensor target = parameters[mapping.OurName];
            int rows = RowsOf(mapping, model.Config, target);
            int columns = target.Rank == 2 ? target.Dim(1) : 1;
            int[] expected = target.Rank == 2 ? [rows, columns] : [rows];
            ModelFiles.RequireShape(file, mapping.HfName, expected, $"{ModelFiles.ConfigFileName} ({context})");
            file.ReadFloat32(mapping.HfName, target.Data.AsSpan(mapping.RowStart * columns, rows * columns));
        }
        return model;
    }

    /// <summary>Rows of <paramref name="target"/> that one HF tensor fills: a q, k or v slice of qkv, else all of it.</summary>
    static int RowsOf(Mapping mapping, LlamaConfig config, Tensor target)
    {
        if (!mapping.OurName.Contains(".attn.qkv.", StringComparison.Ordinal)) return target.Dim(0);
        bool query = mapping.HfName.Contains(".q_proj.", StringComparison.Ordinal);
        return (query ? config.HeadCount : config.KvHeads) * config.HeadDim;
    }

    static InvalidInputException Missing(WeightFiles files, string name) =>
        new("missing tensor: the model described by config.json needs it", files.DisplayPath, name);

    /// <summary>Reads a LlamaConfig / Qwen2Config / MistralConfig, refusing options that change the math in ways ours lacks.</summary>
    internal static LlamaConfig ReadConfig(JsonInputObject obj)
    {
        string type = JsonInput.GetString(obj, "model_type", ModelTypes);
        string activation = JsonInput.GetOptionalString(obj, "hidden_act", "silu")!;
        if (activation != "silu")
            throw new InvalidInputException($"is \"{MessageText.Printable(activation)}\"; the Llama family here uses SiLU (\"silu\") in its SwiGLU", obj.FilePath, "hidden_act");
        // pretraining_tp only splits the same products into slices (a different summation order): ignored, as it is at inference.
        int width = JsonInput.GetInt(obj, "hidden_size", 1, ModelConfigJson.MaxWidth);
        int heads = JsonInput.GetInt(obj, "num_attention_heads", 1, ModelConfigJson.MaxWidth);
        int context = JsonInput.GetOptionalInt(obj, "max_position_embeddings", type == "llama" ? 2048 : 32768, 1, ModelConfigJson.MaxContext);
        // Sliding-window attention sees the last W positions; for sequences of at most W positions it is full causal
        // attention, so the window caps the context instead of changing the graph.
        bool sliding = type == "mistral" || (type == "qwen2" && JsonInput.GetOptionalBool(obj, "use_sliding_window", false));
        if (sliding && obj.Has("sliding_window")) context = Math.Min(context, JsonInput.GetInt(obj, "sliding_window", 1, ModelConfigJson.MaxContext));
        bool attentionBias = JsonInput.GetOptionalBool(obj, "attention_bias", false);
        var config = new LlamaConfig
        {
            VocabSize = JsonInput.GetInt(obj, "vocab_size", 1, ModelConfigJson.MaxVocabulary),
            ContextLength = context,
            Width = width,
            HeadCount = heads,
            KeyValueHeadCount = obj.Has("num_key_value_heads") ? JsonInput.GetInt(obj, "num_key_value_heads", 1, heads) : null,
            HeadSize = obj.Has("head_dim") ? JsonInput.GetInt(obj, "head_dim", 1, ModelConfigJson.MaxWidth) : null,
            LayerCount = JsonInput.GetInt(obj, "num_hidden_layers", 1, ModelConfigJson.MaxLayers),
            FeedForwardWidth = JsonInput.GetInt(obj, "intermediate_size", 1, ModelConfigJson.MaxHidden),
            NormEps = (float)JsonInput.GetOptionalDouble(obj, "rms_norm_eps", 1e-6, 1e-12, 1),
            RopeTheta = (float)JsonInput.GetOptionalDouble(obj, "rope_theta", 10000, 1.000001, 1e12),
            RopeScaling = ModelConfigJson.ReadRopeScaling(obj),
            TieWeights = JsonInput.GetOptionalBool(obj, "tie_word_embeddings", false),
            // Qwen2 always has q/k/v biases and no output bias; Llama's attention_bias puts biases on all four.
            QkvBias = type == "qwen2" || attentionBias,
            OutputBias = type != "qwen2" && attentionBias,
            MlpBias = JsonInput.GetOptionalBool(obj, "mlp_bias", false),
            Dropout = 0f,
            Residual = ResidualMode.PreNorm,
        };
        return ModelConfigJson.Validated(obj, config, c => c.Validate(), hfKeyOf);
    }

    /// <summary>The special-token ids a config names (<c>bos_token_id</c>, <c>eos_token_id</c>, which may be a list).</summary>
    internal static (int? Bos, int[] Eos) SpecialIds(JsonInputObject obj)
    {
        int? bos = obj.Has("bos_token_id") ? JsonInput.GetInt(obj, "bos_token_id", 0, ModelConfigJson.MaxVocabulary) : null;
        int[] eos = !obj.Has("eos_token_id") ? []
            : obj.Element.GetProperty("eos_token_id").ValueKind == JsonValueKind.Array
                ? JsonInput.GetIntArray(obj, "eos_token_id", 0, ModelConfigJson.MaxVocabulary)
                : [JsonInput.GetInt(obj, "eos_token_id", 0, ModelConfigJson.MaxVocabulary)];
        return (bos, eos);
    }

    static string Describe(LlamaConfig c) => string.Create(CultureInfo.InvariantCulture,
        $"vocab_size {c.VocabSize}, hidden_size {c.Width}, num_hidden_layers {c.LayerCount}, heads {c.HeadCount}/{c.KvHeads} of {c.HeadDim}, intermediate_size {c.FeedForwardWidth}");

    /// <summary>
    /// Writes <paramref name="model"/> as a Hugging Face folder: <c>LlamaForCausalLM</c>, or <c>Qwen2ForCausalLM</c> when it
    /// has q/k/v biases without an output bias (Llama's attention_bias sets both). Float32 weights.
    /// </summary>
    public static void Save(string folder, Llama model, int? bosTokenId = null, int? eosTokenId = null)
    {
        LlamaConfig config = model.Config;
        if (config.Residual != ResidualMode.PreNorm)
            throw new InvalidInputException(
                $"the model uses the {config.Residual} residual policy; Hugging Face Llama has only pre-norm blocks (export it with --format rlm instead)", field: "residual");
        bool qwen = config.QkvBias && !config.OutputBias;
        if (qwen && config.MlpBias)
            throw new InvalidInputException("q/k/v biases without an output bias but with MLP biases match neither Llama nor Qwen2 in transformers", field: "mlp_bias");
        if (config.QkvBias != config.OutputBias && !qwen)
            throw new InvalidInputException("an output bias without q/k/v biases matches neither Llama nor Qwen2 in transformers", field: "attention_bias");
        Dictionary<string, Tensor> parameters = model.StateDict();
        var tensors = new List<(string, int[], ReadOnlyMemory<float>)>();
        foreach (Mapping mapping in Mappings(config, untiedHead: model.Head is not null))
        {
            Tensor source = parameters[mapping.OurName];
            int rows = RowsOf(mapping, config, source), columns = source.Rank == 2 ? source.Dim(1) : 1;
            ReadOnlyMemory<float> data = source.Data.AsMemory(mapping.RowStart * columns, rows * columns);
            tensors.Add((mapping.HfName, source.Rank == 2 ? [rows, columns] : [rows], data));
        }
        JsonObject json = ConfigJson(config, qwen, bosTokenId, eosTokenId);
        Directory.CreateDirectory(folder);
        SafeTensors.Write(Path.Combine(folder, ModelFiles.WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(folder, ModelFiles.ConfigFileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    static JsonObject ConfigJson(LlamaConfig config, bool qwen, int? bos, int? eos)
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"),
            ["model_type"] = qwen ? "qwen2" : "llama",
            ["hidden_act"] = "silu",
            ["hidden_size"] = config.Width,
            ["intermediate_size"] = config.FeedForwardWidth,
            ["num_attention_heads"] = config.HeadCount,
            ["num_key_value_heads"] = config.KvHeads,
            ["head_dim"] = config.HeadDim,
            ["num_hidden_layers"] = config.LayerCount,
            ["max_position_embeddings"] = config.ContextLength,
            ["rms_norm_eps"] = ModelConfigJson.Number(config.NormEps),
            ["rope_theta"] = ModelConfigJson.Number(config.RopeTheta),
            ["rope_scaling"] = config.RopeScaling is { } scaling ? ModelConfigJson.RopeScalingJson(scaling) : null,
            ["tie_word_embeddings"] = config.TieWeights,
            ["vocab_size"] = config.VocabSize,
            ["initializer_range"] = 0.02,
            ["torch_dtype"] = "float32",
            ["use_cache"] = true,
        };
        if (qwen) json["use_sliding_window"] = false;
        else
        {
            json["attention_bias"] = config.QkvBias;
            json["mlp_bias"] = config.MlpBias;
        }
        if (bos is int b) json["bos_token_id"] = b;
        if (eos is int e) json["eos_token_id"] = e;
        return json;
    }
}
