// The normalizers of tokenizer.json that Llama-family files use: Unicode forms (Qwen2's NFC), Prepend and Replace
// (the SentencePiece "▁" of Llama 2 / TinyLlama), and Sequence. Limits: Lowercase, Strip, Precompiled, BertNormalizer
// and others are refused by name; with InvariantGlobalization .NET cannot normalize, see UnicodeForm.
using System.Text;

namespace ResidualLM.Text.HuggingFace;

/// <summary>Rewrites the text of one segment (the text between added tokens) before pre-tokenization.</summary>
internal abstract class Normalizer
{
    public abstract string Normalize(string text);

    const string Supported = "NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence";

    public static Normalizer Read(HuggingFaceJson json) => json.Type switch
    {
        "NFC" => new UnicodeForm(NormalizationForm.FormC, "NFC"),
        "NFD" => new UnicodeForm(NormalizationForm.FormD, "NFD"),
        "NFKC" => new UnicodeForm(NormalizationForm.FormKC, "NFKC"),
        "NFKD" => new UnicodeForm(NormalizationForm.FormKD, "NFKD"),
        "Prepend" => new Prepend(json.String("prepend")),
        "Replace" => new Replace(Replacement.Read(json)),
        "Sequence" => new SequenceOf([.. json.Items("normalizers").Select(Read)]),
        _ => throw json.Unsupported("normalizer", Supported),
    };

    /// <summary>A Unicode normalization form, through <see cref="string.Normalize(NormalizationForm)"/>.</summary>
    /// <remarks>
    /// NOTE: a process with InvariantGlobalization (this repository's default) has no normalization data: .NET then
    /// returns the text unchanged. Only text made of characters that no normalization form changes or combines
    /// (see <see cref="IsInert"/>) is then encoded; other text is refused instead of being encoded wrongly.
    /// </remarks>
    sealed class UnicodeForm(NormalizationForm form, string name) : Normalizer
    {
        static readonly bool available = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";

        public override string Normalize(string text)
        {
            if (available) return text.Normalize(form);
            if (IsInert(text, form)) return text;
            throw new InvalidInputException(
                $"the tokenizer's {name} normalizer needs Unicode normalization, which this process lacks (InvariantGlobalization); the text has characters it could change",
                field: "normalizer");
        }
    }

    /// <summary>
    /// True when <paramref name="form"/> leaves every character alone and none combines with a neighbour. For every
    /// form: ASCII and the CJK ideographs; for the composing forms also kana, Hangul syllables and Cyrillic letters;
    /// for NFC also the ranges of <see cref="nfcInert"/>. Conservative: other text may be inert too, but is refused.
    /// </summary>
    internal static bool IsInert(ReadOnlySpan<char> text, NormalizationForm form)
    {
        bool composing = form is NormalizationForm.FormC or NormalizationForm.FormKC, nfc = form == NormalizationForm.FormC;
        for (int i = 0; i < text.Length; i++)
        {
            int c = text[i];
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) c = char.ConvertToUtf32(text[i], text[++i]);
            bool inert = c < 0xA0 || c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF)
                || (composing && c is (>= 0x3041 and <= 0x3096) or (>= 0x30A1 and <= 0x30FA) or (>= 0xAC00 and <= 0xD7A3)
                    or (>= 0x0400 and <= 0x0482) or (>= 0x048A and <= 0x04FF))
                || (nfc && InRanges(c, nfcInert));
            if (!inert) return false;
        }
        return true;
    }

    /// <summary>
    /// Ranges of code points that NFC neither changes nor combines with a neighbour: no combining marks, no
    /// singleton decompositions (U+2000, U+2126, U+2329...) and no composition exclusions (U+0958, U+2ADC...).
    /// </summary>
    static readonly (int First, int Last)[] nfcInert =
    [
        (0x00A0, 0x02FF),   // Latin-1, Latin Extended-A/B, IPA, spacing modifiers
        (0x0388, 0x03FF),   // Greek letters (the singletons U+0374, U+037E and U+0387 lie below)
        (0x05D0, 0x05EA),   // Hebrew letters
        (0x0600, 0x060F), (0x061B, 0x064A), (0x0660, 0x066F),   // Arabic letters and digits (U+0610..U+061A are marks)
        (0x2002, 0x206F),   // spaces (not U+2000/U+2001), general punctuation, ZWJ
        (0x2150, 0x2328), (0x232B, 0x2ADB), (0x2ADD, 0x2BFF),   // number forms, arrows, math, symbols, dingbats, blocks
        (0x3000, 0x3029),   // CJK punctuation (U+302A.. are combining)
        (0xFB00, 0xFB06),   // Latin ligatures
        (0xFE00, 0xFE0F),   // variation selectors
        (0xFF01, 0xFF5E),   // fullwidth ASCII
        (0x1D400, 0x1D7FF), // mathematical alphanumerics
        (0x1F000, 0x1FAFF), // emoji and pictographs
        (0x20000, 0x2F7FF), (0x30000, 0x3134F),   // CJK extensions B-H (not the compatibility ideographs U+2F800..)
    ];

    static bool InRanges(int codePoint, (int First, int Last)[] ranges)
    {
        foreach (var (first, last) in ranges) if (codePoint >= first && codePoint <= last) return true;
        return false;
    }

    sealed class Prepend(string prefix) : Normalizer
    {
        // An empty segment stays empty, as in tokenizers (so "" encodes to no tokens).
        public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
    }

    sealed class Replace(Replacement replacement) : Normalizer
    {
        public override string Normalize(string text) => replacement.Apply(text);
    }

    sealed class SequenceOf(Normalizer[] steps) : Normalizer
    {
        public override string Normalize(string text)
        {
            foreach (Normalizer step in steps) text = step.Normalize(text);
            return text;
        }
    }
}

/// <summary>A Replace step's pattern (a literal, or a regex over code points) and its replacement content.</summary>
internal sealed class Replacement
{
    readonly string literal;
    readonly CodePointRegex? regex;
    readonly string content;

    Replacement(string literal, CodePointRegex? regex, string content) => (this.literal, this.regex, this.content) = (literal, regex, content);

    public static Replacement Read(HuggingFaceJson json)
    {
        var (pattern, isRegex) = json.Pattern("pattern");
        string content = json.String("content");
        if (!isRegex)
        {
            if (pattern.Length == 0) throw json.Required("pattern").Error("the pattern is empty");
            return new Replacement(pattern, null, content);
        }
        return new Replacement(pattern, SplitPattern.Compile(pattern, json.Required("pattern")), content);
    }

    public string Apply(string text)
    {
        if (regex is null) return text.Replace(literal, content, StringComparison.Ordinal);
        var builder = new StringBuilder(text.Length);
        int position = 0;
        foreach (var (start, length) in regex.Matches(text))
        {
            builder.Append(text, position, start - position).Append(content);
            position = start + length;
        }
        return builder.Append(text, position, text.Length - position).ToString();
    }
}
