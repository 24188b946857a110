// Crash-safe file replacement: write a temporary file next to the target, flush it to disk, rename it over.
// Limits: the directory entry is not fsynced (.NET cannot open a directory), so after power loss the rename itself
// may be lost; the target is still either the complete old file or the complete new one.
using System.Text;

namespace ResidualLM.IO;

/// <summary>Writes files so that readers, and a crash at any moment, see either the old content or the new.</summary>
public static class AtomicFile
{
    const string TemporarySuffix = ".tmp";

    /// <summary>
    /// Calls <paramref name="write"/> with a stream on a new temporary file in the target's directory, flushes it to
    /// disk and renames it over <paramref name="path"/>. If <paramref name="write"/> throws, the temporary file is
    /// deleted, the exception propagates and the target is untouched.
    /// </summary>
    /// <exception cref="InvalidInputException">The target directory does not exist or cannot be written.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new InvalidInputException("is not a file path", path);
        if (Directory.Exists(fullPath)) throw new InvalidInputException("is a directory", path);
        // Same directory, so the rename stays on one file system and is atomic; a random part keeps writers apart.
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}{TemporarySuffix}");
        try
        {
            using (FileStream stream = OpenNew(temporary, path))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="text"/> in UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="bytes"/>.</summary>
    public static void WriteAllBytes(string path, ReadOnlyMemory<byte> bytes) => Write(path, stream => stream.Write(bytes.Span));

    static FileStream OpenNew(string temporary, string path)
    {
        try
        {
            // CreateNew: never reuse a file someone else made; FileShare.None: nobody reads a half-written file.
            return new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        }
        catch (DirectoryNotFoundException exception)
        {
            throw new InvalidInputException("cannot be written: its directory does not exist", path, inner: exception);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new InvalidInputException("cannot be written: permission denied", path, inner: exception);
        }
    }

    static void TryDelete(string temporary)
    {
        try
        {
            File.Delete(temporary);
        }
        catch (IOException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
