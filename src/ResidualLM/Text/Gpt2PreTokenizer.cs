// Splits text into the pieces that GPT-2's pattern matches, so that BPE merges never cross a word boundary.
// Hand-written instead of System.Text.RegularExpressions because .NET's regex works on UTF-16 code units: it would
// not see U+20000 (a letter written as a surrogate pair) as \p{L}, while Python's `regex` and JavaScript's /u do.
namespace ResidualLM.Text;

/// <summary>
/// Finds the matches of OpenAI's GPT-2 pattern
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>
/// over Unicode code points, with the regex semantics of leftmost match and first alternative wins.
/// Matches tile the text: concatenated, the pieces give the text back.
/// <para>
/// <c>\s</c> is Unicode White_Space, as in OpenAI's Python <c>regex</c> and tiktoken (JavaScript's <c>\s</c>, used by
/// gpt-3-encoder, differs on U+0085, which it does not count, and U+FEFF, which it does). A lone surrogate is one
/// code point that is neither letter, number nor space, as in JavaScript; it is later encoded as U+FFFD's bytes.
/// </para>
/// </summary>
internal static class Gpt2PreTokenizer
{
    internal enum CharacterClass : byte { Letter, Number, Space, Other }

    // Classes of the ASCII characters, looked up instead of asking Unicode tables for the common case.
    static readonly CharacterClass[] asciiClasses = BuildAsciiClasses();

    static CharacterClass[] BuildAsciiClasses()
    {
        var classes = new CharacterClass[128];
        for (int c = 0; c < 128; c++)
            classes[c] = char.IsAsciiLetter((char)c) ? CharacterClass.Letter
                : char.IsAsciiDigit((char)c) ? CharacterClass.Number
                : (c is >= 9 and <= 13) || c == ' ' ? CharacterClass.Space
                : CharacterClass.Other;
        return classes;
    }

    /// <summary>Returns the pieces of <paramref name="text"/> as (start, length) pairs in UTF-16 code units.</summary>
    public static List<(int Start, int Length)> Split(ReadOnlySpan<char> text)
    {
        var pieces = new List<(int, int)>();
        for (int position = 0; position < text.Length;)
        {
            int length = MatchLength(text, position);
            pieces.Add((position, length));
            position += length;
        }
        return pieces;
    }

    /// <summary>Length in UTF-16 code units of the match that starts at <paramref name="start"/> (always at least 1).</summary>
    public static int MatchLength(ReadOnlySpan<char> text, int start)
    {
        char first = text[start];
        if (first == '\'' && start + 1 < text.Length)
        {
            char second = text[start + 1];
            if (second is 's' or 't' or 'm' or 'd') return 2;
            if (start + 2 < text.Length)
            {
                char third = text[start + 2];
                if ((second == 'r' && third == 'e') || (second == 'v' && third == 'e') || (second == 'l' && third == 'l')) return 3;
            }
        }

        // " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+": an optional literal space, then a run of one class.
        if (first == ' ' && start + 1 < text.Length)
        {
            CharacterClass next = Classify(text, start + 1, out _);
            if (next != CharacterClass.Space) return 1 + RunLength(text, start + 1, next);
        }
        CharacterClass firstClass = Classify(text, start, out _);
        if (firstClass != CharacterClass.Space) return RunLength(text, start, firstClass);

        // "\s+(?!\S)|\s+": White_Space characters are all in the BMP, so one code unit each.
        int end = start + RunLength(text, start, CharacterClass.Space);
        if (end == text.Length) return end - start;
        // Followed by a non-space: backtrack one so the last space can join the next word (" word").
        return end - start >= 2 ? end - start - 1 : 1;
    }

    static int RunLength(ReadOnlySpan<char> text, int start, CharacterClass characterClass)
    {
        int position = start;
        while (position < text.Length && Classify(text, position, out int width) == characterClass) position += width;
        return position - start;
    }

    /// <summary>Class of the code point at <paramref name="index"/>; <paramref name="width"/> is 2 for a surrogate pair.</summary>
    internal static CharacterClass Classify(ReadOnlySpan<char> text, int index, out int width)
    {
        char c = text[index];
        width = 1;
        if (c < 128) return asciiClasses[c];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            return ClassOf(char.ConvertToUtf32(c, text[index + 1]));
        }
        return char.IsSurrogate(c) ? CharacterClass.Other : ClassOf(c);
    }

    internal static CharacterClass ClassOf(int codePoint)
    {
        if (IsWhiteSpace(codePoint)) return CharacterClass.Space;
        switch (System.Globalization.CharUnicodeInfo.GetUnicodeCategory(codePoint))
        {
            case System.Globalization.UnicodeCategory.UppercaseLetter:
            case System.Globalization.UnicodeCategory.LowercaseLetter:
            case System.Globalization.UnicodeCategory.TitlecaseLetter:
            case System.Globalization.UnicodeCategory.ModifierLetter:
            case System.Globalization.UnicodeCategory.OtherLetter:
                return CharacterClass.Letter;
            case System.Globalization.UnicodeCategory.DecimalDigitNumber:
            case System.Globalization.UnicodeCategory.LetterNumber:
            case System.Globalization.UnicodeCategory.OtherNumber:
                return CharacterClass.Number;
            default:
                return CharacterClass.Other;
        }
    }

    /// <summary>The Unicode White_Space property (PropList.txt), which is what Python's <c>regex</c> means by \s.</summary>
    static bool IsWhiteSpace(int codePoint) => codePoint switch
    {
        >= 0x09 and <= 0x0D => true,
        0x20 or 0x85 or 0xA0 or 0x1680 => true,
        >= 0x2000 and <= 0x200A => true,
        0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };
}
