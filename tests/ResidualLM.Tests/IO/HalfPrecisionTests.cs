// Half-precision conversions: every 16-bit pattern against the scalar twins, every length 0..300 for vector tails,
// known values from the IEEE binary16 and bfloat16 definitions, and round-to-nearest-even narrowing.
using ResidualLM.IO;
using Xunit;

namespace ResidualLM.Tests.IO;

public class HalfPrecisionTests
{
    static readonly ushort[] AllPatterns = Enumerable.Range(0, 65536).Select(bits => (ushort)bits).ToArray();

    [Fact]
    public void Float16ToSingle_AllPatterns_MatchScalarTwin()
    {
        var widened = new float[AllPatterns.Length];
        HalfPrecision.Float16ToSingle(AllPatterns, widened);
        for (int index = 0; index < AllPatterns.Length; index++)
        {
            float expected = HalfPrecision.Float16ToSingleScalar(AllPatterns[index]);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(widened[index]), $"pattern {index:x4}");
            else Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(widened[index]));
        }
    }

    [Theory]
    [InlineData(0x3C00, 1.0f)]
    [InlineData(0xC000, -2.0f)]
    [InlineData(0x7BFF, 65504f)]
    [InlineData(0x0400, 6.103515625e-05f)]
    [InlineData(0x0001, 5.9604645e-08f)]
    [InlineData(0x8000, -0f)]
    [InlineData(0x7C00, float.PositiveInfinity)]
    [InlineData(0x3555, 0.33325195f)]
    public void Float16ToSingle_KnownValues(int bits, float expected)
    {
        var widened = new float[1];
        HalfPrecision.Float16ToSingle([(ushort)bits], widened);
        Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(widened[0]));
    }

    [Fact]
    public void BFloat16ToSingle_AllPatternsAndTailLengths_AreTopHalfOfFloat32()
    {
        var widened = new float[AllPatterns.Length];
        HalfPrecision.BFloat16ToSingle(AllPatterns, widened);
        for (int index = 0; index < AllPatterns.Length; index++)
            Assert.Equal((uint)index << 16, BitConverter.SingleToUInt32Bits(widened[index]));

        for (int length = 0; length <= 300; length++)
        {
            ushort[] source = AllPatterns.AsSpan(40_000, length).ToArray();
            var destination = new float[length + 1];
            destination[length] = 42f; // guard: nothing may be written past the requested length
            HalfPrecision.BFloat16ToSingle(source, destination.AsSpan(0, length));
            for (int index = 0; index < length; index++)
                Assert.Equal(HalfPrecision.BFloat16ToSingleScalar(source[index]), widened[40_000 + index]);
            Assert.Equal(42f, destination[length]);
            for (int index = 0; index < length; index++)
                Assert.Equal(BitConverter.SingleToUInt32Bits(widened[40_000 + index]), BitConverter.SingleToUInt32Bits(destination[index]));
        }
    }

    [Theory]
    [InlineData(0x3F80_0000u, 0x3F80)] // 1.0 exactly
    [InlineData(0x3F80_8000u, 0x3F80)] // tie, even below: stays
    [InlineData(0x3F81_8000u, 0x3F82)] // tie, odd below: rounds up to even
    [InlineData(0x3F80_8001u, 0x3F81)] // just above the tie: rounds up
    [InlineData(0x7F7F_FFFFu, 0x7F80)] // float.MaxValue rounds to infinity
    [InlineData(0xFF80_0000u, 0xFF80)] // -infinity
    [InlineData(0x7F80_0001u, 0x7FC0)] // signalling NaN with a low payload stays NaN (quiet), not infinity
    public void SingleToBFloat16_RoundsToNearestEven(uint floatBits, int expected)
    {
        var narrowed = new ushort[1];
        HalfPrecision.SingleToBFloat16([BitConverter.UInt32BitsToSingle(floatBits)], narrowed);
        Assert.Equal((ushort)expected, narrowed[0]);
    }

    /// <summary>The vector narrowing against its scalar twin: every length 0..300 (vector tails) over float patterns with ties, NaNs, infinities and denormals.</summary>
    [Fact]
    public void SingleToBFloat16_EveryLength_MatchesScalarTwin()
    {
        var rng = new ResidualLM.Tensors.Rng(9);
        uint[] special = [0x3F80_8000u, 0x3F81_8000u, 0x7F7F_FFFFu, 0x7F80_0001u, 0xFFC0_0000u, 0x7F80_0000u, 0x0000_8000u, 0x8001_8000u, 0x7FFF_FFFFu];
        for (int length = 0; length <= 300; length++)
        {
            var source = new float[length];
            for (int index = 0; index < length; index++)
                source[index] = index % 7 == 3 ? BitConverter.UInt32BitsToSingle(special[index % special.Length]) : rng.NextGaussian() * 100f;
            var narrowed = new ushort[length + 1];
            narrowed[length] = 0xABCD; // guard: nothing may be written past the requested length
            HalfPrecision.SingleToBFloat16(source, narrowed.AsSpan(0, length));
            for (int index = 0; index < length; index++)
                Assert.Equal(HalfPrecision.SingleToBFloat16Scalar(source[index]), narrowed[index]);
            Assert.Equal(0xABCD, narrowed[length]);
        }
    }

    [Fact]
    public void SingleToFloat16_ThenBack_IsIdentityOnHalfValues()
    {
        var widened = new float[AllPatterns.Length];
        HalfPrecision.Float16ToSingle(AllPatterns, widened);
        var narrowed = new ushort[AllPatterns.Length];
        HalfPrecision.SingleToFloat16(widened, narrowed);
        for (int index = 0; index < AllPatterns.Length; index++)
        {
            if (float.IsNaN(widened[index])) continue;
            Assert.Equal(AllPatterns[index], narrowed[index]);
        }
    }

    [Fact]
    public void Conversions_LengthMismatch_Throw()
    {
        Assert.Throws<ArgumentException>(() => HalfPrecision.Float16ToSingle(new ushort[3], new float[2]));
        Assert.Throws<ArgumentException>(() => HalfPrecision.BFloat16ToSingle(new ushort[3], new float[4]));
    }
}
