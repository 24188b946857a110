// One case per way a GGUF file can be malformed: each must end in a one-line InvalidInputException naming the file
// and the field (header field, metadata key or tensor name). Plus the typed getters' errors.
using ResidualLM.IO;
using Xunit;

namespace ResidualLM.Tests.IO;

public class GgufMalformedTests
{
    const string FileName = "bad.gguf";
    const uint F32 = 0, Q8_0 = 8, I8 = 24, F64 = 28;

    static void AssertRejected(byte[] bytes, string field, string fragment)
    {
        var exception = Assert.Throws<InvalidInputException>(() =>
        {
            using GgufFile file = GgufFile.Open(bytes, FileName);
        });
        Assert.Equal(FileName, exception.FilePath);
        Assert.Equal(field, exception.Field);
        Assert.StartsWith($"{FileName}: {field}: ", exception.Message);
        Assert.Contains(fragment, exception.Message);
        Assert.DoesNotContain('\n', exception.Message);
    }

    /// <summary>A file with one metadata pair and the given tensor infos, then the data section (zeros).</summary>
    static byte[] WithTensors(int dataBytes, params (string Name, ulong[] Shape, uint Type, ulong Offset)[] tensors)
    {
        var builder = new GgufBuilder().Header((ulong)tensors.Length, 1).Key("general.architecture", 8).Str("test");
        foreach (var (name, shape, type, offset) in tensors) builder.TensorInfo(name, shape, type, offset);
        return builder.Pad().Zeros(dataBytes).ToArray();
    }

    /// <summary>A file whose only metadata pair is <paramref name="key"/> of <paramref name="type"/>, followed by <paramref name="value"/>.</summary>
    static byte[] WithValue(string key, uint type, Action<GgufBuilder> value)
    {
        var builder = new GgufBuilder().Header(0, 1).Key(key, type);
        value(builder);
        return builder.ToArray();
    }

    static byte[] Valid() => WithTensors(16, ("w", [4], F32, 0));

    static byte[] Patch(byte[] bytes, int at, params byte[] replacement)
    {
        byte[] copy = (byte[])bytes.Clone();
        replacement.CopyTo(copy, at);
        return copy;
    }

    [Fact]
    public void Open_TheBaseCase_IsValid()
    {
        // Every case below breaks one thing in files like this one, which must load.
        using GgufFile file = GgufFile.Open(Valid(), FileName);
        Assert.Equal(16, file.Tensor("w").ByteLength);
    }

    [Fact]
    public void Open_TensorsThatTouch_Accepted()
    {
        // One tensor may end exactly where the next begins, and the last exactly at the end of the file.
        using GgufFile file = GgufFile.Open(WithTensors(48, ("a", [32], I8, 0), ("b", [4], F32, 32)), FileName);
        Assert.Equal(file.DataOffset + 48, file.DataOffset + file.Tensor("b").Offset + file.Tensor("b").ByteLength);
    }

    /// <summary>(case, file bytes, field named, message fragment).</summary>
    public static TheoryData<string, byte[], string, string> MalformedFiles => new()
    {
        { "empty file", [], "header", "0 bytes long" },
        { "shorter than the header", new GgufBuilder().Header(0, 0).ToArray()[..20], "header", "20 bytes long" },
        { "bad magic", Patch(Valid(), 0, "GGML"u8.ToArray()), "magic", "'GGML'" },
        { "bad magic in a short file", "PK\u0003\u0004"u8.ToArray(), "magic", "not a GGUF file" },
        { "version 1", new GgufBuilder().Header(0, 0, version: 1).ToArray(), "version", "GGUF v1" },
        { "version 0", new GgufBuilder().Header(0, 0, version: 0).ToArray(), "version", "0 is not supported" },
        { "version 4", new GgufBuilder().Header(0, 0, version: 4).ToArray(), "version", "4 is not supported (supported: 2 and 3)" },
        { "big-endian v3", Patch(new GgufBuilder().Header(0, 0).ToArray(), 4, 0, 0, 0, 3), "version", "big-endian" },
        { "kv_count beyond the file", new GgufBuilder().Header(0, ulong.MaxValue).Zeros(64).ToArray(), "kv_count", "cannot fit" },
        { "kv_count one too many", new GgufBuilder().Header(0, 2).KeyU32("a", 1).ToArray(), "kv_count", "2 key-value pairs cannot fit" },
        { "tensor_count beyond the file", new GgufBuilder().Header(1UL << 40, 0).Zeros(64).ToArray(), "tensor_count", "cannot fit" },
        { "key length past the end", new GgufBuilder().Header(0, 1).U64(1UL << 62).Zeros(8).ToArray(), "metadata[0]", "key's length 4611686018427387904 reaches past the end" },
        { "key one byte short", new GgufBuilder().Header(0, 1).StrBytes("abc"u8.ToArray(), 7).Zeros(3).ToArray(), "metadata[0]", "key's length 7 reaches past the end of the file (6 bytes left)" },
        { "key not UTF-8", new GgufBuilder().Header(0, 1).StrBytes([0x61, 0xC3, 0x28]).U32(4).U32(1).ToArray(), "metadata[0]", "key is not valid UTF-8" },
        { "key a lone surrogate in UTF-8", new GgufBuilder().Header(0, 1).StrBytes([0xED, 0xA0, 0x80]).U32(4).U32(1).ToArray(), "metadata[0]", "not valid UTF-8" },
        { "empty key", new GgufBuilder().Header(0, 1).Str("").U32(4).U32(1).ToArray(), "metadata[0]", "key is empty" },
        { "duplicate key", new GgufBuilder().Header(0, 2).KeyU32("a.b", 1).KeyU32("a.b", 2).ToArray(), "a.b", "appears twice in the metadata" },
        { "unknown value type", WithValue("k", 13, b => b.U32(0)), "k", "unknown value type 13" },
        { "value type with high bits", WithValue("k", 0x8000_0004, b => b.U32(0)), "k", "unknown value type 2147483652" },
        { "value truncated", WithValue("k", 10, b => b.U32(0)), "k", "the file ends at byte 41, inside this field (needed 8 bytes at 37)" },
        { "string value past the end", WithValue("k", 8, b => b.U64(100).Zeros(4)), "k", "value's length 100 reaches past the end" },
        { "string value not UTF-8", WithValue("k", 8, b => b.StrBytes([0xFF, 0xFE])), "k", "value is not valid UTF-8" },
        { "bool neither 0 nor 1", WithValue("k", 7, b => b.U8(2)), "k", "bool byte 2" },
        { "bool array element 255", WithValue("k", 9, b => b.U32(7).U64(2).U8(1).U8(255)), "k", "bool byte 255" },
        { "array of unknown type", WithValue("k", 9, b => b.U32(99).U64(0)), "k", "array of unknown value type 99" },
        { "array count beyond the file", WithValue("k", 9, b => b.U32(12).U64(1UL << 61).Zeros(16)), "k", "array of 2305843009213693952 f64 values cannot fit in the 16 bytes left" },
        { "string array count beyond the file", WithValue("k", 9, b => b.U32(8).U64(3).U64(0).U64(0)), "k", "array of 3 string values cannot fit" },
        { "string array element not UTF-8", WithValue("k", 9, b => b.U32(8).U64(2).Str("ok").StrBytes([0x80])), "k", "element 1 is not valid UTF-8" },
        { "arrays nested too deep", WithValue("k", 9, b => { for (int level = 0; level < 5; level++) b.U32(9).U64(1); b.U32(4).U64(0); }), "k", "nest more than 4 deep" },
        { "nested array count beyond the file", WithValue("k", 9, b => b.U32(9).U64(1000)), "k", "array of 1000 array values cannot fit" },
        { "alignment not a power of two", new GgufBuilder().Header(0, 1).KeyU32("general.alignment", 48).ToArray(), "general.alignment", "48 is not a power of two" },
        { "alignment zero", new GgufBuilder().Header(0, 1).KeyU32("general.alignment", 0).ToArray(), "general.alignment", "0 is not a power of two" },
        { "alignment too large", new GgufBuilder().Header(0, 1).KeyU32("general.alignment", 1u << 31).ToArray(), "general.alignment", "larger than the limit" },
        { "alignment a u64", new GgufBuilder().Header(0, 1).Key("general.alignment", 10).U64(32).ToArray(), "general.alignment", "must be a u32, found u64" },
        { "tensor name empty", WithTensors(16, ("", [4], F32, 0)), "tensor_infos[0]", "tensor name is empty" },
        { "tensor name not UTF-8", new GgufBuilder().Header(1, 0).StrBytes([0x77, 0xC0, 0xAF]).U32(1).U64(4).U32(0).U64(0).Pad().Zeros(16).ToArray(), "tensor_infos[0]", "name is not valid UTF-8" },
        { "tensor name of 65 bytes", WithTensors(16, (new string('n', 65), [4], F32, 0)), "tensor_infos[0]", "65 bytes long; the limit is 64" },
        { "duplicate tensor", WithTensors(64, ("w", [4], F32, 0), ("w", [4], F32, 32)), "w", "appears twice in the tensor infos" },
        { "no dimensions", WithTensors(16, ("w", [], F32, 0)), "w", "has 0 dimensions; GGUF allows 1 to 4" },
        { "five dimensions", WithTensors(16, ("w", [1, 1, 1, 1, 4], F32, 0)), "w", "has 5 dimensions" },
        { "zero dimension", WithTensors(16, ("w", [4, 0], F32, 0)), "w", "ne[1] is 0" },
        { "negative dimension", WithTensors(16, ("w", [4, ulong.MaxValue], F32, 0)), "w", "ne[1] = 18446744073709551615" },
        { "element count overflow", WithTensors(16, ("w", [1UL << 32, 1UL << 32], F32, 0)), "w", "element count overflow" },
        { "byte size overflow", WithTensors(16, ("w", [1UL << 61, 2], F64, 0)), "w", "size in bytes overflows" },
        { "unknown ggml type (removed)", WithTensors(16, ("w", [4], 4, 0)), "w", "unknown ggml type 4" },
        { "unknown ggml type (past the end)", WithTensors(16, ("w", [4], 43, 0)), "w", "unknown ggml type 43" },
        { "row not whole blocks", WithTensors(68, ("w", [33, 2], Q8_0, 0)), "w", "ne[0] = 33 is not a multiple of the q8_0 block size 32" },
        { "misaligned offset", WithTensors(64, ("a", [4], F32, 0), ("b", [4], F32, 16)), "b", "offset 16 is not a multiple of the alignment 32" },
        { "offset beyond any file", WithTensors(16, ("w", [4], F32, 1UL << 63)), "w", "offset 9223372036854775808 is beyond any file" },
        { "data past the end", WithTensors(15, ("w", [4], F32, 0)), "w", "bytes 0..16 of the data section reach past its end (15 bytes)" },
        { "offset past the end", WithTensors(64, ("w", [4], F32, 64)), "w", "bytes 64..80" },
        { "overlapping tensors", WithTensors(64, ("a", [16], F32, 0), ("b", [4], F32, 32)), "b", "overlap tensor \"a\" (bytes 0..64)" },
        { "overlap by one byte", WithTensors(64, ("a", [33], I8, 0), ("b", [4], F32, 32)), "b", "overlap tensor \"a\" (bytes 0..33)" },
        { "overlap listed backwards", WithTensors(96, ("late", [16], F32, 32), ("early", [16], F32, 0)), "late", "overlap tensor \"early\"" },
        { "data section past the end", new GgufBuilder().Header(1, 0).TensorInfo("w", [4], F32, 0).ToArray(), "data", "past the end of the file" },
        { "truncated in a tensor info", new GgufBuilder().Header(1, 0).Str("w").U32(4).U64(4).U64(1).U64(1).Zeros(6).ToArray(), "w", "the file ends at byte 67, inside this field (needed 8 bytes at 61)" },
    };

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void Open_MalformedFile_NamesFileAndField(string caseName, byte[] bytes, string field, string fragment)
    {
        Assert.NotNull(caseName);
        AssertRejected(bytes, field, fragment);
    }

    [Fact]
    public void Open_HostileName_ShownEscapedAndCut()
    {
        string name = "evil\nname" + new string('x', 40);
        byte[] bytes = WithTensors(64, (name, [4], F32, 0), (name, [4], F32, 32));
        var exception = Assert.Throws<InvalidInputException>(() => GgufFile.Open(bytes, FileName));
        Assert.DoesNotContain('\n', exception.Message);
        Assert.Contains("evil\\u000aname", exception.Field);
    }

    [Fact]
    public void Open_MissingFile_FileNotFound()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rlm-missing-{Guid.NewGuid():N}.gguf");
        var exception = Assert.Throws<InvalidInputException>(() => GgufFile.Open(path));
        Assert.Equal(path, exception.FilePath);
        Assert.Contains("file not found", exception.Message);
    }

    static GgufFile OpenWithMetadata(Action<GgufWriter> add)
    {
        var writer = new GgufWriter();
        add(writer);
        writer.AddTensor("q", GgufType.Q8_0, [32], new byte[34]);
        using var stream = new MemoryStream();
        writer.Write(stream);
        return GgufFile.Open(stream.ToArray(), FileName);
    }

    /// <summary>(case, getter call, key named, message fragment).</summary>
    public static TheoryData<string, Func<GgufFile, object>, string, string> GetterErrors => new()
    {
        { "missing key", file => file.GetUInt32("gpt2.block_count"), "gpt2.block_count", "is missing from the metadata" },
        { "string for an integer", file => file.GetUInt32("s"), "s", "is a string, expected an integer that fits a u32" },
        { "negative for a u32", file => file.GetUInt32("negative"), "negative", "is -1, which does not fit a u32" },
        { "u64 above u32", file => file.GetUInt32("big"), "big", "is 1099511627776, which does not fit a u32" },
        { "u64 above i64", file => file.GetInt64("huge"), "huge", "is 18446744073709551615, which does not fit an i64" },
        { "negative for a u64", file => file.GetUInt64("negative"), "negative", "does not fit a u64" },
        { "float for an integer", file => file.GetInt32("f"), "f", "is an f32, expected an integer" },
        { "array for an integer", file => file.GetUInt32("ints"), "ints", "is an array of i32, expected an integer" },
        { "integer for a string", file => file.GetString("big"), "big", "is a u64, expected a string" },
        { "string array for a string", file => file.GetString("strings"), "strings", "is an array of string, expected a string" },
        { "integer for a bool", file => file.GetBool("negative"), "negative", "is an i32, expected a bool" },
        { "integer for a float", file => file.GetFloat32("negative"), "negative", "expected an f32" },
        { "ints for strings", file => file.GetStringArray("ints"), "ints", "is an array of i32, expected an array of string" },
        { "strings for ints", file => file.GetInt32Array("strings"), "strings", "expected an array of i32" },
        { "floats for ints", file => file.GetInt32Array("floats"), "floats", "expected an array of i32" },
        { "ints for floats", file => file.GetFloat32Array("ints"), "ints", "expected an array of f32" },
        { "string for a string array", file => file.GetStringArray("s"), "s", "is a string, expected an array of string" },
        { "u64 element above i32", file => file.GetInt32Array("longs"), "longs", "element 1 is 4294967296, which does not fit an i32" },
        { "tensor not found", file => file.Tensor("missing.weight"), "missing.weight", "tensor not found" },
        { "bytes of a missing tensor", file => file.ReadBytes("missing.weight"), "missing.weight", "tensor not found" },
        { "quantized as float32", file => file.ReadFloat32("q"), "q", "has type q8_0, which cannot be read as float32" },
    };

    [Theory]
    [MemberData(nameof(GetterErrors))]
    public void Getter_WrongOrMissing_NamesKey(string caseName, Func<GgufFile, object> get, string field, string fragment)
    {
        Assert.NotNull(caseName);
        using GgufFile file = OpenWithMetadata(writer =>
        {
            writer.Add("s", GgufValue.Of("text"));
            writer.Add("negative", GgufValue.Of(-1));
            writer.Add("big", GgufValue.Of(1UL << 40));
            writer.Add("huge", GgufValue.Of(ulong.MaxValue));
            writer.Add("f", GgufValue.Of(1.5f));
            writer.Add("ints", GgufValue.Of(new[] { 1, 2 }));
            writer.Add("longs", GgufValue.Of(new[] { 1L, 1L << 32 }));
            writer.Add("floats", GgufValue.Of(new[] { 1f }));
            writer.Add("strings", GgufValue.Of(new[] { "a" }));
        });
        var exception = Assert.Throws<InvalidInputException>(() => get(file));
        Assert.Equal(FileName, exception.FilePath);
        Assert.Equal(field, exception.Field);
        Assert.StartsWith($"{FileName}: {field}: ", exception.Message);
        Assert.Contains(fragment, exception.Message);
    }

    [Fact]
    public void Open_HostileCounts_AllocateLittle()
    {
        // Counts far beyond the file must be refused before anything the size of the count is allocated.
        byte[][] files =
        [
            new GgufBuilder().Header(0, 1UL << 50).Zeros(1 << 16).ToArray(),
            WithValue("k", 9, b => b.U32(0).U64(1UL << 40).Zeros(1 << 16)),
            WithValue("k", 9, b => b.U32(8).U64(100_000_000).Zeros(1 << 16)),
            WithValue("k", 8, b => b.U64(1UL << 35).Zeros(1 << 16)),
        ];
        foreach (byte[] bytes in files)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Throws<InvalidInputException>(() => GgufFile.Open(bytes, FileName));
            Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);
        }
    }

    [Fact]
    public void Open_Truncated_EveryPrefixShortOfTheDataRejectedWithOneLine()
    {
        byte[] bytes = File.ReadAllBytes(GgufFixtureTests.FixturePath("all-types.gguf"));
        long dataEnd;
        using (GgufFile whole = GgufFile.Open(bytes, FileName))
            dataEnd = whole.Tensors.Max(tensor => whole.DataOffset + tensor.Offset + tensor.ByteLength);
        Assert.True(dataEnd < bytes.Length, "the fixture should end in padding");
        for (int length = 0; length <= bytes.Length; length++)
        {
            if (length >= dataEnd)
            {
                // Only trailing padding is cut: still a valid file.
                using GgufFile file = GgufFile.Open(bytes.AsMemory(0, length), FileName);
                continue;
            }
            var exception = Assert.Throws<InvalidInputException>(() => GgufFile.Open(bytes.AsMemory(0, length), FileName));
            Assert.Equal(FileName, exception.FilePath);
            Assert.NotNull(exception.Field);
            Assert.DoesNotContain('\n', exception.Message);
        }
    }
}
