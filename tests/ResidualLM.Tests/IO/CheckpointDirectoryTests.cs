// The run folder's atomic checkpoint switching: pointer, completion marker, crash leftovers, pruning.
using ResidualLM.IO;
using Xunit;

namespace ResidualLM.Tests.IO;

public class CheckpointDirectoryTests
{
    static string NewRoot() => Path.Combine(Path.GetTempPath(), "rlm-ckpt-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Save_PointsLatestAtNewFolder_AndKeepsTwo()
    {
        var store = new CheckpointDirectory(NewRoot(), keep: 2);
        Assert.Null(store.Current());
        foreach (int step in new[] { 10, 20, 30 })
            store.Save(step, dir => AtomicFile.WriteAllText(Path.Combine(dir, "x.txt"), step.ToString()));
        string current = store.Current()!;
        Assert.EndsWith("step-0000030", current);
        Assert.Equal("30", File.ReadAllText(Path.Combine(current, "x.txt")));
        Assert.Equal(new[] { "step-0000020", "step-0000030" }, Directory.GetDirectories(store.Root).Select(d => Path.GetFileName(d)!).Order().ToArray());
        Directory.Delete(store.Root, true);
    }

    [Fact]
    public void CrashDuringSave_LeavesPreviousCheckpointCurrent()
    {
        var store = new CheckpointDirectory(NewRoot());
        store.Save(1, dir => AtomicFile.WriteAllText(Path.Combine(dir, "x.txt"), "one"));
        Assert.Throws<InvalidOperationException>(() => store.Save(2, dir =>
        {
            AtomicFile.WriteAllText(Path.Combine(dir, "x.txt"), "two");
            throw new InvalidOperationException("simulated crash");
        }));
        Assert.EndsWith("step-0000001", store.Current());
        // The next save of the same step starts over and succeeds.
        store.Save(2, dir => AtomicFile.WriteAllText(Path.Combine(dir, "y.txt"), "two"));
        Assert.False(File.Exists(Path.Combine(store.Current()!, "x.txt")));
        Directory.Delete(store.Root, true);
    }

    [Fact]
    public void PointerToMissingFolder_IsAClearError()
    {
        string root = NewRoot();
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "latest"), "step-0000099\n");
        var e = Assert.Throws<InvalidInputException>(() => new CheckpointDirectory(root).Current());
        Assert.Contains("step-0000099", e.Message);
        Assert.Contains("latest", e.Message);
        Directory.Delete(root, true);
    }
}
