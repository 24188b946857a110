// The BPE model of tokenizer.json on its own: merge order (including a queued pair made stale by a merge beside it),
// ignore_merges, the unknown token with and without fuse_unk, byte_fallback, and the errors of a malformed model.
// Expected ids were computed with Hugging Face tokenizers (the Node binding, npm tokenizers@0.23.2) on the same
// model with no pre-tokenizer; error texts are this reader's own.
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFaceBpeModelTests
{
    static BpeModel Read(string json) =>
        BpeModel.Read(new HuggingFaceJson(JsonDocument.Parse(json).RootElement.Clone(), "tokenizer.json", "model"));

    static string Model(string vocab, string merges = "", string options = "") =>
        $$"""{"type": "BPE", "vocab": {{{vocab}}}, "merges": [{{merges}}]{{options}}}""";

    static int[] Ids(BpeModel model, string word)
    {
        var output = new List<int>();
        model.Tokenize(word, output);
        return [.. output];
    }

    [Fact]
    public void Merge_AQueuedPairWhoseRankChanged_WaitsForItsNewRank()
    {
        // "b c" (rank 0) merges first and turns the queued "a b" (rank 1) into "a bc" (rank 3); "bc d" (rank 2) must
        // win over it, as the stale rank-1 entry would not let it.
        var model = Read(Model("""
            "a": 0, "b": 1, "c": 2, "d": 3, "bc": 4, "bcd": 5, "abc": 6, "ab": 7
            """, "\"b c\", \"a b\", \"bc d\", \"a bc\""));
        Assert.Equal([0, 5], Ids(model, "abcd"));
        Assert.Equal([6], Ids(model, "abc"));
    }

    [Fact]
    public void Merge_AnAbsorbedSymbolsQueuedPair_IsSkipped()
    {
        // "a b" absorbs b, whose queued "b c" must not merge behind the scenes: "c d" then merges beside "ab" and
        // queues "ab cd".
        var model = Read(Model("""
            "a": 0, "b": 1, "c": 2, "d": 3, "ab": 4, "bc": 5, "cd": 6, "abcd": 7
            """, "\"a b\", \"b c\", \"c d\", \"ab cd\""));
        Assert.Equal([7], Ids(model, "abcd"));
        Assert.Equal([5, 3], Ids(model, "bcd"));
        Assert.Equal([4, 2], Ids(model, "abc"));
        // Were b's "b c" merged behind the scenes, d would take the absorbed b for its left neighbour and "c de"
        // would never be queued.
        var deeper = Read(Model("""
            "a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "ab": 5, "bc": 6, "de": 7, "cde": 8
            """, "\"a b\", \"b c\", \"d e\", \"c de\""));
        Assert.Equal([5, 8], Ids(deeper, "abcde"));
        Assert.Equal([6, 7], Ids(deeper, "bcde"));
        Assert.Equal([8], Ids(deeper, "cde"));
    }

    [Fact]
    public void Merge_EqualRanks_LeftmostFirst()
    {
        var model = Read(Model("\"a\": 0, \"aa\": 1", "\"a a\""));
        Assert.Equal([1, 0], Ids(model, "aaa"));
        Assert.Equal([1, 1], Ids(model, "aaaa"));
        Assert.Equal([1, 1, 0], Ids(model, "aaaaa"));
        Assert.Equal([1], Ids(model, "aa"));
        Assert.Equal([0], Ids(model, "a"));
        Assert.Empty(Ids(model, ""));
    }

    [Fact]
    public void Merge_ARepeatedPair_KeepsItsLastRank()
    {
        const string vocab = "\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4";
        Assert.Equal([3, 2], Ids(Read(Model(vocab, "\"a b\", \"b c\"")), "abc"));
        Assert.Equal([0, 4], Ids(Read(Model(vocab, "\"a b\", \"b c\", \"a b\"")), "abc"));
    }

    [Fact]
    public void Tokenize_TheSameWordTwice_GivesTheSameIdsTwice()
    {
        var model = Read(Model("\"a\": 0, \"b\": 1, \"ab\": 2", "\"a b\""));
        var output = new List<int>();
        model.Tokenize("ab", output);
        model.Tokenize("ab", output);   // from the cache
        Assert.Equal([2, 2], output);
    }

    [Fact]
    public void IgnoreMerges_AWordInTheVocabularyIsOneToken()
    {
        const string vocab = "\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4, \"abc\": 5";
        const string merges = "\"b c\", \"a b\"";
        var ignoring = Read(Model(vocab, merges, ", \"ignore_merges\": true"));
        Assert.Equal([5], Ids(ignoring, "abc"));
        Assert.Equal([4, 0], Ids(ignoring, "bca"));   // not in the vocabulary: merged as usual
        // Worked out by hand: an empty word has no ids, even when the vocabulary has an empty token.
        Assert.Empty(Ids(Read(Model("\"\": 0, \"a\": 1", options: ", \"ignore_merges\": true")), ""));
        foreach (string options in new[] { "", ", \"ignore_merges\": false" })
        {
            var merging = Read(Model(vocab, merges, options));
            Assert.Equal([0, 4], Ids(merging, "abc"));
            Assert.Equal([4, 0], Ids(merging, "bca"));
        }
    }

    [Theory]
    [InlineData("xxa", new[] { 0, 0, 1 }, new[] { 0, 1 })]
    [InlineData("axx", new[] { 1, 0, 0 }, new[] { 1, 0 })]
    [InlineData("xax", new[] { 0, 1, 0 }, new[] { 0, 1, 0 })]
    [InlineData("x", new[] { 0 }, new[] { 0 })]
    [InlineData("a\U0001F600b", new[] { 1, 0, 0 }, new[] { 1, 0 })]   // a surrogate pair is one unknown character
    public void UnknownCharacters_OneUnknownTokenEach_OrOnePerRunWhenFused(string word, int[] unfused, int[] fused)
    {
        const string vocab = "\"<unk>\": 0, \"a\": 1";
        Assert.Equal(unfused, Ids(Read(Model(vocab, options: ", \"unk_token\": \"<unk>\"")), word));
        Assert.Equal(unfused, Ids(Read(Model(vocab, options: ", \"unk_token\": \"<unk>\", \"fuse_unk\": false")), word));
        Assert.Equal(fused, Ids(Read(Model(vocab, options: ", \"unk_token\": \"<unk>\", \"fuse_unk\": true")), word));
    }

    [Fact]
    public void UnknownCharacters_WithoutAnUnknownToken_AreDropped()
    {
        var model = Read(Model("\"b\": 0, \"a\": 1, \"ab\": 2", "\"a b\"", ", \"unk_token\": null"));
        Assert.Equal([1], Ids(model, "xxa"));
        Assert.Empty(Ids(model, "x"));
        Assert.Equal([2], Ids(model, "axb"));   // the neighbours of a dropped character merge
    }

    [Theory]
    [InlineData("é", new[] { 0, 1 })]
    [InlineData("aé", new[] { 3, 0, 1 })]
    [InlineData("xé", new[] { 0, 1, 2 })]        // the pending unknown token is written after the bytes
    [InlineData("éx", new[] { 0, 1, 2 })]
    [InlineData("xxé", new[] { 2, 0, 1, 2 })]
    [InlineData("€", new[] { 2 })]               // E2 82 AC: <0xAC> is missing, so the character is unknown
    [InlineData("x€", new[] { 2, 2 })]
    [InlineData("\U0001F600", new[] { 2 })]
    public void ByteFallback_UnknownCharactersAsTheirUtf8Bytes(string word, int[] expected)
    {
        // <0xC3> has id 0, so a test of the byte ids against 0 rather than -1 would lose it.
        const string vocab = "\"<0xC3>\": 0, \"<0xA9>\": 1, \"<unk>\": 2, \"a\": 3, \"<0x61>\": 4, \"<0xE2>\": 5, \"<0x82>\": 6";
        Assert.Equal(expected, Ids(Read(Model(vocab, options: ", \"byte_fallback\": true, \"unk_token\": \"<unk>\"")), word));
    }

    [Fact]
    public void ByteFallback_Options()
    {
        const string vocab = "\"<0xC3>\": 0, \"<0xA9>\": 1, \"<unk>\": 2, \"a\": 3, \"<0xF0>\": 4, \"<0x9F>\": 5, \"<0x98>\": 6, \"<0x80>\": 7";
        // Off (the default or false), é is unknown.
        Assert.Equal([3, 2], Ids(Read(Model(vocab, options: ", \"unk_token\": \"<unk>\"")), "aé"));
        Assert.Equal([3, 2], Ids(Read(Model(vocab, options: ", \"unk_token\": \"<unk>\", \"byte_fallback\": false")), "aé"));
        // Fused unknown runs around bytes: one unknown token, after the bytes.
        var fused = Read(Model(vocab, options: ", \"byte_fallback\": true, \"unk_token\": \"<unk>\", \"fuse_unk\": true"));
        Assert.Equal([0, 1, 2], Ids(fused, "xxéxx"));
        // Without an unknown token: the bytes, or nothing.
        var noUnknown = Read(Model(vocab, options: ", \"byte_fallback\": true"));
        Assert.Equal([3, 0, 1, 3], Ids(noUnknown, "aéa"));
        Assert.Equal([3], Ids(noUnknown, "€a"));
        Assert.Equal([4, 5, 6, 7], Ids(noUnknown, "\U0001F600"));   // four bytes
    }

    [Fact]
    public void SurrogatePairs_AreOneCharacter()
    {
        var model = Read(Model("\"\U0001F600\": 0, \"a\": 1, \"a\U0001F600\": 2", "\"a \U0001F600\""));
        Assert.Equal([0], Ids(model, "\U0001F600"));
        Assert.Equal([2], Ids(model, "a\U0001F600"));
        Assert.Equal([0, 1], Ids(model, "\U0001F600a"));
    }

    [Fact]
    public void Read_AcceptedForms()
    {
        // Untagged with merges (files before tokenizers tagged models), merges as pairs, dropout 0, empty markers.
        Assert.Equal([2], Ids(Read("""{"vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}"""), "ab"));
        Assert.Equal([2], Ids(Read(Model("\"a\": 0, \"b\": 1, \"ab\": 2", "\"a b\"",
            ", \"dropout\": 0.0, \"continuing_subword_prefix\": \"\", \"end_of_word_suffix\": \"\"")), "ab"));
        Assert.Equal([2], Ids(Read(Model("\"a\": 0, \"b\": 1, \"ab\": 2", "\"a b\"",
            ", \"dropout\": null, \"continuing_subword_prefix\": null, \"end_of_word_suffix\": null")), "ab"));
        Assert.Equal([0], Ids(Read(Model("\"a\": 0", options: ", \"dropout\": 0")), "a"));
    }

    [Fact]
    public void TokenOfId_HasAHoleForEachSkippedId()
    {
        Assert.Equal(new string?[] { "a", null, "c" }, Read(Model("\"c\": 2, \"a\": 0")).TokenOfId.AsEnumerable());
        Assert.Empty(Read(Model("")).TokenOfId);
        Assert.True(Read(Model("\"a\": 0")).TryGetId("a", out int id));
        Assert.Equal(0, id);
        Assert.False(Read(Model("\"a\": 0")).TryGetId("b", out _));
    }

    [Fact]
    public void ByteToken_IsUpperCaseHex() => Assert.Equal("<0x0A>", BpeModel.ByteToken(10));

    public static TheoryData<string, string, string> MalformedModels => new()
    {
        { """{"type": "WordPiece", "vocab": {}, "merges": []}""", "model.type", "unsupported model type \"WordPiece\"; supported: BPE" },
        { """{"vocab": {}}""", "model.type", "is missing" },
        { Model("", options: ", \"dropout\": 0.1"), "model.dropout", "BPE dropout is not supported (it makes encoding random); expected null" },
        { Model("", options: ", \"dropout\": \"0\""), "model.dropout", "BPE dropout is not supported (it makes encoding random); expected null" },
        { Model("", options: ", \"continuing_subword_prefix\": \"##\""), "model.continuing_subword_prefix",
            "is not supported (BERT-style subword markers); expected null or \"\"" },
        { Model("", options: ", \"end_of_word_suffix\": \"</w>\""), "model.end_of_word_suffix",
            "is not supported (BERT-style subword markers); expected null or \"\"" },
        { Model("\"a\": -1"), "model.vocab.a", "expected an id in [0, 16777216), found -1" },
        { Model("\"a\": 16777216"), "model.vocab.a", "expected an id in [0, 16777216), found 16777216" },
        { Model("\"a\": 1, \"b\": 1"), "model.vocab.b", "id 1 is given to two tokens" },
        { Model("\"b\": 0, \"xb\": 1", "\"x b\""), "model.merges[0]", "merge \"x b\" uses a token that is not in the vocabulary" },
        { Model("\"a\": 0, \"ax\": 1", "\"a x\""), "model.merges[0]", "merge \"a x\" uses a token that is not in the vocabulary" },
        { Model("\"b\": 0", "\" b\""), "model.merges[0]", "merge \" b\" uses a token that is not in the vocabulary" },
        { Model("\"a\": 0, \"b\": 1, \"ab\": 2", "\"a b\", \"b a\""), "model.merges[1]", "the result of merge \"b a\" is not in the vocabulary" },
        { Model("\"a\": 0", "\"ab\""), "model.merges[0]", "expected \"left right\" with exactly one space, found \"ab\"" },
        { Model("\"a\": 0", "\"a b c\""), "model.merges[0]", "expected \"left right\" with exactly one space, found \"a b c\"" },
        { Model("\"a\": 0", "[\"a\"]"), "model.merges[0]", "expected a pair [\"left\", \"right\"], found a list of 1" },
        { Model("\"a\": 0", "[\"a\", \"a\", \"a\"]"), "model.merges[0]", "expected a pair [\"left\", \"right\"], found a list of 3" },
        { Model("\"a\": 0", options: ", \"unk_token\": \"<unk>\""), "model.unk_token", "the unknown token \"<unk>\" is not in the vocabulary" },
    };

    [Theory]
    [MemberData(nameof(MalformedModels))]
    public void MalformedModel_IsRefusedWithItsField(string json, string field, string reason)
    {
        var e = Assert.Throws<InvalidInputException>(() => Read(json));
        Assert.Equal(field, e.Field);
        Assert.Equal(reason, e.Reason);
    }
}
