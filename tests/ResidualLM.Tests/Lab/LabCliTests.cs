using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace ResidualLM.Tests.Lab;

/// <summary>Runs the real <c>rlm</c> (rlm.dll beside the tests) in a child process, as a user would.</summary>
public class LabCliTests
{
    static (int ExitCode, string Stdout, string Stderr) Rlm(string workingDirectory, params string[] args) =>
        ResidualLM.Tests.Cli.RlmProcess.Run(workingDirectory, args);

    static string TemporaryDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "rlm-lab-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public void TanhStack_Json_IsTheLastLine_AndOutWritesFiles()
    {
        string directory = TemporaryDirectory();
        try
        {
            var (code, stdout, stderr) = Rlm(directory, "lab", "tanh-stack", "--depth", "20", "--sweep", "--sweep-depth", "30", "--json", "--out", "out");
            Assert.True(code == 0, stderr);
            Assert.Contains("Gradient reaching x through 20 layers", stdout);
            string last = stdout.TrimEnd('\n', '\r').Split('\n')[^1];
            using var json = JsonDocument.Parse(last);
            Assert.Equal("tanh-stack", json.RootElement.GetProperty("experiment").GetString());
            Assert.Equal(30, json.RootElement.GetProperty("charts")[0].GetProperty("series")[0].GetProperty("points").GetArrayLength());
            foreach (string file in new[] { "tanh-stack.json", "tanh-stack.csv", "tanh-stack.svg", "tanh-stack.sweep.csv" })
                Assert.True(File.Exists(Path.Combine(directory, "out", file)), file);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void TanhStack_BadDepth_IsAOneLineErrorWithExitCode2()
    {
        string directory = TemporaryDirectory();
        try
        {
            var (code, _, stderr) = Rlm(directory, "lab", "tanh-stack", "--depth", "0");
            Assert.Equal(2, code);
            Assert.Equal("error: --depth: must be between 1 and 10000, got 0", stderr.Trim());
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void Report_OnAnEmptyFolder_RunsTheCheapExperimentsFirst()
    {
        string directory = TemporaryDirectory();
        try
        {
            var (code, stdout, stderr) = Rlm(directory, "lab", "report");
            Assert.True(code == 0, stderr);
            Assert.Contains("ran edits", stdout);
            string html = File.ReadAllText(Path.Combine(directory, "runs", "lab", "report.html"));
            Assert.Contains("id=\"edits\"", html);
            Assert.Contains("id=\"tanh-stack\"", html);
            Assert.Contains("Gradient reaching the input, by depth", html); // the report's tanh-stack includes the sweep
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void Gradients_Json_LastLineHasExactlyTheTwoSeriesKeys()
    {
        string directory = TemporaryDirectory();
        try
        {
            string init = Path.Combine(AppContext.BaseDirectory, "fixtures", "lab", "gradients-init.safetensors");
            var (code, stdout, stderr) = Rlm(directory, "lab", "gradients", "--init", init, "--json");
            Assert.True(code == 0, stderr);
            using var json = JsonDocument.Parse(stdout.TrimEnd('\n', '\r').Split('\n')[^1]);
            Assert.Equal(["without_shortcut", "with_shortcut"], json.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.All(json.RootElement.EnumerateObject(), p => Assert.Equal(5, p.Value.GetArrayLength()));
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Theory]
    [InlineData("error: --depths: must be positive integers separated by commas, got 'x'", "depth-sweep", "--depths", "2,x")]
    [InlineData("error: --policies: must be none, prenorm, postnorm, rezero, deepnorm, layerscale, admin, shc1, shc2, shc4, dhc1, dhc2, dhc4, denseformer, value-residual or residual-post, got 'resnet'", "depth-sweep", "--policies", "none,resnet")]
    [InlineData("error: --residual: must be none, residual or prenorm for --model mlp, got 'rezero'", "gradient-profile", "--residual", "rezero")]
    [InlineData("error: --seeds: must be between 1 and 100, got 0", "depth-sweep", "--seeds", "0")]
    [InlineData("error: --seeds: needs models trained on the fly (a loaded model is one seed)", "lesion", "--model", ".", "--seeds", "2")]
    [InlineData("error: --plain-depth: must be between 1 and 1000, got 0", "lesion", "--plain-depth", "0")]
    public void ModelExperiments_BadLists_AreOneLineErrors(string expected, params string[] args)
    {
        string directory = TemporaryDirectory();
        try
        {
            var (code, _, stderr) = Rlm(directory, ["lab", .. args]);
            Assert.Equal(2, code);
            Assert.Equal(expected, stderr.Trim());
        }
        finally { Directory.Delete(directory, recursive: true); }
    }
}
