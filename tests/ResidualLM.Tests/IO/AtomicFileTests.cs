// AtomicFile: new content replaces old, a failing writer leaves the old file intact, no temporary file survives.
using ResidualLM.IO;
using Xunit;

namespace ResidualLM.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("rlm-atomic-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    string[] Entries() => Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void WriteAllText_CreatesThenReplaces_LeavingOnlyTheTarget()
    {
        string path = Path.Combine(directory, "config.json");
        AtomicFile.WriteAllText(path, "{\"a\": 1}");
        Assert.Equal("{\"a\": 1}", File.ReadAllText(path));
        AtomicFile.WriteAllText(path, "ünïcode");
        Assert.Equal([0xC3, 0xBC], File.ReadAllBytes(path)[..2]); // UTF-8, no byte-order mark
        Assert.Equal(["config.json"], Entries());
    }

    [Fact]
    public void Write_WriterThrowsMidWrite_OldFileSurvivesAndNoTemporaryRemains()
    {
        string path = Path.Combine(directory, "model.safetensors");
        File.WriteAllText(path, "old content");
        var failure = new InvalidOperationException("disk full (simulated)");
        var thrown = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100_000]);
            stream.Flush();
            throw failure;
        }));
        Assert.Same(failure, thrown);
        Assert.Equal("old content", File.ReadAllText(path));
        Assert.Equal(["model.safetensors"], Entries());
    }

    [Fact]
    public void Write_WriterThrows_NoTargetCreatedWhenNoneExisted()
    {
        string path = Path.Combine(directory, "new.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, _ => throw new IOException("boom")));
        Assert.Empty(Entries());
    }

    [Fact]
    public void SafeTensorsWrite_InvalidArguments_LeaveOldFileAndNoTemporary()
    {
        string path = Path.Combine(directory, "weights.safetensors");
        SafeTensors.Write(path, [("a", [2], new[] { 1f, 2f })]);
        byte[] before = File.ReadAllBytes(path);
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [("a", [3], new[] { 1f, 2f })]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["weights.safetensors"], Entries());
    }

    [Fact]
    public void Write_MissingDirectory_IsInvalidInput()
    {
        string path = Path.Combine(directory, "no", "such", "dir", "file.txt");
        var exception = Assert.Throws<InvalidInputException>(() => AtomicFile.WriteAllText(path, "x"));
        Assert.Equal(path, exception.FilePath);
        Assert.Contains("directory does not exist", exception.Message);
    }

    [Fact]
    public void Write_TargetIsDirectory_IsInvalidInput()
    {
        Assert.Throws<InvalidInputException>(() => AtomicFile.WriteAllText(directory, "x"));
    }
}
