// One test per way a safetensors file can be malformed: each must end in InvalidInputException naming file and field.
using System.Text;
using ResidualLM.IO;
using Xunit;
using static ResidualLM.Tests.IO.SafeTensorsBuilder;

namespace ResidualLM.Tests.IO;

public class SafeTensorsMalformedTests
{
    const string FileName = "bad.safetensors";

    static void AssertRejected(byte[] bytes, string field, string fragment)
    {
        var exception = Assert.Throws<InvalidInputException>(() =>
        {
            using SafeTensorsFile file = SafeTensors.Read(bytes, FileName);
        });
        Assert.Equal(FileName, exception.FilePath);
        Assert.Equal(field, exception.Field);
        Assert.StartsWith($"{FileName}: {field}: ", exception.Message);
        Assert.Contains(fragment, exception.Message);
    }

    static readonly string A = Entry("a", "F32", [2], 0, 8);

    /// <summary>(case, header JSON, data bytes, field named, message fragment).</summary>
    public static TheoryData<string, string, int, string, string> MalformedHeaders => new()
    {
        { "not an object", "[1, 2]", 0, "header", "JSON object" },
        { "leading space", " {}", 0, "header", "starting with '{'" },
        { "invalid JSON", "{\"a\":{\"dtype\":\"F32\"", 0, "header", "not valid JSON" },
        { "trailing garbage", "{} x", 0, "header", "not valid JSON" },
        { "entry not an object", "{\"a\":5}", 0, "a", "must be an object" },
        { "missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "\"dtype\"" },
        { "missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "a", "\"shape\"" },
        { "missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "a", "\"data_offsets\"" },
        { "extra field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"offsets\":[0,8]}}", 8, "a", "unknown field \"offsets\"" },
        { "field twice", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "\"dtype\" twice" },
        { "unknown dtype", $"{{{Entry("a", "F31", [2], 0, 8)}}}", 8, "a", "dtype \"F31\" is unknown" },
        { "lower-case dtype", $"{{{Entry("a", "f32", [2], 0, 8)}}}", 8, "a", "dtype \"f32\" is unknown" },
        { "dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "dtype must be a string" },
        { "shape not a list", "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "a", "shape must be a list" },
        { "negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "a", "shape[0] must be a non-negative integer" },
        { "fractional dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "a", "shape[0]" },
        { "string dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]}}", 8, "a", "shape[1]" },
        { "dimension above 2^63", "{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615],\"data_offsets\":[0,8]}}", 8, "a", "shape[0]" },
        { "shape product overflow", $"{{{Entry("a", "F32", [4294967296, 4294967296], 0, 8)}}}", 8, "a", "overflows" },
        { "byte size overflow", $"{{{Entry("a", "F64", [4611686018427387904], 0, 8)}}}", 8, "a", "overflows" },
        { "one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8, "a", "data_offsets must be a list of 2" },
        { "three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8, "a", "data_offsets must be a list of 2" },
        { "string offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", 8, "a", "2 non-negative integers" },
        { "negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-8,-8]}}", 0, "a", "2 non-negative integers" },
        { "begin after end", $"{{{Entry("a", "F32", [0], 8, 0)}}}", 8, "a", "begin 8 is after end 0" },
        { "end beyond buffer", $"{{{Entry("a", "F32", [4], 0, 16)}}}", 8, "a", "beyond the data buffer of 8 bytes" },
        { "length mismatch", $"{{{Entry("a", "F32", [3], 0, 8)}}}", 8, "a", "needs 12" },
        { "overlap", $"{{{A},{Entry("b", "F32", [2], 4, 12)}}}", 12, "b", "overlap tensor \"a\"" },
        { "same range twice", $"{{{A},{Entry("b", "F32", [2], 0, 8)}}}", 8, "b", "overlap" },
        { "hole", $"{{{Entry("a", "F32", [1], 0, 4)},{Entry("b", "F32", [1], 8, 12)}}}", 12, "b", "unused" },
        { "buffer not starting at 0", $"{{{Entry("a", "F32", [1], 4, 8)}}}", 8, "a", "bytes 0..4" },
        { "trailing bytes", $"{{{A}}}", 12, "data_offsets", "covered exactly" },
        { "duplicate tensor", $"{{{A},{A}}}", 8, "a", "appears twice" },
        { "duplicate tensor by escape", $"{{{A},{Entry("\\u0061", "F32", [2], 0, 8)}}}", 8, "a", "appears twice" },
        { "metadata not an object", $"{{\"__metadata__\":[\"x\"],{A}}}", 8, "__metadata__", "object of strings" },
        { "metadata number value", $"{{\"__metadata__\":{{\"epoch\":3}},{A}}}", 8, "__metadata__.epoch", "must be a string" },
        { "metadata null value", $"{{\"__metadata__\":{{\"note\":null}},{A}}}", 8, "__metadata__.note", "must be a string" },
        { "metadata nested object", $"{{\"__metadata__\":{{\"x\":{{}}}},{A}}}", 8, "__metadata__.x", "must be a string" },
        { "metadata key twice", $"{{\"__metadata__\":{{\"k\":\"1\",\"k\":\"2\"}},{A}}}", 8, "__metadata__.k", "twice" },
        { "metadata twice", $"{{\"__metadata__\":{{}},\"__metadata__\":{{}},{A}}}", 8, "__metadata__", "twice" },
        { "lone surrogate", "{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "header", "not valid Unicode" },
        { "deep nesting", "{\"a\":" + new string('[', 100) + new string(']', 100) + "}", 0, "header", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public void Read_MalformedHeader_NamesFileAndField(string caseName, string header, int dataBytes, string field, string fragment)
    {
        Assert.NotNull(caseName);
        AssertRejected(Build(header, dataBytes), field, fragment);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void Read_FileShorterThan8Bytes_Rejected(int length) =>
        AssertRejected(new byte[length], "header length", $"is {length} bytes long");

    [Fact]
    public void Read_HeaderLengthZero_Rejected() => AssertRejected(Raw(0, "{}"u8), "header length", "is 0");

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(1UL << 40)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    public void Read_HeaderLengthAboveLimit_Rejected(ulong declared) =>
        AssertRejected(Raw(declared, "{}      "u8), "header length", "exceeds the limit");

    [Fact]
    public void Read_HeaderLengthBeyondFile_Rejected() =>
        AssertRejected(Raw(9, "{}      "u8), "header length", "beyond the end of the file (16 bytes)");

    [Fact]
    public void Read_HeaderNotUtf8_Rejected()
    {
        byte[] bytes = Build("{\"__metadata__\":{\"k\":\"XX\"}}", 0);
        int position = Encoding.ASCII.GetString(bytes).IndexOf("XX", StringComparison.Ordinal);
        bytes[position] = 0xFF;
        bytes[position + 1] = 0xFE;
        AssertRejected(bytes, "header", "not valid UTF-8");
    }

    [Fact]
    public void Read_HeaderWithByteOrderMark_Rejected() =>
        AssertRejected(Build("\uFEFF{}", 0), "header", "starting with '{'");

    [Fact]
    public void ReadFloat32_IntegerDtype_NamesTensorAndDtype()
    {
        using SafeTensorsFile file = SafeTensors.Read(Build($"{{{Entry("steps", "I64", [1], 0, 8)}}}", 8), FileName);
        Assert.Equal(SafeTensorsDType.I64, file.Info("steps").DType);
        var exception = Assert.Throws<InvalidInputException>(() => file.ReadFloat32("steps"));
        Assert.Equal("steps", exception.Field);
        Assert.Contains("I64", exception.Message);
        Assert.StartsWith($"{FileName}: steps: ", exception.Message);
    }

    [Fact]
    public void ReadFloat32_MissingTensor_NamesTensor()
    {
        using SafeTensorsFile file = SafeTensors.Read(Build($"{{{A}}}", 8), FileName);
        var exception = Assert.Throws<InvalidInputException>(() => file.ReadFloat32("wte.weight"));
        Assert.Equal("wte.weight", exception.Field);
        Assert.Contains("not found", exception.Message);
    }

    [Fact]
    public void Read_MissingFile_SaysNotFound()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rlm-missing-{Guid.NewGuid():N}.safetensors");
        var exception = Assert.Throws<InvalidInputException>(() => SafeTensors.Read(path));
        Assert.Equal(path, exception.FilePath);
        Assert.Contains("file not found", exception.Message);
    }

    [Fact]
    public void ReadFloat32_FileTruncatedAfterOpen_Rejected()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rlm-truncated-{Guid.NewGuid():N}.safetensors");
        try
        {
            System.IO.File.WriteAllBytes(path, Build($"{{{A}}}", 8));
            using SafeTensorsFile file = SafeTensors.Read(path);
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) stream.SetLength(stream.Length - 3);
            var exception = Assert.Throws<InvalidInputException>(() => file.ReadFloat32("a"));
            Assert.Equal(path, exception.FilePath);
            Assert.Contains("truncated", exception.Message);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void Read_HostileTensorName_IsEscapedAndShortenedInMessage()
    {
        string name = "evil\\nname" + new string('x', 500);
        var exception = Assert.Throws<InvalidInputException>(() => SafeTensors.Read(Build($"{{{Entry(name, "F99", [0], 0, 0)}}}", 0), FileName));
        Assert.DoesNotContain('\n', exception.Message);
        Assert.True(exception.Message.Length < 300, exception.Message);
    }
}
