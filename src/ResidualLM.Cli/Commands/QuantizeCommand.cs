// `rlm quantize`: writes a copy of a model folder with its matrices in ggml's Q8_0 or Q4_0 blocks (model.gguf beside
// config.json and the tokenizer), which generate, eval and logits load like any model folder.
using System.CommandLine;
using ResidualLM.IO;
using ResidualLM.Kernels;

namespace ResidualLM.Cli.Commands;

/// <summary>Builds the <c>quantize</c> command.</summary>
public static class QuantizeCommand
{
    /// <summary><c>rlm quantize --model DIR --format q8_0|q4_0 --out DIR</c>. Exit code 0, or 2 with a one-line message.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder: run folder, checkpoint or Hugging Face GPT-2 folder", Required = true };
        var format = new Option<string>("--format") { Description = "q8_0 (8-bit blocks) or q4_0 (4-bit blocks), as ggml defines them", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write (created if needed; files in it are replaced)", Required = true };
        var command = new Command("quantize", "Write a model folder whose matrices are in ggml's q8_0 or q4_0 blocks, for faster decoding");
        command.Options.Add(model);
        command.Options.Add(format);
        command.Options.Add(output);
        command.SetAction(parse => CliErrors.Run(parse.InvocationConfiguration.Error, () =>
        {
            string formatText = parse.GetValue(format)!;
            if (!BlockQuant.TryParse(formatText, out var blockFormat))
                throw new InvalidInputException($"must be q8_0 or q4_0, got '{formatText}'", field: "--format");
            string source = CheckpointDirectory.ResolveModelFolder(parse.GetValue(model)!);
            string target = Path.GetFullPath(parse.GetValue(output)!);
            if (string.Equals(source.TrimEnd(Path.DirectorySeparatorChar), target.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
                throw new InvalidInputException("is the model folder itself; write the quantized model to another folder", field: "--out");
            var loaded = ModelFolder.Open(source);
            long before = loaded.Model.Linears().Sum(l => 4L * l.Weight.Size) + (loaded.Model.Head is null ? 4L * loaded.Model.TokenEmbedding.Weight.Size : 0);
            loaded.Model.Quantize(blockFormat);
            ModelFiles.SaveQuantized(target, loaded.Model);
            string tokenizerFolder = Path.Combine(target, "tokenizer");
            Directory.CreateDirectory(tokenizerFolder);
            loaded.Tokenizer.Save(tokenizerFolder);
            long after = loaded.Model.Linears().Sum(l => l.Quantized!.ByteCount) + (loaded.Model.TokenEmbedding.Quantized?.ByteCount ?? 0);
            parse.InvocationConfiguration.Output.WriteLine(
                $"wrote {BlockQuant.Name(blockFormat)} model to {target}: matrices {before / 1e6:F1} MB -> {after / 1e6:F1} MB (norms, biases and positions stay float32)");
            return 0;
        }));
        return command;
    }
}
