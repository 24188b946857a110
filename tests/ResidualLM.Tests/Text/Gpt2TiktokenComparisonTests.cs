// Our GPT-2 encoder (Gpt2Tokenizer.BuiltIn) against an independent one: Microsoft.ML.Tokenizers' TiktokenTokenizer
// for "gpt2", on 50,000 seeded random strings. It differs from OpenAI's GPT-2 on two classes of input, each checked
// separately below against gpt-3-encoder's ids (fixtures/gpt2_tokenizer.json) and OpenAI's pattern:
//  - letters and digits outside the BMP: TiktokenTokenizer runs the pattern with .NET's Regex over UTF-16 code units,
//    where the two halves of a surrogate pair are neither \p{L} nor \p{N}, so "𐌰'll" is split "𐌰'" + "ll". OpenAI's
//    encoder.py (Python's `regex`) and gpt-3-encoder (JavaScript's /u) see code points: "𐌰" + "'ll". We follow OpenAI.
//  - lone surrogates: TiktokenTokenizer encodes each as its 3-byte generalised UTF-8 (ED A0 80 for U+D800), which is
//    not UTF-8; tiktoken's Python encode and gpt-3-encoder (TextEncoder) replace it with U+FFFD, as we do.
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using ResidualLM.Text;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Text;

public class Gpt2TiktokenComparisonTests(ITestOutputHelper output)
{
    static readonly Lazy<TiktokenTokenizer> reference = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    /// <summary>Reference ids; a literal &lt;|endoftext|&gt; is TiktokenTokenizer's special token, so ours is asked to allow it too.</summary>
    static int[] Expected(string text) => [.. reference.Value.EncodeToIds(text)];

    static string Describe(string text, int[] expected, int[] actual) =>
        $"{JsonSerializer.Serialize(text)}\n  TiktokenTokenizer [{string.Join(",", expected)}]\n  ours              [{string.Join(",", actual)}]";

    [Fact]
    public void Encode_50000RandomStrings_MatchesTiktokenTokenizer()
    {
        Gpt2Tokenizer ours = Gpt2Tokenizer.BuiltIn;
        var clock = Stopwatch.StartNew();
        int count = 0, mismatches = 0, withSpecial = 0, nonAscii = 0;
        var reports = new List<string>();
        foreach (string text in Gpt2RandomText.Strings(50_000, seed: 15))
        {
            count++;
            if (text.Contains(Gpt2Tokenizer.EndOfTextToken, StringComparison.Ordinal)) withSpecial++;
            if (text.Any(c => c > 127)) nonAscii++;
            int[] expected = Expected(text), actual = ours.Encode(text, allowSpecialTokens: true);
            if (expected.AsSpan().SequenceEqual(actual)) continue;
            if (++mismatches <= 20) reports.Add(Describe(text, expected, actual));
        }
        output.WriteLine($"{count} strings ({withSpecial} with <|endoftext|>, {nonAscii} with non-ASCII) in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(50_000, count);
        Assert.InRange(withSpecial, 1000, count - 1000);   // both paths of the special-token split are exercised
        Assert.InRange(nonAscii, 1000, count - 1000);
        Assert.True(mismatches == 0, $"{mismatches} of {count} strings differ; the first ones:\n{string.Join("\n", reports)}");
    }

    [Fact]
    public void Encode_AstralLetters_DifferFromTiktokenTokenizerOnlyInPreTokenisation()
    {
        // Pieces from our code-point pre-tokeniser, each encoded by TiktokenTokenizer alone, must give our ids: the BPE
        // agrees and only the splitting differs (where ours is the one gpt-3-encoder's fixture and Python's regex agree with).
        Gpt2Tokenizer ours = Gpt2Tokenizer.BuiltIn;
        int differing = 0;
        foreach (string text in Gpt2RandomText.Strings(5_000, seed: 16, astralLetters: true))
        {
            if (text.Contains(Gpt2Tokenizer.EndOfTextToken, StringComparison.Ordinal)) continue;
            int[] actual = ours.Encode(text);
            if (!Expected(text).AsSpan().SequenceEqual(actual)) differing++;
            int[] piecewise = [.. Gpt2PreTokenizer.Split(text).SelectMany(piece => Expected(text.Substring(piece.Start, piece.Length)))];
            Assert.True(piecewise.AsSpan().SequenceEqual(actual), Describe(text, piecewise, actual));
        }
        output.WriteLine($"{differing} strings with letters outside the BMP encode differently as whole strings");
        Assert.True(differing > 0, "no string showed the documented difference: has TiktokenTokenizer changed? Then the exclusion can go");
    }

    [Fact]
    public void Encode_LoneSurrogates_AreReplacementCharacters_AsInTheFixture()
    {
        // gpt-3-encoder's ids for the fixture's ill-formed strings equal TiktokenTokenizer's for the same strings with
        // each lone surrogate replaced by U+FFFD, and ours for the strings as they are.
        var cases = Gpt2TokenizerTests.Fixture.Value.Where(c => !TextTestData.IsWellFormed(c.Text)).ToList();
        Assert.NotEmpty(cases);
        foreach (var c in cases)
        {
            string replaced = ReplaceLoneSurrogates(c.Text);
            Assert.True(c.Ids.AsSpan().SequenceEqual(Expected(replaced)), Describe(replaced, Expected(replaced), c.Ids));
            Assert.Equal(c.Ids, Gpt2Tokenizer.BuiltIn.Encode(c.Text));
        }
    }

    static string ReplaceLoneSurrogates(string text)
    {
        var characters = text.ToCharArray();
        for (int i = 0; i < characters.Length; i++)
        {
            if (char.IsHighSurrogate(characters[i]) && i + 1 < characters.Length && char.IsLowSurrogate(characters[i + 1])) i++;
            else if (char.IsSurrogate(characters[i])) characters[i] = '\ufffd';
        }
        return new string(characters);
    }
}
