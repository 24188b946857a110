// Helpers for the tokenizer tests: temporary directories, a seeded English-like text and random Unicode strings.
using System.Text;
using ResidualLM.Text;

namespace ResidualLM.Tests.Text;

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
public sealed class TemporaryDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rlm-tokenizer-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public static class TextTestData
{
    static readonly string[] syllables = ["the", "an", "re", "in", "ed", "on", "ing", "st", "er", "al", "ou", "ch", "ly", "pre", "ver", "ti", "ca", "mo"];
    static readonly string[] punctuation = [" ", " ", " ", " ", " ", ", ", ". ", ".\n", "! ", "? ", "'s ", " \"", "\" "];

    /// <summary>Seeded pseudo-English: words of 1-4 syllables with punctuation; about <paramref name="length"/> chars.</summary>
    public static string EnglishLike(int length, int seed)
    {
        var random = new Random(seed);
        var builder = new StringBuilder(length + 32);
        while (builder.Length < length)
        {
            int count = 1 + random.Next(4);
            for (int i = 0; i < count; i++) builder.Append(syllables[random.Next(syllables.Length)]);
            builder.Append(punctuation[random.Next(punctuation.Length)]);
        }
        return builder.ToString();
    }

    // Pieces that exercise every branch of the GPT-2 pattern, including astral letters, digits and marks.
    static readonly string[] fragments =
    [
        " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u0085", "'", "'s", "'ll", "'S", "a", "Z", "word", " word", "0", "12",
        "\u0661", "!", "...", "-", "é", "e\u0301", "ß", "Ж", "中", "𠀀", "𝐀", "𝟙", "😀", "👨\u200d👩", "🇫🇷", "\ufeff", "<|endoftext|>",
    ];

    /// <summary>Seeded random strings made of <see cref="fragments"/>; when <paramref name="loneSurrogates"/> is set, some contain lone surrogates.</summary>
    public static IEnumerable<string> RandomStrings(int count, int seed, bool loneSurrogates = false)
    {
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var builder = new StringBuilder();
            int parts = random.Next(1, 30);
            for (int j = 0; j < parts; j++)
            {
                if (loneSurrogates && random.Next(10) == 0) builder.Append((char)(random.Next(2) == 0 ? 0xD800 + random.Next(0x400) : 0xDC00 + random.Next(0x400)));
                else builder.Append(fragments[random.Next(fragments.Length)]);
            }
            yield return builder.ToString();
        }
    }

    /// <summary>True when <paramref name="text"/> is well-formed UTF-16 (no lone surrogates).</summary>
    public static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }

    /// <summary>The GPT-2 tokenizer: the built-in vocabulary (Gpt2BuiltInVocabularyTests shows it equals OpenAI's files).</summary>
    public static Gpt2Tokenizer Gpt2 => Gpt2Tokenizer.BuiltIn;
}
