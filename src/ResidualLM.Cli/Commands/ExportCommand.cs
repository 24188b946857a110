// `rlm export`: rewrites a model folder in the other layout — ours (rlm) or Hugging Face GPT-2 (hf) — and copies the
// GPT-2 tokenizer files along. Limits: hf takes only pre-norm GPT models (GPT-2 has no other variant).
using System.CommandLine;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Text;

namespace ResidualLM.Cli.Commands;

/// <summary>Builds the <c>export</c> command.</summary>
public static class ExportCommand
{
    /// <summary>
    /// <c>rlm export --model DIR --out DIR --format hf|rlm</c>. Exit code 0, or 2 with a one-line message (bad folder,
    /// a model the target layout cannot hold, or --out naming the source folder).
    /// </summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder: run folder, checkpoint or Hugging Face GPT-2 folder", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write (created if needed; files in it are replaced)", Required = true };
        var format = new Option<string>("--format") { Description = "hf: Hugging Face layout (GPT-2, or Llama/Qwen2 for Llama models); rlm: ResidualLM checkpoint; gguf: one llama.cpp file (gpt2 architecture), --out names the file", Required = true };
        format.AcceptOnlyFromAmong("hf", "rlm", "gguf");
        var weights = new Option<string>("--weights") { Description = "With --format gguf: matrices in f32, f16, q8_0 or q4_0", DefaultValueFactory = _ => "f32" };
        var command = new Command("export", "Write a model in the Hugging Face GPT-2 layout, in ResidualLM's own, or as a GGUF file for llama.cpp");
        command.Options.Add(model);
        command.Options.Add(output);
        command.Options.Add(format);
        command.Options.Add(weights);
        command.SetAction(parse => CliErrors.Run(parse.InvocationConfiguration.Error, () =>
        {
            string weightsText = parse.GetValue(weights)!;
            GgufWeights stored = weightsText.ToLowerInvariant() switch
            {
                "f32" => GgufWeights.F32, "f16" => GgufWeights.F16, "q8_0" => GgufWeights.Q8_0, "q4_0" => GgufWeights.Q4_0,
                _ => throw new InvalidInputException($"must be f32, f16, q8_0 or q4_0, got '{weightsText}'", field: "--weights"),
            };
            if (parse.GetValue(format) != "gguf" && stored != GgufWeights.F32)
                throw new InvalidInputException("applies to --format gguf only (hf and rlm folders hold float32; rlm quantize writes q8_0/q4_0 folders)", field: "--weights");
            string given = parse.GetValue(model)!;
            string source = ModelFolder.IsGguf(given) ? Path.GetFullPath(given) : CheckpointDirectory.ResolveModelFolder(given);
            string target = Path.GetFullPath(parse.GetValue(output)!);
            if (string.Equals(source.TrimEnd(Path.DirectorySeparatorChar), target.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
                throw new InvalidInputException("is the model folder itself; write the export to another folder", field: "--out");
            if (parse.GetValue(format) == "gguf")
            {
                if (Directory.Exists(target)) throw new InvalidInputException("is a folder; with --format gguf, --out names the file to write (e.g. model.gguf)", field: "--out");
                var loaded = ModelFolder.Open(source);
                if (loaded.Model is not Gpt gptModel)
                    throw new InvalidInputException($"a {loaded.Model.GetType().Name} model cannot be written as a gpt2 GGUF yet; use --format rlm", field: "--format");
                GgufModels.SaveGpt2(target, gptModel, loaded.Tokenizer, stored);
                parse.InvocationConfiguration.Output.WriteLine($"wrote GGUF (gpt2, {weightsText.ToLowerInvariant()} matrices) to {target}: {new FileInfo(target).Length:N0} bytes");
                return 0;
            }
            if (ModelFolder.IsGguf(source))
                throw new InvalidInputException("is a GGUF file; it can be exported with --format gguf only (e.g. to change its weights)", field: "--model");
            LanguageModel network = ModelFiles.Load(source);
            bool huggingFace = parse.GetValue(format) == "hf";
            string written = "ResidualLM";
            if (huggingFace)
            {
                switch (network)
                {
                    case Gpt gpt:
                        ModelFiles.SaveHuggingFaceGpt2(target, gpt);
                        written = "Hugging Face GPT-2";
                        break;
                    case Llama llama:
                        (int? bos, int? eos) = SpecialIds(source);
                        ModelFiles.SaveHuggingFaceLlama(target, llama, bos, eos);
                        written = $"Hugging Face {(llama.Config.QkvBias && !llama.Config.OutputBias ? "Qwen2" : "Llama")}";
                        break;
                    default:
                        throw new InvalidInputException($"a {network.GetType().Name} model has no Hugging Face layout here; use --format rlm", field: "--format");
                }
            }
            else ModelFiles.Save(target, network);
            int copied = CopyTokenizer(source, target, huggingFace);
            parse.InvocationConfiguration.Output.WriteLine($"wrote {written} model to {target}" + (copied > 0 ? $" (and {copied} tokenizer files)" : ""));
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Copies the tokenizer files: GPT-2's vocabulary (both layouts read it) and Hugging Face's tokenizer.json with its
    /// companions (both layouts read them too). Our own tokenizer.json goes only into our layout: in a Hugging Face folder
    /// that name means HF's fast-tokenizer file, which ours is not.
    /// </summary>
    static int CopyTokenizer(string source, string target, bool huggingFace)
    {
        var names = new List<string>
        {
            Gpt2Tokenizer.EncoderFileName, Gpt2Tokenizer.MergesFileName, Gpt2Tokenizer.HuggingFaceVocabFileName, Gpt2Tokenizer.HuggingFaceMergesFileName,
        };
        string description = Path.Combine(source, TokenizerIO.DescriptionFileName);
        bool hfTokenizer = File.Exists(description) && TokenizerIO.Load(source) is HuggingFaceTokenizer;
        if (hfTokenizer) names.AddRange([TokenizerIO.DescriptionFileName, HuggingFaceTokenizer.ConfigFileName, HuggingFaceTokenizer.ChatTemplateFileName,
            "special_tokens_map.json", "generation_config.json"]);
        else if (!huggingFace && ModelFiles.DetectFormat(source) == ModelFileFormat.ResidualLM) names.Add(TokenizerIO.DescriptionFileName);
        int copied = 0;
        foreach (string name in names)
        {
            string from = Path.Combine(source, name);
            if (!File.Exists(from)) continue;
            byte[] bytes = File.ReadAllBytes(from);
            AtomicFile.WriteAllBytes(Path.Combine(target, name), bytes);
            copied++;
        }
        return copied;
    }

    /// <summary>The begin and end token ids the source folder's tokenizer names, for the exported config.json.</summary>
    static (int? Bos, int? Eos) SpecialIds(string source)
    {
        if (!File.Exists(Path.Combine(source, TokenizerIO.DescriptionFileName))) return (null, null);
        return TokenizerIO.Load(source) switch
        {
            HuggingFaceTokenizer hf => (hf.BeginningOfSequenceToken is string b ? hf.TokenToId(b) : null, hf.EndOfTextId),
            ITokenizer other => (null, other.EndOfTextId),
        };
    }
}
