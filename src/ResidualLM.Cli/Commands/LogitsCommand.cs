// `rlm logits`: the next-token logits a saved model gives at every position of a token sequence, as JSON rows or as a
// short table of the five likeliest next tokens. For checking a checkpoint against another implementation.
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Text;

namespace ResidualLM.Cli.Commands;

/// <summary>Builds the <c>logits</c> command.</summary>
public static class LogitsCommand
{
    const int TopCount = 5;
    static readonly JsonSerializerOptions readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// <c>rlm logits --model DIR --tokens 464,3290,318 [--json]</c>. DIR is a run folder, a checkpoint folder or a Hugging
    /// Face GPT-2 folder. Exit code 0, or 2 with a one-line message for a bad folder or bad tokens.
    /// </summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder: run folder, checkpoint or Hugging Face GPT-2 folder", Required = true };
        var tokens = new Option<string>("--tokens") { Description = "Comma-separated token ids, e.g. 464,3290,318", Required = true };
        var json = new Option<bool>("--json") { Description = "Print {\"logits\": [[...], ...]}, one row of vocabulary size per position" };
        var command = new Command("logits", "Print a model's next-token logits for every position of a token sequence");
        command.Options.Add(model);
        command.Options.Add(tokens);
        command.Options.Add(json);
        command.SetAction(parse => CliErrors.Run(parse.InvocationConfiguration.Error, () =>
        {
            string given = parse.GetValue(model)!;
            GgufModels.Loaded? gguf = ModelFolder.IsGguf(given) ? GgufModels.Load(given) : null;
            string folder = gguf is null ? CheckpointDirectory.ResolveModelFolder(given) : given;
            LanguageModel network = gguf?.Model ?? ModelFiles.Load(folder);
            using var noGrad = Autograd.Graph.NoGrad();                                 // logits only: no graph, and quantised layers need none
            int[] ids = ParseTokens(parse.GetValue(tokens)!, network.VocabSize, network.ContextLength);
            float[] logits = network.Forward(ids, 1, ids.Length).Data;                 // (1, T, V)
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) WriteJson(output, logits, ids.Length, network.VocabSize);
            else WriteTable(output, parse.InvocationConfiguration.Error, folder, ids, logits, network.VocabSize, gguf?.Tokenizer);
            return 0;
        }));
        return command;
    }

    /// <summary>"464, 3290,318" -> ids, each checked against the vocabulary, the whole against the context length.</summary>
    internal static int[] ParseTokens(string text, int vocabSize, int contextLength)
    {
        const string field = "--tokens";
        string[] items = text.Split(',', StringSplitOptions.TrimEntries);
        if (text.Trim().Length == 0) throw new InvalidInputException("no token ids given", field: field);
        var ids = new int[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            if (!int.TryParse(items[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ids[i]))
                throw new InvalidInputException($"item {i + 1} (\"{items[i]}\") is not an integer token id", field: field);
            if ((uint)ids[i] >= (uint)vocabSize)
                throw new InvalidInputException($"token {ids[i]} at position {i} is outside the vocabulary [0, {vocabSize})", field: field);
        }
        if (ids.Length > contextLength)
            throw new InvalidInputException($"{ids.Length} tokens exceed the model's context length of {contextLength}", field: field);
        return ids;
    }

    /// <summary>One line; floats in the shortest form that reads back to the same float32 (non-finite values as null).</summary>
    static void WriteJson(TextWriter output, float[] logits, int time, int vocab)
    {
        var text = new StringBuilder("{\"logits\":[");
        for (int t = 0; t < time; t++)
        {
            text.Append(t == 0 ? "[" : ",[");
            for (int v = 0; v < vocab; v++)
            {
                float value = logits[t * vocab + v];
                if (v > 0) text.Append(',');
                text.Append(float.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "null");
            }
            text.Append(']');
        }
        output.WriteLine(text.Append("]}").ToString());
    }

    static void WriteTable(TextWriter output, TextWriter error, string folder, int[] ids, float[] logits, int vocab, ITokenizer? known)
    {
        ITokenizer? tokenizer = known ?? TryLoadTokenizer(folder, error);
        string Show(int id) => tokenizer is not null && id < tokenizer.VocabSize
            ? $"{id} {JsonSerializer.Serialize(tokenizer.Decode([id]), readable)}"
            : id.ToString(CultureInfo.InvariantCulture);

        output.WriteLine($"{"pos",4}  {"token",-16}  top-{TopCount} next tokens (logit)");
        for (int t = 0; t < ids.Length; t++)
        {
            int start = t * vocab;
            var top = Enumerable.Range(0, vocab).OrderByDescending(v => logits[start + v]).ThenBy(v => v).Take(TopCount)
                .Select(v => $"{Show(v)} ({logits[start + v].ToString("F3", CultureInfo.InvariantCulture)})");
            output.WriteLine($"{t,4}  {Show(ids[t]),-16}  {string.Join(", ", top)}");
        }
    }

    /// <summary>The folder's tokenizer, if it has one we can read; token strings are a convenience, so a bad one is only noted.</summary>
    internal static ITokenizer? TryLoadTokenizer(string folder, TextWriter error)
    {
        if (File.Exists(folder)) return null;                                       // a GGUF file: its tokenizer came with it
        string inner = Path.Combine(folder, "tokenizer");
        if (Directory.Exists(inner)) folder = inner;                                // rlm quantize's folders keep it there
        try
        {
            // GPT-2's own files first: a Hugging Face folder's tokenizer.json is HF's format, not ours.
            if (Gpt2Tokenizer.HasFiles(folder)) return Gpt2Tokenizer.FromDirectory(folder);
            if (File.Exists(Path.Combine(folder, TokenizerIO.DescriptionFileName))) return TokenizerIO.Load(folder);
        }
        catch (InvalidInputException problem)
        {
            error.WriteLine($"note: token strings not shown: {problem.Message}");
        }
        return null;
    }
}
