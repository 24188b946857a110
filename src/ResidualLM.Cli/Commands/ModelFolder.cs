// Opens a model folder given by the user: a run folder (its newest checkpoint), a checkpoint folder, or a
// Hugging Face GPT-2 or Llama-family folder, or a GGUF file (llama.cpp's gpt2 layout); and the tokenizer stored with it.
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Text;

namespace ResidualLM.Cli.Commands;

/// <summary>A loaded model with its tokenizer.</summary>
public sealed record ModelFolder(string Folder, LanguageModel Model, ITokenizer Tokenizer)
{
    /// <summary>Where the tokenizer was read from (the folder, its <c>tokenizer/</c> subfolder, or the GGUF file).</summary>
    public string TokenizerFolder { get; init; } = Folder;

    /// <summary>Loads the model and its tokenizer (from <c>tokenizer/</c> inside the folder, or the folder itself).</summary>
    public static ModelFolder Open(string path)
    {
        if (IsGguf(path))
        {
            var gguf = GgufModels.Load(path);
            if (gguf.Tokenizer is null) throw new InvalidInputException(gguf.TokenizerProblem ?? "has no tokenizer", path, "tokenizer.ggml.model");
            return new ModelFolder(path, gguf.Model, gguf.Tokenizer);
        }
        string folder = CheckpointDirectory.ResolveModelFolder(path);
        var model = ModelFiles.Load(folder);
        string tokenizerFolder = Directory.Exists(Path.Combine(folder, "tokenizer")) ? Path.Combine(folder, "tokenizer") : folder;
        var tokenizer = TokenizerIO.Load(tokenizerFolder);
        if (tokenizer.VocabSize > model.VocabSize)
            throw new InvalidInputException($"the tokenizer has {tokenizer.VocabSize} tokens but the model only {model.VocabSize}", tokenizerFolder, "vocabulary");
        return new ModelFolder(folder, model, tokenizer) { TokenizerFolder = tokenizerFolder };
    }

    /// <summary>Whether <paramref name="path"/> names a GGUF file rather than a folder.</summary>
    public static bool IsGguf(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(path);
}
