// Test helpers for model folders: the Hugging Face GPT-2 fixtures of tools/reference/gpt2_hf_fixture.py, their
// expected logits, and rewriting a folder's tensors or config to make malformed variants.
using System.Text.Json;
using System.Text.Json.Nodes;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tests.Text;

namespace ResidualLM.Tests.IO;

public static class ModelFolders
{
    public static readonly string[] Variants = ["plain-tied", "prefixed-untied", "prefixed-tied-copy"];

    public static string Fixture(string variant) => Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt2-hf", variant);

    /// <summary>The token ids and float64 logits (T, V) PyTorch computed for a variant.</summary>
    public static (int[] Tokens, double[][] Logits) Expected(string variant)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt2-hf", "expected.json")));
        JsonElement entry = document.RootElement.GetProperty(variant);
        int[] tokens = entry.GetProperty("tokens").EnumerateArray().Select(token => token.GetInt32()).ToArray();
        double[][] logits = entry.GetProperty("logits").EnumerateArray().Select(row => row.EnumerateArray().Select(value => value.GetDouble()).ToArray()).ToArray();
        return (tokens, logits);
    }

    /// <summary>Copies a fixture folder into <paramref name="directory"/> and returns the copy's path.</summary>
    public static string CopyFixture(string variant, TemporaryDirectory directory)
    {
        string target = Path.Combine(directory.Path, variant);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Fixture(variant)))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    /// <summary>Logits (T, V) flattened, for one sequence.</summary>
    public static float[] Logits(LanguageModel model, int[] tokens) => model.Forward(tokens, 1, tokens.Length).Data.ToArray();

    public static List<(string Name, int[] Shape, float[] Data)> ReadTensors(string path)
    {
        using SafeTensorsFile file = SafeTensors.Read(path);
        return file.Names.Select(name => (name, file.Info(name).ShapeAsInt32(), file.ReadFloat32(name))).ToList();
    }

    /// <summary>Replaces folder/model.safetensors by what <paramref name="change"/> makes of its tensors (as float32).</summary>
    public static void RewriteTensors(string folder, Func<List<(string Name, int[] Shape, float[] Data)>, IEnumerable<(string Name, int[] Shape, float[] Data)>> change)
    {
        string path = Path.Combine(folder, ModelFiles.WeightsFileName);
        var tensors = change(ReadTensors(path)).Select(t => (t.Name, t.Shape, (ReadOnlyMemory<float>)t.Data)).ToList();
        SafeTensors.Write(path, tensors);
    }

    /// <summary>Replaces folder/config.json by what <paramref name="change"/> makes of it.</summary>
    public static void RewriteConfig(string folder, Action<JsonObject> change)
    {
        string path = Path.Combine(folder, ModelFiles.ConfigFileName);
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        change(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    /// <summary>Rewrites the safetensors header JSON in place, keeping the data bytes.</summary>
    public static void RewriteHeader(string folder, Action<JsonObject> change)
    {
        string path = Path.Combine(folder, ModelFiles.WeightsFileName);
        byte[] bytes = File.ReadAllBytes(path);
        int length = (int)BitConverter.ToUInt64(bytes, 0);
        var header = JsonNode.Parse(bytes.AsSpan(8, length))!.AsObject();
        change(header);
        byte[] newHeader = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((ulong)newHeader.Length));
        stream.Write(newHeader);
        stream.Write(bytes.AsSpan(8 + length));
    }

    /// <summary>The bit patterns of floats, so that -0 and 0 (and NaN payloads) count as different.</summary>
    public static ReadOnlySpan<uint> Bits(float[] values) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(values.AsSpan());

    /// <summary>Asserts two models have the same parameter names, shapes and bit patterns.</summary>
    public static void AssertSameParameters(LanguageModel expected, LanguageModel actual)
    {
        var left = expected.NamedParameters();
        var right = actual.NamedParameters();
        Xunit.Assert.Equal(left.Select(p => p.Name), right.Select(p => p.Name));
        for (int i = 0; i < left.Count; i++)
        {
            Xunit.Assert.Equal(left[i].Tensor.ShapeString, right[i].Tensor.ShapeString);
            Xunit.Assert.True(Bits(left[i].Tensor.Data).SequenceEqual(Bits(right[i].Tensor.Data)), $"{left[i].Name} differs");
        }
    }
}
