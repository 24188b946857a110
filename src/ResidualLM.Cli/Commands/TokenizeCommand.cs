// `rlm tokenize`: shows how a saved tokenizer splits a text, as ids (JSON with --json) or as ids with token strings.
using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using ResidualLM.Text;

namespace ResidualLM.Cli.Commands;

/// <summary>Builds the <c>tokenize</c> command.</summary>
public static class TokenizeCommand
{
    static readonly JsonSerializerOptions readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// <c>rlm tokenize --vocab DIR --text TEXT [--json] [--allow-special]</c>. Exit code 0 on success, 2 when the
    /// tokenizer directory or the text is invalid (the message goes to standard error).
    /// </summary>
    public static Command Create()
    {
        var vocab = new Option<string>("--vocab")
        {
            Description = "Directory with tokenizer.json, or GPT-2's encoder.json + vocab.bpe (or vocab.json + merges.txt)",
            Required = true,
        };
        var text = new Option<string>("--text") { Description = "Text to encode", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON line {\"ids\":[...]} instead of a table" };
        var allowSpecial = new Option<bool>("--allow-special")
        {
            Description = "Encode a literal <|endoftext|> as the end-of-text id (by default it is ordinary text)",
        };

        var command = new Command("tokenize", "Encode a text with a saved tokenizer and show the ids and tokens");
        command.Options.Add(vocab);
        command.Options.Add(text);
        command.Options.Add(json);
        command.Options.Add(allowSpecial);
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            try
            {
                ITokenizer tokenizer = TokenizerIO.Load(parseResult.GetValue(vocab)!);
                string input = parseResult.GetValue(text)!;
                int[] ids = parseResult.GetValue(allowSpecial) ? EncodeWithSpecial(tokenizer, input) : tokenizer.Encode(input);
                if (parseResult.GetValue(json))
                {
                    output.WriteLine(JsonSerializer.Serialize(new { ids }));
                    return 0;
                }
                output.WriteLine($"{ids.Length} tokens ({tokenizer.Kind}, vocabulary of {tokenizer.VocabSize})");
                foreach (int id in ids)
                    output.WriteLine($"{id,8}  {Display(tokenizer, id)}");
                return 0;
            }
            catch (InvalidInputException error)
            {
                parseResult.InvocationConfiguration.Error.WriteLine($"error: {error.Message}");
                return 2;
            }
        });
        return command;
    }

    static readonly System.Text.UTF8Encoding strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// A token as a quoted string, or as hex bytes when it is part of a multi-byte character (an emoji is often split
    /// over two byte-level tokens, and decoding either alone would only show U+FFFD).
    /// </summary>
    static string Display(ITokenizer tokenizer, int id)
    {
        byte[]? bytes = tokenizer switch
        {
            Gpt2Tokenizer gpt2 => gpt2.TokenBytes(id).ToArray(),
            BpeTokenizer bpe => bpe.TokenBytes(id).ToArray(),
            ByteTokenizer => [(byte)id],
            _ => null,
        };
        if (bytes is null) return JsonSerializer.Serialize(tokenizer.Decode([id]), readable);
        try
        {
            return JsonSerializer.Serialize(strictUtf8.GetString(bytes), readable);
        }
        catch (System.Text.DecoderFallbackException)
        {
            return "bytes " + Convert.ToHexString(bytes).ToLowerInvariant();
        }
    }

    static int[] EncodeWithSpecial(ITokenizer tokenizer, string input) => tokenizer switch
    {
        Gpt2Tokenizer gpt2 => gpt2.Encode(input, allowSpecialTokens: true),
        BpeTokenizer bpe => bpe.Encode(input, allowSpecialTokens: true),
        HuggingFaceTokenizer hf => hf.Encode(input, allowSpecialTokens: true),
        _ => throw new InvalidInputException($"the {tokenizer.Kind} tokenizer has no special tokens", field: "--allow-special"),
    };
}
