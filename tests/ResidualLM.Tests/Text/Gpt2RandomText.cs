// Seeded random strings for comparing GPT-2 encoders: every branch of GPT-2's pre-tokenisation pattern (contractions,
// letters, digits, other symbols, whitespace runs before and after words) in many scripts, and emoji.
using System.Text;

namespace ResidualLM.Tests.Text;

public static class Gpt2RandomText
{
    static readonly string[] contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'", "''", "'x"];
    static readonly string[] spaces = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\t\t", " \t ", "\u00a0", "\u3000", "\u2009", "\u2028", "\u0085", "\u000b", "\u000c"];
    static readonly string[] punctuation = ["!", "?", ".", ",", ";", ":", "-", "--", "...", "\"", "(", ")", "[", "]", "{", "}", "/", "\\", "@", "#", "$", "%", "&",
        "*", "+", "=", "<", ">", "|", "~", "^", "_", "`", "…", "“", "”", "‘", "’", "—", "«", "»", "¿", "¡", "·", "•", "€", "£", "©", "°", "±", "§", "\ufeff"];
    static readonly string[] emoji = ["😀", "🎉", "👍", "👍🏽", "❤️", "☀", "✓", "👨\u200d👩\u200d👧", "🇫🇷", "🇯🇵", "🤖", "🚀", "🐍", "🦀", "🌍", "#️⃣", "🙂🙃"];
    static readonly string[] words = ["the", "The", "THE", "and", "of", "a", "to", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are", "with",
        "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "hot", "word", "but", "what", "some", "we", "can",
        "out", "other", "were", "all", "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which", "do", "their", "time",
        "ResidualLM", "tokenizer", "GPT", "encoder", "lighthouse", "naïve", "café", "Straße", "jalapeño", "über", "señor", "façade"];
    // Code points of other scripts, drawn one at a time to make words: Latin-1 and Extended-A, Greek, Cyrillic, Hebrew,
    // Arabic, Devanagari, Thai, kana, CJK, Hangul.
    static readonly (int First, int Last)[] scripts =
    [
        (0x00C0, 0x00FF), (0x0100, 0x017F), (0x0391, 0x03C9), (0x0410, 0x044F), (0x05D0, 0x05EA), (0x0627, 0x064A), (0x0905, 0x0939),
        (0x0E01, 0x0E30), (0x3041, 0x3096), (0x30A1, 0x30FA), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x1100, 0x1112),
    ];

    // Letters and digits outside the BMP (a surrogate pair each in UTF-16): Gothic, mathematical letters and digits,
    // CJK Extension B. Emoji, also outside the BMP, are symbols and always drawn.
    static readonly (int First, int Last)[] astralScripts = [(0x10330, 0x1034A), (0x1D400, 0x1D6A5), (0x1D7CE, 0x1D7FF), (0x20000, 0x2A6DF)];
    static readonly string[] marks = ["\u0301", "\u0308", "\u0327", "\u093e", "\u0e31", "\u064e", "\u200d", "\ufe0f"];
    static readonly string[] otherDigits = ["٣", "٤٥", "०", "१२", "０", "９", "²", "½", "Ⅻ", "①"];

    /// <summary>
    /// <paramref name="count"/> strings of 1 to 40 random pieces, the same for the same seed; words in scripts outside
    /// the BMP only when <paramref name="astralLetters"/> is set.
    /// </summary>
    public static IEnumerable<string> Strings(int count, int seed, bool astralLetters = false)
    {
        var random = new Random(seed);
        var builder = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            builder.Clear();
            int pieces = random.Next(1, 41);
            for (int j = 0; j < pieces; j++) AppendPiece(builder, random, astralLetters);
            yield return builder.ToString();
        }
    }

    static void AppendPiece(StringBuilder builder, Random random, bool astralLetters)
    {
        switch (random.Next(12))
        {
            case 0: case 1: builder.Append(words[random.Next(words.Length)]); break;
            case 2: builder.Append(' ').Append(words[random.Next(words.Length)]); break;
            case 3: for (int n = random.Next(1, 12); n > 0; n--) builder.Append((char)('0' + random.Next(10))); break;
            case 4: builder.Append(spaces[random.Next(spaces.Length)]); break;
            case 5: builder.Append(contractions[random.Next(contractions.Length)]); break;
            case 6: for (int n = random.Next(1, 4); n > 0; n--) builder.Append(punctuation[random.Next(punctuation.Length)]); break;
            case 7: builder.Append(emoji[random.Next(emoji.Length)]); break;
            case 8:
                var (first, last) = astralLetters && random.Next(3) == 0 ? astralScripts[random.Next(astralScripts.Length)] : scripts[random.Next(scripts.Length)];
                for (int n = random.Next(1, 8); n > 0; n--) builder.Append(char.ConvertFromUtf32(random.Next(first, last + 1)));
                break;
            case 9: builder.Append(random.Next(2) == 0 ? marks[random.Next(marks.Length)] : otherDigits[random.Next(otherDigits.Length)]); break;
            case 10: for (int n = random.Next(1, 6); n > 0; n--) builder.Append((char)random.Next('a', 'z' + 1)); break;
            default: builder.Append(random.Next(3) == 0 ? "<|endoftext|>" : random.Next(2) == 0 ? "\n" : " "); break;
        }
    }
}
