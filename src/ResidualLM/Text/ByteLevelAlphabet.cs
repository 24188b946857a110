// GPT-2's reversible byte <-> character mapping, used to read and write encoder.json / vocab.bpe.
// OpenAI's vocabulary stores each token's bytes as a string of printable characters so that the merges file can be
// split on spaces; this file computes the same mapping (it is defined by a rule, not copied).
namespace ResidualLM.Text;

/// <summary>
/// Maps each byte to one printable character: bytes that are already printable and not a space (<c>'!'..'~'</c>,
/// <c>'¡'..'¬'</c>, <c>'®'..'ÿ'</c>) map to the character with the same code; the remaining 68 bytes map, in increasing
/// byte order, to U+0100, U+0101, ... So a space (0x20) is 'Ġ' (U+0120) and a newline is 'Ċ' (U+010A).
/// </summary>
internal static class ByteLevelAlphabet
{
    static readonly char[] byteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> charToByte = BuildCharToByte();

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) map[byteToChar[b]] = (byte)b;
        return map;
    }

    /// <summary>The printable character that stands for <paramref name="value"/>.</summary>
    public static char ToChar(byte value) => byteToChar[value];

    /// <summary>The string of printable characters that stands for <paramref name="bytes"/>.</summary>
    public static string ToText(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++) span[i] = byteToChar[source[i]];
        });
    }

    /// <summary>Inverse of <see cref="ToText"/>; false when a character is not in the alphabet.</summary>
    public static bool TryToBytes(string text, out byte[] bytes)
    {
        bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!charToByte.TryGetValue(text[i], out byte b)) return false;
            bytes[i] = b;
        }
        return true;
    }
}
