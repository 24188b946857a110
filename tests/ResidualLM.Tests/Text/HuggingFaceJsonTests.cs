// HuggingFaceJson, the typed reader under every Hugging Face tokenizer.json component: each accessor's value, default
// and error, with the file and the dotted field path it names ("x.y", "x.list[1]"; at the root "y", or no field).
// Expectations are the reader's documented contract (its XML docs) and MessageText.Describe's wording, worked by hand.
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Xunit;

namespace ResidualLM.Tests.Text;

public class HuggingFaceJsonTests
{
    const string FileName = "tokenizer.json";

    static HuggingFaceJson Json(string json, string field = "x") =>
        new(JsonDocument.Parse(json).RootElement.Clone(), FileName, field);

    static void AssertError(InvalidInputException error, string? field, string reason) =>
        Assert.Equal((FileName, field, reason), (error.FilePath, error.Field, error.Reason));

    static void AssertRefused(Action action, string? field, string reason) =>
        AssertError(Assert.Throws<InvalidInputException>(action), field, reason);

    [Fact]
    public void Error_NamesTheField_OrNoneAtTheRoot()
    {
        AssertError(Json("{}").Error("bad"), "x", "bad");
        AssertError(Json("{}", field: "").Error("bad"), null, "bad");
        Assert.Equal("tokenizer.json: bad", Json("{}", field: "").Error("bad").Message);
    }

    [Fact]
    public void Optional_AbsentOrNull_IsNull_AndAPresentFieldGetsItsPath()
    {
        HuggingFaceJson json = Json("""{"a": 1, "n": null}""");
        Assert.Null(json.Optional("b"));
        Assert.Null(json.Optional("n"));
        Assert.Equal("x.a", json.Optional("a")!.Value.Field);
        Assert.Equal(FileName, json.Optional("a")!.Value.FilePath);
        Assert.Equal("a", Json("""{"a": 1}""", field: "").Optional("a")!.Value.Field);   // no leading dot at the root
    }

    [Theory]
    [InlineData("[1]", "expected an object, found a list of 1")]
    [InlineData("\"s\"", "expected an object, found the string \"s\"")]
    [InlineData("3", "expected an object, found the number 3")]
    [InlineData("true", "expected an object, found true")]
    public void Optional_OnANonObject_IsRefused(string json, string reason)
    {
        AssertRefused(() => Json(json).Optional("a"), "x", reason);
        AssertRefused(() => Json(json, field: "").Optional("a"), null, reason);
    }

    [Fact]
    public void Required_Missing_IsMissingWithTheDottedPath()
    {
        AssertRefused(() => Json("{}").Required("a"), "x.a", "is missing");
        AssertRefused(() => Json("""{"a": null}""").Required("a"), "x.a", "is missing");
        AssertRefused(() => Json("{}", field: "").Required("a"), "a", "is missing");
        Assert.Equal(JsonValueKind.Number, Json("""{"a": 1}""").Required("a").Element.ValueKind);
    }

    [Fact]
    public void RequiredObject_RefusesOtherValues()
    {
        Assert.True(Json("""{"a": {}}""").RequiredObject("a").IsObject);
        Assert.False(Json("""{"a": []}""").Optional("a")!.Value.IsObject);
        AssertRefused(() => Json("""{"a": "s"}""").RequiredObject("a"), "x.a", "expected an object, found the string \"s\"");
        AssertRefused(() => Json("""{"a": [1, 2]}""").RequiredObject("a"), "x.a", "expected an object, found a list of 2");
        AssertRefused(() => Json("{}").RequiredObject("a"), "x.a", "is missing");
    }

    [Fact]
    public void Strings_AreReadOrRefused()
    {
        HuggingFaceJson json = Json("""{"s": "v", "n": 5, "o": {}}""");
        Assert.Equal("v", json.String("s"));
        Assert.Equal("v", json.OptionalString("s"));
        Assert.Null(json.OptionalString("absent"));
        Assert.Equal("", Json("\"\"").AsString());
        AssertRefused(() => json.String("n"), "x.n", "expected a string, found the number 5");
        AssertRefused(() => json.OptionalString("o"), "x.o", "expected a string, found an object");
        AssertRefused(() => json.String("absent"), "x.absent", "is missing");
        AssertRefused(() => Json("false", field: "").AsString(), null, "expected a string, found false");
    }

    [Theory]
    [InlineData("""{"b": true}""", false, true)]
    [InlineData("""{"b": false}""", true, false)]
    [InlineData("""{}""", true, true)]
    [InlineData("""{}""", false, false)]
    [InlineData("""{"b": null}""", true, true)]
    [InlineData("""{"b": null}""", false, false)]
    public void Bool_ReadsTheValue_OrTheDefault(string json, bool defaultValue, bool expected) =>
        Assert.Equal(expected, Json(json).Bool("b", defaultValue));

    [Theory]
    [InlineData("""{"b": "yes"}""", "expected true or false, found the string \"yes\"")]
    [InlineData("""{"b": 1}""", "expected true or false, found the number 1")]
    [InlineData("""{"b": {}}""", "expected true or false, found an object")]
    public void Bool_NotABoolean_IsRefused(string json, string reason) =>
        AssertRefused(() => Json(json).Bool("b", true), "x.b", reason);

    [Fact]
    public void Ints_AreReadOrRefused()
    {
        Assert.Equal(-3, Json("-3").AsInt());
        Assert.Equal(int.MaxValue, Json("2147483647").AsInt());
        Assert.Equal(4, Json("""{"i": 4}""").Int("i", 9));
        Assert.Equal(9, Json("""{}""").Int("i", 9));
        Assert.Equal(9, Json("""{"i": null}""").Int("i", 9));
        AssertRefused(() => Json("2.5").AsInt(), "x", "expected an integer, found the number 2.5");
        AssertRefused(() => Json("2147483648").AsInt(), "x", "expected an integer, found the number 2147483648");
        AssertRefused(() => Json("\"3\"").AsInt(), "x", "expected an integer, found the string \"3\"");
        AssertRefused(() => Json("""{"i": []}""").Int("i", 9), "x.i", "expected an integer, found a list of 0");
    }

    [Fact]
    public void Items_AreNamedByIndex()
    {
        HuggingFaceJson[] items = [.. Json("""{"list": [10, "a", {}]}""").Items("list")];
        Assert.Equal(["x.list[0]", "x.list[1]", "x.list[2]"], items.Select(item => item.Field));
        Assert.Equal([10], items.Take(1).Select(item => item.AsInt()));
        Assert.Equal(["list[0]", "list[1]"], Json("""{"list": [1, 2]}""", field: "").Items("list").Select(item => item.Field));
        Assert.Equal(["x[0]"], Json("[7]").AsItems().Select(item => item.Field));
        Assert.Empty(Json("[]").AsItems());
    }

    [Fact]
    public void Items_NotAList_IsRefused()
    {
        AssertRefused(() => Json("""{"list": {}}""").Items("list").ToList(), "x.list", "expected a list, found an object");
        AssertRefused(() => Json("""{}""").Items("list").ToList(), "x.list", "is missing");
        AssertRefused(() => Json("\"s\"").AsItems().ToList(), "x", "expected a list, found the string \"s\"");
    }

    [Fact]
    public void Type_AndUnsupported_NameTheTypeField()
    {
        HuggingFaceJson decoder = Json("""{"type": "Foo"}""", field: "decoder");
        Assert.Equal("Foo", decoder.Type);
        AssertError(decoder.Unsupported("decoder", "A, B"), "decoder.type", "unsupported decoder \"Foo\"; supported: A, B");
        AssertError(Json("""{"type": "Foo"}""", field: "").Unsupported("model type", "BPE"), "type", "unsupported model type \"Foo\"; supported: BPE");
        // A control character in the type is escaped, so the message stays one line.
        Assert.Equal("unsupported model type \"F\\u000a\"; supported: BPE", Json("""{"type": "F\n"}""").Unsupported("model type", "BPE").Reason);
        AssertRefused(() => _ = Json("{}").Type, "x.type", "is missing");
    }

    [Theory]
    [InlineData("""{"p": {"String": " "}}""", " ", false)]
    [InlineData("""{"p": {"Regex": "\\s+"}}""", "\\s+", true)]
    [InlineData("""{"p": {"String": "a", "Regex": "b"}}""", "a", false)]
    [InlineData("""{"p": {"String": null, "Regex": "b"}}""", "b", true)]
    public void Pattern_IsALiteralOrARegex(string json, string text, bool isRegex) =>
        Assert.Equal((text, isRegex), Json(json).Pattern("p"));

    [Fact]
    public void Pattern_Malformed_IsRefused()
    {
        AssertRefused(() => Json("""{"p": {}}""").Pattern("p"), "x.p", "expected {\"String\": ...} or {\"Regex\": ...}");
        AssertRefused(() => Json("""{"p": {"Regex": 1}}""").Pattern("p"), "x.p.Regex", "expected a string, found the number 1");
        AssertRefused(() => Json("""{"p": "s"}""").Pattern("p"), "x.p", "expected an object, found the string \"s\"");
        AssertRefused(() => Json("""{}""").Pattern("p"), "x.p", "is missing");
    }
}
