// Every bad input we try on the real `rlm`, one test each: a one-line "error: ..." naming the option, file or field,
// and a non-zero exit code. docs/reliability.md lists the same cases with the exact messages; a test checks that the
// table matches what rlm prints, and tools/ReliabilityTable rewrites the table from real runs.
using System.Text;
using ResidualLM.IO;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Cli;

public class BadInputCatalogTests
{
    /// <summary>A case: files it needs, the command line, the exit code and a fragment the message must hold.</summary>
    public sealed record Case(string Name, string[] Args, string Mention, int ExitCode = 2, Action<string>? Setup = null);

    static readonly string[] Quick = ["--corpus-chars", "20000", "--layers", "1", "--width", "16", "--heads", "2", "--context", "16", "--batch", "2",
        "--steps", "3", "--eval-interval", "0", "--eval-batches", "1", "--sample-tokens", "0", "--threads", "1"];

    static void Write(string dir, string name, string text) { Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, name))!); File.WriteAllText(Path.Combine(dir, name), text); }

    static void HfModel(string dir, Action<string>? edit = null)
    {
        string target = Path.Combine(dir, "m");
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(IO.ModelFolders.Fixture("plain-tied"))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        edit?.Invoke(target);
    }

    /// <summary>A copy of one of the Llama-family fixtures of tools/reference/llama_hf_fixture.py in dir/m, edited.</summary>
    static void LlamaModel(string dir, string fixture, Action<string>? edit = null)
    {
        string target = Path.Combine(dir, "m");
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", "llama-hf", fixture))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        edit?.Invoke(target);
    }

    /// <summary>A run folder whose newest checkpoint is complete except for the given trainer_state.json.</summary>
    static void FakeRun(string dir, string state)
    {
        Write(dir, "run/step-0000001/trainer_state.json", state);
        Write(dir, "run/step-0000001/" + CheckpointDirectory.CompleteMarker, "step-0000001\n");
        Write(dir, "run/" + CheckpointDirectory.LatestFile, "step-0000001\n");
    }

    /// <summary>The trainer_state.json of the checkpoint in fixtures/checkpoints (a valid one, at step 2).</summary>
    static string OldState() => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "checkpoints", "v1-run", "step-0000002", "trainer_state.json"));

    public static readonly Case[] Cases =
    [
        // Data and files.
        new("data file missing", ["train", "--data", "missing.txt"], "missing.txt"),
        new("data file empty", ["train", "--data", "empty.txt"], "empty", Setup: dir => Write(dir, "empty.txt", "")),
        new("output folder under a file", ["train", .. Quick, "--out", "file.txt/run"], "--out", Setup: dir => Write(dir, "file.txt", "x")),
        new("gpt2 vocabulary folder empty", ["train", .. Quick, "--tokenizer", "gpt2", "--vocab", "v"], "encoder.json", Setup: dir => Directory.CreateDirectory(Path.Combine(dir, "v"))),
        new("resume from a folder without checkpoint", ["train", "--resume", "nothing-here"], "nothing-here"),
        new("resume: latest points nowhere", ["train", "--resume", "run"], "latest", Setup: dir => Write(dir, "run/latest", "step-0000009\n")),
        new("resume: latest escapes the folder", ["train", "--resume", "run"], "does not name", Setup: dir => Write(dir, "run/latest", "../elsewhere\n")),
        new("resume: trainer_state.json not JSON", ["train", "--resume", "run"], "trainer_state.json", Setup: dir => FakeRun(dir, "{\"step\": 3,")),
        new("resume: negative step", ["train", "--resume", "run"], "step", Setup: dir => FakeRun(dir, OldState().Replace("\"step\": 2,", "\"step\": -3,"))),
        new("resume: unknown field in trainer_state.json", ["train", "--resume", "run"], "stpe", Setup: dir => FakeRun(dir, "{\"stpe\": 3}")),
        new("generate: model folder missing", ["generate", "--model", "nowhere", "--prompt", "x"], "nowhere"),
        new("eval: model folder missing", ["eval", "--model", "nowhere", "--data", "x.txt"], "nowhere"),
        new("model folder without config.json", ["generate", "--model", "m", "--prompt", "a"], "config.json", Setup: dir => Directory.CreateDirectory(Path.Combine(dir, "m"))),
        new("config.json: heads do not divide width", ["generate", "--model", "m", "--prompt", "a"], "n_head",
            Setup: dir => HfModel(dir, m => Replace(m, "config.json", "\"n_head\": 3", "\"n_head\": 5"))),
        new("config.json: width as a string", ["generate", "--model", "m", "--prompt", "a"], "n_embd",
            Setup: dir => HfModel(dir, m => Replace(m, "config.json", "\"n_embd\": 24", "\"n_embd\": \"24\""))),
        new("config.json: huge sizes beside small weights", ["generate", "--model", "m", "--prompt", "a"], "holds only",
            Setup: dir => HfModel(dir, m => Replace(m, "config.json", "\"n_layer\": 2", "\"n_layer\": 9000"))),
        new("weights file truncated", ["generate", "--model", "m", "--prompt", "a"], "model.safetensors",
            Setup: dir => HfModel(dir, m => { using var s = new FileStream(Path.Combine(m, "model.safetensors"), FileMode.Open); s.SetLength(s.Length - 100); })),
        new("weights header length huge", ["generate", "--model", "m", "--prompt", "a"], "model.safetensors",
            Setup: dir => HfModel(dir, m => { using var s = new FileStream(Path.Combine(m, "model.safetensors"), FileMode.Open); s.Write(BitConverter.GetBytes(ulong.MaxValue)); })),
        new("tokenizer larger than the model", ["generate", "--model", "m", "--prompt", "a"], "vocabulary",
            Setup: dir => HfModel(dir, m => new ByteTokenizer().Save(Path.Combine(m, "tokenizer")))),
        new("Llama config.json: unsupported rope_scaling", ["logits", "--model", "m", "--tokens", "1"], "rope_scaling.rope_type",
            Setup: dir => LlamaModel(dir, "llama-gqa-6-2", m => Replace(m, "config.json", "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"))),
        new("Llama config.json: key/value heads do not divide heads", ["logits", "--model", "m", "--tokens", "1"], "num_key_value_heads",
            Setup: dir => LlamaModel(dir, "llama-gqa-6-2", m => Replace(m, "config.json", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 4"))),
        new("Llama shards: index names a missing shard", ["logits", "--model", "m", "--tokens", "1"], "shard not found",
            Setup: dir => LlamaModel(dir, "qwen2-bias-sharded", m => File.Delete(Path.Combine(m, "model-00002-of-00002.safetensors")))),
        new("Hugging Face tokenizer.json: WordPiece model", ["tokenize", "--vocab", "t", "--text", "a"], "model.type",
            Setup: dir => Write(dir, "t/tokenizer.json", "{\"version\":\"1.0\",\"added_tokens\":[],\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}")),
        new("tokenizer.json: unknown kind", ["tokenize", "--vocab", "t", "--text", "a"], "kind", Setup: dir => Write(dir, "t/tokenizer.json", "{\"kind\":\"word\",\"version\":1}")),
        new("tokenizer.json: escaped lone surrogate", ["tokenize", "--vocab", "t", "--text", "a"], "not valid Unicode",
            Setup: dir => Write(dir, "t/tokenizer.json", "{\"kind\":\"char\",\"version\":1,\"vocabSize\":1,\"characters\":[\"\\ud800\"]}")),
        new("tokenizer.json: merges that double a token forever", ["tokenize", "--vocab", "t", "--text", "a"], "merges[16]",
            Setup: dir => Write(dir, "t/tokenizer.json", "{\"kind\":\"bpe\",\"version\":1,\"vocabSize\":321,\"merges\":[[97,97]," +
                string.Join(",", Enumerable.Range(1, 63).Select(i => $"[{255 + i},{255 + i}]")) + "]}")),
        new("tokenizer.json: vocabSize disagrees", ["tokenize", "--vocab", "t", "--text", "a"], "vocabSize", Setup: dir => Write(dir, "t/tokenizer.json", "{\"kind\":\"byte\",\"version\":1,\"vocabSize\":300}")),
        new("vocab.bpe: token not in encoder.json", ["tokenize", "--vocab", "g", "--text", "a"], "vocab.bpe", Setup: dir =>
        {
            var (encoder, _) = Fuzzing.TokenizerFuzzTests.SmallGpt2Files();
            Directory.CreateDirectory(Path.Combine(dir, "g"));
            File.WriteAllBytes(Path.Combine(dir, "g", "encoder.json"), encoder);
            Write(dir, "g/vocab.bpe", "#version: 0.2\nx yz\n");
        }),

        // Model shape.
        new("unknown preset", ["train", "--preset", "no-such-model"], "no-such-model"),
        new("unknown architecture", ["train", "--arch", "mamba"], "--arch"),
        new("unknown residual policy", ["train", "--residual", "sideways"], "--residual"),
        new("heads do not divide width", ["train", "--heads", "5", "--width", "16"], "--heads"),
        new("zero layers", ["train", "--layers", "0"], "--layers"),
        new("negative width", ["train", "--width", "-8"], "--width"),
        new("zero heads", ["train", "--heads", "0"], "--heads"),
        new("zero model context", ["train", "--model-context", "0"], "--model-context"),
        new("dropout above 1", ["train", "--dropout", "1.5"], "--dropout"),
        new("negative dropout", ["train", "--dropout", "-0.1"], "--dropout"),
        new("context above the model's", ["train", "--preset", "tiny", "--context", "4096", "--corpus-chars", "20000"], "context length"),

        // Optimisation options.
        new("zero steps", ["train", "--steps", "0"], "--steps"),
        new("negative steps", ["train", "--steps", "-5"], "--steps"),
        new("zero batch", ["train", "--batch", "0"], "--batch"),
        new("zero context", ["train", "--context", "0"], "--context"),
        new("zero accumulation", ["train", "--accumulation", "0"], "--accumulation"),
        new("batch too large to allocate", ["train", "--batch", "100000", "--context", "1000"], "--batch"),
        new("negative learning rate", ["train", "--lr", "-1"], "--lr"),
        new("zero learning rate", ["train", "--lr", "0"], "--lr"),
        new("learning rate above 10", ["train", "--lr", "20"], "--lr"),
        new("min-lr above lr", ["train", "--lr", "0.001", "--min-lr", "0.5"], "--min-lr"),
        new("negative warmup", ["train", "--warmup", "-1"], "--warmup"),
        new("negative weight decay", ["train", "--weight-decay", "-1"], "--weight-decay"),
        new("beta2 of 1", ["train", "--beta2", "1"], "--beta2"),
        new("negative clipping norm", ["train", "--clip", "-1"], "--clip"),
        new("zero eval batches", ["train", "--eval-batches", "0"], "--eval-batches"),
        new("negative checkpoint interval", ["train", "--checkpoint-interval", "-1"], "--checkpoint-interval"),

        // Data options.
        new("split above 1", ["train", "--split", "1.5"], "--split"),
        new("corpus too small", ["train", "--corpus-chars", "10"], "--corpus-chars"),
        new("unknown tokenizer", ["train", "--tokenizer", "word"], "--tokenizer"),
        new("zero BPE merges", ["train", "--tokenizer", "bpe", "--bpe-merges", "0"], "--bpe-merges"),
        new("unknown sampler", ["train", "--sampler", "shuffled"], "--sampler"),
        new("zero stride", ["train", "--sampler", "windows", "--stride", "0"], "--stride"),
        new("epochs without windows", ["train", "--epochs", "2"], "--epochs"),
        new("zero threads", ["train", "--threads", "0"], "--threads"),

        // Numerical blow-up: a checkpoint whose weight was poisoned with NaN, resumed.
        new("non-finite loss on resume", ["train", "--resume", "run", "--steps", "4", "--threads", "1"], "step 3: loss is NaN: parameter blocks.0.ffn.fc.weight", ExitCode: 3,
            Setup: dir => PoisonedRun(dir, skip: false)),

        // Other commands.
        new("eval: context above the model's", ["eval", "--model", "m", "--data", "d.txt", "--context", "999"], "--context",
            Setup: dir => { HfModel(dir, m => CharTokenizer.FromText("ab ").Save(Path.Combine(m, "tokenizer"))); Write(dir, "d.txt", "a b"); }),
        new("generate: negative token count", ["generate", "--model", "m", "--prompt", "a", "--max-new-tokens", "-1"], "--max-new-tokens",
            Setup: dir => HfModel(dir, m => CharTokenizer.FromText("ab ").Save(Path.Combine(m, "tokenizer")))),
        new("generate: temperature below zero", ["generate", "--model", "nowhere", "--prompt", "a", "--temperature", "-1"], "emperature"),

        // Quantised weights and GGUF files.
        new("quantize: unknown format", ["quantize", "--model", "m", "--format", "q5_k", "--out", "q"], "--format"),
        new("quantize: width not whole blocks", ["quantize", "--model", "m", "--format", "q8_0", "--out", "q"], "multiple of 32",
            Setup: dir => HfModel(dir, m => CharTokenizer.FromText("ab ").Save(Path.Combine(m, "tokenizer")))),
        new("generate: not a GGUF file", ["generate", "--model", "model.gguf", "--prompt", "a"], "magic", Setup: dir => Write(dir, "model.gguf", "not a gguf file at all")),
        new("generate: GGUF of another architecture", ["generate", "--model", "llama.gguf", "--prompt", "a"], "general.architecture",
            Setup: dir => GgufOf(dir, "llama.gguf", "llama")),
        new("export: gguf of a post-norm model", ["export", "--model", "run", "--format", "gguf", "--out", "x.gguf"], "residual",
            Setup: dir => TrainTiny(dir, "--residual", "postnorm")),
        new("export: gguf weights unknown", ["export", "--model", "nowhere", "--format", "gguf", "--weights", "q3_k", "--out", "x.gguf"], "--weights"),
    ];

    /// <summary>A GGUF file with only general.architecture = <paramref name="architecture"/>.</summary>
    static void GgufOf(string dir, string name, string architecture)
    {
        var writer = new ResidualLM.IO.GgufWriter();
        writer.Add("general.architecture", ResidualLM.IO.GgufValue.Of(architecture));
        writer.Write(Path.Combine(dir, name));
    }

    /// <summary>Trains two steps of a tiny model into dir/run with extra options.</summary>
    static void TrainTiny(string dir, params string[] extra)
    {
        var (code, _, stderr) = RlmProcess.Run(dir, ["train", .. Quick.Select(a => a == "3" ? "2" : a), "--out", "run", .. extra]);
        Assert.True(code == 0, stderr);
    }

    /// <summary>Trains two steps into dir/run, then writes NaN into one weight of the checkpoint.</summary>
    static void PoisonedRun(string dir, bool skip)
    {
        string[] args = ["train", .. Quick.Select(a => a == "3" ? "2" : a), "--out", "run", .. (skip ? new[] { "--skip-nonfinite" } : [])];
        var (code, _, stderr) = RlmProcess.Run(dir, args);
        Assert.True(code == 0, stderr);
        string checkpoint = new CheckpointDirectory(Path.Combine(dir, "run")).Current()!;
        var model = ModelFiles.Load(checkpoint);
        model.NamedParameters().Single(p => p.Name == "blocks.0.ffn.fc.weight").Tensor.Data[0] = float.NaN;
        ModelFiles.Save(checkpoint, model);
    }

    [Fact]
    public void SkipNonFinite_ThroughTheCli_SkipsAndFinishes()
    {
        string dir = RlmProcess.TemporaryDirectory();
        try
        {
            PoisonedRun(dir, skip: true);
            var (code, stdout, stderr) = RlmProcess.Run(dir, "train", "--resume", "run", "--steps", "4", "--threads", "1");
            Assert.True(code == 0, stderr);
            Assert.Contains("done: 4 steps", stdout);
            string[] skipped = File.ReadAllLines(Path.Combine(dir, "run", "metrics.jsonl")).Where(line => line.Contains("\"skipped\":true")).ToArray();
            Assert.Equal(2, skipped.Length);
            Assert.All(skipped, line => Assert.Contains("\"loss\":null", line));   // JSON has no NaN: a skipped step's loss is null
        }
        finally { Directory.Delete(dir, true); }
    }

    static void Replace(string folder, string file, string from, string to)
    {
        string path = Path.Combine(folder, file);
        string text = File.ReadAllText(path);
        Assert.Contains(from, text);
        File.WriteAllText(path, text.Replace(from, to));
    }

    public static TheoryData<string> Names => new(Cases.Select(c => c.Name));

    /// <summary>Runs a case in a fresh folder; returns the exit code and stderr with the folder's path taken out.</summary>
    internal static (int ExitCode, string Message) RunCase(Case test)
    {
        string dir = RlmProcess.TemporaryDirectory();
        try
        {
            test.Setup?.Invoke(dir);
            var (code, _, stderr) = RlmProcess.Run(dir, test.Args);
            return (code, stderr.Trim().Replace(dir + "/", "").Replace(dir, "."));
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>The table lists each case once and nothing else (the test above checks each row's content).</summary>
    [ReliabilityTableFact]
    public void ReliabilityTable_HasOneRowPerCase()
    {
        string[] rows = ReliabilityTable.Rows()!;
        string[] listed = rows.Select(ReliabilityTable.CaseName).ToArray();
        Assert.True(listed.Length == listed.Distinct().Count(), $"docs/reliability.md lists a case twice: {string.Join(", ", listed.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key))}");
        var stale = listed.Except(Cases.Select(c => c.Name)).ToArray();
        var missing = Cases.Select(c => c.Name).Except(listed).ToArray();
        Assert.True(stale.Length == 0 && missing.Length == 0,
            $"docs/reliability.md lists cases that no longer exist: [{string.Join(", ", stale)}], and lacks: [{string.Join(", ", missing)}] (regenerate it: {ReliabilityTable.WriteCommand})");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void BadInput_OneLineErrorNamingTheCulprit(string name)
    {
        Case test = Cases.Single(c => c.Name == name);
        var (code, message) = RunCase(test);
        Assert.True(code == test.ExitCode, $"exit {code}: {message}");
        Assert.StartsWith("error: ", message);
        Assert.DoesNotContain("\n", message);
        Assert.DoesNotContain("   at ", message);
        Assert.Contains(test.Mention, message);
        string? table = ReliabilityTable.Read();
        if (table is not null)
            Assert.True(table.Contains(ReliabilityTable.Row(test, message, "BadInputCatalogTests.BadInput_OneLineErrorNamingTheCulprit"), StringComparison.Ordinal),
                $"docs/reliability.md has no row for \"{name}\" with the message rlm prints now: {message} (regenerate it: {ReliabilityTable.WriteCommand})");
    }
}

/// <summary>A fact skipped, with the reason shown, when the tests run outside a checkout (no docs/reliability.md).</summary>
public sealed class ReliabilityTableFactAttribute : FactAttribute
{
    public ReliabilityTableFactAttribute()
    {
        if (ReliabilityTable.Read() is null) Skip = "docs/reliability.md is absent: the tests run outside a checkout";
    }
}
