// Conversions between 16-bit floats (IEEE binary16 "F16" and bfloat16 "BF16") and float32, for checkpoints.
// Widening is exact; narrowing rounds to nearest even. Inputs are raw little-endian bit patterns (ushort).
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace ResidualLM.IO;

/// <summary>Half-precision conversions with scalar twins used by the tests.</summary>
public static class HalfPrecision
{
    /// <summary>Widens IEEE binary16 bit patterns to float32 (exact, NaN payloads kept). Lengths must match.</summary>
    public static void Float16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        // TensorPrimitives holds the vectorised Half -> float conversion (F16C where available).
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(source), destination);
    }

    /// <summary>Widens bfloat16 bit patterns to float32: bfloat16 is the top half of a float32, so this is exact.</summary>
    public static void BFloat16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        Kernels.HalfConversion.BFloat16ToSingle(source, destination);
    }

    /// <summary>Narrows float32 to IEEE binary16 bit patterns, rounding to nearest even (overflow gives infinity).</summary>
    public static void SingleToFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        CheckLengths(source.Length, destination.Length);
        TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<ushort, Half>(destination));
    }

    /// <summary>Narrows float32 to bfloat16 bit patterns, rounding to nearest even; NaN stays a quiet NaN.</summary>
    public static void SingleToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        CheckLengths(source.Length, destination.Length);
        Kernels.HalfConversion.SingleToBFloat16(source, destination);
    }

    /// <summary>Scalar twin of <see cref="Float16ToSingle"/>.</summary>
    public static float Float16ToSingleScalar(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Scalar twin of <see cref="BFloat16ToSingle"/>.</summary>
    public static float BFloat16ToSingleScalar(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>One float32 to bfloat16, rounding to nearest even: the scalar twin of <see cref="SingleToBFloat16"/>.</summary>
    public static ushort SingleToBFloat16Scalar(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Rounding could carry a NaN's payload into the exponent and make it infinity: force a quiet NaN instead.
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    static void CheckLengths(int sourceLength, int destinationLength)
    {
        if (sourceLength != destinationLength)
            throw new ArgumentException($"source has {sourceLength} elements but destination has {destinationLength}");
    }
}
