// Hugging Face Llama-family folders (Llama, Qwen2) written by tools/reference/llama_hf_fixture.py: logits, loss and
// every gradient against PyTorch (float64 on the stored weights), `rlm logits`, cached against recomputed greedy
// decoding, export and reload, and the configs and folders that must be refused with one line.
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ResidualLM.Cli;
using ResidualLM.Cli.Commands;
using ResidualLM.Generation;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Tests.Text;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.IO;

public partial class HuggingFaceLlamaTests(ITestOutputHelper output)
{
    // The reference is float64 on the stored weights, so the gap is our float32 round-off alone (observed below 1e-6 on
    // logits of size ~3). Gradients on the scale of their tensor, as in GoldenModelTests.
    const double LogitTolerance = 1e-5, GradientTolerance = 1e-5, GradientRelative = 1e-4;

    public static TheoryData<string> Cases =>
        ["llama-gqa-6-2", "llama-mqa-4-1-tied-llama3", "qwen2-bias-sharded", "llama-head-dim-biases", "llama-bf16-64"];

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "llama-hf", name);

    sealed record Expected(Tensor Logits, double Loss, int[] Ids, int[] Targets, Dictionary<string, float[]> Gradients);

    static Expected ReadExpected(string name)
    {
        using SafeTensorsFile file = SafeTensors.Read(Path.Combine(Fixture(name), "expected.safetensors"));
        TensorInfo logits = file.Info("logits");
        var gradients = file.Names.Where(n => n.StartsWith("grad.", StringComparison.Ordinal)).ToDictionary(n => n["grad.".Length..], file.ReadFloat32);
        return new(new Tensor(file.ReadFloat32("logits"), logits.Shape.Select(d => (int)d).ToArray()), file.ReadFloat32("loss")[0],
            file.ReadFloat32("ids").Select(v => (int)v).ToArray(), file.ReadFloat32("targets").Select(v => (int)v).ToArray(), gradients);
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")]
    private static partial Regex LayerTensor();

    /// <summary>
    /// Where a Hugging Face parameter lives in our Llama: our name and the first row it fills (q, k and v stack in qkv).
    /// Written out here, apart from the loader's own table, so that a mistake in one is not repeated in the other.
    /// </summary>
    static (string Name, int Row) Ours(string hf, LlamaConfig c)
    {
        switch (hf)
        {
            case "model.embed_tokens.weight": return ("token_embedding.weight", 0);
            case "model.norm.weight": return ("final_norm.weight", 0);
            case "lm_head.weight": return ("head.weight", 0);
        }
        Match m = LayerTensor().Match(hf);
        Assert.True(m.Success, $"unexpected tensor {hf}");
        string block = $"blocks.{m.Groups[1].Value}.", kind = m.Groups[3].Value;
        int q = c.HeadCount * c.HeadDim, kv = c.KvHeads * c.HeadDim;
        return m.Groups[2].Value switch
        {
            "input_layernorm" => (block + "norm1." + kind, 0),
            "post_attention_layernorm" => (block + "norm2." + kind, 0),
            "self_attn.q_proj" => (block + "attn.qkv." + kind, 0),
            "self_attn.k_proj" => (block + "attn.qkv." + kind, q),
            "self_attn.v_proj" => (block + "attn.qkv." + kind, q + kv),
            "self_attn.o_proj" => (block + "attn.proj." + kind, 0),
            "mlp.gate_proj" => (block + "ffn.w1." + kind, 0),
            "mlp.up_proj" => (block + "ffn.w3." + kind, 0),
            "mlp.down_proj" => (block + "ffn.w2." + kind, 0),
            string other => throw new Xunit.Sdk.XunitException($"unexpected tensor {other}"),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Folder_LogitsLossAndEveryGradient_MatchPyTorch(string name)
    {
        Expected expected = ReadExpected(name);
        var model = Assert.IsType<Llama>(ModelFiles.Load(Fixture(name)));
        int batch = expected.Logits.Dim(0), time = expected.Logits.Dim(1);
        Tensor logits = model.Forward(expected.Ids, batch, time);
        AssertClose("logits", expected.Logits.Data, logits.Data, LogitTolerance, 0);
        Tensor loss = LanguageModel.Loss(model.Context.Threads, logits, expected.Targets);
        double lossError = Math.Abs(loss.Item() - expected.Loss) / Math.Max(1, Math.Abs(expected.Loss));
        Assert.True(lossError <= LogitTolerance, $"loss {loss.Item():G9}, PyTorch {expected.Loss:G9}");
        loss.Backward();

        Dictionary<string, Tensor> parameters = model.StateDict();
        var covered = new Dictionary<string, int>();
        foreach ((string hf, float[] reference) in expected.Gradients)
        {
            (string ours, int row) = Ours(hf, model.Config);
            Tensor parameter = parameters[ours];
            int columns = parameter.Rank == 2 ? parameter.Dim(1) : 1;
            float[] gradient = parameter.Grad!.Data.AsSpan(row * columns, reference.Length).ToArray();
            AssertClose(hf, reference, gradient, GradientTolerance, GradientRelative);
            covered[ours] = covered.GetValueOrDefault(ours) + reference.Length;
        }
        // Every element of every parameter has its reference gradient: nothing of ours is left unchecked.
        foreach ((string ours, Tensor parameter) in parameters) Assert.Equal(parameter.Size, covered.GetValueOrDefault(ours));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsCommand_Json_IsWithin1e4OfPyTorch(string name)
    {
        Expected expected = ReadExpected(name);
        int time = expected.Logits.Dim(1), vocab = expected.Logits.Dim(2);
        var root = new RootCommand();
        root.Subcommands.Add(LogitsCommand.Create());
        var console = new StringWriter();
        int code = root.Parse(["logits", "--model", Fixture(name), "--tokens", string.Join(",", expected.Ids.Take(time)), "--json"])
            .Invoke(new InvocationConfiguration { Output = console, Error = new StringWriter() });
        Assert.Equal(0, code);
        float[] rows = JsonDocument.Parse(console.ToString()).RootElement.GetProperty("logits").EnumerateArray()
            .SelectMany(row => row.EnumerateArray().Select(v => v.GetSingle())).ToArray();
        Assert.Equal(time * vocab, rows.Length);
        double worst = 0;
        for (int i = 0; i < rows.Length; i++) worst = Math.Max(worst, Math.Abs(rows[i] - expected.Logits.Data[i]));
        output.WriteLine($"{name}: max |rlm logits - PyTorch| = {worst:G3}");
        Assert.True(worst <= 1e-4, $"max error {worst:G3}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyDecoding_WithCache_EqualsFullRecomputation(string name)
    {
        var model = (Llama)ModelFiles.Load(Fixture(name));
        int[] prompt = ReadExpected(name).Ids.Take(5).ToArray();
        int[] cached = Generator.Generate(model, prompt, 20, SamplingOptions.Greedy, new Rng(1), useCache: true);
        int[] recomputed = Generator.Generate(model, prompt, 20, SamplingOptions.Greedy, new Rng(1), useCache: false);
        output.WriteLine($"{name}: greedy {string.Join(",", cached)}");
        Assert.Equal(recomputed, cached);
        // Random weights often repeat one token greedily; sampling (same seed both ways) walks through varied prefixes.
        var sampling = new SamplingOptions(1f, 0, 1f);
        int[] sampled = Generator.Generate(model, prompt, 20, sampling, new Rng(7), useCache: true);
        Assert.Equal(Generator.Generate(model, prompt, 20, sampling, new Rng(7), useCache: false), sampled);
        output.WriteLine($"{name}: sampled {string.Join(",", sampled)}");
        Assert.True(sampled.Distinct().Count() > 3, "a near-constant continuation would not test the cache");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExportAndReload_BothLayouts_GiveIdenticalLogits(string name)
    {
        using var directory = new TemporaryDirectory();
        var model = (Llama)ModelFiles.Load(Fixture(name));
        int[] ids = ReadExpected(name).Ids;
        float[] before = model.Forward(ids, 2, ids.Length / 2).Data.ToArray();

        string hf = Path.Combine(directory.Path, "hf");
        ModelFiles.SaveHuggingFaceLlama(hf, model);
        Assert.Equal(ModelFileFormat.HuggingFaceLlama, ModelFiles.DetectFormat(hf));
        var reloaded = (Llama)ModelFiles.Load(hf);
        Assert.Equal(before, reloaded.Forward(ids, 2, ids.Length / 2).Data);
        // The same tensor names and shapes as the PyTorch-written folder (the tied head is never stored).
        var original = TensorShapes(Fixture(name));
        Assert.Equal(original, TensorShapes(hf));
        JsonNode config = JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "config.json")))!;
        JsonNode source = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixture(name), "config.json")))!;
        foreach (string key in new[] { "model_type", "num_key_value_heads", "hidden_size", "intermediate_size", "tie_word_embeddings", "vocab_size" })
            Assert.Equal(source[key]!.ToJsonString(), config[key]!.ToJsonString());

        string own = Path.Combine(directory.Path, "own");
        ModelFiles.Save(own, model);
        var ownReloaded = (Llama)ModelFiles.Load(own);
        Assert.Equal(model.Config, ownReloaded.Config);
        Assert.Equal(before, ownReloaded.Forward(ids, 2, ids.Length / 2).Data);
    }

    static SortedDictionary<string, string> TensorShapes(string folder)
    {
        var shapes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string path in Directory.GetFiles(folder, "model*.safetensors"))
        {
            using SafeTensorsFile file = SafeTensors.Read(path);
            foreach (string name in file.Names) shapes[name] = string.Join("x", file.Info(name).Shape);
        }
        return shapes;
    }

    [Fact]
    public void Rope_Llama3Scaling_ChangesOnlyTheLowFrequencies()
    {
        // factor 8, low 1, high 4, original context 8: wavelengths below 2 keep their frequency, above 8 are divided by
        // 8, and those between are interpolated (the fixture's llama3 case checks the same numbers against PyTorch).
        var scaling = new RopeScaling(8, 1, 4, 8);
        double[] frequencies = [4.0, 2 * Math.PI / 4, 0.01];
        double[] scaled = scaling.Apply(frequencies);
        Assert.Equal(4.0, scaled[0]);
        Assert.Equal(0.01 / 8, scaled[2], 15);
        double smooth = (8 / 4.0 - 1) / (4 - 1);
        Assert.Equal((1 - smooth) * frequencies[1] / 8 + smooth * frequencies[1], scaled[1], 15);
    }

    static void AssertClose(string what, float[] expected, float[] actual, double absolute, double relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1.0, expected.Max(v => Math.Abs((double)v)));
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            Assert.True(Math.Abs(a - e) <= absolute * scale + relative * Math.Abs(e), $"{what}[{i}]: expected {e:G9}, got {a:G9}");
        }
    }

    // ---- bad input: one line naming the file and the field ----------------------------------------------------------

    static string CopyCase(string name, TemporaryDirectory directory)
    {
        string target = Path.Combine(directory.Path, name);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Fixture(name))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    static void EditConfig(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    [Theory]
    [InlineData("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}", "rope_scaling.rope_type", "only \"llama3\"")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act", "SiLU")]
    [InlineData("num_key_value_heads", "4", "num_key_value_heads", "do not divide 6 query heads")]
    [InlineData("head_dim", "3", "head_dim", "must be even")]
    [InlineData("model_type", "\"gemma\"", "model_type", "")]
    [InlineData("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0, \"high_freq_factor\": 1.0, \"original_max_position_embeddings\": 8}",
        "rope_scaling.high_freq_factor", "must exceed low_freq_factor")]
    public void Config_Unsupported_IsOneLineNamingTheField(string key, string value, string field, string fragment)
    {
        using var directory = new TemporaryDirectory();
        string folder = CopyCase("llama-gqa-6-2", directory);
        EditConfig(folder, config => config[key] = JsonNode.Parse(value));
        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.Load(folder));
        Assert.Equal(field, error.Field);
        Assert.EndsWith("config.json", error.FilePath);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Shards_IndexNamesAMissingFile_IsRefused()
    {
        using var directory = new TemporaryDirectory();
        string folder = CopyCase("qwen2-bias-sharded", directory);
        File.Delete(Path.Combine(folder, "model-00002-of-00002.safetensors"));
        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.Load(folder));
        Assert.Contains("shard not found", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("model-00002-of-00002.safetensors", error.FilePath);
    }

    [Fact]
    public void Shards_IndexDisagreesWithTheFiles_IsRefused()
    {
        using var directory = new TemporaryDirectory();
        string folder = CopyCase("qwen2-bias-sharded", directory);
        string index = Path.Combine(folder, WeightFilesIndex);
        var json = JsonNode.Parse(File.ReadAllText(index))!.AsObject();
        json["weight_map"]!["model.norm.weight"] = "model-00001-of-00002.safetensors";   // it is in the second shard
        File.WriteAllText(index, json.ToJsonString());
        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.Load(folder));
        Assert.Equal("weight_map.model.norm.weight", error.Field);
        Assert.Contains("does not hold it", error.Message, StringComparison.Ordinal);
    }

    const string WeightFilesIndex = "model.safetensors.index.json";

    [Fact]
    public void MissingTensor_IsNamed()
    {
        using var directory = new TemporaryDirectory();
        string folder = CopyCase("qwen2-bias-sharded", directory);
        string index = Path.Combine(folder, WeightFilesIndex);
        // Claim the model has untied weights: lm_head.weight is then required and absent.
        EditConfig(folder, config => config["tie_word_embeddings"] = false);
        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.Load(folder));
        Assert.Equal("lm_head.weight", error.Field);
        Assert.Contains("missing tensor", error.Message, StringComparison.Ordinal);
        Assert.Equal(index, error.FilePath);
    }

    [Fact]
    public void WrongShape_IsNamedWithBothShapes()
    {
        using var directory = new TemporaryDirectory();
        string folder = CopyCase("llama-gqa-6-2", directory);
        EditConfig(folder, config => config["num_key_value_heads"] = 3);                   // k/v would need 12 rows, not 8
        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.Load(folder));
        Assert.Equal("model.layers.0.self_attn.k_proj.weight", error.Field);
        Assert.Contains("found [8, 24], expected [12, 24]", error.Message, StringComparison.Ordinal);
    }
}
