// Positioned reads from a file handle, a seekable stream or memory, so a safetensors file is read piece by piece
// instead of as one array. A short read means the source changed after the header was validated.
using Microsoft.Win32.SafeHandles;

namespace ResidualLM.IO;

internal abstract class ByteSource : IDisposable
{
    protected ByteSource(string displayName) => DisplayName = displayName;

    /// <summary>The name used in messages (usually the path).</summary>
    public string DisplayName { get; }

    /// <summary>Total length in bytes, read once when the source is opened.</summary>
    public abstract long Length { get; }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>, or throws if the source is shorter.</summary>
    public void ReadExactly(long offset, Span<byte> destination)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int read = ReadAt(offset + total, destination[total..]);
            if (read <= 0)
                throw new InvalidInputException(
                    $"ended at byte {offset + total} while reading {destination.Length} bytes at {offset}: the file was truncated or changed", DisplayName);
            total += read;
        }
    }

    protected abstract int ReadAt(long offset, Span<byte> destination);

    public virtual void Dispose() { }
}

internal sealed class FileByteSource : ByteSource
{
    readonly SafeFileHandle handle;

    public FileByteSource(string path) : base(path)
    {
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            Length = RandomAccess.GetLength(handle);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidInputException("file not found", path, inner: exception);
        }
        catch (Exception exception) when (exception is UnauthorizedAccessException or IOException)
        {
            handle?.Dispose();
            throw new InvalidInputException($"cannot be opened: {exception.Message}", path, inner: exception);
        }
    }

    public override long Length { get; }

    // RandomAccess.Read takes the offset with each call, so concurrent tensor reads need no lock.
    protected override int ReadAt(long offset, Span<byte> destination) => RandomAccess.Read(handle, destination, offset);

    public override void Dispose() => handle.Dispose();
}

internal sealed class StreamByteSource : ByteSource
{
    readonly Stream stream;
    readonly object gate = new();

    public StreamByteSource(Stream stream, string displayName) : base(displayName)
    {
        if (!stream.CanRead || !stream.CanSeek) throw new ArgumentException("the stream must be readable and seekable", nameof(stream));
        this.stream = stream;
        Length = stream.Length;
    }

    public override long Length { get; }

    protected override int ReadAt(long offset, Span<byte> destination)
    {
        lock (gate)
        {
            stream.Position = offset;
            return stream.Read(destination);
        }
    }
}

internal sealed class MemoryByteSource : ByteSource
{
    readonly ReadOnlyMemory<byte> bytes;

    public MemoryByteSource(ReadOnlyMemory<byte> bytes, string displayName) : base(displayName) => this.bytes = bytes;

    public override long Length => bytes.Length;

    protected override int ReadAt(long offset, Span<byte> destination)
    {
        if (offset >= bytes.Length) return 0;
        int count = (int)Math.Min(destination.Length, bytes.Length - offset);
        bytes.Span.Slice((int)offset, count).CopyTo(destination);
        return count;
    }
}
