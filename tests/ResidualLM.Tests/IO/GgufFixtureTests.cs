// The GGUF reader against files written by an independent Python writer (tools/reference/gguf_fixture.py): every
// metadata value, the tensor table and each tensor's bytes (by sha256) come from expected.json, not from our code.
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Runtime.InteropServices;
using ResidualLM.IO;
using Xunit;

namespace ResidualLM.Tests.IO;

public class GgufFixtureTests
{
    public static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "gguf", name);

    static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>expected.json: one object per fixture file.</summary>
    static JsonObject Expected() => JsonNode.Parse(File.ReadAllText(FixturePath("expected.json")))!.AsObject();

    static JsonObject ExpectedFile(string name) =>
        Expected()["files"]!.AsArray().Single(file => (string)file!["file"]! == name)!.AsObject();

    public static TheoryData<string> FixtureFiles() =>
        new(Expected()["files"]!.AsArray().Select(file => (string)file!["file"]!));

    /// <summary>The metadata a file should hold, in order, in expected.json's form (resolving metadata_same_as).</summary>
    static List<JsonNode> ExpectedMetadata(JsonObject file)
    {
        if (file["metadata"] is JsonArray own) return own.Select(entry => entry!).ToList();
        List<JsonNode> metadata = ExpectedMetadata(ExpectedFile((string)file["metadata_same_as"]!));
        foreach (JsonNode? change in file["metadata_changes"]!.AsArray())
        {
            int index = metadata.FindIndex(entry => (string)entry["key"]! == (string)change!["key"]!);
            metadata[index] = change!;
        }
        return metadata;
    }

    // Value-type names as the Python script writes them, indexed by the type's number in the file.
    static readonly string[] TypeNames = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"];

    /// <summary>A value in expected.json's form (floats as bit patterns), built without GgufValue.Equals or ToString.</summary>
    public static JsonObject Describe(GgufValue value)
    {
        if (!value.IsArray) return new JsonObject { ["type"] = TypeNames[(int)value.Type], ["value"] = Item(value.Value) };
        var items = new JsonArray();
        foreach (object item in (System.Collections.IEnumerable)value.Value) items.Add(item is GgufValue inner ? Describe(inner) : Item(item));
        return new JsonObject { ["type"] = "array", ["element_type"] = TypeNames[(int)value.ElementType], ["value"] = items };
    }

    static JsonNode Item(object item) => item switch
    {
        float single => JsonValue.Create(BitConverter.SingleToUInt32Bits(single)),
        double number => JsonValue.Create(BitConverter.DoubleToUInt64Bits(number)),
        byte number => JsonValue.Create(number),
        sbyte number => JsonValue.Create(number),
        ushort number => JsonValue.Create(number),
        short number => JsonValue.Create(number),
        uint number => JsonValue.Create(number),
        int number => JsonValue.Create(number),
        ulong number => JsonValue.Create(number),
        long number => JsonValue.Create(number),
        bool flag => JsonValue.Create(flag),
        string text => JsonValue.Create(text),
        _ => throw new InvalidOperationException($"unexpected metadata item {item.GetType()}"),
    };

    public static string Canonical(JsonNode node) => node.ToJsonString(Compact);

    static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Opens a fixture from its path, a stream or memory, so every byte source is covered.</summary>
    static GgufFile OpenFixture(string name, int way) => (way % 3) switch
    {
        0 => GgufFile.Open(FixturePath(name)),
        1 => GgufFile.Open(new MemoryStream(File.ReadAllBytes(FixturePath(name))), name),
        _ => GgufFile.Open(File.ReadAllBytes(FixturePath(name)), name),
    };

    [Theory]
    [MemberData(nameof(FixtureFiles))]
    public void Open_PythonFixture_MatchesHeaderMetadataAndTensors(string name)
    {
        JsonObject expected = ExpectedFile(name);
        int way = Expected()["files"]!.AsArray().Select(file => (string)file!["file"]!).ToList().IndexOf(name);
        using GgufFile file = OpenFixture(name, way);

        Assert.Equal((uint)expected["version"]!, file.Version);
        Assert.Equal((int)expected["alignment"]!, file.Alignment);
        Assert.Equal((long)expected["data_offset"]!, file.DataOffset);

        List<JsonNode> metadata = ExpectedMetadata(expected);
        Assert.Equal(metadata.Select(entry => (string)entry["key"]!), file.Metadata.Keys);
        foreach (JsonNode entry in metadata)
        {
            JsonObject expectedValue = entry.DeepClone().AsObject();
            expectedValue.Remove("key");
            Assert.Equal(Canonical(expectedValue), Canonical(Describe(file.Get((string)entry["key"]!))));
        }

        JsonArray tensors = expected["tensors"]!.AsArray();
        Assert.Equal(tensors.Select(tensor => (string)tensor!["name"]!), file.Tensors.Select(tensor => tensor.Name));
        foreach (JsonNode? node in tensors)
        {
            JsonObject tensor = node!.AsObject();
            GgufTensorInfo info = file.Tensor((string)tensor["name"]!);
            Assert.Equal((uint)tensor["type_id"]!, (uint)info.Type);
            Assert.Equal((string)tensor["type"]!, GgufTypes.Name(info.Type));
            Assert.Equal(tensor["shape"]!.AsArray().Select(size => (long)size!), info.Shape);
            Assert.Equal(info.Shape.Aggregate(1L, (product, size) => product * size), info.ElementCount);
            Assert.Equal((long)tensor["offset"]!, info.Offset);
            Assert.Equal((long)tensor["byte_length"]!, info.ByteLength);
            Assert.Equal((string)tensor["sha256"]!, Sha256(file.ReadBytes(info.Name)));
            if (info.Type is GgufType.F32 or GgufType.F16 or GgufType.BF16)
            {
                string widened = (string?)tensor["float32_sha256"] ?? (string)tensor["sha256"]!;
                Assert.Equal(widened, Sha256(MemoryMarshal.AsBytes(file.ReadFloat32(info.Name).AsSpan())));
            }
            else Assert.Throws<InvalidInputException>(() => file.ReadFloat32(info.Name));
        }
    }

    [Fact]
    public void TypedGetters_TinyGpt2_ReadTheHyperParametersAndTokenizer()
    {
        JsonObject hyper = Expected()["hyper_parameters"]!.AsObject();
        List<JsonNode> metadata = ExpectedMetadata(ExpectedFile("tiny-gpt2-q8_0.gguf"));
        JsonArray ExpectedArray(string key) => metadata.Single(entry => (string)entry["key"]! == key)["value"]!.AsArray();
        using GgufFile file = GgufFile.Open(FixturePath("tiny-gpt2-q8_0.gguf"));

        Assert.Equal("gpt2", file.GetString("general.architecture"));
        Assert.Equal(7u, file.GetUInt32("general.file_type"));   // llama_ftype MOSTLY_Q8_0
        Assert.Equal((uint)hyper["layers"]!, file.GetUInt32("gpt2.block_count"));
        Assert.Equal((int)hyper["width"]!, file.GetInt32("gpt2.embedding_length"));
        Assert.Equal((ulong)hyper["context"]!, file.GetUInt64("gpt2.context_length"));
        Assert.Equal((long)hyper["ff"]!, file.GetInt64("gpt2.feed_forward_length"));
        Assert.Equal((uint)hyper["heads"]!, file.GetUInt32("gpt2.attention.head_count"));
        Assert.Equal((float)(double)hyper["eps"]!, file.GetFloat32("gpt2.attention.layer_norm_epsilon"));
        Assert.Equal(ExpectedArray("tokenizer.ggml.tokens").Select(token => (string)token!), file.GetStringArray("tokenizer.ggml.tokens"));
        Assert.Equal((int)hyper["vocab"]!, file.GetStringArray("tokenizer.ggml.tokens").Length);
        Assert.Equal(ExpectedArray("tokenizer.ggml.merges").Select(merge => (string)merge!), file.GetStringArray("tokenizer.ggml.merges"));
        Assert.Equal(ExpectedArray("tokenizer.ggml.token_type").Select(type => (int)type!), file.GetInt32Array("tokenizer.ggml.token_type"));
        Assert.Equal((uint)hyper["vocab"]! - 1, file.GetUInt32("tokenizer.ggml.eos_token_id"));
        Assert.True(file.HasKey("tokenizer.ggml.bos_token_id"));
        Assert.False(file.HasKey("tokenizer.ggml.scores"));
        Assert.True(file.HasTensor("token_embd.weight"));
        Assert.False(file.HasTensor("output.weight"));
        Assert.Equal(GgufType.Q8_0, file.Tensor("blk.1.ffn_down.weight").Type);
        Assert.Equal(GgufType.F32, file.Tensor("blk.1.ffn_down.bias").Type);
    }

    [Fact]
    public void TypedGetters_AllTypes_ConvertWhereTheValueFits()
    {
        using GgufFile file = GgufFile.Open(FixturePath("all-types.gguf"));
        Assert.Equal(255u, file.GetUInt32("test.u8"));
        Assert.Equal(-128, file.GetInt32("test.i8"));
        Assert.Equal(65535u, file.GetUInt32("test.u16"));
        Assert.Equal(uint.MaxValue, file.GetUInt32("test.u32"));
        Assert.Equal(int.MinValue, file.GetInt32("test.i32"));
        Assert.Equal(ulong.MaxValue, file.GetUInt64("test.u64"));
        Assert.Equal(long.MinValue, file.GetInt64("test.i64"));
        Assert.Equal(0.1f, file.GetFloat32("test.f32"));
        Assert.Equal((float)-1e-300, file.GetFloat32("test.f64"));
        Assert.True(file.GetBool("test.bool_true"));
        Assert.False(file.GetBool("test.bool_false"));
        Assert.Equal("", file.GetString("test.empty_string"));
        Assert.Equal([0, 1, 254, 255], file.GetInt32Array("test.array.u8"));
        var tooLarge = Assert.Throws<InvalidInputException>(() => file.GetInt32Array("test.array.u32"));
        Assert.Equal("test.array.u32", tooLarge.Field);
        Assert.Contains("element 2 is 4294967295", tooLarge.Message);
        Assert.Equal([0.5f, -2f, float.PositiveInfinity], file.GetFloat32Array("test.array.f64"));
        Assert.Equal(["a", "", "Ġthe", "\0x", "€"], file.GetStringArray("test.array.string"));
        Assert.Empty(file.GetInt32Array("test.array.empty"));
    }
}
