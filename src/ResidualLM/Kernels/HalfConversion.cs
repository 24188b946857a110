// bfloat16 <-> float32 over spans, for checkpoint loading and saving (IO.HalfPrecision): the vector forms of its scalar twins.
// Limits: raw little-endian bit patterns (ushort); IEEE binary16 goes through TensorPrimitives (F16C where available).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>Vectorised bfloat16 conversions; each loop ends with the scalar rule for the tail.</summary>
public static unsafe class HalfConversion
{
    /// <summary>Widens bfloat16 bit patterns to float32: bfloat16 is the top half of a float32, so this is exact. source, destination: (n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BFloat16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (source.Length != destination.Length) throw new ArgumentException("source and destination lengths differ");
        int i = 0, n = source.Length;
        fixed (ushort* s = source)
        fixed (float* df = destination)
        {
            uint* d = (uint*)df;
            if (VectorIsa.Path == VectorPath.Avx512)
                for (; i <= n - 32; i += 32)
                {
                    var (lower, upper) = Vector512.Widen(Vector512.Load(s + i));
                    Vector512.ShiftLeft(lower, 16).Store(d + i); Vector512.ShiftLeft(upper, 16).Store(d + i + 16);
                }
            if (VectorIsa.Path >= VectorPath.Avx2)
                for (; i <= n - 16; i += 16)
                {
                    var (lower, upper) = Vector256.Widen(Vector256.Load(s + i));
                    Vector256.ShiftLeft(lower, 16).Store(d + i); Vector256.ShiftLeft(upper, 16).Store(d + i + 8);
                }
            if (VectorIsa.Path >= VectorPath.Vector128)
                for (; i <= n - 8; i += 8)
                {
                    var (lower, upper) = Vector128.Widen(Vector128.Load(s + i));
                    Vector128.ShiftLeft(lower, 16).Store(d + i); Vector128.ShiftLeft(upper, 16).Store(d + i + 4);
                }
            for (; i < n; i++) d[i] = (uint)s[i] << 16;
        }
    }

    /// <summary>
    /// Narrows float32 to bfloat16 bit patterns, rounding to nearest even; NaN stays NaN (quiet bit set), since rounding
    /// could carry its payload into the exponent and make it infinity. source, destination: (n).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SingleToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (source.Length != destination.Length) throw new ArgumentException("source and destination lengths differ");
        int i = 0, n = source.Length;
        fixed (float* s = source)
        fixed (ushort* d = destination)
        {
            if (VectorIsa.Path == VectorPath.Avx512)
                for (; i <= n - 32; i += 32)
                    Vector512.Narrow(Round(Vector512.Load(s + i)), Round(Vector512.Load(s + i + 16))).Store(d + i);
            if (VectorIsa.Path >= VectorPath.Avx2)
                for (; i <= n - 16; i += 16)
                    Vector256.Narrow(Round(Vector256.Load(s + i)), Round(Vector256.Load(s + i + 8))).Store(d + i);
            if (VectorIsa.Path >= VectorPath.Vector128)
                for (; i <= n - 8; i += 8)
                    Vector128.Narrow(Round(Vector128.Load(s + i)), Round(Vector128.Load(s + i + 4))).Store(d + i);
            for (; i < n; i++) d[i] = Round(s[i]);
        }
    }

    /// <summary>The rule for one float (the tail): the top 16 bits after adding 0x7FFF plus the lowest kept bit (ties to even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ushort Round(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<uint> Round(Vector512<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
        return Vector512.ConditionalSelect(Vector512.Equals(value, value).AsUInt32(), rounded, (bits >> 16) | Vector512.Create(0x0040u));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<uint> Round(Vector256<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        return Vector256.ConditionalSelect(Vector256.Equals(value, value).AsUInt32(), rounded, (bits >> 16) | Vector256.Create(0x0040u));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<uint> Round(Vector128<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector128.Create(0x7FFFu) + ((bits >> 16) & Vector128<uint>.One)) >> 16;
        return Vector128.ConditionalSelect(Vector128.Equals(value, value).AsUInt32(), rounded, (bits >> 16) | Vector128.Create(0x0040u));
    }
}
