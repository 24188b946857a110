// Smoke tests of every `rlm bench` subcommand on the real rlm, at tiny sizes with --json: the line parses, echoes the
// sizes asked for, names the vector path, and its figures are positive, finite and consistent with each other (within
// the rounding of the printed digits). They check the output, not the speed; each run takes one to three seconds.
using System.Text.Json;
using ResidualLM.Kernels;
using Xunit;

namespace ResidualLM.Tests.Cli;

public class BenchCommandTests
{
    /// <summary>Runs rlm; asserts it succeeded and printed one JSON object as its last line; returns that object.</summary>
    static JsonElement RunJson(params string[] args)
    {
        var (code, stdout, stderr) = RlmProcess.Run(Path.GetTempPath(), args);
        Assert.True(code == 0, $"rlm {string.Join(' ', args)} exited {code}: {stderr}");
        string line = stdout.Trim().Split('\n')[^1];
        using var document = JsonDocument.Parse(line);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        Assert.Equal(VectorIsa.Name, document.RootElement.GetProperty("isa").GetString());
        return document.RootElement.Clone();
    }

    static double Positive(JsonElement json, string name)
    {
        double value = json.GetProperty(name).GetDouble();
        Assert.True(value > 0 && double.IsFinite(value), $"{name} = {value} in {json}");
        return value;
    }

    /// <summary>Whether x, printed rounded to <paramref name="half"/> (half a unit of its last digit), can be a / b with b printed the same way.</summary>
    static void AssertQuotient(double printed, double a, double b, double half, string what)
    {
        double low = a / (b + half) - half, high = b > half ? a / (b - half) + half : double.PositiveInfinity;
        Assert.True(printed >= low && printed <= high, $"{what} = {printed}, expected {a} / {b} (within rounding: {low:G4} .. {high:G4})");
    }

    [Fact]
    public void Gemm_Json_EchoesTheProblemAndGivesGflops()
    {
        var json = RunJson("bench", "gemm", "--m", "96", "--k", "72", "--n", "80", "--layout", "tn", "--batch", "2", "--threads", "1", "--json");
        Assert.Equal(96, json.GetProperty("m").GetInt32());
        Assert.Equal(72, json.GetProperty("k").GetInt32());
        Assert.Equal(80, json.GetProperty("n").GetInt32());
        Assert.Equal("tn", json.GetProperty("layout").GetString());
        Assert.Equal(2, json.GetProperty("batch").GetInt32());
        Assert.Equal(1, json.GetProperty("threads").GetInt32());
        Positive(json, "gflops");
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    public void BlockGemm_Json_GivesOpsAndWeightBandwidth(string weights)
    {
        var json = RunJson("bench", "gemm", "--m", "3", "--k", "96", "--n", "40", "--weights", weights, "--threads", "1", "--json");
        Assert.Equal((3, 96, 40), (json.GetProperty("m").GetInt32(), json.GetProperty("k").GetInt32(), json.GetProperty("n").GetInt32()));
        Assert.Equal(weights, json.GetProperty("weights").GetString());
        Positive(json, "gops");
        Positive(json, "weight_gb_per_s");
    }

    [Fact]
    public void Memory_Json_GivesReadBandwidth()
    {
        var json = RunJson("bench", "memory", "--mb", "16", "--threads", "1", "--json");
        Assert.Equal(16, json.GetProperty("mb").GetInt32());
        Positive(json, "read_gb_per_s");
        Assert.True(json.GetProperty("max_gb_per_s").GetDouble() >= json.GetProperty("read_gb_per_s").GetDouble(), json.ToString());
    }

    [Fact]
    public void Attention_Json_EchoesTheShapeAndTimesAgreeWithRates()
    {
        // 4 heads, 8 queries at the end of 32 keys, causal: the queries see 25 ... 32 keys, 228 pairs per head.
        var json = RunJson("bench", "attention", "--batch-heads", "4", "--time", "32", "--queries", "8", "--head-size", "16", "--threads", "1", "--json");
        Assert.Equal(4, json.GetProperty("batch_heads").GetInt32());
        Assert.Equal(8, json.GetProperty("queries").GetInt32());
        Assert.Equal(32, json.GetProperty("time").GetInt32());
        Assert.Equal(16, json.GetProperty("head_size").GetInt32());
        Assert.True(json.GetProperty("causal").GetBoolean());
        Assert.Equal("split", json.GetProperty("layout").GetString());
        // Forward: 2 multiply-adds (scores, then values) per pair and head dimension; backward: twice that.
        double forwardFlops = 4.0 * 228 * 16 * 4, backwardFlops = 2 * forwardFlops;
        AssertQuotient(Positive(json, "forward_us"), forwardFlops / 1e3, Positive(json, "forward_gflops"), 0.05, "forward_us");
        AssertQuotient(Positive(json, "backward_us"), backwardFlops / 1e3, Positive(json, "backward_gflops"), 0.05, "backward_us");
    }

    [Fact]
    public void Attention_PackedBidirectional_Json_NamesTheLayout()
    {
        var json = RunJson("bench", "attention", "--batch-heads", "4", "--time", "6", "--head-size", "4", "--packed-heads", "2", "--bidirectional", "--threads", "1", "--json");
        Assert.Equal("packed/2", json.GetProperty("layout").GetString());
        Assert.False(json.GetProperty("causal").GetBoolean());
        Assert.Equal(6, json.GetProperty("queries").GetInt32());
        Positive(json, "forward_gflops");
        Positive(json, "backward_gflops");
    }

    [Fact]
    public void Train_Json_GivesStepTimeTokensAndMemory()
    {
        var json = RunJson("bench", "train", "--preset", "tiny", "--steps", "2", "--batch", "2", "--data-parallel", "1", "--threads", "1", "--json");
        Assert.Equal("tiny", json.GetProperty("preset").GetString());
        Assert.Equal(1, json.GetProperty("threads").GetInt32());
        Assert.Equal(1, json.GetProperty("shards").GetInt32());
        // tokens/s is batch x time (2 x 64 for the tiny preset) over the median step.
        AssertQuotient(Positive(json, "tokens_per_s"), 2 * 64 * 1000.0, Positive(json, "ms_per_step"), 0.05, "tokens_per_s");
        double rss = json.GetProperty("peak_rss_mb").GetDouble();
        Assert.True(!OperatingSystem.IsLinux() || rss > 1, $"peak_rss_mb = {rss} on Linux");
        Assert.True(json.GetProperty("allocated_mb_per_step").GetDouble() >= 0, json.ToString());
        foreach (string gc in new[] { "gc_gen0", "gc_gen1", "gc_gen2" }) Assert.True(json.GetProperty(gc).GetInt32() >= 0, $"{gc} in {json}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Generate_Json_GivesTokensPerSecond(bool cache)
    {
        string[] args = ["bench", "generate", "--preset", "tiny", "--prompt", "2", "--new-tokens", "3", "--reps", "2", "--threads", "1", "--json"];
        var json = RunJson(cache ? args : [.. args, "--no-cache"]);
        Assert.Equal("tiny", json.GetProperty("preset").GetString());
        Assert.Equal(cache, json.GetProperty("kv_cache").GetBoolean());
        Assert.Equal("f32", json.GetProperty("weights").GetString());
        Positive(json, "tokens_per_s");
        Positive(json, "prompt_tokens_per_s");
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    public void Generate_QuantisedWeights_SaysWhichWeightsRan(string weights)
    {
        var json = RunJson(["bench", "generate", "--preset", "tiny", "--prompt", "2", "--new-tokens", "3", "--reps", "1", "--threads", "1", "--weights", weights, "--json"]);
        Assert.Equal(weights, json.GetProperty("weights").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("int_dot").GetString()));
        Positive(json, "tokens_per_s");
    }

    [Theory]
    [InlineData("--m", "bench", "gemm", "--m", "0")]
    [InlineData("--k", "bench", "gemm", "--k", "40", "--weights", "q8_0")]
    [InlineData("--mb", "bench", "memory", "--mb", "1")]
    [InlineData("--batch", "bench", "gemm", "--batch", "0")]
    [InlineData("--batch-heads", "bench", "attention", "--batch-heads", "0")]
    [InlineData("--packed-heads", "bench", "attention", "--batch-heads", "3", "--packed-heads", "2")]
    [InlineData("--steps", "bench", "train", "--preset", "tiny", "--steps", "0")]
    [InlineData("--preset", "bench", "generate", "--preset", "gpt5")]
    [InlineData("--new-tokens", "bench", "generate", "--preset", "tiny", "--prompt", "100", "--new-tokens", "100")]
    [InlineData("--weights", "bench", "generate", "--preset", "tiny", "--weights", "q5_k")]
    public void BadSize_OneLineErrorNamingTheOption(string option, params string[] args)
    {
        var (code, _, stderr) = RlmProcess.Run(Path.GetTempPath(), args);
        string message = stderr.Trim();
        Assert.True(code == 2, $"rlm {string.Join(' ', args)} exited {code}: {message}");
        Assert.StartsWith("error: ", message);
        Assert.DoesNotContain("\n", message);
        Assert.Contains(option, message);
    }
}
