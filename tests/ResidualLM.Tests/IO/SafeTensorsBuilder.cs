// Hand-builds safetensors bytes from header text, so tests can state exactly what a (possibly malformed) file holds.
using System.Buffers.Binary;
using System.Text;

namespace ResidualLM.Tests.IO;

/// <summary>Builds safetensors files byte by byte, bypassing the library's writer.</summary>
public static class SafeTensorsBuilder
{
    /// <summary>One header entry: <c>"name":{"dtype":..,"shape":[..],"data_offsets":[begin,end]}</c>.</summary>
    public static string Entry(string name, string dtype, long[] shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{begin},{end}]}}";

    /// <summary>A file whose header is <paramref name="headerJson"/> padded with spaces to 8 bytes, followed by <paramref name="data"/>.</summary>
    public static byte[] Build(string headerJson, ReadOnlySpan<byte> data)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        int padding = (8 - header.Length % 8) % 8;
        return Raw((ulong)(header.Length + padding), [.. header, .. Enumerable.Repeat((byte)' ', padding), .. data]);
    }

    /// <summary>A file of <paramref name="dataBytes"/> data bytes counting up from 1, after the given header.</summary>
    public static byte[] Build(string headerJson, int dataBytes) =>
        Build(headerJson, Enumerable.Range(1, dataBytes).Select(value => (byte)value).ToArray());

    /// <summary>The 8-byte length prefix <paramref name="declaredHeaderLength"/> followed by <paramref name="rest"/>, verbatim.</summary>
    public static byte[] Raw(ulong declaredHeaderLength, ReadOnlySpan<byte> rest)
    {
        var bytes = new byte[8 + rest.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength);
        rest.CopyTo(bytes.AsSpan(8));
        return bytes;
    }

    /// <summary>Little-endian bytes of float32 values.</summary>
    public static byte[] Floats(params float[] values) =>
        values.SelectMany(value => BitConverter.GetBytes(value)).ToArray();

    /// <summary>Little-endian bytes of 16-bit patterns.</summary>
    public static byte[] Halves(params ushort[] bits) =>
        bits.SelectMany(value => new[] { (byte)value, (byte)(value >> 8) }).ToArray();
}
