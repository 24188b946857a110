// `rlm bench ... --json` names the vector path it measured, and `rlm --version` / `rlm bench --info` show it, so a
// benchmark figure cannot be quoted without the path behind it. Tiny sizes: these check the output, not the speed
// (gemm times ~60 GFLOP whatever the size, so it gets a size where that is quick).
using System.Text.Json;
using ResidualLM.Kernels;
using Xunit;

namespace ResidualLM.Tests.Cli;

public class BenchIsaTests
{
    public static TheoryData<string[]> TinyBenchmarks => new()
    {
        new[] { "bench", "gemm", "--m", "128", "--k", "128", "--n", "128", "--threads", "1", "--json" },
        new[] { "bench", "attention", "--batch-heads", "1", "--time", "4", "--head-size", "4", "--threads", "1", "--json" },
        new[] { "bench", "train", "--preset", "tiny", "--steps", "1", "--batch", "1", "--json", "--threads", "1" },
        new[] { "bench", "generate", "--preset", "tiny", "--prompt", "1", "--new-tokens", "1", "--reps", "1", "--json", "--threads", "1" },
    };

    [Theory]
    [MemberData(nameof(TinyBenchmarks))]
    public void BenchJson_NamesTheVectorPath(string[] args)
    {
        var (code, stdout, stderr) = RlmProcess.Run(Path.GetTempPath(), args);
        Assert.True(code == 0, $"rlm {string.Join(' ', args)} exited {code}: {stderr}");
        string line = stdout.Trim().Split('\n')[^1];
        using var doc = JsonDocument.Parse(line);
        Assert.True(doc.RootElement.TryGetProperty("isa", out var isa), $"no \"isa\" field in: {line}");
        Assert.Equal(VectorIsa.Name, isa.GetString());
    }

    [Fact]
    public void BenchHumanOutput_NamesTheVectorPath()
    {
        var (code, stdout, stderr) = RlmProcess.Run(Path.GetTempPath(), "bench", "gemm", "--m", "128", "--k", "128", "--n", "128", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Contains($"isa={VectorIsa.Name}", stdout);
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("bench", "--info")]
    public void VersionAndBenchInfo_ShowPathAndFeatures(params string[] args)
    {
        var (code, stdout, stderr) = RlmProcess.Run(Path.GetTempPath(), args);
        Assert.True(code == 0, stderr);
        Assert.Contains($"vector path: {VectorIsa.Name}", stdout);
        Assert.Contains($"features: {VectorIsa.Features()}", stdout);
    }

    [Fact]
    public void BenchWithoutASubcommand_IsAnError()
    {
        var (code, _, stderr) = RlmProcess.Run(Path.GetTempPath(), "bench");
        Assert.Equal(2, code);
        Assert.Contains("--info", stderr);
    }
}
