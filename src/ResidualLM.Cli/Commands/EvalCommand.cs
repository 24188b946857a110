// `rlm eval`: the model's mean cross-entropy (nats per token) and perplexity over a whole text file.
using System.CommandLine;
using System.Text.Json;
using ResidualLM.Autograd;
using ResidualLM.Models;

namespace ResidualLM.Cli.Commands;

/// <summary>The eval command.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var cmd = new Command("eval", "Evaluate a model's loss and perplexity on a text file");
        var model = new Option<string>("--model") { Description = "Model folder", Required = true };
        var data = new Option<string>("--data") { Description = "Text file", Required = true };
        var context = new Option<int?>("--context") { Description = "Tokens per window (default: the model's context length)" };
        var batch = new Option<int>("--batch") { Description = "Windows per forward pass", DefaultValueFactory = _ => 4 };
        var json = new Option<bool>("--json") { Description = "Print a one-line JSON result" };
        var weights = new Option<string?>("--weights")
        {
            Description = "Comma-separated weight formats to evaluate side by side, e.g. f32,q8_0,q4_0: each quantised in memory with ggml's rounding and computed with int8 products, as decoding computes them",
        };
        foreach (Option o in new Option[] { model, data, context, batch, weights, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var loaded = ModelFolder.Open(parse.GetValue(model)!);
            string path = parse.GetValue(data)!;
            if (!File.Exists(path)) throw new InvalidInputException("file not found", path, "--data");
            string text = File.ReadAllText(path);
            if (text.Length == 0) throw new InvalidInputException("the file is empty", path, "--data");
            int[] tokens = loaded.Tokenizer.Encode(text);
            int t = parse.GetValue(context) ?? loaded.Model.ContextLength;
            if (t < 1 || t > loaded.Model.ContextLength)
                throw new InvalidInputException($"must be between 1 and the model's context length {loaded.Model.ContextLength}, got {t}", field: "--context");
            int b = parse.GetValue(batch);
            if (b < 1) throw new InvalidInputException($"must be positive, got {b}", field: "--batch");
            if (tokens.Length < 2) throw new InvalidInputException($"has {tokens.Length} token(s); at least 2 are needed", path, "--data");
            if (parse.GetValue(weights) is { } list)
                return CompareWeights(parse.GetValue(model)!, list, tokens, Math.Min(t, tokens.Length - 1), b, path, parse.GetValue(json));
            var (loss, counted) = Evaluate(loaded.Model, tokens, Math.Min(t, tokens.Length - 1), b);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { loss = Math.Round(loss, 6), perplexity = Math.Round(Math.Exp(loss), 4), tokens = counted, weights = loaded.Model.WeightFormat }));
            else
                Console.WriteLine($"{path}: {counted:N0} tokens, loss {loss:F4} nats/token, perplexity {Math.Exp(loss):F2}, weights {loaded.Model.WeightFormat}");
            return 0;
        }));
        return cmd;
    }

    // The loss of each requested format on the same tokens; the first format is the baseline of the relative change.
    static int CompareWeights(string modelPath, string list, int[] tokens, int context, int batch, string path, bool json)
    {
        var formats = new List<(string Name, Kernels.BlockFormat? Format)>();
        foreach (string item in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            formats.Add((item.ToLowerInvariant(), BenchModelCommands.ParseWeights(item)));
        if (formats.Count == 0) throw new InvalidInputException("name at least one format (f32, q8_0, q4_0)", field: "--weights");
        var results = new List<(string Weights, double Loss, long Tokens)>();
        foreach (var (name, format) in formats)
        {
            var model = ModelFolder.Open(modelPath).Model;                              // a fresh copy of the stored weights
            if (format is { } blocks) model.Quantize(blocks);
            model.Context = model.Context with { QuantizedFloatRows = int.MaxValue };  // every row as a decode step computes it
            var (loss, counted) = Evaluate(model, tokens, context, batch);
            results.Add((model.WeightFormat, loss, counted));
        }
        double baseline = results[0].Loss;
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(results.Select(r => new
            {
                weights = r.Weights, loss = Math.Round(r.Loss, 6), perplexity = Math.Round(Math.Exp(r.Loss), 4), tokens = r.Tokens,
                change_percent = Math.Round(100 * (r.Loss - baseline) / baseline, 3),
            })));
        else
            foreach (var r in results)
                Console.WriteLine($"{path}: weights {r.Weights}, {r.Tokens:N0} tokens, loss {r.Loss:F4} nats/token ({100 * (r.Loss - baseline) / baseline:+0.00;-0.00;0.00}% against {results[0].Weights}), perplexity {Math.Exp(r.Loss):F2}");
        return 0;
    }

    /// <summary>Mean next-token loss over every token of the stream, in non-overlapping windows (the last one shorter).</summary>
    public static (double Loss, long Tokens) Evaluate(LanguageModel model, int[] tokens, int context, int batch)
    {
        model.Eval();
        double sum = 0;
        long count = 0;
        using var _ = Graph.NoGrad();
        var starts = new List<int>();
        for (int s = 0; s + 1 < tokens.Length; s += context) starts.Add(s);
        foreach (var group in starts.Chunk(batch))
        {
            // Windows of equal length share a forward pass; a short last window runs alone.
            foreach (var sameLength in group.GroupBy(s => Math.Min(context, tokens.Length - 1 - s)))
            {
                int length = sameLength.Key, rows = sameLength.Count();
                var inputs = new int[rows * length];
                var targets = new int[rows * length];
                int r = 0;
                foreach (int s in sameLength)
                {
                    Array.Copy(tokens, s, inputs, r * length, length);
                    Array.Copy(tokens, s + 1, targets, r * length, length);
                    r++;
                }
                var logits = model.Forward(inputs, rows, length);
                sum += LanguageModel.Loss(model.Context.Threads, logits.Reshape(rows * length, -1), targets).Item() * rows * length;
                count += rows * length;
            }
        }
        return (sum / count, count);
    }
}
