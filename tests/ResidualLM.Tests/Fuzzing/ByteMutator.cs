// Seeded mutations of valid files for the parser fuzzers: bit flips, byte overwrites, truncations, splices with other
// seeds, inserted JSON tokens, deleted and repeated spans, and numbers replaced by huge, negative or fractional ones.
using System.Text;
using System.Text.RegularExpressions;

namespace ResidualLM.Tests.Fuzzing;

/// <summary>Turns valid inputs into nearly valid ones; every choice comes from the caller's seeded <see cref="Random"/>.</summary>
public static partial class ByteMutator
{
    static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ",", ":", "\"", "null", "true", "false", "\\u0000", "\\ud800", "\\udc00", "\\\"", "\u00e9", "\t", "\n",
        "\r", " ", "\"\"", "[[[[[[[[", "}}}}", "\u0120", "#version: 0.2\n", "\"kind\":\"bpe\",", "\"a\":1,", "<|endoftext|>",
    ];

    static readonly string[] Numbers =
    [
        "0", "-1", "1", "2", "255", "256", "257", "2147483647", "2147483648", "-2147483648", "4294967296", "9223372036854775807",
        "18446744073709551616", "99999999999999999999999", "1e999", "1e-400", "0.5", "2.0", "1e3", "-0", "NaN",
    ];

    static readonly byte[] InterestingBytes = "{}[]\",:0123456789-. e\\\n"u8.ToArray().Concat(new byte[] { 0x00, 0xFF, 0x80, 0xC3, 0xED, 0x7F }).ToArray();

    /// <summary>One to three mutations of <paramref name="input"/>; <paramref name="others"/> supply splices.</summary>
    public static byte[] Mutate(byte[] input, IReadOnlyList<byte[]> others, Random random)
    {
        byte[] bytes = input;
        for (int count = 1 + random.Next(3); count > 0; count--) bytes = MutateOnce(bytes, others, random);
        return bytes;
    }

    static byte[] MutateOnce(byte[] input, IReadOnlyList<byte[]> others, Random random)
    {
        byte[] bytes = (byte[])input.Clone();
        int position = random.Next(bytes.Length + 1);
        switch (random.Next(9))
        {
            case 0: // flip a few bits
                for (int flips = 1 + random.Next(4); flips > 0 && bytes.Length > 0; flips--)
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1: // overwrite with punctuation, digits or invalid UTF-8
                for (int writes = 1 + random.Next(3); writes > 0 && bytes.Length > 0; writes--)
                    bytes[random.Next(bytes.Length)] = InterestingBytes[random.Next(InterestingBytes.Length)];
                return bytes;
            case 2: // truncate
                return bytes[..position];
            case 3: // splice this input's start with another's end
            {
                byte[] other = others[random.Next(others.Count)];
                return [.. bytes.AsSpan(0, position), .. other.AsSpan(random.Next(other.Length + 1))];
            }
            case 4: // insert a token
                return [.. bytes.AsSpan(0, position), .. Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)]), .. bytes.AsSpan(position)];
            case 5: // delete a span
                return [.. bytes.AsSpan(0, position), .. bytes.AsSpan(Math.Min(bytes.Length, position + 1 + random.Next(16)))];
            case 6: // repeat a span (duplicate keys, entries, lines)
            {
                int length = Math.Min(bytes.Length - position, 1 + random.Next(32));
                return [.. bytes.AsSpan(0, position + length), .. bytes.AsSpan(position, length), .. bytes.AsSpan(position + length)];
            }
            case 7: // insert random bytes
            {
                var inserted = new byte[1 + random.Next(8)];
                random.NextBytes(inserted);
                return [.. bytes.AsSpan(0, position), .. inserted, .. bytes.AsSpan(position)];
            }
            default: // replace a number by a huge, negative, fractional or boundary one
            {
                string text = Encoding.UTF8.GetString(bytes);
                if (!Utf8Valid(bytes, text)) return bytes;
                MatchCollection numbers = NumberPattern().Matches(text);
                if (numbers.Count == 0) return bytes;
                Match number = numbers[random.Next(numbers.Count)];
                return Encoding.UTF8.GetBytes(string.Concat(text.AsSpan(0, number.Index), Numbers[random.Next(Numbers.Length)], text.AsSpan(number.Index + number.Length)));
            }
        }
    }

    static bool Utf8Valid(byte[] bytes, string decoded) => Encoding.UTF8.GetByteCount(decoded) == bytes.Length && !decoded.Contains('\uFFFD');

    [GeneratedRegex("-?[0-9]+(\\.[0-9]+)?")]
    private static partial Regex NumberPattern();

    /// <summary>Case count: RLM_FUZZ_CASES when set, else <paramref name="defaultCount"/>.</summary>
    public static int CaseCount(int defaultCount) => IO.SafeTensorsFuzzTests.CaseCount(defaultCount);

    /// <summary>Seed: RLM_FUZZ_SEED when set, else <paramref name="defaultSeed"/>.</summary>
    public static int Seed(int defaultSeed) => IO.SafeTensorsFuzzTests.Seed(defaultSeed);
}
