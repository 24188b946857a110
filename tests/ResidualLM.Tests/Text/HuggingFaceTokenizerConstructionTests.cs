// HuggingFaceTokenizer on tiny inline tokenizer.json files: the vocabulary size and the sparse-id and post-processor
// checks at their edges, the end-of-sequence fall-backs, tokenizer_config.json (bos/eos as strings or {"content"},
// chat_template as a string or transformers' list of named templates) with every error, the loaders, Save, the id and
// token look-ups at their edges, and Encode/Decode with and without special tokens.
// Expectations: tokenizers' documented behavior (added tokens looked up before the model's vocabulary, characters
// outside a vocabulary without unk_token dropped, tokens joined by spaces when there is no decoder, special tokens
// left out by skip_special_tokens), transformers' tokenizer_config.json layout, and limits worked out by hand below.
using System.Text;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public sealed class HuggingFaceTokenizerConstructionTests : IDisposable
{
    readonly TemporaryDirectory temporary = new();

    public void Dispose() => temporary.Dispose();

    const string InMemoryPath = "memory/tokenizer.json";

    /// <summary>A BPE tokenizer.json with no pre-tokenizer, normalizer or decoder unless <paramref name="extra"/> adds them.</summary>
    static string TokenizerJson(string vocab, string addedTokens = "[]", string merges = "[]", string extra = "") =>
        $$"""{"added_tokens": {{addedTokens}}, "model": {"type": "BPE", "vocab": {{vocab}}, "merges": {{merges}}}{{extra}}}""";

    /// <summary>A post-processor that puts the special token "B" (with <paramref name="ids"/>) before the text.</summary>
    static string Template(string ids) =>
        """, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "B", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], """
        + """ "pair": [], "special_tokens": {"B": {"id": "B", "ids": """ + ids + """, "tokens": ["B"]}}}""";

    static HuggingFaceTokenizer FromJson(string json) => HuggingFaceTokenizer.FromBytes(Encoding.UTF8.GetBytes(json), InMemoryPath, null);

    // ids: a=0 b=1 ab=2 <=3 s=4 >=5, added <s>=6 (special) and <t>=7 (not special); one merge "a b"; "<s>" before the text.
    const string Vocab = """{"a": 0, "b": 1, "ab": 2, "<": 3, "s": 4, ">": 5}""";
    const string Added = """[{"id": 6, "content": "<s>", "special": true}, {"id": 7, "content": "<t>", "special": false}]""";
    static readonly HuggingFaceTokenizer small = FromJson(TokenizerJson(Vocab, Added, """["a b"]""", Template("[6]")));

    // The sparse-id limit: size > 2 * entries + 1024. Two entries allow ids up to 1027 (size 1028 = 2 * 2 + 1024).
    [Theory]
    [InlineData("""{"a": 0, "b": 1027}""", "[]", 1028)]
    [InlineData("""{"a": 0}""", """[{"id": 1027, "content": "<x>"}]""", 1028)]
    public void SparseIds_AtTheLimit_AreAccepted(string vocab, string added, int size)
    {
        HuggingFaceTokenizer tokenizer = FromJson(TokenizerJson(vocab, added));
        Assert.Equal(size, tokenizer.VocabSize);
        Assert.Null(tokenizer.IdToToken(500));
    }

    [Theory]
    [InlineData("""{"a": 0, "b": 1028}""", "[]")]
    [InlineData("""{"a": 0}""", """[{"id": 1028, "content": "<x>"}]""")]
    public void SparseIds_PastTheLimit_AreRefused(string vocab, string added) =>
        InputErrors.AssertRefusedExactly(() => FromJson(TokenizerJson(vocab, added)), InMemoryPath, "model.vocab", "the ids are sparse: 2 tokens use ids up to 1028");

    [Fact]
    public void VocabSize_IsOnePastTheHighestIdOfVocabularyOrAddedTokens()
    {
        Assert.Equal(0, FromJson(TokenizerJson("{}")).VocabSize);
        Assert.Equal(2, FromJson(TokenizerJson("""{"a": 0, "b": 1}""")).VocabSize);
        // Added tokens beyond the vocabulary: the highest id counts, not the first or the lowest.
        HuggingFaceTokenizer above = FromJson(TokenizerJson("""{"a": 0}""", """[{"id": 3, "content": "<z>"}, {"id": 1, "content": "<y>"}]"""));
        Assert.Equal(4, above.VocabSize);
        Assert.Equal(new string?[] { "a", "<y>", null, "<z>" }, Enumerable.Range(0, 4).Select(above.IdToToken));
        // An added token inside the vocabulary's range leaves the size to the vocabulary.
        HuggingFaceTokenizer inside = FromJson(TokenizerJson("""{"a": 0, "b": 1, "c": 2}""", """[{"id": 0, "content": "<q>"}]"""));
        Assert.Equal(3, inside.VocabSize);
        Assert.Equal("<q>", inside.IdToToken(0));
    }

    [Theory]
    [InlineData("[7]")]
    [InlineData("[0]")]
    public void PostProcessorIds_InsideTheVocabulary_AreAccepted(string ids) =>
        Assert.Equal(8, FromJson(TokenizerJson(Vocab, Added, extra: Template(ids))).VocabSize);

    [Theory]
    [InlineData("[8]", 8)]
    [InlineData("[-1]", -1)]
    [InlineData("[0, 9]", 9)]
    public void PostProcessorIds_OutsideTheVocabulary_AreRefused(string ids, int bad) =>
        InputErrors.AssertRefusedExactly(() => FromJson(TokenizerJson(Vocab, Added, extra: Template(ids))), InMemoryPath, "post_processor",
            $"the post-processor adds token id {bad}, outside the vocabulary of 8 ids");

    [Fact]
    public void IdToToken_IsSpecialToken_AndTokenToId_AtTheEdges()
    {
        Assert.Equal(8, small.VocabSize);
        Assert.Equal("a", small.IdToToken(0));
        Assert.Equal("<t>", small.IdToToken(7));
        Assert.Null(small.IdToToken(8));
        Assert.Null(small.IdToToken(-1));
        Assert.Null(small.IdToToken(int.MinValue));
        Assert.True(small.IsSpecialToken(6));
        Assert.False(small.IsSpecialToken(7));
        Assert.False(small.IsSpecialToken(0));
        Assert.False(small.IsSpecialToken(8));
        Assert.False(small.IsSpecialToken(-1));
        Assert.Equal(2, small.TokenToId("ab"));
        Assert.Equal(6, small.TokenToId("<s>"));
        Assert.Null(small.TokenToId("ba"));
        Assert.Equal("huggingface", small.Kind);
    }

    [Fact]
    public void TokenToId_AnAddedToken_WinsOverTheVocabulary()
    {
        // tokenizers' token_to_id looks in the added vocabulary first, then in the model.
        HuggingFaceTokenizer tokenizer = FromJson(TokenizerJson("""{"a": 0, "<x>": 1}""", """[{"id": 2, "content": "<x>"}]"""));
        Assert.Equal(2, tokenizer.TokenToId("<x>"));
        Assert.Equal(0, tokenizer.TokenToId("a"));
    }

    [Fact]
    public void Encode_SpecialTokens_OnlyWhereAsked()
    {
        // No pre-tokenizer: a text segment is one word. "ab" merges; "b a" is no merge; "<s>" as text is < s >.
        Assert.Equal([2, 3, 4, 5, 1, 0], small.Encode("ab<s>ba"));
        Assert.Equal([2, 3, 4, 5, 1, 0], small.Encode("ab<s>ba", allowSpecialTokens: false));
        Assert.Equal([2, 6, 1, 0], small.Encode("ab<s>ba", allowSpecialTokens: true));
        Assert.Equal([6, 2, 3, 4, 5, 1, 0], small.Encode("ab<s>ba", allowSpecialTokens: false, addSpecialTokens: true));
        Assert.Equal([6, 2, 6, 1, 0], small.Encode("ab<s>ba", allowSpecialTokens: true, addSpecialTokens: true));
        Assert.Equal([6], small.Encode("", allowSpecialTokens: false, addSpecialTokens: true));
        Assert.Empty(small.Encode(""));
        // A non-special added token is recognised either way; characters outside the vocabulary are dropped (no unk).
        Assert.Equal([0, 7, 1], small.Encode("a<t>b"));
        // The dropped "z" leaves "a" beside "b", which then merge.
        Assert.Equal([2], small.Encode("azb"));
        // Without a post-processor, adding special tokens adds nothing.
        HuggingFaceTokenizer plain = FromJson(TokenizerJson(Vocab, Added, """["a b"]"""));
        Assert.Equal([2], plain.Encode("ab", allowSpecialTokens: true, addSpecialTokens: true));
        Assert.Throws<ArgumentNullException>(() => small.Encode(null!));
    }

    [Fact]
    public void Encode_LoneSurrogates_BecomeTheReplacementCharacter()
    {
        // A Rust string (tokenizers) cannot hold a lone surrogate: it arrives as U+FFFD, as UTF-8 encoders write it.
        // (A table in code: xUnit's theory data would mangle lone surrogates before the test saw them.)
        HuggingFaceTokenizer tokenizer = FromJson(TokenizerJson("""{"a": 0, "\uFFFD": 1, "😀": 2}"""));
        Assert.Equal([0, 2], tokenizer.Encode("a😀"));
        Assert.Equal([1], tokenizer.Encode("\uDC00"));                           // a lone surrogate first
        Assert.Equal([0, 1], tokenizer.Encode("a\uD800"));                       // ... and last
        Assert.Equal([2, 1, 2], tokenizer.Encode("😀\uDC00😀"));                 // pairs before and after it stay
        Assert.Equal([1, 2, 0, 1, 1], tokenizer.Encode("\uD800😀a\uDC00\uD800"));
    }

    [Fact]
    public void Decode_JoinsTokensWithSpaces_AndSkipsSpecialTokensOnRequest()
    {
        Assert.Equal("<s> ab <t> a", small.Decode([6, 2, 7, 0]));
        Assert.Equal("<s> ab <t> a", small.Decode([6, 2, 7, 0], skipSpecialTokens: false));
        Assert.Equal("ab <t> a", small.Decode([6, 2, 7, 0], skipSpecialTokens: true));
        Assert.Equal("", small.Decode([]));
        Assert.Equal("<t>", small.Decode([7], skipSpecialTokens: true));
    }

    [Theory]
    [InlineData(8, "token id 8 is outside the vocabulary of 8 ids")]
    [InlineData(-1, "token id -1 is outside the vocabulary of 8 ids")]
    public void Decode_AnIdOutsideTheVocabulary_IsRefused(int id, string reason)
    {
        InputErrors.AssertRefusedExactly(() => small.Decode([0, id]), null, "ids", reason);
        InputErrors.AssertRefusedExactly(() => small.Decode([0, id], skipSpecialTokens: true), null, "ids", reason);
    }

    [Fact]
    public void Decode_AnIdWithNoToken_IsRefused()
    {
        HuggingFaceTokenizer gap = FromJson(TokenizerJson("""{"a": 0, "c": 2}"""));
        Assert.Equal("a c", gap.Decode([0, 2]));
        InputErrors.AssertRefusedExactly(() => gap.Decode([1]), null, "ids", "token id 1 has no token in the vocabulary");
    }

    [Fact]
    public void IsHuggingFaceFile_NeedsAModelObjectAndNoKind()
    {
        static bool Is(string json) => HuggingFaceTokenizer.IsHuggingFaceFile(System.Text.Json.JsonDocument.Parse(json).RootElement);
        Assert.True(Is("""{"model": {}}"""));
        Assert.False(Is("""{"kind": "bpe", "model": {}}"""));
        Assert.False(Is("""{"model": []}"""));
        Assert.False(Is("""{"model": null}"""));
        Assert.False(Is("""{}"""));
    }

    /// <summary>A folder with the small tokenizer.json and, when given, a tokenizer_config.json and chat_template.jinja.</summary>
    string Folder(string? config = null, string? template = null, string vocab = Vocab, string name = "model")
    {
        string folder = temporary.File(name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), TokenizerJson(vocab, Added, vocab == Vocab ? """["a b"]""" : "[]"));
        if (config is not null) File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config);
        if (template is not null) File.WriteAllText(Path.Combine(folder, "chat_template.jinja"), template);
        return folder;
    }

    // The end-of-sequence id: eos_token from tokenizer_config.json when it is a token, else <|endoftext|>, else </s>.
    [Theory]
    [InlineData(true, true, """{"eos_token": "<e>"}""", 3)]
    [InlineData(true, true, """{"eos_token": "<nope>"}""", 1)]
    [InlineData(true, true, """{"bos_token": "<e>"}""", 1)]
    [InlineData(true, true, null, 1)]
    [InlineData(false, true, null, 2)]
    [InlineData(false, true, """{"eos_token": "<nope>"}""", 2)]
    [InlineData(false, false, null, null)]
    [InlineData(false, false, """{"eos_token": "<nope>"}""", null)]
    [InlineData(false, false, """{"eos_token": {"content": "<e>"}}""", 3)]
    [InlineData(false, false, """{"eos_token": ""}""", 4)]   // a vocabulary may hold an empty token; named, it is the one
    public void EndOfTextId_FallsBackInOrder(bool endOfText, bool slashS, string? config, int? expected)
    {
        // "" (id 4) is an empty token: without an eos_token it must not be taken for the end of the sequence.
        string vocab = "{\"a\": 0" + (endOfText ? ", \"<|endoftext|>\": 1" : "") + (slashS ? ", \"</s>\": 2" : "") + ", \"<e>\": 3, \"\": 4}";
        Assert.Equal(expected, HuggingFaceTokenizer.FromDirectory(Folder(config, vocab: vocab)).EndOfTextId);
    }

    [Fact]
    public void Config_TokenNames_AreStringsOrContentObjects()
    {
        var strings = HuggingFaceTokenizer.FromDirectory(Folder("""{"bos_token": "<s>", "eos_token": "<t>"}""", name: "strings"));
        Assert.Equal(("<s>", "<t>", 7), (strings.BeginningOfSequenceToken, strings.EndOfSequenceToken, strings.EndOfTextId));
        var objects = HuggingFaceTokenizer.FromDirectory(Folder(
            """{"bos_token": {"content": "<s>", "lstrip": false, "__type": "AddedToken"}, "eos_token": {"content": "ab"}}""", name: "objects"));
        Assert.Equal(("<s>", "ab", 2), (objects.BeginningOfSequenceToken, objects.EndOfSequenceToken, objects.EndOfTextId));
        var nulls = HuggingFaceTokenizer.FromDirectory(Folder("""{"bos_token": null, "eos_token": null, "chat_template": null}""", name: "nulls"));
        Assert.Equal(new string?[] { null, null, null }, new[] { nulls.BeginningOfSequenceToken, nulls.EndOfSequenceToken, nulls.ChatTemplateSource });
        var none = HuggingFaceTokenizer.FromDirectory(Folder(name: "none"));
        Assert.Equal(new string?[] { null, null, null }, new[] { none.BeginningOfSequenceToken, none.EndOfSequenceToken, none.ChatTemplateSource });
        Assert.Null(none.EndOfTextId);
    }

    [Fact]
    public void Config_ChatTemplate_IsAStringOrTheDefaultOfANamedList()
    {
        Assert.Equal("T", HuggingFaceTokenizer.FromDirectory(Folder("""{"chat_template": "T"}""", name: "one")).ChatTemplateSource);
        // transformers saves several templates as [{"name", "template"}]; the one named "default" is the default.
        const string list = """{"chat_template": [{"name": "tool_use", "template": "U"}, {"name": "default", "template": "D"}, {"name": "rag", "template": "R"}]}""";
        Assert.Equal("D", HuggingFaceTokenizer.FromDirectory(Folder(list, name: "list")).ChatTemplateSource);
        // chat_template.jinja beside the config, or with no config at all.
        Assert.Equal("J", HuggingFaceTokenizer.FromDirectory(Folder("{}", "J", name: "file")).ChatTemplateSource);
        Assert.Equal("J", HuggingFaceTokenizer.FromDirectory(Folder(null, "J", name: "fileonly")).ChatTemplateSource);
        // With both, the file wins: transformers' from_pretrained lets chat_template.jinja override the config's entry.
        Assert.Equal("J", HuggingFaceTokenizer.FromDirectory(Folder("""{"chat_template": "T"}""", "J", name: "both")).ChatTemplateSource);
        Assert.Equal("J", HuggingFaceTokenizer.FromDirectory(Folder(list, "J", name: "bothlist")).ChatTemplateSource);
    }

    public static TheoryData<string, string, string> BadConfigs => new()
    {
        { """{"eos_token": 7}""", "eos_token", "expected a string, found the number 7" },
        { """{"bos_token": ["<s>"]}""", "bos_token", "expected a string, found a list of 1" },
        { """{"bos_token": {"lstrip": true}}""", "bos_token.content", "is missing" },
        { """{"eos_token": {"content": 5}}""", "eos_token.content", "expected a string, found the number 5" },
        { """{"chat_template": 5}""", "chat_template", "expected a list, found the number 5" },
        { """{"chat_template": [{"name": "tool_use", "template": "U"}]}""", "chat_template",
            "expected a string, or a list of {\"name\", \"template\"} with one named \"default\"" },
        { """{"chat_template": []}""", "chat_template", "expected a string, or a list of {\"name\", \"template\"} with one named \"default\"" },
        { """{"chat_template": [{"template": "U"}]}""", "chat_template[0].name", "is missing" },
        { """{"chat_template": [{"name": "x", "template": "U"}, {"name": "default"}]}""", "chat_template[1].template", "is missing" },
        { """{"chat_template": ["T"]}""", "chat_template[0]", "expected an object, found the string \"T\"" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Config_Errors_NameTheConfigFileAndField(string config, string field, string reason)
    {
        string folder = Folder(config);
        InputErrors.AssertRefusedExactly(() => HuggingFaceTokenizer.FromDirectory(folder), Path.Combine(folder, "tokenizer_config.json"), field, reason);
    }

    [Fact]
    public void Config_NotAnObject_NamesTheConfigFile()
    {
        string folder = Folder("[1]");
        var error = Assert.Throws<InvalidInputException>(() => HuggingFaceTokenizer.FromDirectory(folder));
        Assert.Equal(Path.Combine(folder, "tokenizer_config.json"), error.FilePath);
    }

    [Fact]
    public void Loaders_ReadTheFilesTheyAreGiven()
    {
        string folder = Folder("""{"eos_token": "<t>", "chat_template": "T"}""", "J");
        string tokenizerPath = Path.Combine(folder, "tokenizer.json"), configPath = Path.Combine(folder, "tokenizer_config.json");

        // FromFiles reads the config only when named, and never chat_template.jinja.
        var withConfig = HuggingFaceTokenizer.FromFiles(tokenizerPath, configPath);
        Assert.Equal(("<t>", "T", 7), (withConfig.EndOfSequenceToken, withConfig.ChatTemplateSource, withConfig.EndOfTextId));
        var alone = HuggingFaceTokenizer.FromFiles(tokenizerPath);
        Assert.Equal(new string?[] { null, null }, new[] { alone.EndOfSequenceToken, alone.ChatTemplateSource });
        Assert.Null(alone.EndOfTextId);
        Assert.Equal([2, 6, 1, 0], alone.Encode("ab<s>ba", allowSpecialTokens: true, addSpecialTokens: true));   // no post-processor in this file

        // FromBytes without a folder reads nothing else.
        var bytesOnly = HuggingFaceTokenizer.FromBytes(File.ReadAllBytes(tokenizerPath), tokenizerPath, null);
        Assert.Equal(new string?[] { null, null }, new[] { bytesOnly.EndOfSequenceToken, bytesOnly.ChatTemplateSource });

        InputErrors.AssertRefusedExactly(() => HuggingFaceTokenizer.FromFiles(tokenizerPath, temporary.File("absent.json")), temporary.File("absent.json"), null, "file not found");
        string empty = temporary.File("empty");
        Directory.CreateDirectory(empty);
        InputErrors.AssertRefusedExactly(() => HuggingFaceTokenizer.FromDirectory(empty), Path.Combine(empty, "tokenizer.json"), null, "file not found");
    }

    [Fact]
    public void Save_WritesOnlyTheFilesItWasReadFrom()
    {
        string bare = temporary.File("bare-copy");
        HuggingFaceTokenizer.FromDirectory(Folder(name: "bare")).Save(bare);
        Assert.Equal(["tokenizer.json"], Directory.GetFiles(bare).Select(Path.GetFileName));
        Assert.Equal(File.ReadAllBytes(Path.Combine(temporary.File("bare"), "tokenizer.json")), File.ReadAllBytes(Path.Combine(bare, "tokenizer.json")));

        string full = Folder("""{"eos_token": "<t>"}""", "J ✓", name: "full"), copy = temporary.File("full-copy");
        HuggingFaceTokenizer.FromDirectory(full).Save(copy);
        Assert.Equal(["chat_template.jinja", "tokenizer.json", "tokenizer_config.json"], Directory.GetFiles(copy).Select(Path.GetFileName).Order());
        foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json", "chat_template.jinja" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(full, name)), File.ReadAllBytes(Path.Combine(copy, name)));
        var reloaded = HuggingFaceTokenizer.FromDirectory(copy);
        Assert.Equal(("<t>", "J ✓", 7), (reloaded.EndOfSequenceToken, reloaded.ChatTemplateSource, reloaded.EndOfTextId));
    }
}
