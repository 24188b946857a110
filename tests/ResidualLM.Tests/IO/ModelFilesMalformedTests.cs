// One test per way a model folder can be wrong: each is made by mutating a valid folder in a temporary directory and
// must end in an InvalidInputException that names the file, the tensor or field, and the problem.
using System.Text.Json.Nodes;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tests.Text;
using Xunit;
using static ResidualLM.Tests.IO.ModelFolders;

namespace ResidualLM.Tests.IO;

public class ModelFilesMalformedTests
{
    const string Weights = ModelFiles.WeightsFileName, Config = ModelFiles.ConfigFileName;

    /// <summary>A malformed folder: the valid folder it starts from ("hf" or "own"), the mutation, and what the error must say.</summary>
    sealed record Case(string Start, Action<string> Mutate, string File, string? Field, params string[] Fragments);

    static readonly Dictionary<string, Case> cases = new()
    {
        // Damage to the safetensors file itself (reported by SafeTensors, named by file and field).
        ["truncated weights"] = new("hf", folder => Truncate(Path.Combine(folder, Weights), 100), Weights, null, "data"),
        ["bad header"] = new("hf", folder => Overwrite(Path.Combine(folder, Weights), 8, "[1,2]     "u8.ToArray()), Weights, "header", "JSON"),
        ["offsets out of range"] = new("hf", folder => RewriteHeader(folder, header =>
            header["wpe.weight"]!["data_offsets"] = new JsonArray(0, 1 << 30)), Weights, "wpe.weight", "data_offsets"),
        ["missing weights file"] = new("hf", folder => File.Delete(Path.Combine(folder, Weights)), Weights, null, "not found"),
        ["pickle only"] = new("hf", folder => File.Move(Path.Combine(folder, Weights), Path.Combine(folder, "pytorch_model.bin")), Weights, null, "pytorch_model.bin"),
        ["missing config"] = new("hf", folder => File.Delete(Path.Combine(folder, Config)), "", null, "config.json"),

        // Hugging Face layout: tensors against the config.
        ["hf missing tensor"] = new("hf", folder => RewriteTensors(folder, tensors => tensors.Where(t => t.Name != "h.1.ln_2.bias")),
            Weights, "h.1.ln_2.bias", "missing tensor"),
        ["hf unexpected tensor"] = new("hf", folder => RewriteTensors(folder, tensors => tensors.Append(("h.2.ln_1.weight", [24], new float[24]))),
            Weights, "h.2.ln_1.weight", "unexpected tensor", "n_layer 2"),
        ["hf conv weight in linear layout"] = new("hf", folder => RewriteTensors(folder, tensors => tensors.Select(t =>
            t.Name == "h.0.attn.c_attn.weight" ? (t.Name, new[] { 72, 24 }, t.Data) : t)), Weights, "h.0.attn.c_attn.weight", "found [72, 24], expected [24, 72]"),
        ["hf config width differs from tensors"] = new("hf", folder => RewriteConfig(folder, config => config["n_embd"] = 48),
            Weights, "wte.weight", "found [37, 24], expected [37, 48]", "n_embd 48"),
        ["hf stored twice"] = new("hf", folder => RewriteTensors(folder, tensors => tensors.Append(("transformer.ln_f.bias", [24], new float[24]))),
            Weights, "ln_f.bias", "twice"),
        ["hf head differs though tied"] = new("hf", folder => RewriteTensors(folder, tensors => tensors.Append(("lm_head.weight", [37, 24], new float[37 * 24]))),
            Weights, "lm_head.weight", "tie_word_embeddings"),
        ["hf untied without head"] = new("hf", folder => RewriteConfig(folder, config => config["tie_word_embeddings"] = false),
            Weights, "lm_head.weight", "missing tensor"),
        ["hf heads do not divide width"] = new("hf", folder => RewriteConfig(folder, config => config["n_head"] = 5), Config, "n_head", "5 heads do not divide width 24"),
        ["hf zero layers"] = new("hf", folder => RewriteConfig(folder, config => config["n_layer"] = 0), Config, "n_layer", "0"),
        ["hf fractional width"] = new("hf", folder => RewriteConfig(folder, config => config["n_embd"] = 24.5), Config, "n_embd", "24.5"),
        ["hf missing vocab size"] = new("hf", folder => RewriteConfig(folder, config => config.Remove("vocab_size")), Config, "vocab_size", "missing"),
        ["hf negative epsilon"] = new("hf", folder => RewriteConfig(folder, config => config["layer_norm_epsilon"] = -1), Config, "layer_norm_epsilon", "-1"),
        ["hf relu"] = new("hf", folder => RewriteConfig(folder, config => config["activation_function"] = "relu"), Config, "activation_function", "relu"),
        ["hf inverse layer scaling"] = new("hf", folder => RewriteConfig(folder, config => config["scale_attn_by_inverse_layer_idx"] = true),
            Config, "scale_attn_by_inverse_layer_idx", "not supported"),
        ["hf unscaled attention"] = new("hf", folder => RewriteConfig(folder, config => config["scale_attn_weights"] = false), Config, "scale_attn_weights", "not supported"),
        ["hf other model type"] = new("hf", folder => RewriteConfig(folder, config => config["model_type"] = "bert"), Config, "model_type", "bert"),

        // Our layout.
        ["own missing tensor"] = new("own", folder => RewriteTensors(folder, tensors => tensors.Where(t => t.Name != "blocks.0.attn.proj.bias")),
            Weights, "blocks.0.attn.proj.bias", "missing tensor"),
        ["own unexpected tensor"] = new("own", folder => RewriteTensors(folder, tensors => tensors.Append(("blocks.9.norm1.weight", [12], new float[12]))),
            Weights, "blocks.9.norm1.weight", "unexpected tensor"),
        ["own head though tied"] = new("own", folder => RewriteConfig(folder, config => config["tie_weights"] = true), Weights, "head.weight", "unexpected tensor"),
        ["own wrong shape"] = new("own", folder => RewriteTensors(folder, tensors => tensors.Select(t =>
            t.Name == "blocks.1.ffn.fc.weight" ? (t.Name, new[] { 12, 48 }, t.Data) : t)), Weights, "blocks.1.ffn.fc.weight", "found [12, 48], expected [48, 12]"),
        ["own config layers differ from tensors"] = new("own", folder => RewriteConfig(folder, config => config["layer_count"] = 3),
            Weights, "blocks.2.norm1.weight", "missing tensor"),
        ["own unknown field"] = new("own", folder => RewriteConfig(folder, config => config["widht"] = 12), Config, "widht", "not a known field"),
        ["own unknown architecture"] = new("own", folder => RewriteConfig(folder, config => config["architecture"] = "mamba"), Config, "architecture", "mamba"),
        ["own unknown residual"] = new("own", folder => RewriteConfig(folder, config => config["residual"] = "Sideways"), Config, "residual", "Sideways"),
        ["own heads do not divide width"] = new("own", folder => RewriteConfig(folder, config => config["head_count"] = 5), Config, "head_count", "do not divide"),
        ["own dropout of one"] = new("own", folder => RewriteConfig(folder, config => config["dropout"] = 1.0), Config, "dropout", "1"),
        ["own width as string"] = new("own", folder => RewriteConfig(folder, config => config["width"] = "12"), Config, "width", "\"12\""),
    };

    public static TheoryData<string> CaseNames => new(cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Load_MalformedFolder_NamesFileFieldAndProblem(string name)
    {
        Case test = cases[name];
        using var directory = new TemporaryDirectory();
        string folder = Start(test.Start, directory);
        test.Mutate(folder);

        var error = Assert.Throws<InvalidInputException>(() => ModelFiles.Load(folder));
        string expectedFile = test.File.Length == 0 ? Path.GetFullPath(folder) : Path.Combine(Path.GetFullPath(folder), test.File);
        Assert.Equal(expectedFile, error.FilePath);
        if (test.Field is not null) Assert.Equal(test.Field, error.Field);
        Assert.StartsWith(expectedFile + ": ", error.Message, StringComparison.Ordinal);
        foreach (string fragment in test.Fragments) Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    static string Start(string kind, TemporaryDirectory directory)
    {
        if (kind == "hf") return CopyFixture("plain-tied", directory);
        string folder = Path.Combine(directory.Path, "own");
        ModelFiles.Save(folder, new Gpt(GptConfig.Preset("test"), seed: 2));
        return folder;
    }

    static void Truncate(string path, int bytes)
    {
        using var stream = new FileStream(path, FileMode.Open);
        stream.SetLength(stream.Length - bytes);
    }

    static void Overwrite(string path, int offset, byte[] bytes)
    {
        using var stream = new FileStream(path, FileMode.Open);
        stream.Position = offset;
        stream.Write(bytes);
    }
}
