// Loading and saving Hugging Face tokenizer.json folders through TokenizerIO and the CLI, one-line errors for files
// this reader cannot use, and the code-point regex against the hand-written GPT-2 pre-tokenizer.
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using ResidualLM.Cli.Commands;
using ResidualLM.Text;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFaceTokenizerFileTests
{
    static string StyleDirectory(string style) => Path.Combine(HuggingFaceTokenizerTests.FixtureDirectory, style);

    [Theory]
    [MemberData(nameof(HuggingFaceTokenizerTests.StyleNames), MemberType = typeof(HuggingFaceTokenizerTests))]
    public void Load_HuggingFaceFolder_GivesHuggingFaceTokenizer(string style)
    {
        ITokenizer tokenizer = TokenizerIO.Load(StyleDirectory(style));
        Assert.IsType<HuggingFaceTokenizer>(tokenizer);
        // Encode(text) keeps special-token text as text, so only cases without added tokens ("<...>") compare.
        foreach (var c in HuggingFaceTokenizerTests.Cases(style).Where(c => !c.Text.Contains('<')
            && ResidualLM.Text.HuggingFace.Normalizer.IsInert(c.Text, System.Text.NormalizationForm.FormC)))
            Assert.Equal(c.Ids, tokenizer.Encode(c.Text));
    }

    [Fact]
    public void Save_WritesTheFilesBack_AndTheyLoadTheSame()
    {
        using var directory = new TemporaryDirectory();
        ITokenizer original = TokenizerIO.Load(StyleDirectory("qwen2"));
        original.Save(directory.Path);
        Assert.Equal(File.ReadAllBytes(Path.Combine(StyleDirectory("qwen2"), "tokenizer.json")), File.ReadAllBytes(directory.File("tokenizer.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(StyleDirectory("qwen2"), "tokenizer_config.json")), File.ReadAllBytes(directory.File("tokenizer_config.json")));
        Assert.Equal(2, Directory.GetFiles(directory.Path).Length);   // no temporary file left behind

        var reloaded = (HuggingFaceTokenizer)TokenizerIO.Load(directory.Path);
        const string text = "<|im_start|>user\nIt's 2024, naïve café 😀<|im_end|>";
        Assert.Equal(((HuggingFaceTokenizer)original).Encode(text, allowSpecialTokens: true), reloaded.Encode(text, allowSpecialTokens: true));
        Assert.Equal(original.EndOfTextId, reloaded.EndOfTextId);
    }

    [Fact]
    public void Load_ModelWithoutType_IsReadAsBpe()
    {
        // Early tokenizers files did not tag the model; tokenizers infers BPE from its fields.
        using var directory = new TemporaryDirectory();
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(StyleDirectory("gpt2"), "tokenizer.json")))!.AsObject();
        json["model"]!.AsObject().Remove("type");
        File.WriteAllText(directory.File("tokenizer.json"), json.ToJsonString());
        ITokenizer untagged = TokenizerIO.Load(directory.Path);
        foreach (var c in HuggingFaceTokenizerTests.Cases("gpt2").Where(c => !c.Text.Contains('<')))
            Assert.Equal(c.Ids, untagged.Encode(c.Text));
    }

    [Fact]
    public void Load_ChatTemplateFile_IsUsedWhenTheConfigHasNone()
    {
        using var directory = new TemporaryDirectory();
        File.Copy(Path.Combine(StyleDirectory("qwen2"), "tokenizer.json"), directory.File("tokenizer.json"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(StyleDirectory("qwen2"), "tokenizer_config.json")))!.AsObject();
        string template = config["chat_template"]!.GetValue<string>();
        config.Remove("chat_template");
        File.WriteAllText(directory.File("tokenizer_config.json"), config.ToJsonString());
        Assert.Null(((HuggingFaceTokenizer)TokenizerIO.Load(directory.Path)).ChatTemplateSource);

        File.WriteAllText(directory.File("chat_template.jinja"), template);
        var tokenizer = (HuggingFaceTokenizer)TokenizerIO.Load(directory.Path);
        Assert.Equal(template, tokenizer.ChatTemplateSource);
        Assert.Equal("You are a helpful assistant.", ChatTemplate.FromTokenizer(tokenizer).DefaultSystemPrompt);

        using var copy = new TemporaryDirectory();
        tokenizer.Save(copy.Path);
        Assert.Equal(template, File.ReadAllText(copy.File("chat_template.jinja")));
    }

    [Fact]
    public void Load_OurOwnTokenizerJson_StillLoadsByKind()
    {
        using var directory = new TemporaryDirectory();
        new ByteTokenizer().Save(directory.Path);
        Assert.IsType<ByteTokenizer>(TokenizerIO.Load(directory.Path));
    }

    [Fact]
    public void Tokenize_Command_ReadsAHuggingFaceFolder()
    {
        var root = new RootCommand();
        root.Subcommands.Add(TokenizeCommand.Create());
        var output = new StringWriter();
        int code = root.Parse(["tokenize", "--vocab", StyleDirectory("llama3"), "--text", "Hello world 12345", "--json"])
            .Invoke(new InvocationConfiguration { Output = output, Error = new StringWriter() });
        Assert.Equal(0, code);
        int[] ids = [.. JsonDocument.Parse(output.ToString()).RootElement.GetProperty("ids").EnumerateArray().Select(id => id.GetInt32())];
        Assert.Equal(HuggingFaceTokenizerTests.Cases("llama3").Single(c => c.Text == "Hello world").Ids, ids[..^3]);
        Assert.Equal("Hello world 12345", HuggingFaceTokenizerTests.Load("llama3").Decode(ids));
    }

    /// <summary>Writes the gpt2 fixture with <paramref name="edit"/> applied and returns the load error.</summary>
    static InvalidInputException LoadError(Action<JsonObject> edit, string style = "gpt2")
    {
        using var directory = new TemporaryDirectory();
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(StyleDirectory(style), "tokenizer.json")))!.AsObject();
        edit(json);
        File.WriteAllText(directory.File("tokenizer.json"), json.ToJsonString());
        var error = Assert.Throws<InvalidInputException>(() => TokenizerIO.Load(directory.Path));
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(directory.File("tokenizer.json"), error.FilePath);
        return error;
    }

    [Theory]
    [InlineData("WordPiece")]
    [InlineData("Unigram")]
    [InlineData("WordLevel")]
    public void Load_OtherModelTypes_NameTheField(string type)
    {
        var error = LoadError(json => json["model"]!["type"] = type);
        Assert.Equal("model.type", error.Field);
        Assert.Contains($"unsupported model type \"{type}\"", error.Message);
    }

    [Fact]
    public void Load_UnsupportedComponents_NameTheField()
    {
        Assert.Equal("pre_tokenizer.pretokenizers[1].type", LoadError(json => json["pre_tokenizer"]!["pretokenizers"]![1]!["type"] = "Whitespace", "llama3").Field);
        Assert.Equal("normalizer.type", LoadError(json => json["normalizer"] = new JsonObject { ["type"] = "Lowercase" }).Field);
        Assert.Equal("decoder.type", LoadError(json => json["decoder"] = new JsonObject { ["type"] = "WordPiece" }).Field);
        Assert.Equal("post_processor.type", LoadError(json => json["post_processor"] = new JsonObject { ["type"] = "RobertaProcessing" }).Field);
        var error = LoadError(json => json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = @"\p{L}++|\s", "llama3");
        Assert.Equal("pre_tokenizer.pretokenizers[0].pattern", error.Field);
        Assert.Contains("not supported by .NET", error.Message);
    }

    [Fact]
    public void Load_MalformedFiles_NameFileAndField()
    {
        Assert.Equal("model.merges[3]", LoadError(json => json["model"]!["merges"]![3] = "nospace").Field);
        Assert.Contains("not in the vocabulary", LoadError(json => json["model"]!["merges"]![0] = "Ġ zz").Message);
        Assert.Equal("model.vocab", LoadError(json => json["model"]!.AsObject().Remove("vocab")).Field);
        Assert.Equal("added_tokens[0].content", LoadError(json => json["added_tokens"]![0]!["content"] = 5).Field);
        Assert.Equal("model.dropout", LoadError(json => json["model"]!["dropout"] = 0.1).Field);
        Assert.Equal("model.unk_token", LoadError(json => json["model"]!["unk_token"] = "<nope>").Field);
        Assert.Equal("pre_tokenizer.behavior", LoadError(json => json["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Split", ["pattern"] = new JsonObject { ["String"] = " " }, ["behavior"] = "Sideways",
        }).Field);

        using var directory = new TemporaryDirectory();
        File.WriteAllText(directory.File("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", ");
        var truncated = Assert.Throws<InvalidInputException>(() => TokenizerIO.Load(directory.Path));
        Assert.Contains("invalid JSON", truncated.Message);
        Assert.Contains(directory.File("tokenizer.json"), truncated.Message);
    }

    [Fact]
    public void Load_MalformedConfig_NamesTheConfigFile()
    {
        using var directory = new TemporaryDirectory();
        File.Copy(Path.Combine(StyleDirectory("gpt2"), "tokenizer.json"), directory.File("tokenizer.json"));
        File.WriteAllText(directory.File("tokenizer_config.json"), "{\"eos_token\": 7}");
        var error = Assert.Throws<InvalidInputException>(() => TokenizerIO.Load(directory.Path));
        Assert.Equal(directory.File("tokenizer_config.json"), error.FilePath);
        Assert.Equal("eos_token", error.Field);
    }

    [Fact]
    public void CodePointRegex_Gpt2Pattern_CutsLikeGpt2PreTokenizer()
    {
        // The .NET regex with supplementary-plane stand-ins against the hand-written matcher of the same pattern.
        var regex = new CodePointRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");
        foreach (string text in TextTestData.RandomStrings(3000, seed: 21))
            Assert.Equal(Gpt2PreTokenizer.Split(text), regex.Matches(text));
    }
}
