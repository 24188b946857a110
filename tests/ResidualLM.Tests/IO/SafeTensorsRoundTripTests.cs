// Valid safetensors files: write/read round trips, F16/BF16 loading, the reference writer's exact bytes and a
// fixture written by Python (tools/reference/safetensors_fixture.py) with PyTorch's own half-precision conversions.
using System.Text;
using System.Text.Json;
using ResidualLM.IO;
using Xunit;
using static ResidualLM.Tests.IO.SafeTensorsBuilder;

namespace ResidualLM.Tests.IO;

public class SafeTensorsRoundTripTests
{
    static byte[] WriteToBytes(IEnumerable<(string, int[], ReadOnlyMemory<float>)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    [Fact]
    public void WriteThenRead_KeepsNamesShapesBitsAndMetadata()
    {
        var random = new Random(7);
        float[] matrix = Enumerable.Range(0, 12).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        float[] specials = [float.NaN, BitConverter.UInt32BitsToSingle(0x7FC0_1234), BitConverter.UInt32BitsToSingle(0xFF80_0001),
            float.PositiveInfinity, float.NegativeInfinity, -0f, float.Epsilon, float.MaxValue];
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"\n\u0001", ["empty"] = "" };
        string path = Path.Combine(Path.GetTempPath(), $"rlm-roundtrip-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafeTensors.Write(path, [("h.0.weight", [3, 4], matrix), ("special", [2, 2, 2], specials), ("scalar", [], new[] { 2.5f }), ("empty", [0], Array.Empty<float>()), ("empty.wide", [3, 0, 2], Array.Empty<float>())], metadata);
            using SafeTensorsFile file = SafeTensors.Read(path);

            Assert.Equal(["empty", "empty.wide", "h.0.weight", "scalar", "special"], file.Names.Order(StringComparer.Ordinal));
            Assert.Equal(metadata, file.Metadata);
            Assert.Equal([3L, 4L], file.Info("h.0.weight").Shape);
            Assert.Equal([3, 4], file.Info("h.0.weight").ShapeAsInt32());
            Assert.Empty(file.Info("scalar").Shape);
            Assert.Equal(1, file.Info("scalar").ElementCount);
            Assert.Equal(0, file.Info("empty.wide").ElementCount);
            Assert.Equal(BitsOf(matrix), BitsOf(file.ReadFloat32("h.0.weight")));
            Assert.Equal(BitsOf(specials), BitsOf(file.ReadFloat32("special")));
            Assert.Equal([2.5f], file.ReadFloat32("scalar"));
            Assert.Empty(file.ReadFloat32("empty"));
            Assert.True(file.Contains("special"));
            Assert.False(file.Contains("Special"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Write_OrdersByNameAndPadsHeaderWithSpacesTo8Bytes()
    {
        byte[] bytes = WriteToBytes([("b", [1], new[] { 2f }), ("a", [1], new[] { 1f }), ("é", [1], new[] { 4f }), ("Z", [1], new[] { 3f })]);
        ulong headerLength = BitConverter.ToUInt64(bytes, 0);
        Assert.Equal(0UL, headerLength % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.StartsWith("{\"Z\":", header);
        Assert.True(header.IndexOf("\"a\"", StringComparison.Ordinal) < header.IndexOf("\"b\"", StringComparison.Ordinal));
        Assert.True(header.IndexOf("\"b\"", StringComparison.Ordinal) < header.IndexOf("\"é\"", StringComparison.Ordinal));
        Assert.Matches("^\\{.*\\} *$", header);
        using SafeTensorsFile file = SafeTensors.Read(bytes, "ordered");
        Assert.Equal(["Z", "a", "b", "é"], file.Names);
    }

    /// <summary>Byte-exact output of the reference writer for a 1x2x3 F32 tensor and for empty files (its unit tests).</summary>
    [Fact]
    public void Write_MatchesReferenceBytes()
    {
        float[] values = [0, 1, 2, 3, 4, 5];
        string header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        Assert.Equal(Raw(64, [.. Encoding.ASCII.GetBytes(header), .. Floats(values)]), WriteToBytes([("attn.0", [1, 2, 3], values)]));

        string aligned = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}" + new string(' ', 7);
        Assert.Equal(Raw(72, [.. Encoding.ASCII.GetBytes(aligned), .. Floats(values)]), WriteToBytes([("attn0", [1, 1, 2, 3], values)]));

        Assert.Equal(Raw(8, "{}      "u8), WriteToBytes([]));
        var metadata = new Dictionary<string, string> { ["framework"] = "pt" };
        Assert.Equal(Raw(40, Encoding.ASCII.GetBytes("{\"__metadata__\":{\"framework\":\"pt\"}}     ")), WriteToBytes([], metadata));
    }

    [Fact]
    public void ReadFloat32_HandBuiltHalfAndBFloat16_ConvertsExactly()
    {
        // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), -inf, quiet NaN. BF16: 1.0, -3.0, 1e-40-ish, +inf.
        ushort[] half = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0xFC00, 0x7E00];
        ushort[] brain = [0x3F80, 0xC040, 0x0001, 0x7F80];
        string header = $"{{{Entry("h", "F16", [2, 3], 0, 12)},{Entry("b", "BF16", [4], 12, 20)},{Entry("d", "F64", [1], 24, 32)},{Entry("pad", "U8", [4], 20, 24)}}}";
        byte[] bytes = Build(header, [.. Halves(half), .. Halves(brain), 0, 0, 0, 0, .. BitConverter.GetBytes(0.1)]);
        using SafeTensorsFile file = SafeTensors.Read(bytes, "halves");

        float[] widened = file.ReadFloat32("h");
        Assert.Equal([1f, -2f, 65504f, MathF.Pow(2, -24), float.NegativeInfinity], widened[..5]);
        Assert.True(float.IsNaN(widened[5]));
        Assert.Equal(new uint[] { 0x3F80_0000, 0xC040_0000, 0x0001_0000, 0x7F80_0000 }, BitsOf(file.ReadFloat32("b")));
        Assert.Equal([0.1f], file.ReadFloat32("d"));
        Assert.Equal(["h", "b", "pad", "d"], file.Names);
    }

    [Fact]
    public void ReadFloat32_LargeHalfTensor_CrossesChunksCorrectly()
    {
        // More elements than one conversion chunk (65,536), with an odd tail.
        int count = 150_001;
        ushort[] bits = Enumerable.Range(0, count).Select(index => (ushort)(index * 7919)).ToArray();
        byte[] bytes = Build($"{{{Entry("big", "BF16", [count], 0, 2L * count)}}}", Halves(bits));
        using SafeTensorsFile file = SafeTensors.Read(new MemoryStream(bytes), "big");
        float[] values = file.ReadFloat32("big");
        for (int index = 0; index < count; index++)
            Assert.Equal((uint)bits[index] << 16, BitConverter.SingleToUInt32Bits(values[index]));
    }

    [Fact]
    public void Read_PythonFixture_MatchesPyTorchValuesExactly()
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "fixtures", "safetensors");
        using SafeTensorsFile file = SafeTensors.Read(Path.Combine(directory, "sample.safetensors"));
        using JsonDocument expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "sample.json")));

        var metadata = expected.RootElement.GetProperty("metadata").EnumerateObject().ToDictionary(property => property.Name, property => property.Value.GetString()!);
        Assert.Equal(metadata, file.Metadata);
        var tensors = expected.RootElement.GetProperty("tensors").EnumerateObject().ToList();
        Assert.Equal(tensors.Select(tensor => tensor.Name).Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));
        foreach (JsonProperty tensor in tensors)
        {
            TensorInfo info = file.Info(tensor.Name);
            Assert.Equal(tensor.Value.GetProperty("dtype").GetString(), info.DType.ToString());
            Assert.Equal(tensor.Value.GetProperty("shape").EnumerateArray().Select(size => size.GetInt64()), info.Shape);
            uint[] bits = tensor.Value.GetProperty("float32_bits").EnumerateArray().Select(value => value.GetUInt32()).ToArray();
            Assert.Equal(bits, BitsOf(file.ReadFloat32(tensor.Name)));
        }
        Assert.Equal(5, tensors.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("__metadata__")]
    [InlineData("lone surrogate")]
    public void Write_InvalidName_ThrowsArgumentException(string name)
    {
        // A lone surrogate cannot travel through an attribute (it becomes U+FFFD), so it is built here.
        if (name == "lone surrogate") name = "x" + (char)0xD800;
        Assert.Throws<ArgumentException>(() => WriteToBytes([(name, [1], new[] { 1f })]));
    }

    [Fact]
    public void Write_ShapeDataMismatchOrDuplicate_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => WriteToBytes([("a", [2, 3], new float[5])]));
        Assert.Throws<ArgumentException>(() => WriteToBytes([("a", [-1], new float[0])]));
        Assert.Throws<ArgumentException>(() => WriteToBytes([("a", [65536, 65536, 65536], new float[1])]));
        Assert.Throws<ArgumentException>(() => WriteToBytes([("a", [1], new float[1]), ("a", [1], new float[1])]));
    }

    static uint[] BitsOf(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();
}
