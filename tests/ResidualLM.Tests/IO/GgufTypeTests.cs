// GgufTypes against ggml's own tables: numbers and names from ggml.h / ggml.c (type_traits.type_name), block sizes
// and bytes per block from gguf-py's GGML_QUANT_SIZES (llama.cpp gguf-py/gguf/constants.py), copied here as data.
using ResidualLM.IO;
using Xunit;

namespace ResidualLM.Tests.IO;

public class GgufTypeTests
{
    /// <summary>(number, ggml's name, elements per block, bytes per block) for every type ggml defines.</summary>
    public static TheoryData<uint, string, int, int> GgmlTypes => new()
    {
        { 0, "f32", 1, 4 }, { 1, "f16", 1, 2 }, { 2, "q4_0", 32, 18 }, { 3, "q4_1", 32, 20 }, { 6, "q5_0", 32, 22 },
        { 7, "q5_1", 32, 24 }, { 8, "q8_0", 32, 34 }, { 9, "q8_1", 32, 40 }, { 10, "q2_k", 256, 84 }, { 11, "q3_k", 256, 110 },
        { 12, "q4_k", 256, 144 }, { 13, "q5_k", 256, 176 }, { 14, "q6_k", 256, 210 }, { 15, "q8_k", 256, 292 },
        { 16, "iq2_xxs", 256, 66 }, { 17, "iq2_xs", 256, 74 }, { 18, "iq3_xxs", 256, 98 }, { 19, "iq1_s", 256, 50 },
        { 20, "iq4_nl", 32, 18 }, { 21, "iq3_s", 256, 110 }, { 22, "iq2_s", 256, 82 }, { 23, "iq4_xs", 256, 136 },
        { 24, "i8", 1, 1 }, { 25, "i16", 1, 2 }, { 26, "i32", 1, 4 }, { 27, "i64", 1, 8 }, { 28, "f64", 1, 8 },
        { 29, "iq1_m", 256, 56 }, { 30, "bf16", 1, 2 }, { 34, "tq1_0", 256, 54 }, { 35, "tq2_0", 256, 66 },
        { 39, "mxfp4", 32, 17 }, { 40, "nvfp4", 64, 36 }, { 41, "q1_0", 128, 18 }, { 42, "q2_0", 64, 18 },
    };

    [Theory]
    [MemberData(nameof(GgmlTypes))]
    public void Layout_EveryGgmlType_MatchesGgml(uint number, string name, int blockSize, int bytesPerBlock)
    {
        var type = (GgufType)number;
        Assert.True(GgufTypes.IsKnown(type));
        Assert.Equal(name, GgufTypes.Name(type));
        Assert.Equal(blockSize, GgufTypes.BlockSize(type));
        Assert.Equal(bytesPerBlock, GgufTypes.BytesPerBlock(type));
        Assert.Equal(3L * bytesPerBlock, GgufTypes.ByteLength(type, 3L * blockSize));
        Assert.True(GgufTypes.TryParse(name.ToUpperInvariant(), out GgufType parsed));
        Assert.Equal(type, parsed);
    }

    [Fact]
    public void Known_ExactlyTheTableAbove()
    {
        var table = GgmlTypes.Select(row => (uint)row[0]).ToHashSet();
        for (uint number = 0; number < 64; number++) Assert.Equal(table.Contains(number), GgufTypes.IsKnown((GgufType)number));
        Assert.Equal(table.Count, Enum.GetValues<GgufType>().Length);
        Assert.Equal("type 31", GgufTypes.Name((GgufType)31));
        Assert.Throws<ArgumentOutOfRangeException>(() => GgufTypes.BlockSize((GgufType)4));
        Assert.False(GgufTypes.TryParse("q9_0", out _));
        Assert.False(GgufTypes.TryParse("8", out _));
    }

    [Fact]
    public void ByteLength_PartialBlockOrOverflow_Throws()
    {
        Assert.Throws<ArgumentException>(() => GgufTypes.ByteLength(GgufType.Q8_0, 33));
        Assert.Throws<ArgumentException>(() => GgufTypes.ByteLength(GgufType.F32, -4));
        Assert.Throws<ArgumentException>(() => GgufTypes.ByteLength(GgufType.F64, long.MaxValue / 4));
        Assert.Equal(0, GgufTypes.ByteLength(GgufType.Q4_0, 0));
    }
}
