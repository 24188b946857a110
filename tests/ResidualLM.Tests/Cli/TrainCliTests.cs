// `rlm train`, `generate` and `eval` end to end on tiny settings (bad input: BadInputCatalogTests).
using System.Text.Json;
using Xunit;

namespace ResidualLM.Tests.Cli;

public class TrainCliTests
{
    static readonly string[] Tiny = ["--corpus-chars", "20000", "--layers", "1", "--width", "16", "--heads", "2", "--context", "16",
        "--batch", "4", "--steps", "6", "--eval-interval", "3", "--eval-batches", "2", "--sample-tokens", "8"];

    [Fact]
    public void Train_ThenGenerateAndEval_FromTheRunFolder()
    {
        string dir = RlmProcess.TemporaryDirectory();
        try
        {
            var (code, stdout, stderr) = RlmProcess.Run(dir, ["train", .. Tiny, "--out", "run", "--json"]);
            Assert.True(code == 0, stderr);
            using var summary = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
            var root = summary.RootElement;
            Assert.Equal(6, root.GetProperty("steps").GetInt32());
            foreach (string key in new[] { "train_loss", "val_loss", "seconds", "entropy_floor" })
                Assert.True(root.GetProperty(key).GetDouble() > 0, key);
            Assert.True(File.Exists(Path.Combine(dir, "run", "latest")));
            Assert.True(File.Exists(Path.Combine(dir, "run", "metrics.jsonl")));

            var generated = RlmProcess.Run(dir, "generate", "--model", "run", "--prompt", "the ", "--max-new-tokens", "10", "--seed", "4");
            Assert.True(generated.ExitCode == 0, generated.Stderr);
            Assert.StartsWith("the ", generated.Stdout);

            File.WriteAllText(Path.Combine(dir, "sample.txt"), "the cat sat. the dog ran.");
            var evaluated = RlmProcess.Run(dir, "eval", "--model", "run", "--data", "sample.txt", "--json");
            Assert.True(evaluated.ExitCode == 0, evaluated.Stderr);
            Assert.True(JsonDocument.Parse(evaluated.Stdout).RootElement.GetProperty("loss").GetDouble() > 0);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Train_Gpt2TokenizerWithoutVocab_UsesTheBuiltInVocabulary()
    {
        string dir = RlmProcess.TemporaryDirectory();
        try
        {
            File.WriteAllText(Path.Combine(dir, "text.txt"), Text.TextTestData.EnglishLike(6000, seed: 5));
            var trained = RlmProcess.Run(dir, ["train", "--data", "text.txt", "--tokenizer", "gpt2", "--layers", "1", "--width", "16", "--heads", "2",
                "--context", "16", "--batch", "4", "--steps", "4", "--eval-interval", "0", "--eval-batches", "1", "--sample-tokens", "0", "--out", "run"]);
            Assert.True(trained.ExitCode == 0, trained.Stderr);
            Assert.Contains("tokenizer gpt2 (50257 tokens)", trained.Stdout);
            Assert.Contains("done: 4 steps", trained.Stdout);

            // The checkpoint holds the vocabulary files; without them its tokenizer.json alone means the built-in one.
            string tokenizer = Path.Combine(dir, "run", File.ReadAllText(Path.Combine(dir, "run", "latest")).Trim(), "tokenizer");
            string[] generate = ["generate", "--model", "run", "--prompt", "Hello there", "--max-new-tokens", "5", "--temperature", "0"];
            var withFiles = RlmProcess.Run(dir, generate);
            Assert.True(withFiles.ExitCode == 0, withFiles.Stderr);
            File.Delete(Path.Combine(tokenizer, "encoder.json"));
            File.Delete(Path.Combine(tokenizer, "vocab.bpe"));
            var withoutFiles = RlmProcess.Run(dir, generate);
            Assert.True(withoutFiles.ExitCode == 0, withoutFiles.Stderr);
            Assert.StartsWith("Hello there", withoutFiles.Stdout);
            Assert.Equal(withFiles.Stdout, withoutFiles.Stdout);

            var tokenized = RlmProcess.Run(dir, "tokenize", "--vocab", tokenizer, "--text", "Hello, world!", "--json");
            Assert.True(tokenized.ExitCode == 0, tokenized.Stderr);
            Assert.Equal("""{"ids":[15496,11,995,0]}""", tokenized.Stdout.Trim());   // gpt-3-encoder's ids, in fixtures/gpt2_tokenizer.json
        }
        finally { Directory.Delete(dir, true); }
    }
}
