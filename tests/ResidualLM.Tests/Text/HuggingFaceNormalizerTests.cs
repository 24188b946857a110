// The normalizers of tokenizer.json one by one: Prepend, Replace (literal and regex), Sequence, the four Unicode forms
// and their errors. Without globalization data (this repository's default, InvariantGlobalization) .NET cannot
// normalize, so a Unicode form accepts only text that the form provably leaves alone (Normalizer.IsInert) and refuses
// the rest. The expected inert ranges come from the Unicode Character Database, checked with Python's unicodedata
// (Unicode 14): every code point of each range is unchanged by its form, has combining class 0 and is never the
// second half of a canonical composition, and the neighbours named below are not.
using System.Text;
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFaceNormalizerTests
{
    static Normalizer Read(string json) =>
        Normalizer.Read(new HuggingFaceJson(JsonDocument.Parse(json).RootElement.Clone(), "tokenizer.json", "normalizer"));

    static InvalidInputException ReadError(string json) => Assert.Throws<InvalidInputException>(() => Read(json));

    static readonly bool normalizationAvailable = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";

    /// <summary>Runs only where the process has no normalization data, as the test project is built.</summary>
    sealed class InvariantGlobalizationFactAttribute : FactAttribute
    {
        public InvariantGlobalizationFactAttribute()
        {
            if (normalizationAvailable) Skip = "this process has Unicode normalization data; the refusals tested here happen only without it";
        }
    }

    [Fact]
    public void Prepend_AddsThePrefix_ButLeavesAnEmptySegmentEmpty()
    {
        Normalizer prepend = Read("""{"type": "Prepend", "prepend": "▁"}""");
        Assert.Equal("▁Hello world", prepend.Normalize("Hello world"));
        Assert.Equal("▁ ", prepend.Normalize(" "));
        Assert.Equal("", prepend.Normalize(""));
    }

    [Fact]
    public void Replace_Literal_ReplacesEveryOccurrence()
    {
        Normalizer replace = Read("""{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}""");
        Assert.Equal("▁a▁b▁▁c▁", replace.Normalize(" a b  c "));
        Assert.Equal("abc", replace.Normalize("abc"));
        Normalizer longer = Read("""{"type": "Replace", "pattern": {"String": "ab"}, "content": "-"}""");
        Assert.Equal("-a-b", longer.Normalize("abaabb"));
    }

    [Fact]
    public void Replace_Regex_ReplacesEachMatch_KeepingTheTextBetween()
    {
        Normalizer replace = Read("""{"type": "Replace", "pattern": {"Regex": " +"}, "content": "▁"}""");
        Assert.Equal("▁a▁b▁c▁", replace.Normalize("  a b   c "));
        Assert.Equal("xy", replace.Normalize("xy"));
        Assert.Equal("", replace.Normalize(""));
        Normalizer drop = Read("""{"type": "Replace", "pattern": {"Regex": "[0-9]"}, "content": ""}""");
        Assert.Equal("abc", drop.Normalize("1a22b333c"));
    }

    [Fact]
    public void Replace_Errors_NameTheField()
    {
        InvalidInputException empty = ReadError("""{"type": "Replace", "pattern": {"String": ""}, "content": "x"}""");
        Assert.Equal("the pattern is empty", empty.Reason);
        Assert.Equal("normalizer.pattern", empty.Field);
        Assert.Equal("tokenizer.json", empty.FilePath);

        InvalidInputException content = ReadError("""{"type": "Replace", "pattern": {"String": " "}}""");
        Assert.Equal("normalizer.content", content.Field);
        Assert.Equal("is missing", content.Reason);

        InvalidInputException regex = ReadError("""{"type": "Replace", "pattern": {"Regex": "(a"}, "content": "x"}""");
        Assert.Equal("normalizer.pattern", regex.Field);
    }

    [Fact]
    public void Sequence_AppliesItsStepsInOrder()
    {
        // SentencePiece-style (Llama 2, TinyLlama): prefix first, then every space, the prefix's own included.
        Normalizer llama = Read("""
            {"type": "Sequence", "normalizers": [
              {"type": "Prepend", "prepend": " "},
              {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
            """);
        Assert.Equal("▁a▁b", llama.Normalize("a b"));
        Normalizer reversed = Read("""
            {"type": "Sequence", "normalizers": [
              {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
              {"type": "Prepend", "prepend": " "}]}
            """);
        Assert.Equal(" a▁b", reversed.Normalize("a b"));
        Assert.Equal("a b", Read("""{"type": "Sequence", "normalizers": []}""").Normalize("a b"));
    }

    [Fact]
    public void Read_UnknownOrMissingType_IsRefusedWithTheSupportedList()
    {
        InvalidInputException lowercase = ReadError("""{"type": "Lowercase"}""");
        Assert.Equal("unsupported normalizer \"Lowercase\"; supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence", lowercase.Reason);
        Assert.Equal("normalizer.type", lowercase.Field);

        InvalidInputException nested = ReadError("""{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Strip"}]}""");
        Assert.Equal("normalizer.normalizers[1].type", nested.Field);
        Assert.StartsWith("unsupported normalizer \"Strip\"", nested.Reason);

        InvalidInputException missing = ReadError("""{"prepend": "x"}""");
        Assert.Equal("normalizer.type", missing.Field);
        Assert.Equal("is missing", missing.Reason);
        Assert.Equal("normalizer.prepend", ReadError("""{"type": "Prepend"}""").Field);
    }

    // Without normalization data each form accepts what it leaves alone and refuses the rest, naming itself. The
    // texts tell the composing forms from the decomposing ones and NFC from NFKC: "が" (U+304C) is unchanged by the
    // composing forms but decomposed by NFD and NFKD;
    // "Å" (U+00C5) and "ﬁ" (U+FB01) are listed for NFC only (NFKC changes the ligature; the decomposing forms list only
    // ASCII and the ideographs). NFD and NFKD accept the same texts here: their messages tell them apart.
    [InvariantGlobalizationFact]
    public void UnicodeForms_WithoutNormalizationData_PassInertTextAndRefuseTheRest()
    {
        (string form, bool kana, bool ring, bool ligature)[] forms =
        [
            ("NFC", true, true, true),
            ("NFKC", true, false, false),
            ("NFD", false, false, false),
            ("NFKD", false, false, false),
        ];
        foreach (var (form, kana, ring, ligature) in forms)
        {
            Normalizer normalizer = Read($$"""{"type": "{{form}}"}""");
            Assert.Equal("plain ASCII 123 中文", normalizer.Normalize("plain ASCII 123 中文"));
            Check(normalizer, form, "\u304c", kana);
            Check(normalizer, form, "\u00c5", ring);
            Check(normalizer, form, "\ufb01", ligature);
            Check(normalizer, form, "e\u0301", false);
        }

        static void Check(Normalizer normalizer, string form, string text, bool accepted)
        {
            if (accepted)
            {
                Assert.Equal(text, normalizer.Normalize(text));
                return;
            }
            var error = Assert.Throws<InvalidInputException>(() => normalizer.Normalize(text));
            Assert.Equal($"the tokenizer's {form} normalizer needs Unicode normalization, which this process lacks (InvariantGlobalization); the text has characters it could change", error.Reason);
            Assert.Equal("normalizer", error.Field);
        }
    }

    static string Text(int codePoint) => char.ConvertFromUtf32(codePoint);

    // The edges of every range, inside (inert) and just outside (the neighbour changes, combines, or is not listed).
    public static TheoryData<int, bool> NfcEdges => new()
    {
        { 0x9F, true }, { 0xA0, true }, { 0x2FF, true }, { 0x300, false },        // ASCII + C1, Latin to U+02FF; U+0300 combines
        { 0x387, false }, { 0x388, true }, { 0x3FF, true },                          // U+0387 is a singleton (to U+00B7)
        { 0x5CF, false }, { 0x5D0, true }, { 0x5EA, true }, { 0x5EB, false },
        { 0x5FF, false }, { 0x600, true }, { 0x60F, true }, { 0x610, false },       // U+0610..U+061A are combining marks
        { 0x618, false }, { 0x61A, false }, { 0x61B, true }, { 0x64A, true }, { 0x64B, false },
        { 0x65F, false }, { 0x660, true }, { 0x66F, true }, { 0x670, false },
        { 0x2001, false }, { 0x2002, true }, { 0x206F, true }, { 0x2070, false },   // U+2001 is a singleton
        { 0x214F, false }, { 0x2150, true }, { 0x2328, true }, { 0x2329, false }, { 0x232A, false },
        { 0x232B, true }, { 0x2ADB, true }, { 0x2ADC, false }, { 0x2ADD, true }, { 0x2BFF, true }, { 0x2C00, false },
        { 0x2FFF, false }, { 0x3000, true }, { 0x3029, true }, { 0x302A, false },
        { 0x3040, false }, { 0x3041, true }, { 0x3096, true }, { 0x3097, false },   // hiragana
        { 0x30A0, false }, { 0x30A1, true }, { 0x30FA, true }, { 0x30FB, false },   // katakana
        { 0x33FF, false }, { 0x3400, true }, { 0x4DBF, true }, { 0x4DC0, false },   // CJK extension A
        { 0x4DFF, false }, { 0x4E00, true }, { 0x9FFF, true }, { 0xA000, false },   // CJK unified ideographs
        { 0xABFF, false }, { 0xAC00, true }, { 0xD7A3, true }, { 0xD7A4, false },   // Hangul syllables
        { 0x3FF + 1, true }, { 0x482, true }, { 0x483, false }, { 0x489, false }, { 0x48A, true }, { 0x4FF, true }, { 0x500, false },
        { 0xFAFF, false }, { 0xFB00, true }, { 0xFB06, true }, { 0xFB07, false },
        { 0xFDFF, false }, { 0xFE00, true }, { 0xFE0F, true }, { 0xFE10, false },
        { 0xFF00, false }, { 0xFF01, true }, { 0xFF5E, true }, { 0xFF5F, false },
        { 0x1D3FF, false }, { 0x1D400, true }, { 0x1D7FF, true }, { 0x1D800, false },
        { 0x1EFFF, false }, { 0x1F000, true }, { 0x1FAFF, true }, { 0x1FB00, false },
        { 0x1FFFF, false }, { 0x20000, true }, { 0x2F7FF, true }, { 0x2F800, false },   // U+2F800.. compatibility ideographs
        { 0x2FFFF, false }, { 0x30000, true }, { 0x3134F, true }, { 0x31350, false },
    };

    [Theory]
    [MemberData(nameof(NfcEdges))]
    public void IsInert_Nfc_RangeEdges(int codePoint, bool inert) =>
        Assert.Equal(inert, Normalizer.IsInert(Text(codePoint), NormalizationForm.FormC));

    // NFKC: ASCII, the CJK ideographs, kana, Hangul syllables and Cyrillic; nothing of NFC's own table (U+00A0 is a
    // compatibility space, U+FB01 a ligature, U+FF01 a fullwidth "!"; the Greek and Hebrew letters are simply not listed).
    public static TheoryData<int, bool> NfkcEdges => new()
    {
        { 0x9F, true }, { 0xA0, false }, { 0x3FF, false }, { 0x5D0, false }, { 0xFB01, false }, { 0xFF01, false }, { 0x1F600, false },
        { 0x3040, false }, { 0x3041, true }, { 0x3096, true }, { 0x3097, false },
        { 0x30A0, false }, { 0x30A1, true }, { 0x30FA, true }, { 0x30FB, false },
        { 0xABFF, false }, { 0xAC00, true }, { 0xD7A3, true }, { 0xD7A4, false },
        { 0x400, true }, { 0x482, true }, { 0x483, false }, { 0x489, false }, { 0x48A, true }, { 0x4FF, true }, { 0x500, false },
        { 0x33FF, false }, { 0x3400, true }, { 0x4DBF, true }, { 0x4DC0, false }, { 0x4E00, true }, { 0x9FFF, true }, { 0xA000, false },
    };

    [Theory]
    [MemberData(nameof(NfkcEdges))]
    public void IsInert_Nfkc_RangeEdges(int codePoint, bool inert) =>
        Assert.Equal(inert, Normalizer.IsInert(Text(codePoint), NormalizationForm.FormKC));

    // The decomposing forms split kana with voicing marks, Hangul syllables and some Cyrillic letters, so only ASCII and
    // the CJK ideographs are listed.
    [Theory]
    [InlineData(0x41, true)]
    [InlineData(0x9F, true)]
    [InlineData(0xA0, false)]
    [InlineData(0x3041, false)]
    [InlineData(0x30A1, false)]
    [InlineData(0xAC00, false)]
    [InlineData(0x400, false)]
    [InlineData(0x4FF, false)]
    [InlineData(0x3400, true)]
    [InlineData(0x4E00, true)]
    [InlineData(0x9FFF, true)]
    [InlineData(0x1F600, false)]
    public void IsInert_DecomposingForms_OnlyAsciiAndIdeographs(int codePoint, bool inert)
    {
        Assert.Equal(inert, Normalizer.IsInert(Text(codePoint), NormalizationForm.FormD));
        Assert.Equal(inert, Normalizer.IsInert(Text(codePoint), NormalizationForm.FormKD));
    }

    [Fact]
    public void IsInert_ReadsSurrogatePairsAsOneCodePoint_AndRefusesLoneSurrogates()
    {
        // U+1F600 (an emoji) is in NFC's table; its halves, U+D83D and U+DE00, are in no range.
        Assert.True(Normalizer.IsInert("a\U0001F600b\U0001F600", NormalizationForm.FormC));
        Assert.False(Normalizer.IsInert("a\U0001F600", NormalizationForm.FormD));
        Assert.False(Normalizer.IsInert("a\ud83d", NormalizationForm.FormC));         // a high surrogate at the end
        Assert.False(Normalizer.IsInert("\ud83da", NormalizationForm.FormC));         // a high surrogate before a letter
        Assert.False(Normalizer.IsInert("\ude00", NormalizationForm.FormC));          // a low surrogate alone
        Assert.False(Normalizer.IsInert("\ude00\ud83d", NormalizationForm.FormC));    // reversed halves
        // The pair is consumed whole: the letter after it is still checked.
        Assert.False(Normalizer.IsInert("\U0001F600\u0301", NormalizationForm.FormC));
        Assert.True(Normalizer.IsInert("", NormalizationForm.FormD));
        Assert.False(Normalizer.IsInert("abc\u0301", NormalizationForm.FormC));
        Assert.False(Normalizer.IsInert("\u0301abc", NormalizationForm.FormC));
    }
}
