// `rlm generate` and `rlm export` on a Hugging Face Llama-family folder with a tokenizer.json: streamed text equal with
// and without the KV cache, the ChatML prompt of --chat, export to the Hugging Face layout and back, and one-line errors.
using ResidualLM.Generation;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Cli;

public sealed class LlamaFolderCliTests : IDisposable
{
    readonly string root = RlmProcess.TemporaryDirectory();

    public void Dispose() => Directory.Delete(root, recursive: true);

    static string TokenizerFixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "hf_tokenizers", name);

    /// <summary>A random Qwen2-shaped model (GQA 4/2, q/k/v biases) saved in the HF layout beside the qwen2 fixture tokenizer.</summary>
    string QwenFolder()
    {
        string folder = Path.Combine(root, "qwen");
        var tokenizer = HuggingFaceTokenizer.FromDirectory(TokenizerFixture("qwen2"));
        var model = new Llama(new LlamaConfig
        {
            VocabSize = tokenizer.VocabSize, ContextLength = 96, Width = 32, HeadCount = 4, KeyValueHeadCount = 2, LayerCount = 2,
            FeedForwardWidth = 48, QkvBias = true, RopeTheta = 1e6f, NormEps = 1e-6f,
        }, seed: 5);
        ModelFiles.SaveHuggingFaceLlama(folder, model);
        foreach (string file in Directory.GetFiles(TokenizerFixture("qwen2"))) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    [Fact]
    public void Generate_QwenFolder_SameTextWithAndWithoutCache()
    {
        string folder = QwenFolder();
        string[] common = ["generate", "--model", folder, "--prompt", "Hello world, 123", "--greedy", "--max-new-tokens", "24", "--no-stop"];
        var cached = RlmProcess.Run(root, common);
        var recomputed = RlmProcess.Run(root, [.. common, "--no-cache"]);
        Assert.True(cached.ExitCode == 0, cached.Stderr);
        Assert.Equal(0, recomputed.ExitCode);
        Assert.StartsWith("Hello world, 123", cached.Stdout, StringComparison.Ordinal);
        Assert.True(cached.Stdout.Length > "Hello world, 123\n".Length, "nothing was generated");
        Assert.Equal(recomputed.Stdout, cached.Stdout);
        Assert.Contains("weights f32", cached.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_Chat_PromptsWithTheChatMLTurns()
    {
        string folder = QwenFolder();
        var result = RlmProcess.Run(root, "generate", "--model", folder, "--prompt", "Hi", "--chat", "--greedy", "--max-new-tokens", "6", "--no-stop");
        Assert.True(result.ExitCode == 0, result.Stderr);
        // The answer alone is printed: not the prompt, not the template.
        Assert.DoesNotContain("<|im_start|>", result.Stdout, StringComparison.Ordinal);

        // The ids it generated from are the ChatML prompt: the same continuation from the library, from those ids.
        var tokenizer = HuggingFaceTokenizer.FromDirectory(folder);
        int[] prompt = ChatTemplate.FromDirectory(folder).Encode(tokenizer, [new ChatMessage("user", "Hi")]);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            tokenizer.Decode(prompt, skipSpecialTokens: false));
        var model = ModelFiles.Load(folder);
        int[] expected = Generator.Generate(model, prompt, 6, SamplingOptions.Greedy, new Rng(1337));
        Assert.Equal(tokenizer.Decode(expected), result.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public void Generate_ChatWithoutAHuggingFaceTokenizer_IsOneLine()
    {
        // A GPT-2 folder with a character tokenizer: a model that has no chat template to apply.
        string gpt2 = Path.Combine(root, "gpt2");
        Directory.CreateDirectory(gpt2);
        string fixture = Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt2-hf", "plain-tied");
        foreach (string file in Directory.GetFiles(fixture)) File.Copy(file, Path.Combine(gpt2, Path.GetFileName(file)));
        CharTokenizer.FromText("Hi there, be brief.").Save(gpt2);
        var result = RlmProcess.Run(root, "generate", "--model", gpt2, "--prompt", "Hi", "--chat", "--max-new-tokens", "2");
        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Contains("--chat", result.Stderr, StringComparison.Ordinal);

        var system = RlmProcess.Run(root, "generate", "--model", gpt2, "--prompt", "Hi", "--system", "be brief");
        Assert.Equal(2, system.ExitCode);
        Assert.Contains("--system: applies with --chat only", system.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_OwnLayoutToHuggingFaceAndBack_KeepsTheLogitsAndTheTokenizer()
    {
        string folder = QwenFolder();
        string own = Path.Combine(root, "own"), hf = Path.Combine(root, "hf");
        var toOwn = RlmProcess.Run(root, "export", "--model", folder, "--out", own, "--format", "rlm");
        Assert.True(toOwn.ExitCode == 0, toOwn.Stderr);
        var toHf = RlmProcess.Run(root, "export", "--model", own, "--out", hf, "--format", "hf");
        Assert.True(toHf.ExitCode == 0, toHf.Stderr);
        Assert.Contains("Hugging Face Qwen2", toHf.Stdout, StringComparison.Ordinal);
        Assert.Equal(ModelFileFormat.HuggingFaceLlama, ModelFiles.DetectFormat(hf));
        int[] ids = [3, 1, 4, 1, 5, 9, 2, 6];
        Assert.Equal(ModelFiles.Load(folder).Forward(ids, 1, ids.Length).Data, ModelFiles.Load(hf).Forward(ids, 1, ids.Length).Data);
        Assert.IsType<HuggingFaceTokenizer>(TokenizerIO.Load(own));
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "tokenizer.json")), File.ReadAllBytes(Path.Combine(hf, "tokenizer.json")));
    }
}
