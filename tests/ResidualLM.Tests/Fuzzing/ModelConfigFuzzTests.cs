// Seeded fuzzing of config.json in both model layouts (ours for GPT and Llama, Hugging Face's GPT-2) in memory: each
// mutated config is read and, when accepted, its model is built against a weights budget the size of the seed
// model's, as ModelFiles.Load does before reading tensors. The only exception allowed is InvalidInputException.
using System.Text;
using ResidualLM.IO;
using ResidualLM.Models;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Fuzzing;

public class ModelConfigFuzzTests(ITestOutputHelper output)
{
    static byte[] Json(System.Text.Json.Nodes.JsonObject config) => Encoding.UTF8.GetBytes(config.ToJsonString(new() { WriteIndented = true }));

    /// <summary>Reads the config as ModelFiles.Load does and builds its model; stored values are those of a small file.</summary>
    static void ReadAndBuild(byte[] bytes, long storedValues)
    {
        JsonInputObject config = JsonInput.ParseBytes(bytes, "config.json");
        LanguageModel model;
        if (config.Has(ModelConfigJson.ArchitectureField)) model = ModelConfigJson.CreateModel(config, storedValues);
        else
        {
            GptConfig shape = HuggingFaceGpt2.ReadConfig(config);
            ModelFiles.RequireRoomFor(shape.VocabSize, shape.Width, shape.LayerCount, storedValues, config.FilePath);
            model = new Gpt(shape);
        }
        Assert.InRange(model.ParameterCount(), 1, 2 * storedValues + (1 << 20) + (long)model.ContextLength * 1024);
    }

    [Fact]
    public void ReadOurConfig_Mutated_OnlyInvalidInputException()
    {
        byte[][] seeds = [Json(ModelConfigJson.ToJson(GptConfig.Preset("test"))), Json(ModelConfigJson.ToJson(LlamaConfig.Preset("test")))];
        long stored = new Gpt(GptConfig.Preset("test")).ParameterCount();
        foreach (byte[] seed in seeds) ReadAndBuild(seed, stored);
        FuzzLoop.Run(output, "config.json (ResidualLM)", ByteMutator.CaseCount(10_000), ByteMutator.Seed(31),
            random => [ByteMutator.Mutate(seeds[random.Next(seeds.Length)], seeds, random)],
            inputs => ReadAndBuild(inputs[0], stored), allocationLimit: 16 << 20);
    }

    [Fact]
    public void ReadHuggingFaceConfig_Mutated_OnlyInvalidInputException()
    {
        byte[] seed = File.ReadAllBytes(Path.Combine(IO.ModelFolders.Fixture("plain-tied"), ModelFiles.ConfigFileName));
        long stored = 20_000;   // the fixture's weights file holds about this many values
        ReadAndBuild(seed, stored);
        FuzzLoop.Run(output, "config.json (Hugging Face GPT-2)", ByteMutator.CaseCount(10_000), ByteMutator.Seed(32),
            random => [ByteMutator.Mutate(seed, [seed], random)],
            inputs => ReadAndBuild(inputs[0], stored), allocationLimit: 16 << 20);
    }

    [Fact]
    public void Load_HugeConfigBesideSmallWeights_RefusedBeforeAllocating()
    {
        using var directory = new Text.TemporaryDirectory();
        string folder = directory.File("model");
        ModelFiles.Save(folder, new Gpt(GptConfig.Preset("test"), seed: 1));
        string configPath = Path.Combine(folder, ModelFiles.ConfigFileName);
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"width\": 12", "\"width\": 65532").Replace("\"layer_count\": 2", "\"layer_count\": 9000"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.Load(folder));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
        Assert.Contains("config.json", error.Message);
        Assert.Contains("model.safetensors holds only", error.Message);
    }
}
