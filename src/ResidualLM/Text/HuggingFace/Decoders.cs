// The decoders of tokenizer.json: ByteLevel (GPT-2's byte alphabet back to UTF-8), ByteFallback (<0xNN> tokens),
// Replace, Fuse, Strip, Metaspace and Sequence. A decoder maps the list of token strings to a list of strings that
// are then concatenated. Limits: WordPiece, BPEDecoder, CTC and others are refused by name.
using System.Text;

namespace ResidualLM.Text.HuggingFace;

internal abstract class Decoder
{
    public abstract List<string> Decode(List<string> tokens);

    const string Supported = "ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence";

    public static Decoder Read(HuggingFaceJson json) => json.Type switch
    {
        "ByteLevel" => new ByteLevel(),
        "ByteFallback" => new ByteFallback(),
        "Fuse" => new Fuse(),
        "Strip" => ReadStrip(json),
        "Replace" => new Replace(Replacement.Read(json)),
        "Metaspace" => new Metaspace(MetaspaceOptions.Read(json)),
        "Sequence" => new SequenceOf([.. json.Items("decoders").Select(Read)]),
        _ => throw json.Unsupported("decoder", Supported),
    };

    static Strip ReadStrip(HuggingFaceJson json)
    {
        string content = json.String("content");
        if (content.Length != 1) throw json.Required("content").Error("expected one character");
        int start = json.Int("start", 0), stop = json.Int("stop", 0);
        if (start < 0 || stop < 0) throw json.Error($"start and stop must be at least 0, found {start} and {stop}");
        return new Strip(content[0], start, stop);
    }

    /// <summary>
    /// Every token's characters back to bytes through GPT-2's alphabet (a token with a character outside it, such as
    /// an added token "&lt;|im_start|&gt;" written with CJK, contributes its own UTF-8), then all bytes decoded as one
    /// UTF-8 string with U+FFFD for invalid sequences.
    /// </summary>
    sealed class ByteLevel : Decoder
    {
        public override List<string> Decode(List<string> tokens)
        {
            var bytes = new List<byte>();
            foreach (string token in tokens)
            {
                if (ByteLevelAlphabet.TryToBytes(token, out byte[] mapped)) bytes.AddRange(mapped);
                else bytes.AddRange(Encoding.UTF8.GetBytes(token));
            }
            return [Encoding.UTF8.GetString([.. bytes])];
        }
    }

    /// <summary>
    /// Runs of "&lt;0xNN&gt;" tokens become the UTF-8 text they spell; a run that is not valid UTF-8 becomes one U+FFFD
    /// per byte (as tokenizers does, not a replacement per invalid sequence).
    /// </summary>
    sealed class ByteFallback : Decoder
    {
        public override List<string> Decode(List<string> tokens)
        {
            var output = new List<string>(tokens.Count);
            var run = new List<byte>();
            foreach (string token in tokens)
            {
                if (TryParseByte(token, out byte value)) { run.Add(value); continue; }
                Flush();
                output.Add(token);
            }
            Flush();
            return output;

            void Flush()
            {
                if (run.Count == 0) return;
                try { output.Add(StrictUtf8.GetString([.. run])); }
                catch (DecoderFallbackException) { for (int i = 0; i < run.Count; i++) output.Add("\uFFFD"); }
                run.Clear();
            }
        }

        static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

        internal static bool TryParseByte(string token, out byte value)
        {
            value = 0;
            return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
        }
    }

    sealed class Fuse : Decoder
    {
        public override List<string> Decode(List<string> tokens) => [string.Concat(tokens)];
    }

    /// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from each token.</summary>
    sealed class Strip(char content, int start, int stop) : Decoder
    {
        public override List<string> Decode(List<string> tokens) => tokens.ConvertAll(token =>
        {
            int left = 0, right = token.Length;
            while (left < start && left < right && token[left] == content) left++;
            while (token.Length - right < stop && right > left && token[right - 1] == content) right--;
            return token[left..right];
        });
    }

    sealed class Replace(Replacement replacement) : Decoder
    {
        public override List<string> Decode(List<string> tokens) => tokens.ConvertAll(replacement.Apply);
    }

    /// <summary>The replacement character becomes a space, except in the first token when a prefix was prepended.</summary>
    sealed class Metaspace(MetaspaceOptions options) : Decoder
    {
        public override List<string> Decode(List<string> tokens)
        {
            var output = new List<string>(tokens.Count);
            for (int i = 0; i < tokens.Count; i++)
            {
                // NOTE: tokenizers drops every replacement character of the first token, not only a leading one.
                output.Add(i == 0 && options.Prepend != MetaspacePrepend.Never
                    ? tokens[i].Replace(options.Replacement.ToString(), "", StringComparison.Ordinal)
                    : tokens[i].Replace(options.Replacement, ' '));
            }
            return output;
        }
    }

    sealed class SequenceOf(Decoder[] steps) : Decoder
    {
        public override List<string> Decode(List<string> tokens)
        {
            foreach (Decoder step in steps) tokens = step.Decode(tokens);
            return tokens;
        }
    }
}
