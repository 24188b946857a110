// The pre-tokenizers of tokenizer.json that GPT-2, Llama 3, Qwen2, SmolLM and Llama 2 files use: ByteLevel, Split
// (a regex or literal), Digits, Metaspace and Sequence. Each cuts pieces into smaller pieces; BPE then runs inside
// each piece. Limits: Whitespace, BertPreTokenizer, Punctuation, UnicodeScripts and others are refused by name.
using System.Globalization;
using System.Text;

namespace ResidualLM.Text.HuggingFace;

/// <summary>A piece of text; <see cref="AtStart"/> is true when it begins at offset 0 of the input (Metaspace "first").</summary>
internal readonly record struct PreToken(string Text, bool AtStart);

/// <summary>How Split keeps the matches of its pattern (tokenizers' SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

internal abstract class PreTokenizer
{
    /// <summary>Appends the pieces of <paramref name="piece"/> to <paramref name="output"/>; empty pieces are dropped.</summary>
    public abstract void Split(PreToken piece, List<PreToken> output);

    const string Supported = "ByteLevel, Split, Digits, Metaspace, Sequence";

    public static PreTokenizer Read(HuggingFaceJson json) => json.Type switch
    {
        "ByteLevel" => new ByteLevel(json.Bool("add_prefix_space", true), json.Bool("use_regex", true)),
        "Split" => ReadSplit(json),
        "Digits" => new Digits(json.Bool("individual_digits", false)),
        "Metaspace" => new Metaspace(MetaspaceOptions.Read(json)),
        "Sequence" => new SequenceOf([.. json.Items("pretokenizers").Select(Read)]),
        _ => throw json.Unsupported("pre-tokenizer", Supported),
    };

    static PreTokenizer ReadSplit(HuggingFaceJson json)
    {
        var (pattern, isRegex) = json.Pattern("pattern");
        string behaviorName = json.String("behavior");
        if (!Enum.TryParse(behaviorName, ignoreCase: false, out SplitBehavior behavior) || !Enum.IsDefined(behavior))
            throw json.Required("behavior").Error($"unknown split behavior \"{IO.MessageText.Printable(behaviorName)}\"; expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
        if (!isRegex && pattern.Length == 0) throw json.Required("pattern").Error("the pattern is empty");
        var regex = SplitPattern.Compile(isRegex ? pattern : System.Text.RegularExpressions.Regex.Escape(pattern), json.Required("pattern"));
        return new SplitOn(regex, behavior, json.Bool("invert", false));
    }

    /// <summary>
    /// Splits the text of <paramref name="piece"/> around <paramref name="matches"/> (ascending, non-overlapping) the way
    /// tokenizers' NormalizedString::split does for each behavior.
    /// </summary>
    protected static void SplitAround(PreToken piece, List<(int Start, int Length)> matches, SplitBehavior behavior, bool invert, List<PreToken> output)
    {
        string text = piece.Text;
        // The whole text as alternating (start, end, isMatch) spans.
        var spans = new List<(int Start, int End, bool IsMatch)>(matches.Count * 2 + 1);
        int previous = 0;
        foreach (var (start, length) in matches)
        {
            if (start > previous) spans.Add((previous, start, invert));
            spans.Add((start, start + length, !invert));
            previous = start + length;
        }
        if (previous < text.Length) spans.Add((previous, text.Length, invert));

        var merged = new List<(int Start, int End)>(spans.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var span in spans) merged.Add((span.Start, span.End));
                break;
            case SplitBehavior.Removed:
                foreach (var span in spans) if (!span.IsMatch) merged.Add((span.Start, span.End));
                break;
            case SplitBehavior.Contiguous:
                for (int i = 0; i < spans.Count; i++)
                    if (i > 0 && spans[i].IsMatch == spans[i - 1].IsMatch) merged[^1] = (merged[^1].Start, spans[i].End);
                    else merged.Add((spans[i].Start, spans[i].End));
                break;
            case SplitBehavior.MergedWithPrevious:
                for (int i = 0; i < spans.Count; i++)
                    if (spans[i].IsMatch && i > 0 && !spans[i - 1].IsMatch) merged[^1] = (merged[^1].Start, spans[i].End);
                    else merged.Add((spans[i].Start, spans[i].End));
                break;
            case SplitBehavior.MergedWithNext:
                for (int i = spans.Count - 1; i >= 0; i--)
                    if (spans[i].IsMatch && i + 1 < spans.Count && !spans[i + 1].IsMatch) merged[^1] = (spans[i].Start, merged[^1].End);
                    else merged.Add((spans[i].Start, spans[i].End));
                merged.Reverse();
                break;
        }
        foreach (var (start, end) in merged)
            if (end > start) output.Add(new PreToken(text[start..end], piece.AtStart && start == 0));
    }

    /// <summary>
    /// GPT-2's byte-level step: optionally a leading space, optionally GPT-2's split pattern, then each piece's UTF-8
    /// bytes written in GPT-2's printable byte alphabet (the alphabet the vocabulary is written in).
    /// </summary>
    sealed class ByteLevel(bool addPrefixSpace, bool useRegex) : PreTokenizer
    {
        public override void Split(PreToken piece, List<PreToken> output)
        {
            string text = piece.Text;
            if (text.Length == 0) return;
            if (addPrefixSpace && text[0] != ' ') text = " " + text;
            if (!useRegex)
            {
                output.Add(new PreToken(ToAlphabet(text), piece.AtStart));
                return;
            }
            // The pattern tokenizers uses here is GPT-2's, which Gpt2PreTokenizer matches over code points.
            for (int position = 0; position < text.Length;)
            {
                int length = Gpt2PreTokenizer.MatchLength(text, position);
                output.Add(new PreToken(ToAlphabet(text.AsSpan(position, length)), piece.AtStart && position == 0));
                position += length;
            }
        }

        static string ToAlphabet(ReadOnlySpan<char> text)
        {
            int byteCount = Encoding.UTF8.GetByteCount(text);
            Span<byte> bytes = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
            Encoding.UTF8.GetBytes(text, bytes);
            return ByteLevelAlphabet.ToText(bytes);
        }
    }

    sealed class SplitOn(CodePointRegex regex, SplitBehavior behavior, bool invert) : PreTokenizer
    {
        public override void Split(PreToken piece, List<PreToken> output)
        {
            if (piece.Text.Length > 0) SplitAround(piece, regex.Matches(piece.Text), behavior, invert, output);
        }
    }

    /// <summary>Numbers (Unicode Nd, Nl, No, as Rust's char::is_numeric) alone, one by one or as runs.</summary>
    sealed class Digits(bool individualDigits) : PreTokenizer
    {
        public override void Split(PreToken piece, List<PreToken> output)
        {
            string text = piece.Text;
            var matches = new List<(int, int)>();
            for (int i = 0; i < text.Length;)
            {
                int width = char.IsSurrogatePair(text, i) ? 2 : 1;
                if (IsNumeric(CharUnicodeInfo.GetUnicodeCategory(text, i))) matches.Add((i, width));
                i += width;
            }
            SplitAround(piece, matches, individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous, invert: false, output);
        }

        static bool IsNumeric(UnicodeCategory category) => category is UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;
    }

    sealed class Metaspace(MetaspaceOptions options) : PreTokenizer
    {
        public override void Split(PreToken piece, List<PreToken> output)
        {
            if (piece.Text.Length == 0) return;
            string text = piece.Text.Replace(' ', options.Replacement);
            bool prepend = options.Prepend == MetaspacePrepend.Always || (options.Prepend == MetaspacePrepend.First && piece.AtStart);
            if (prepend && text[0] != options.Replacement) text = options.Replacement + text;
            var replaced = new PreToken(text, piece.AtStart);
            if (!options.Split) { output.Add(replaced); return; }
            var matches = new List<(int, int)>();
            for (int i = 0; i < text.Length; i++) if (text[i] == options.Replacement) matches.Add((i, 1));
            SplitAround(replaced, matches, SplitBehavior.MergedWithNext, invert: false, output);
        }
    }

    sealed class SequenceOf(PreTokenizer[] steps) : PreTokenizer
    {
        public override void Split(PreToken piece, List<PreToken> output)
        {
            List<PreToken> pieces = [piece];
            foreach (PreTokenizer step in steps)
            {
                var next = new List<PreToken>(pieces.Count * 2);
                foreach (PreToken item in pieces) step.Split(item, next);
                pieces = next;
            }
            output.AddRange(pieces);
        }
    }
}

/// <summary>When Metaspace puts its replacement character before a piece.</summary>
internal enum MetaspacePrepend { Always, First, Never }

/// <summary>The options shared by the Metaspace pre-tokenizer and decoder.</summary>
internal sealed record MetaspaceOptions(char Replacement, MetaspacePrepend Prepend, bool Split)
{
    public static MetaspaceOptions Read(HuggingFaceJson json)
    {
        string replacement = json.String("replacement");
        if (replacement.Length != 1) throw json.Required("replacement").Error("expected one character (a BMP character such as \"▁\")");
        MetaspacePrepend prepend;
        if (json.OptionalString("prepend_scheme") is { } scheme)
            prepend = scheme switch
            {
                "always" => MetaspacePrepend.Always,
                "first" => MetaspacePrepend.First,
                "never" => MetaspacePrepend.Never,
                _ => throw json.Required("prepend_scheme").Error($"unknown prepend scheme \"{IO.MessageText.Printable(scheme)}\"; expected always, first or never"),
            };
        else prepend = json.Bool("add_prefix_space", true) ? MetaspacePrepend.Always : MetaspacePrepend.Never;   // files before tokenizers 0.19
        return new MetaspaceOptions(replacement[0], prepend, json.Bool("split", true));
    }
}

/// <summary>Compiles a pattern of tokenizer.json for .NET, turning a parse failure into a one-line error.</summary>
internal static class SplitPattern
{
    public static CodePointRegex Compile(string pattern, HuggingFaceJson where)
    {
        try { return new CodePointRegex(pattern); }
        catch (ArgumentException error)
        {
            throw where.Error($"the regex \"{IO.MessageText.Printable(pattern)}\" is not supported by .NET ({error.Message.ReplaceLineEndings(" ")})");
        }
    }
}
