// `rlm generate`: continues a prompt with a trained model, streaming tokens to the terminal as they are chosen.
using System.CommandLine;
using System.Diagnostics;
using System.Text;
using ResidualLM.Generation;
using ResidualLM.Tensors;
using ResidualLM.Text;

namespace ResidualLM.Cli.Commands;

/// <summary>The generate command.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var cmd = new Command("generate", "Generate text from a model folder (a run folder, a checkpoint, or a Hugging Face GPT-2 folder)");
        var model = new Option<string>("--model") { Description = "Model folder", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue", DefaultValueFactory = _ => "" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate", DefaultValueFactory = _ => 200 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (0: greedy)", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0: all)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling threshold (1: off)", DefaultValueFactory = _ => 1f };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token" };
        var seed = new Option<int>("--seed") { Description = "Sampling seed", DefaultValueFactory = _ => 1337 };
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute the whole window for every token (slower; for comparison)" };
        var noStop = new Option<bool>("--no-stop") { Description = "Do not stop at the end-of-text token" };
        var chat = new Option<bool>("--chat")
        {
            Description = "Wrap the prompt as a user turn in the model's ChatML template (<|im_start|>user ... <|im_end|>), as SmolLM2-Instruct and Qwen2.5-Instruct expect",
        };
        var system = new Option<string?>("--system") { Description = "With --chat: the system message (default: the template's own, if any)" };
        foreach (Option o in new Option[] { model, prompt, maxNew, temperature, topK, topP, greedy, seed, noCache, noStop, chat, system }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            // Arguments first: nothing is loaded for a command that would be refused anyway.
            var options = parse.GetValue(greedy) ? SamplingOptions.Greedy
                : new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP));
            options.Validate();
            if (parse.GetValue(maxNew) < 0) throw new InvalidInputException($"must be >= 0, got {parse.GetValue(maxNew)}", field: "--max-new-tokens");
            if (parse.GetValue(system) is not null && !parse.GetValue(chat)) throw new InvalidInputException("applies with --chat only", field: "--system");
            var loaded = ModelFolder.Open(parse.GetValue(model)!);
            string text = parse.GetValue(prompt)!;
            int? stop = loaded.Tokenizer.EndOfTextId;
            int[] ids;
            if (parse.GetValue(chat))
            {
                if (loaded.Tokenizer is not HuggingFaceTokenizer hf)
                    throw new InvalidInputException($"needs a Hugging Face tokenizer.json with a ChatML chat_template; this model's tokenizer is \"{loaded.Tokenizer.Kind}\"", field: "--chat");
                var template = ChatTemplate.FromTokenizer(hf, Path.Combine(loaded.TokenizerFolder, HuggingFaceTokenizer.ConfigFileName));
                var messages = new List<ChatMessage>();
                if (parse.GetValue(system) is string systemText) messages.Add(new ChatMessage("system", systemText));
                messages.Add(new ChatMessage("user", text));
                ids = template.Encode(hf, messages);
                stop = hf.TokenToId(ChatTemplate.EndToken);                                 // the assistant's turn ends there
                text = "";                                                                   // print the answer only
            }
            else if (loaded.Tokenizer is HuggingFaceTokenizer hf)
                // As transformers' tokenizer(text): special tokens written in the prompt count, and the post-processor adds
                // the beginning-of-sequence token where the model expects one (Llama, SmolLM).
                ids = text.Length > 0 ? hf.Encode(text, allowSpecialTokens: true, addSpecialTokens: true)
                    : [hf.BeginningOfSequenceToken is string bos && hf.TokenToId(bos) is int bosId ? bosId : hf.EndOfTextId ?? 0];
            else ids = text.Length > 0 ? loaded.Tokenizer.Encode(text) : [loaded.Tokenizer.EndOfTextId ?? 0];
            if (ids.Length == 0) throw new InvalidInputException("the prompt encodes to no tokens", field: "--prompt");
            Console.Write(text);
            var streamed = new List<int>();
            string shown = "";
            var clock = Stopwatch.StartNew();
            var output = Generator.Generate(loaded.Model, ids, parse.GetValue(maxNew), options, new Rng(parse.GetValue(seed)),
                stopToken: parse.GetValue(noStop) ? null : stop, useCache: !parse.GetValue(noCache),
                onToken: id =>
                {
                    // Decode the whole continuation and print what is new: multi-byte characters may span tokens.
                    streamed.Add(id);
                    string all = loaded.Tokenizer.Decode(streamed.ToArray());
                    if (all.Length > shown.Length && !all.EndsWith('\uFFFD')) { Console.Write(all[shown.Length..]); shown = all; }
                });
            string final = loaded.Tokenizer.Decode(output);
            if (final.Length > shown.Length) Console.Write(final[shown.Length..]);
            Console.WriteLine();
            Console.Error.WriteLine($"[{output.Length} tokens in {clock.Elapsed.TotalSeconds:F2} s, {output.Length / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} tokens/s, weights {loaded.Model.WeightFormat}]");
            return 0;
        }));
        return cmd;
    }
}
