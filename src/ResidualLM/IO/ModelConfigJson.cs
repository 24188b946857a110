// The config.json of a ResidualLM checkpoint: "architecture" ("gpt" or "llama") plus every config field in snake_case.
// Reading is strict (unknown fields, wrong types and out-of-range values are errors naming the file and field);
// fields other than the shape ones may be absent and then take the record's default.
using System.Globalization;
using System.Text.Json.Nodes;
using ResidualLM.Models;

namespace ResidualLM.IO;

/// <summary>Converts model configs to and from the JSON of a ResidualLM checkpoint folder.</summary>
public static class ModelConfigJson
{
    /// <summary>The field that marks a ResidualLM config (Hugging Face configs have none).</summary>
    public const string ArchitectureField = "architecture";

    /// <summary>Value of <see cref="ArchitectureField"/> for <see cref="Gpt"/>.</summary>
    public const string GptArchitecture = "gpt";

    /// <summary>Value of <see cref="ArchitectureField"/> for <see cref="Llama"/>.</summary>
    public const string LlamaArchitecture = "llama";

    static readonly string[] gptFields =
    [
        ArchitectureField, "vocab_size", "context_length", "width", "head_count", "layer_count", "dropout", "qkv_bias",
        "tie_weights", "residual", "feed_forward_width", "exact_gelu", "norm_eps", "torch_default_init",
    ];

    static readonly string[] llamaFields =
    [
        ArchitectureField, "vocab_size", "context_length", "width", "head_count", "layer_count", "feed_forward_width",
        "norm_eps", "rope_theta", "dropout", "tie_weights", "residual", "kv_head_count", "head_size", "qkv_bias", "output_bias",
        "mlp_bias", "rope_scaling",
    ];

    /// <summary>The config of a GPT or Llama model as checkpoint JSON.</summary>
    /// <exception cref="ArgumentException">The model is neither <see cref="Gpt"/> nor <see cref="Llama"/>.</exception>
    public static JsonObject ToJson(LanguageModel model) => model switch
    {
        Gpt gpt => ToJson(gpt.Config),
        Llama llama => ToJson(llama.Config),
        _ => throw new ArgumentException($"no checkpoint format for {model.GetType().Name}", nameof(model)),
    };

    /// <summary>A GPT config as checkpoint JSON (every field, defaults included).</summary>
    public static JsonObject ToJson(GptConfig config) => new()
    {
        [ArchitectureField] = GptArchitecture,
        ["vocab_size"] = config.VocabSize,
        ["context_length"] = config.ContextLength,
        ["width"] = config.Width,
        ["head_count"] = config.HeadCount,
        ["layer_count"] = config.LayerCount,
        ["dropout"] = Number(config.Dropout),
        ["qkv_bias"] = config.QkvBias,
        ["tie_weights"] = config.TieWeights,
        ["residual"] = ResidualPolicies.Get(config.Residual).Name,
        ["feed_forward_width"] = config.FeedForwardWidth,
        ["exact_gelu"] = config.ExactGelu,
        ["norm_eps"] = Number(config.NormEps),
        ["torch_default_init"] = config.TorchDefaultInit,
    };

    /// <summary>A Llama config as checkpoint JSON (every field, defaults included; null where the config derives the value; rope_scaling only when set).</summary>
    public static JsonObject ToJson(LlamaConfig config)
    {
        var json = new JsonObject
        {
            [ArchitectureField] = LlamaArchitecture,
            ["vocab_size"] = config.VocabSize,
            ["context_length"] = config.ContextLength,
            ["width"] = config.Width,
            ["head_count"] = config.HeadCount,
            ["kv_head_count"] = config.KeyValueHeadCount,                          // null: one per query head
            ["head_size"] = config.HeadSize,                                       // null: width / head_count
            ["layer_count"] = config.LayerCount,
            ["feed_forward_width"] = config.FeedForwardWidth,
            ["norm_eps"] = Number(config.NormEps),
            ["rope_theta"] = Number(config.RopeTheta),
            ["dropout"] = Number(config.Dropout),
            ["tie_weights"] = config.TieWeights,
            ["qkv_bias"] = config.QkvBias,
            ["output_bias"] = config.OutputBias,
            ["mlp_bias"] = config.MlpBias,
            ["residual"] = ResidualPolicies.Get(config.Residual).Name,
        };
        if (config.RopeScaling is { } scaling) json["rope_scaling"] = RopeScalingJson(scaling);
        return json;
    }

    /// <summary>Llama 3 rotary scaling in Hugging Face's spelling (the same in both layouts).</summary>
    internal static JsonObject RopeScalingJson(RopeScaling scaling) => new()
    {
        ["rope_type"] = "llama3",
        ["factor"] = scaling.Factor,
        ["low_freq_factor"] = scaling.LowFrequencyFactor,
        ["high_freq_factor"] = scaling.HighFrequencyFactor,
        ["original_max_position_embeddings"] = scaling.OriginalContextLength,
    };

    /// <summary>
    /// Reads <c>rope_scaling</c> (absent or null: none). Only <c>"llama3"</c> is implemented; <c>"default"</c> means none;
    /// any other type is refused by name. Older files spell the type <c>"type"</c>.
    /// </summary>
    internal static RopeScaling? ReadRopeScaling(JsonInputObject obj)
    {
        if (!obj.Has("rope_scaling")) return null;
        JsonInputObject scaling = JsonInput.GetObject(obj, "rope_scaling");
        string typeField = scaling.Has("rope_type") ? "rope_type" : "type";
        string type = JsonInput.GetString(scaling, typeField);
        if (type == "default") return null;
        if (type != "llama3")
            throw new InvalidInputException(
                $"is \"{MessageText.Printable(type)}\"; only \"llama3\" rotary scaling is implemented (linear, dynamic, yarn, longrope and su are not)",
                obj.FilePath, scaling.FieldName(typeField));
        var result = new RopeScaling(
            JsonInput.GetDouble(scaling, "factor", 1, 1e6),
            JsonInput.GetDouble(scaling, "low_freq_factor", 1e-9, 1e6),
            JsonInput.GetDouble(scaling, "high_freq_factor", 1e-9, 1e6),
            JsonInput.GetInt(scaling, "original_max_position_embeddings", 1, MaxContext));
        try
        {
            return result.Validate();
        }
        catch (InvalidInputException error) when (error.Field is not null)
        {
            string field = error.Field.StartsWith("rope_scaling.", StringComparison.Ordinal) ? error.Field["rope_scaling.".Length..] : error.Field;
            string message = error.Message.StartsWith(error.Field + ": ", StringComparison.Ordinal) ? error.Message[(error.Field.Length + 2)..] : error.Message;
            throw new InvalidInputException(message, obj.FilePath, scaling.FieldName(field), error);
        }
    }

    /// <summary>
    /// Builds the (randomly initialised) model a checkpoint config describes; the caller then loads the weights.
    /// </summary>
    /// <exception cref="InvalidInputException">Unknown architecture or field, wrong type, or a value out of range.</exception>
    public static LanguageModel CreateModel(JsonInputObject config) => CreateModel(config, long.MaxValue);

    /// <summary>As <see cref="CreateModel(JsonInputObject)"/>, refusing (before allocating) a model larger than the weights file's <paramref name="storedValues"/>.</summary>
    internal static LanguageModel CreateModel(JsonInputObject config, long storedValues)
    {
        string architecture = JsonInput.GetString(config, ArchitectureField, [GptArchitecture, LlamaArchitecture]);
        if (architecture == GptArchitecture)
        {
            GptConfig gpt = ReadGpt(config);
            ModelFiles.RequireRoomFor(gpt.VocabSize, gpt.Width, gpt.LayerCount, storedValues, config.FilePath);
            return new Gpt(gpt);
        }
        LlamaConfig llama = ReadLlama(config);
        ModelFiles.RequireRoomFor(llama.VocabSize, llama.Width, llama.LayerCount, storedValues, config.FilePath);
        return new Llama(llama);
    }

    /// <summary>Reads a GPT config (the <c>architecture</c> field must be <c>"gpt"</c>).</summary>
    /// <exception cref="InvalidInputException">A field is unknown, of the wrong type or out of range.</exception>
    public static GptConfig ReadGpt(JsonInputObject obj)
    {
        JsonInput.RejectUnknown(obj, gptFields);
        JsonInput.GetString(obj, ArchitectureField, [GptArchitecture]);
        var defaults = new GptConfig();
        int width = JsonInput.GetInt(obj, "width", 1, MaxWidth);
        var config = new GptConfig
        {
            VocabSize = JsonInput.GetInt(obj, "vocab_size", 1, MaxVocabulary),
            ContextLength = JsonInput.GetInt(obj, "context_length", 1, MaxContext),
            Width = width,
            HeadCount = JsonInput.GetInt(obj, "head_count", 1, width),
            LayerCount = JsonInput.GetInt(obj, "layer_count", 1, MaxLayers),
            Dropout = (float)JsonInput.GetOptionalDouble(obj, "dropout", defaults.Dropout, 0, 0.999999),
            QkvBias = JsonInput.GetOptionalBool(obj, "qkv_bias", defaults.QkvBias),
            TieWeights = JsonInput.GetOptionalBool(obj, "tie_weights", defaults.TieWeights),
            Residual = ReadResidual(obj, defaults.Residual),
            FeedForwardWidth = obj.Has("feed_forward_width") ? JsonInput.GetInt(obj, "feed_forward_width", 1, MaxHidden) : null,
            ExactGelu = JsonInput.GetOptionalBool(obj, "exact_gelu", defaults.ExactGelu),
            NormEps = (float)JsonInput.GetOptionalDouble(obj, "norm_eps", defaults.NormEps, 1e-12, 1),
            TorchDefaultInit = JsonInput.GetOptionalBool(obj, "torch_default_init", false),
        };
        return Validated(obj, config, c => c.Validate());
    }

    /// <summary>Reads a Llama config (the <c>architecture</c> field must be <c>"llama"</c>).</summary>
    /// <exception cref="InvalidInputException">A field is unknown, of the wrong type or out of range.</exception>
    public static LlamaConfig ReadLlama(JsonInputObject obj)
    {
        JsonInput.RejectUnknown(obj, llamaFields);
        JsonInput.GetString(obj, ArchitectureField, [LlamaArchitecture]);
        var defaults = new LlamaConfig();
        int width = JsonInput.GetInt(obj, "width", 1, MaxWidth);
        var config = new LlamaConfig
        {
            VocabSize = JsonInput.GetInt(obj, "vocab_size", 1, MaxVocabulary),
            ContextLength = JsonInput.GetInt(obj, "context_length", 1, MaxContext),
            Width = width,
            HeadCount = JsonInput.GetInt(obj, "head_count", 1, width),
            LayerCount = JsonInput.GetInt(obj, "layer_count", 1, MaxLayers),
            FeedForwardWidth = JsonInput.GetInt(obj, "feed_forward_width", 1, MaxHidden),
            NormEps = (float)JsonInput.GetOptionalDouble(obj, "norm_eps", defaults.NormEps, 1e-12, 1),
            RopeTheta = (float)JsonInput.GetOptionalDouble(obj, "rope_theta", defaults.RopeTheta, 1.000001, 1e9),
            Dropout = (float)JsonInput.GetOptionalDouble(obj, "dropout", defaults.Dropout, 0, 0.999999),
            TieWeights = JsonInput.GetOptionalBool(obj, "tie_weights", defaults.TieWeights),
            Residual = ReadResidual(obj, defaults.Residual),
            KeyValueHeadCount = obj.Has("kv_head_count") ? JsonInput.GetInt(obj, "kv_head_count", 1, MaxWidth) : null,
            HeadSize = obj.Has("head_size") ? JsonInput.GetInt(obj, "head_size", 1, MaxWidth) : null,
            QkvBias = JsonInput.GetOptionalBool(obj, "qkv_bias", defaults.QkvBias),
            OutputBias = JsonInput.GetOptionalBool(obj, "output_bias", defaults.OutputBias),
            MlpBias = JsonInput.GetOptionalBool(obj, "mlp_bias", defaults.MlpBias),
            RopeScaling = ReadRopeScaling(obj),
        };
        return Validated(obj, config, c => c.Validate());
    }

    // Limits far above any model this library can hold in memory, low enough that products cannot overflow a long.
    internal const int MaxVocabulary = 1 << 24, MaxContext = 1 << 20, MaxWidth = 1 << 16, MaxLayers = 10_000, MaxHidden = 1 << 18;

    /// <summary>A policy name from the catalogue, any case: files written before the catalogue say "PreNorm".</summary>
    static ResidualMode ReadResidual(JsonInputObject obj, ResidualMode defaultValue)
    {
        string? text = JsonInput.GetOptionalString(obj, "residual", null);
        if (text is null) return defaultValue;
        return ResidualPolicies.TryParse(text, out var mode)
            ? mode
            : throw new InvalidInputException($"is \"{MessageText.Printable(text)}\", expected one of: {ResidualPolicies.Names}", obj.FilePath, obj.FieldName("residual"));
    }

    /// <summary>
    /// Runs the record's own validation and re-reports its failure against the file and the JSON field: the config
    /// property's name through <paramref name="keyOf"/> (a Hugging Face file's own keys), else in snake_case.
    /// </summary>
    internal static T Validated<T>(JsonInputObject obj, T config, Func<T, T> validate, IReadOnlyDictionary<string, string>? keyOf = null)
    {
        try
        {
            return validate(config);
        }
        catch (InvalidInputException error) when (error.Field is not null)
        {
            string message = error.Message.StartsWith(error.Field + ": ", StringComparison.Ordinal) ? error.Message[(error.Field.Length + 2)..] : error.Message;
            string field = keyOf?.GetValueOrDefault(error.Field) ?? SnakeCase(error.Field);
            throw new InvalidInputException(message, obj.FilePath, field, error);
        }
    }

    /// <summary>HeadCount -> head_count.</summary>
    internal static string SnakeCase(string name) =>
        string.Concat(name.Select((character, index) => char.IsUpper(character) ? (index > 0 ? "_" : "") + char.ToLowerInvariant(character) : character.ToString()));

    /// <summary>A float as the shortest decimal that reads back to the same float (0.1f is written 0.1, not 0.10000000149).</summary>
    internal static double Number(float value) => double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
