// `rlm logits`, `rlm inspect` and `rlm export`: JSON output matches the library, tables show what they should, and bad
// input ends with exit code 2 and one line on standard error.
using System.CommandLine;
using System.Text.Json;
using ResidualLM.Cli;
using ResidualLM.Cli.Commands;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tests.IO;
using ResidualLM.Tests.Text;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Cli;

public class ModelCommandsTests
{
    static readonly string Plain = ModelFolders.Fixture("plain-tied");

    static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand();
        root.Subcommands.Add(LogitsCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        var output = new StringWriter();
        var error = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    static void AssertBadInput((int ExitCode, string Output, string Error) result, string fragment)
    {
        Assert.Equal(CliErrors.BadInput, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.StartsWith("error: ", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
        Assert.Contains(fragment, result.Error, StringComparison.Ordinal);
    }

    static float[][] ParseLogits(string json) => JsonDocument.Parse(json).RootElement.GetProperty("logits").EnumerateArray()
        .Select(row => row.EnumerateArray().Select(value => value.GetSingle()).ToArray()).ToArray();

    [Fact]
    public void Logits_Json_EqualsTheLibraryBitwise()
    {
        int[] tokens = [0, 36, 5, 17, 17];
        var (code, output, _) = Run("logits", "--model", Plain, "--tokens", "0, 36,5,17,17", "--json");
        Assert.Equal(0, code);
        Assert.Single(output.TrimEnd('\n').Split('\n'));
        float[][] rows = ParseLogits(output);
        LanguageModel model = ModelFiles.Load(Plain);
        float[] expected = ModelFolders.Logits(model, tokens);
        Assert.Equal(tokens.Length, rows.Length);
        for (int t = 0; t < tokens.Length; t++)
        {
            Assert.Equal(model.VocabSize, rows[t].Length);
            Assert.Equal(expected.AsSpan(t * model.VocabSize, model.VocabSize).ToArray(), rows[t]);
        }
    }

    [Fact]
    public void Logits_Table_ShowsTopTokensWithTokenStrings()
    {
        using var directory = new TemporaryDirectory();
        string folder = ModelFolders.CopyFixture("plain-tied", directory);
        new ByteTokenizer().Save(folder);                                  // 256 ids: the 37 of the model all have strings
        var (code, output, error) = Run("logits", "--model", folder, "--tokens", "33,34");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        string[] lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Contains("33 \"!\"", lines[1], StringComparison.Ordinal);
        // The first entry of the top five is the row's largest logit.
        float[] row = ModelFolders.Logits(ModelFiles.Load(folder), [33, 34]).Take(37).ToArray();
        int best = Array.IndexOf(row, row.Max());
        Assert.Contains($"  {best} ", lines[1][22..], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1,x,3", "item 2 (\"x\") is not an integer")]
    [InlineData("1,,3", "item 2")]
    [InlineData("2.5", "not an integer")]
    [InlineData("1,37", "token 37 at position 1 is outside the vocabulary [0, 37)")]
    [InlineData("-1", "outside the vocabulary")]
    [InlineData("1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", "17 tokens exceed the model's context length of 16")]
    [InlineData(" ", "no token ids")]
    public void Logits_BadTokens_ExitWithTwo(string tokens, string fragment) =>
        AssertBadInput(Run("logits", "--model", Plain, "--tokens", tokens), fragment);

    [Fact]
    public void Logits_MissingFolder_ExitsWithTwo() =>
        AssertBadInput(Run("logits", "--model", Path.Combine(Plain, "nothing"), "--tokens", "1"), "folder not found");

    [Fact]
    public void Logits_RunFolder_UsesTheNewestCheckpoint()
    {
        using var directory = new TemporaryDirectory();
        var model = new Gpt(GptConfig.Preset("test"), seed: 8);
        new CheckpointDirectory(directory.Path).Save(5, folder => ModelFiles.Save(folder, model));
        var (code, output, _) = Run("logits", "--model", directory.Path, "--tokens", "4,2", "--json");
        Assert.Equal(0, code);
        model.Eval();
        Assert.Equal(ModelFolders.Logits(model, [4, 2]), ParseLogits(output).SelectMany(row => row).ToArray());
    }

    [Theory]
    [InlineData("tiny", 4 * 2)]
    [InlineData("test-deep", 16 * 2)]
    [InlineData("llama-tiny", 4 * 2)]
    public void Inspect_PresetJson_GivesCountsAndResidualConnections(string preset, int residuals)
    {
        var (code, output, _) = Run("inspect", "--preset", preset, "--json");
        Assert.Equal(0, code);
        Assert.Single(output.TrimEnd('\n').Split('\n'));
        JsonElement summary = JsonDocument.Parse(output).RootElement;
        Assert.Equal(residuals, summary.GetProperty("residual_connections").GetInt32());
        bool isGpt = preset != "llama-tiny";
        Assert.Equal(isGpt ? "gpt" : "llama", summary.GetProperty("config").GetProperty("architecture").GetString());
        if (!isGpt) return;
        GptConfig config = GptConfig.Preset(preset);
        Assert.Equal(config.CountParameters(), summary.GetProperty("parameters").GetInt64());
        Assert.Equal((config with { TieWeights = false }).CountParameters(), summary.GetProperty("parameters_untied").GetInt64());
        Assert.Equal((config with { TieWeights = true }).CountParameters(), summary.GetProperty("parameters_tied").GetInt64());
    }

    [Fact]
    public void Inspect_TwelveBlockModel_HasTwentyFourResidualConnections()
    {
        using var directory = new TemporaryDirectory();
        ModelFiles.Save(directory.Path, new Gpt(GptConfig.Preset("test") with { LayerCount = 12 }));
        var (code, output, _) = Run("inspect", "--model", directory.Path);
        Assert.Equal(0, code);
        Assert.Contains("residual connections: 24", output, StringComparison.Ordinal);
        Assert.Contains("1..11: same shapes as 0", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_HuggingFaceFolder_ShowsTreeCountsAndConfig()
    {
        var (code, output, _) = Run("inspect", "--model", ModelFolders.Fixture("prefixed-untied"));
        Assert.Equal(0, code);
        Assert.Contains("GPT, 2 layers, 3 heads, width 24, PreNorm", output, StringComparison.Ordinal);
        Assert.Contains("residual connections: 4", output, StringComparison.Ordinal);
        Assert.Contains("qkv: Linear  weight [72, 24], bias [72]", output, StringComparison.Ordinal);
        Assert.Contains("head: Linear  weight [37, 24]", output, StringComparison.Ordinal);
        Assert.Contains("norm_eps", output, StringComparison.Ordinal);
        Assert.Contains("Hugging Face GPT-2 folder", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--preset", "no-such-preset", "unknown preset 'no-such-preset'")]
    [InlineData(null, null, "exactly one of --preset NAME and --model DIR")]
    public void Inspect_BadArguments_ExitWithTwo(string? option, string? value, string fragment) =>
        AssertBadInput(option is null ? Run("inspect") : Run("inspect", option, value!), fragment);

    [Fact]
    public void Export_HfToRlmAndBack_PreservesEveryTensorAndTheTokenizer()
    {
        using var directory = new TemporaryDirectory();
        string source = ModelFolders.CopyFixture("prefixed-untied", directory);
        File.WriteAllText(Path.Combine(source, Gpt2Tokenizer.HuggingFaceVocabFileName), "{}");
        string own = Path.Combine(directory.Path, "own"), hf = Path.Combine(directory.Path, "hf");

        var toOwn = Run("export", "--model", source, "--out", own, "--format", "rlm");
        Assert.Equal(0, toOwn.ExitCode);
        Assert.Equal(ModelFileFormat.ResidualLM, ModelFiles.DetectFormat(own));
        Assert.True(File.Exists(Path.Combine(own, Gpt2Tokenizer.HuggingFaceVocabFileName)));

        var toHf = Run("export", "--model", own, "--out", hf, "--format", "hf");
        Assert.Equal(0, toHf.ExitCode);
        Assert.Equal(ModelFileFormat.HuggingFaceGpt2, ModelFiles.DetectFormat(hf));
        ModelFolders.AssertSameParameters(ModelFiles.Load(source), ModelFiles.Load(hf));
    }

    [Fact]
    public void Export_PostNormLlamaAsHf_ExitsWithTwo()
    {
        using var directory = new TemporaryDirectory();
        ModelFiles.Save(directory.Path, new Llama(LlamaConfig.Preset("test") with { Residual = ResidualMode.PostNorm }));
        AssertBadInput(Run("export", "--model", directory.Path, "--out", directory.File("hf"), "--format", "hf"), "Hugging Face Llama has only pre-norm blocks");
    }

    [Fact]
    public void Export_IntoItsOwnFolder_ExitsWithTwo() =>
        AssertBadInput(Run("export", "--model", Plain, "--out", Plain, "--format", "rlm"), "--out: is the model folder itself");
}

/// <summary>The commands are wired into <c>rlm</c>: through <see cref="Program.Main"/>, with the global console redirected.</summary>
[Collection(ConsoleCollection.Name)]
public class ModelCommandsProgramTests
{
    [Fact]
    public void Main_LogitsAndInspect_AreRegistered()
    {
        TextWriter savedOut = Console.Out, savedError = Console.Error;
        var output = new StringWriter();
        var error = new StringWriter();
        try
        {
            Console.SetOut(output);
            Console.SetError(error);
            Assert.Equal(0, Program.Main(["logits", "--model", ModelFolders.Fixture("plain-tied"), "--tokens", "3", "--json"]));
            Assert.Equal(0, Program.Main(["inspect", "--preset", "test", "--json"]));
            Assert.Equal(CliErrors.BadInput, Program.Main(["logits", "--model", ModelFolders.Fixture("plain-tied"), "--tokens", "99"]));
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
        string[] lines = output.ToString().TrimEnd('\n').Split('\n');
        Assert.Single(ParseRows(lines[0]));
        Assert.Contains("\"residual_connections\":4", lines[1], StringComparison.Ordinal);
        Assert.Contains("error: --tokens: token 99 at position 0 is outside the vocabulary [0, 37)", error.ToString(), StringComparison.Ordinal);
    }

    static JsonElement.ArrayEnumerator ParseRows(string json) => JsonDocument.Parse(json).RootElement.GetProperty("logits").EnumerateArray();
}

/// <summary>Tests that swap the process-wide console run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}
