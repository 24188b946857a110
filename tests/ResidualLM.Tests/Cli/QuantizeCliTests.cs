// `rlm quantize`, `rlm eval --weights` and `rlm export --format gguf` end to end on tiny settings: the quantised folder
// generates, evaluates and prints logits like any model folder; eval compares formats on the same tokens; a GPT-2
// tokenizer model exported as GGUF runs from the file (bad input: BadInputCatalogTests).
using System.Text.Json;
using Xunit;

namespace ResidualLM.Tests.Cli;

public class QuantizeCliTests
{
    static readonly string[] Tiny = ["--corpus-chars", "20000", "--layers", "1", "--width", "32", "--heads", "2", "--context", "16",
        "--batch", "4", "--steps", "4", "--eval-interval", "0", "--eval-batches", "1", "--sample-tokens", "0", "--threads", "1"];

    [Fact]
    public void QuantisedFolder_Generates_Evaluates_AndComparesFormats()
    {
        string dir = RlmProcess.TemporaryDirectory();
        try
        {
            var trained = RlmProcess.Run(dir, ["train", .. Tiny, "--out", "run"]);
            Assert.True(trained.ExitCode == 0, trained.Stderr);
            var quantized = RlmProcess.Run(dir, "quantize", "--model", "run", "--format", "q4_0", "--out", "q4");
            Assert.True(quantized.ExitCode == 0, quantized.Stderr);
            Assert.Contains("q4_0", quantized.Stdout);
            Assert.True(File.Exists(Path.Combine(dir, "q4", "model.gguf")));

            var generated = RlmProcess.Run(dir, "generate", "--model", "q4", "--prompt", "the ", "--max-new-tokens", "6", "--temperature", "0");
            Assert.True(generated.ExitCode == 0, generated.Stderr);
            Assert.StartsWith("the ", generated.Stdout);
            Assert.Contains("weights q4_0", generated.Stderr);

            var logits = RlmProcess.Run(dir, "logits", "--model", "q4", "--tokens", "1,2,3", "--json");
            Assert.True(logits.ExitCode == 0, logits.Stderr);
            Assert.Equal(3, JsonDocument.Parse(logits.Stdout).RootElement.GetProperty("logits").GetArrayLength());

            File.WriteAllText(Path.Combine(dir, "sample.txt"), "the cat sat on the mat. the dog ran to the log.");
            var evaluated = RlmProcess.Run(dir, "eval", "--model", "run", "--data", "sample.txt", "--weights", "f32,q8_0,q4_0", "--json");
            Assert.True(evaluated.ExitCode == 0, evaluated.Stderr);
            var rows = JsonDocument.Parse(evaluated.Stdout).RootElement.EnumerateArray().ToArray();
            Assert.Equal(["f32", "q8_0", "q4_0"], rows.Select(r => r.GetProperty("weights").GetString()));
            Assert.Equal(0.0, rows[0].GetProperty("change_percent").GetDouble());
            Assert.NotEqual(rows[0].GetProperty("loss").GetDouble(), rows[2].GetProperty("loss").GetDouble());
            // The quantised folder evaluated as it is gives the q4_0 row's loss (same blocks, same int8 products).
            var again = RlmProcess.Run(dir, "eval", "--model", "q4", "--data", "sample.txt", "--weights", "q4_0", "--json");
            Assert.True(again.ExitCode == 0, again.Stderr);
            Assert.Equal(rows[2].GetProperty("loss").GetDouble(), JsonDocument.Parse(again.Stdout).RootElement[0].GetProperty("loss").GetDouble());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Gpt2TokenizerModel_ExportsToGguf_AndRunsFromTheFile()
    {
        string dir = RlmProcess.TemporaryDirectory();
        try
        {
            var trained = RlmProcess.Run(dir, ["train", .. Tiny, "--tokenizer", "gpt2", "--out", "run"]);   // the built-in vocabulary
            Assert.True(trained.ExitCode == 0, trained.Stderr);
            var exported = RlmProcess.Run(dir, "export", "--model", "run", "--format", "gguf", "--weights", "q8_0", "--out", "model.gguf");
            Assert.True(exported.ExitCode == 0, exported.Stderr);
            var fromFolder = RlmProcess.Run(dir, "bench", "generate", "--model", "run", "--weights", "q8_0", "--prompt-ids", "464,2068,7586", "--new-tokens", "8", "--reps", "1", "--show-tokens", "--json");
            var fromFile = RlmProcess.Run(dir, "bench", "generate", "--model", "model.gguf", "--prompt-ids", "464,2068,7586", "--new-tokens", "8", "--reps", "1", "--show-tokens", "--json");
            Assert.True(fromFolder.ExitCode == 0 && fromFile.ExitCode == 0, fromFolder.Stderr + fromFile.Stderr);
            var a = JsonDocument.Parse(fromFolder.Stdout).RootElement;
            var b = JsonDocument.Parse(fromFile.Stdout).RootElement;
            Assert.Equal("q8_0", b.GetProperty("weights").GetString());
            Assert.Equal(a.GetProperty("tokens").ToString(), b.GetProperty("tokens").ToString());
            var generated = RlmProcess.Run(dir, "generate", "--model", "model.gguf", "--prompt", "Hello", "--max-new-tokens", "4");
            Assert.True(generated.ExitCode == 0, generated.Stderr);
            Assert.StartsWith("Hello", generated.Stdout);
        }
        finally { Directory.Delete(dir, true); }
    }
}
