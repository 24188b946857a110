// Temporary model files (replaced by the full version on branch hf): config.json + model.safetensors, GPT and Llama.
using System.Text.Json;
using System.Text.Json.Serialization;
using ResidualLM.Models;

namespace ResidualLM.IO;

public static class ModelFiles
{
    static readonly JsonSerializerOptions json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = true,
    };

    public static void Save(string folder, LanguageModel model)
    {
        Directory.CreateDirectory(folder);
        string architecture = model is Gpt ? "gpt" : "llama";
        var node = model switch
        {
            Gpt g => JsonSerializer.SerializeToNode(g.Config, json)!.AsObject(),
            Llama l => JsonSerializer.SerializeToNode(l.Config, json)!.AsObject(),
            _ => throw new ArgumentException("unsupported model"),
        };
        node.Remove("hidden_width");
        node.Insert(0, "architecture", architecture);
        AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), node.ToJsonString(json));
        SafeTensors.Write(Path.Combine(folder, "model.safetensors"),
            model.NamedParameters().Select(p => (p.Name, p.Tensor.Shape.ToArray(), (ReadOnlyMemory<float>)p.Tensor.Data)));
    }

    public static LanguageModel Load(string folder)
    {
        string configPath = Path.Combine(folder, "config.json");
        var obj = JsonInput.Parse(configPath);
        string architecture = JsonInput.GetString(obj, "architecture", ["gpt", "llama"]);
        string text = File.ReadAllText(configPath);
        LanguageModel model = architecture == "gpt"
            ? new Gpt(Strip(text).Deserialize<GptConfig>(json)!)
            : new Llama(Strip(text).Deserialize<LlamaConfig>(json)!);
        using var file = SafeTensors.Read(Path.Combine(folder, "model.safetensors"));
        foreach (var (name, tensor) in model.NamedParameters())
        {
            if (!file.Contains(name)) throw new InvalidInputException("missing tensor", Path.Combine(folder, "model.safetensors"), name);
            file.ReadFloat32(name, tensor.Data);
        }
        return model;
    }

    static JsonElement Strip(string text)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
        node.Remove("architecture");
        return JsonSerializer.SerializeToElement(node);
    }
}
