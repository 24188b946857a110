// Reads the golden model fixtures written by tools/reference/models_fixture.py (PyTorch, float64 reference).
using System.IO.Compression;
using System.Text.Json;
using ResidualLM.Tensors;
using System.Text.Json.Serialization;

namespace ResidualLM.Tests.Models;

/// <summary>One fixture: config, inputs, parameters, expected output, loss, gradients and AdamW losses.</summary>
public sealed class ModelFixture
{
    static readonly JsonSerializerOptions ConfigOptions = new() { PropertyNameCaseInsensitive = true, Converters = { new JsonStringEnumConverter() } };

    readonly JsonElement root;

    ModelFixture(JsonElement root) => this.root = root;

    /// <summary>Loads fixtures/models/NAME.json, or NAME.json.gz (the wide fixtures, gzipped to stay small).</summary>
    public static ModelFixture Load(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "models", name + ".json");
        using Stream stream = File.Exists(path) ? File.OpenRead(path) : new GZipStream(File.OpenRead(path + ".gz"), CompressionMode.Decompress);
        using var doc = JsonDocument.Parse(stream);
        return new ModelFixture(doc.RootElement.Clone());
    }

    public T Config<T>() => root.GetProperty("config").Deserialize<T>(ConfigOptions)!;

    public int Int(string field) => root.GetProperty(field).GetInt32();

    public int[] Ints(string field) => root.GetProperty(field).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public double[] Doubles(string field) => root.GetProperty(field).EnumerateArray().Select(e => e.GetDouble()).ToArray();

    public double Loss => root.GetProperty("loss").GetDouble();

    public Tensor Output => ReadTensor(root.GetProperty("output"));

    public Tensor TensorField(string field) => ReadTensor(root.GetProperty(field));

    public Dictionary<string, Tensor> Parameters => ReadTensors("parameters");

    public Dictionary<string, Tensor> Gradients => ReadTensors("gradients");

    public JsonElement AdamW => root.GetProperty("adamw");

    Dictionary<string, Tensor> ReadTensors(string field) =>
        root.GetProperty(field).EnumerateObject().ToDictionary(p => p.Name, p => ReadTensor(p.Value));

    static Tensor ReadTensor(JsonElement e)
    {
        int[] shape = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
        float[] data = e.GetProperty("data").EnumerateArray().Select(d => (float)d.GetDouble()).ToArray();
        return new Tensor(data, shape);
    }
}
