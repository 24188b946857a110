// JsonInput: strict parsing and typed getters; every failure is InvalidInputException naming file and field.
using ResidualLM.IO;
using Xunit;

namespace ResidualLM.Tests.IO;

public class JsonInputTests
{
    const string FileName = "config.json";

    const string Gpt2Config = """
        {
          "activation_function": "gelu_new",
          "n_embd": 768,
          "n_layer": 12,
          "n_head": 12,
          "n_positions": 1024,
          "vocab_size": 50257,
          "layer_norm_epsilon": 1e-05,
          "n_inner": null,
          "scale_attn_weights": true,
          "architectures": ["GPT2LMHeadModel"],
          "task_specific_params": { "text-generation": { "do_sample": true, "max_length": 50 } },
          "shape": [2, 3, 4]
        }
        """;

    static JsonInputObject Config => JsonInput.ParseText(Gpt2Config, FileName);

    static void AssertRejected(Action action, string? field, string fragment)
    {
        var exception = Assert.Throws<InvalidInputException>(action);
        Assert.Equal(FileName, exception.FilePath);
        Assert.Equal(field, exception.Field);
        Assert.Contains(fragment, exception.Message);
        Assert.StartsWith(field is null ? $"{FileName}: " : $"{FileName}: {field}: ", exception.Message);
    }

    [Fact]
    public void Getters_ValidGpt2Config_ReadTypedValues()
    {
        JsonInputObject config = Config;
        Assert.Equal(768, JsonInput.GetInt(config, "n_embd", min: 1));
        Assert.Equal(1e-5, JsonInput.GetDouble(config, "layer_norm_epsilon", min: 0));
        Assert.Equal(0.1, JsonInput.GetOptionalDouble(config, "resid_pdrop", 0.1));
        Assert.Equal(3072, JsonInput.GetOptionalInt(config, "n_inner", 3072)); // null means default
        Assert.Equal("gelu_new", JsonInput.GetString(config, "activation_function", ["gelu_new", "gelu", "relu"]));
        Assert.True(JsonInput.GetBool(config, "scale_attn_weights"));
        Assert.False(JsonInput.GetOptionalBool(config, "missing", false));
        Assert.Equal([2, 3, 4], JsonInput.GetIntArray(config, "shape", min: 1, length: 3));
        Assert.Equal(50, JsonInput.GetInt(JsonInput.GetObject(JsonInput.GetObject(config, "task_specific_params"), "text-generation"), "max_length"));
        Assert.Equal(5_000_000_000L, JsonInput.GetLong(JsonInput.ParseText("{\"steps\": 5000000000}", FileName), "steps"));
        Assert.Null(JsonInput.GetOptionalString(config, "missing", null));
        Assert.True(config.Has("n_embd"));
        Assert.False(config.Has("n_inner"));
    }

    [Fact]
    public void GetInt_MissingField_NamesField() =>
        AssertRejected(() => JsonInput.GetInt(Config, "n_ctx"), "n_ctx", "missing");

    [Theory]
    [InlineData("\"768\"", "must be an integer")]
    [InlineData("768.0", "not an integer")]
    [InlineData("7.5", "not an integer")]
    [InlineData("1e3", "out of range")]
    [InlineData("true", "must be an integer")]
    [InlineData("null", "must be an integer")]
    [InlineData("[768]", "must be an integer")]
    [InlineData("0", "out of range")]
    [InlineData("-5", "out of range")]
    [InlineData("99999999999", "out of range")]
    [InlineData("123456789012345678901234567890", "out of range")]
    [InlineData("1e999", "out of range")]
    public void GetInt_WrongTypeOrOutOfRange_NamesField(string value, string fragment) =>
        AssertRejected(() => JsonInput.GetInt(JsonInput.ParseText($"{{\"n_embd\": {value}}}", FileName), "n_embd", min: 1, max: 65536), "n_embd", fragment);

    [Theory]
    [InlineData("\"1e-5\"", "must be a number")]
    [InlineData("-1", "out of range")]
    [InlineData("1e999", "out of range")]
    public void GetDouble_WrongTypeOrOutOfRange_NamesField(string value, string fragment) =>
        AssertRejected(() => JsonInput.GetDouble(JsonInput.ParseText($"{{\"eps\": {value}}}", FileName), "eps", min: 0), "eps", fragment);

    [Fact]
    public void GetString_NotAllowedOrWrongType_NamesField()
    {
        AssertRejected(() => JsonInput.GetString(Config, "activation_function", ["relu"]), "activation_function", "expected one of: relu");
        AssertRejected(() => JsonInput.GetString(Config, "n_embd"), "n_embd", "must be a string");
    }

    [Fact]
    public void GetBool_Number_NamesField() =>
        AssertRejected(() => JsonInput.GetBool(Config, "n_layer"), "n_layer", "must be true or false");

    [Fact]
    public void GetIntArray_BadItemOrLength_NamesItem()
    {
        AssertRejected(() => JsonInput.GetIntArray(JsonInput.ParseText("{\"shape\": [1, \"2\"]}", FileName), "shape"), "shape[1]", "must be an integer");
        AssertRejected(() => JsonInput.GetIntArray(Config, "shape", length: 2), "shape", "must have 2 items");
        AssertRejected(() => JsonInput.GetIntArray(Config, "n_embd"), "n_embd", "must be a list");
    }

    [Fact]
    public void NestedObject_Errors_UseDottedPath() =>
        AssertRejected(() => JsonInput.GetInt(JsonInput.GetObject(JsonInput.GetObject(Config, "task_specific_params"), "text-generation"), "do_sample"),
            "task_specific_params.text-generation.do_sample", "must be an integer");

    [Fact]
    public void RejectUnknown_UnknownField_NamesField()
    {
        var config = JsonInput.ParseText("{\"n_embd\": 8, \"n_layers\": 2}", FileName);
        AssertRejected(() => JsonInput.RejectUnknown(config, "n_embd", "n_layer"), "n_layers", "not a known field");
        JsonInput.RejectUnknown(JsonInput.ParseText("{\"n_embd\": 8}", FileName), "n_embd", "n_layer");
    }

    [Theory]
    [InlineData("{\"a\": 1,}", "line 1")]
    [InlineData("{\n  \"a\": 1\n  \"b\": 2\n}", "line 3")]
    [InlineData("{\"a\": 1} // comment", "invalid JSON")]
    [InlineData("", "invalid JSON")]
    [InlineData("{\"a\": tru}", "invalid JSON")]
    public void Parse_InvalidJson_GivesPosition(string text, string fragment) =>
        AssertRejected(() => JsonInput.ParseText(text, FileName), null, fragment);

    [Fact]
    public void Parse_NotAnObject_Rejected() =>
        AssertRejected(() => JsonInput.ParseText("[1, 2]", FileName), null, "must hold a JSON object");

    [Fact]
    public void Parse_DuplicateKey_NamesNestedField() =>
        AssertRejected(() => JsonInput.ParseText("{\"model\": {\"n_embd\": 8, \"n_embd\": 16}}", FileName), "model.n_embd", "appears twice");

    [Fact]
    public void Parse_LoneSurrogateEscape_Rejected() =>
        AssertRejected(() => JsonInput.ParseText("{\"name\": \"\\udc00\"}", FileName), "name", "not valid Unicode");

    [Fact]
    public void Parse_InvalidUtf8_Rejected() =>
        AssertRejected(() => JsonInput.ParseBytes(new byte[] { (byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}' }, FileName), null, "UTF-8");

    [Fact]
    public void Parse_ByteOrderMark_Accepted() =>
        Assert.Equal(1, JsonInput.GetInt(JsonInput.ParseBytes((byte[])[0xEF, 0xBB, 0xBF, .. "{\"a\":1}"u8.ToArray()], FileName), "a"));

    [Fact]
    public void Parse_FileMissingOrTooLarge_Rejected()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rlm-json-{Guid.NewGuid():N}.json");
        var missing = Assert.Throws<InvalidInputException>(() => JsonInput.Parse(path));
        Assert.Equal(path, missing.FilePath);
        Assert.Contains("file not found", missing.Message);
        try
        {
            File.WriteAllText(path, "{\"a\": \"" + new string('x', 200) + "\"}");
            var large = Assert.Throws<InvalidInputException>(() => JsonInput.Parse(path, maxBytes: 100));
            Assert.Contains("more than the limit of 100", large.Message);
            Assert.Equal(200, JsonInput.GetString(JsonInput.Parse(path), "a").Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
