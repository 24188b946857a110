// GgufWriter: write then read gives the same metadata and bytes; rewriting the Python fixtures gives the very same
// files (layout, padding, offsets as llama.cpp writes them); the writer refuses what the reader or llama.cpp would.
using ResidualLM.IO;
using ResidualLM.Tests.Text;
using Xunit;

namespace ResidualLM.Tests.IO;

public class GgufRoundTripTests
{
    static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    static byte[] ToBytes(GgufWriter writer)
    {
        using var stream = new MemoryStream();
        writer.Write(stream);
        return stream.ToArray();
    }

    static List<(string Key, GgufValue Value)> EveryKindOfValue() =>
    [
        ("general.architecture", GgufValue.Of("gpt2")),
        ("u8", GgufValue.Of((byte)200)), ("i8", GgufValue.Of((sbyte)-7)), ("u16", GgufValue.Of((ushort)60000)),
        ("i16", GgufValue.Of((short)-30000)), ("u32", GgufValue.Of(4_000_000_000u)), ("i32", GgufValue.Of(-5)),
        ("f32.nan", GgufValue.Of(BitConverter.UInt32BitsToSingle(0x7FC0_1234))), ("f32.negative_zero", GgufValue.Of(-0f)),
        ("bool", GgufValue.Of(true)), ("string", GgufValue.Of("ünï\u0000\n\"code\" 𝄞")), ("string.empty", GgufValue.Of("")),
        ("u64", GgufValue.Of(ulong.MaxValue)), ("i64", GgufValue.Of(long.MinValue)), ("f64", GgufValue.Of(double.Epsilon)),
        ("array.u8", GgufValue.Of(new byte[] { 0, 255 })), ("array.i8", GgufValue.Of(new sbyte[] { -128, 127 })),
        ("array.u16", GgufValue.Of(new ushort[] { 1, 65535 })), ("array.i16", GgufValue.Of(new short[] { -1, 2 })),
        ("array.u32", GgufValue.Of(new uint[] { 3, uint.MaxValue })), ("array.i32", GgufValue.Of(new[] { int.MinValue, 0 })),
        ("array.f32", GgufValue.Of(new[] { float.NegativeInfinity, 1e-45f, float.NaN })), ("array.bool", GgufValue.Of(new[] { false, true })),
        ("array.string", GgufValue.Of(new[] { "Ġthe", "", "<|endoftext|>" })), ("array.u64", GgufValue.Of(new ulong[] { 1UL << 63 })),
        ("array.i64", GgufValue.Of(new long[] { -1, long.MaxValue })), ("array.f64", GgufValue.Of(new[] { Math.PI, double.NaN })),
        ("array.empty", GgufValue.Of(Array.Empty<string>())),
        ("array.nested", GgufValue.Of([GgufValue.Of(new[] { 1, 2 }), GgufValue.Of([GgufValue.Of(new[] { "deep" })]), GgufValue.Of(Array.Empty<double>())])),
    ];

    static List<(string Name, GgufType Type, long[] Shape, byte[] Data)> EveryKindOfTensor() =>
    [
        ("token_embd.weight", GgufType.Q8_0, [64, 3], Random(3 * 2 * 34, 1)),
        ("blk.0.attn_qkv.weight", GgufType.Q4_0, [32, 5], Random(5 * 18, 2)),
        ("f32", GgufType.F32, [3], Random(12, 3)),
        ("f16", GgufType.F16, [2, 3, 1], Random(12, 4)),
        ("bf16", GgufType.BF16, [1, 1, 1, 5], Random(10, 5)),
        ("q4_k", GgufType.Q4_K, [256], Random(144, 6)),
        ("i8", GgufType.I8, [7], Random(7, 7)),
        (new string('n', GgufWriter.MaxTensorNameBytes), GgufType.F32, [1], Random(4, 8)),
    ];

    [Fact]
    public void WriteThenRead_EveryValueTypeAndTensorType_Identical()
    {
        var writer = new GgufWriter();
        foreach (var (key, value) in EveryKindOfValue()) writer.Add(key, value);
        foreach (var (name, type, shape, data) in EveryKindOfTensor()) writer.AddTensor(name, type, shape, data);
        using var directory = new TemporaryDirectory();
        string path = directory.File("model.gguf");
        writer.Write(path);

        using GgufFile file = GgufFile.Open(path);
        Assert.Equal(3u, file.Version);
        Assert.Equal(32, file.Alignment);
        Assert.Equal(EveryKindOfValue().Select(pair => pair.Key), file.Metadata.Keys);
        foreach (var (key, value) in EveryKindOfValue())
        {
            Assert.Equal(GgufFixtureTests.Canonical(GgufFixtureTests.Describe(value)), GgufFixtureTests.Canonical(GgufFixtureTests.Describe(file.Get(key))));
            Assert.Equal(value, file.Get(key));
        }
        Assert.False(file.HasKey("general.alignment")); // the default needs no key
        Assert.Equal(EveryKindOfTensor().Select(tensor => tensor.Name), file.Tensors.Select(tensor => tensor.Name));
        long expectedOffset = 0;
        foreach (var (name, type, shape, data) in EveryKindOfTensor())
        {
            GgufTensorInfo info = file.Tensor(name);
            Assert.Equal(type, info.Type);
            Assert.Equal(shape, info.Shape);
            Assert.Equal(expectedOffset, info.Offset);   // in order, each padded to the alignment, as llama.cpp requires
            Assert.Equal(data, file.ReadBytes(name));
            expectedOffset += (data.Length + 31) / 32 * 32;
        }
        Assert.Equal(file.DataOffset + expectedOffset, new FileInfo(path).Length);
        Assert.Single(Directory.GetFiles(directory.Path)); // no temporary file left behind
    }

    public static TheoryData<string> TinyGpt2Files() => new("tiny-gpt2-f32.gguf", "tiny-gpt2-f16.gguf", "tiny-gpt2-q8_0.gguf", "tiny-gpt2-q4_0.gguf");

    [Theory]
    [MemberData(nameof(TinyGpt2Files))]
    public void Rewrite_PythonFixture_ByteIdentical(string name)
    {
        byte[] original = File.ReadAllBytes(GgufFixtureTests.FixturePath(name));
        using GgufFile file = GgufFile.Open(original, name);
        var writer = new GgufWriter();
        foreach (var (key, value) in file.Metadata) writer.Add(key, value);
        foreach (GgufTensorInfo tensor in file.Tensors) writer.AddTensor(tensor.Name, tensor.Type, tensor.Shape.ToArray(), file.ReadBytes(tensor.Name));
        byte[] rewritten = ToBytes(writer);
        Assert.Equal(original.Length, rewritten.Length);
        Assert.Equal(original, rewritten);
    }

    [Fact]
    public void Write_AlignmentAdded_PadsDataAndOffsetsWithZeros()
    {
        var writer = new GgufWriter();
        writer.Add("general.alignment", GgufValue.Of(64u));
        Assert.Equal(64, writer.Alignment);
        byte[] first = Random(40, 9), second = Random(6, 10);
        writer.AddTensor("a", GgufType.F32, [10], first);
        writer.AddTensor("b", GgufType.F16, [3], second);
        byte[] bytes = ToBytes(writer);

        using GgufFile file = GgufFile.Open(bytes, "aligned.gguf");
        Assert.Equal(64, file.Alignment);
        Assert.Equal(0, file.DataOffset % 64);
        Assert.Equal(64, file.Tensor("b").Offset);
        Assert.Equal(file.DataOffset + 128, bytes.Length);
        long headerEnd = file.DataOffset - 1;
        while (bytes[headerEnd] == 0) headerEnd--;
        Assert.InRange(file.DataOffset - headerEnd, 1, 64);   // only the padding is zero between header and data
        Assert.All(bytes[(int)(file.DataOffset + 40)..(int)(file.DataOffset + 64)], padding => Assert.Equal(0, padding));
        Assert.All(bytes[(int)(file.DataOffset + 70)..], padding => Assert.Equal(0, padding));
    }

    [Fact]
    public void Write_DataCallback_WritesTheBytesLater()
    {
        byte[] data = Random(34 * 2, 11);
        var writer = new GgufWriter();
        bool called = false;
        writer.AddTensor("q", GgufType.Q8_0, [32, 2], stream =>
        {
            called = true;
            stream.Write(data, 0, 10);
            stream.Write(data.AsSpan(10));
        });
        Assert.False(called);
        using GgufFile file = GgufFile.Open(ToBytes(writer), "callback.gguf");
        Assert.True(called);
        Assert.Equal(data, file.ReadBytes("q"));
    }

    [Theory]
    [InlineData(67)]
    [InlineData(69)]
    public void Write_DataCallbackWrongLength_ThrowsAndLeavesTheTargetAlone(int written)
    {
        var writer = new GgufWriter();
        writer.AddTensor("q", GgufType.Q8_0, [32, 2], stream => stream.Write(new byte[written]));
        using var directory = new TemporaryDirectory();
        string path = directory.File("model.gguf");
        File.WriteAllText(path, "old");
        var exception = Assert.Throws<InvalidOperationException>(() => writer.Write(path));
        Assert.Contains($"wrote {written} bytes instead of 68", exception.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(directory.Path));
    }

    /// <summary>(case, what the caller does wrong, fragment of the ArgumentException).</summary>
    public static TheoryData<string, Action<GgufWriter>, string> WriterMisuse => new()
    {
        { "duplicate key", w => { w.Add("k", GgufValue.Of(1)); w.Add("k", GgufValue.Of(2)); }, "k was already added" },
        { "empty key", w => w.Add("", GgufValue.Of(1)), "key" },
        { "lone surrogate in a value", w => w.Add("k", GgufValue.Of("a\uD800b")), "not valid Unicode" },
        { "lone surrogate in a string array", w => w.Add("k", GgufValue.Of(new[] { "ok", "\uDC00" })), "not valid Unicode" },
        { "lone surrogate in a key", w => w.Add("k\uD800", GgufValue.Of(1)), "not valid Unicode" },
        { "arrays nested too deep", w => w.Add("k", GgufValue.Of([GgufValue.Of([GgufValue.Of([GgufValue.Of([GgufValue.Of(new[] { 1 })])])])])), "nest more than 4 deep" },
        { "alignment not a power of two", w => w.Add("general.alignment", GgufValue.Of(48u)), "power of two" },
        { "alignment as an i32", w => w.Add("general.alignment", GgufValue.Of(64)), "must be a u32" },
        { "duplicate tensor", w => { w.AddTensor("t", GgufType.F32, [1], new byte[4]); w.AddTensor("t", GgufType.F32, [1], new byte[4]); }, "t was already added" },
        { "tensor name llama.cpp refuses", w => w.AddTensor(new string('n', 64), GgufType.F32, [1], new byte[4]), "64 bytes long; llama.cpp accepts at most 63" },
        { "empty tensor name", w => w.AddTensor("", GgufType.F32, [1], new byte[4]), "name" },
        { "no dimensions", w => w.AddTensor("t", GgufType.F32, [], new byte[4]), "0 dimensions" },
        { "five dimensions", w => w.AddTensor("t", GgufType.F32, [1, 1, 1, 1, 1], new byte[4]), "5 dimensions" },
        { "zero dimension", w => w.AddTensor("t", GgufType.F32, [2, 0], new byte[0]), "must be positive" },
        { "negative dimension", w => w.AddTensor("t", GgufType.F32, [-2], new byte[0]), "must be positive" },
        { "element count overflow", w => w.AddTensor("t", GgufType.F32, [1L << 32, 1L << 32], new byte[0]), "overflows" },
        { "byte size overflow", w => w.AddTensor("t", GgufType.F64, [1L << 61, 2], new byte[0]), "bytes" },
        { "row not whole blocks", w => w.AddTensor("t", GgufType.Q4_0, [48], new byte[27]), "ne[0] = 48 is not a multiple of the q4_0 block size 32" },
        { "unknown type", w => w.AddTensor("t", (GgufType)31, [1], new byte[4]), "unknown ggml type 31" },
        { "data too short", w => w.AddTensor("t", GgufType.Q8_0, [32, 2], new byte[67]), "takes 68 bytes but 67 were given" },
        { "data too long", w => w.AddTensor("t", GgufType.F16, [3], new byte[8]), "takes 6 bytes but 8 were given" },
    };

    [Theory]
    [MemberData(nameof(WriterMisuse))]
    public void Writer_Misuse_ArgumentException(string caseName, Action<GgufWriter> misuse, string fragment)
    {
        Assert.NotNull(caseName);
        var exception = Assert.ThrowsAny<ArgumentException>(() => misuse(new GgufWriter()));
        Assert.Contains(fragment, exception.Message);
    }

    [Fact]
    public void GgufValue_Equality_ByContentAndBits()
    {
        Assert.Equal(GgufValue.Of(float.NaN), GgufValue.Of(float.NaN));
        Assert.NotEqual(GgufValue.Of(0f), GgufValue.Of(-0f));
        Assert.NotEqual(GgufValue.Of(1), GgufValue.Of(1u));                   // same number, another type
        Assert.Equal(GgufValue.Of(new[] { "a", "b" }), GgufValue.Of(new[] { "a", "b" }));
        Assert.NotEqual(GgufValue.Of(new[] { "a", "b" }), GgufValue.Of(new[] { "a", "c" }));
        Assert.NotEqual(GgufValue.Of(new[] { 1, 2 }), GgufValue.Of(new[] { 1, 2, 3 }));
        Assert.NotEqual(GgufValue.Of(new[] { 1, 2 }), GgufValue.Of(new uint[] { 1, 2 }));
        Assert.Equal(GgufValue.Of([GgufValue.Of(new[] { 1.5 })]), GgufValue.Of([GgufValue.Of(new[] { 1.5 })]));
        Assert.NotEqual(GgufValue.Of([GgufValue.Of(new[] { 1.5 })]), GgufValue.Of([GgufValue.Of(new[] { 2.5 })]));
        Assert.Equal("array of string", GgufValue.Of(new[] { "a" }).TypeName);
        Assert.Equal("[1, 2, 3, 4, 5, 6, 7, 8, ... (9 in all)]", GgufValue.Of(Enumerable.Range(1, 9).ToArray()).ToString());
        Assert.Throws<ArgumentException>(() => GgufValue.Of([GgufValue.Of(1)]));
    }
}
