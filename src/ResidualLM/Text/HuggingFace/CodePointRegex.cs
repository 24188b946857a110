// A .NET Regex that matches over Unicode code points, as the Oniguruma and fancy-regex engines of Hugging Face's
// tokenizers do. .NET matches UTF-16 code units, so \p{L} would not see U+20000 (a surrogate pair) as a letter.
// Limits: a supplementary-plane character is matched as a stand-in with the same general category (see below), so
// patterns may test it only by category (\p{L}, \p{N}, \s, [^...]), never by its own value; the tokenizer patterns
// of GPT-2, Llama 3 and Qwen2 only do that. Possessive quantifiers (?+, ++) do not parse in .NET and are reported.
using System.Globalization;
using System.Text.RegularExpressions;

namespace ResidualLM.Text.HuggingFace;

/// <summary>Finds the matches of a tokenizer.json split pattern, with offsets in the caller's UTF-16 string.</summary>
internal sealed class CodePointRegex
{
    readonly Regex regex;

    /// <summary>One BMP character per general category, none of them ASCII, whitespace or a case variant of ASCII.</summary>
    static readonly char[] standIns = BuildStandIns();

    /// <exception cref="ArgumentException">.NET cannot parse the pattern.</exception>
    public CodePointRegex(string pattern)
    {
        regex = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(10));
        Pattern = pattern;
    }

    public string Pattern { get; }

    static char[] BuildStandIns()
    {
        var table = new char[32];
        for (int c = 0xFFFD; c >= 0x100; c--)
        {
            // Characters that fold to ASCII under (?i) (the long s, Kelvin and Angstrom signs, dotted/dotless i).
            if (c is 0x130 or 0x131 or 0x17F or 0x212A or 0x212B || char.IsSurrogate((char)c) || char.IsWhiteSpace((char)c)) continue;
            table[(int)CharUnicodeInfo.GetUnicodeCategory((char)c)] = (char)c;
        }
        return table;
    }

    /// <summary>The (start, length) of each non-empty match, left to right, in UTF-16 units of <paramref name="text"/>.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        try { return Find(text); }
        catch (RegexMatchTimeoutException)
        {
            throw new InvalidInputException(
                $"the tokenizer's split pattern \"{IO.MessageText.Printable(Pattern)}\" took more than {regex.MatchTimeout.TotalSeconds} s on a text of {text.Length} characters (catastrophic backtracking?)",
                field: "pre_tokenizer");
        }
    }

    List<(int Start, int Length)> Find(string text)
    {
        var matches = new List<(int, int)>();
        int surrogate = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (surrogate < 0)
        {
            for (Match match = regex.Match(text); match.Success; match = match.NextMatch())
                if (match.Length > 0) matches.Add((match.Index, match.Length));
            return matches;
        }

        // Each surrogate pair becomes one stand-in character; offsets[i] is where stand-in text position i starts in
        // the caller's text (offsets[^1] is the text's length).
        var chars = new char[text.Length];
        var offsets = new int[text.Length + 1];
        int count = 0;
        for (int i = 0; i < text.Length; i++)
        {
            offsets[count] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int codePoint = char.ConvertToUtf32(text[i], text[i + 1]);
                chars[count++] = standIns[(int)CharUnicodeInfo.GetUnicodeCategory(codePoint)];
                i++;
            }
            else chars[count++] = text[i];
        }
        offsets[count] = text.Length;
        string mapped = new(chars, 0, count);
        for (Match match = regex.Match(mapped); match.Success; match = match.NextMatch())
            if (match.Length > 0)
            {
                int start = offsets[match.Index];
                matches.Add((start, offsets[match.Index + match.Length] - start));
            }
        return matches;
    }
}
