// A run folder whose checkpoints are never half-written: each save fills a fresh step-NNNNNNN folder, then a
// one-line `latest` file is replaced atomically to point at it. A crash (even SIGKILL) at any moment leaves `latest`
// naming a complete checkpoint; half-written folders are ignored and removed by the next save.
using System.Globalization;

namespace ResidualLM.IO;

/// <summary>Versioned checkpoints inside one output folder, switched atomically through a <c>latest</c> pointer.</summary>
public sealed class CheckpointDirectory
{
    /// <summary>Name of the pointer file.</summary>
    public const string LatestFile = "latest";

    /// <summary>Marker written last inside a step folder: its presence means every other file is complete.</summary>
    public const string CompleteMarker = "complete";

    /// <summary>The run folder.</summary>
    public string Root { get; }

    /// <summary>How many complete checkpoints to keep (older ones are deleted after a save).</summary>
    public int Keep { get; }

    public CheckpointDirectory(string root, int keep = 2)
    {
        Root = Path.GetFullPath(root);
        Keep = Math.Max(1, keep);
    }

    /// <summary>
    /// Writes a checkpoint for <paramref name="step"/>: <paramref name="writeFiles"/> fills the new folder (each file
    /// written with <see cref="AtomicFile"/>), then the completion marker and the pointer are written. Returns the folder.
    /// </summary>
    public string Save(int step, Action<string> writeFiles)
    {
        try { Directory.CreateDirectory(Root); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"cannot create the output folder ({e.Message})", Root);
        }
        string name = "step-" + step.ToString("D7", CultureInfo.InvariantCulture);
        string folder = Path.Combine(Root, name);
        // A folder left by a crash during an earlier save of the same step is incomplete: start it again.
        if (Directory.Exists(folder) && !IsComplete(folder) && Current() != folder) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        writeFiles(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, CompleteMarker), name + "\n");
        AtomicFile.WriteAllText(Path.Combine(Root, LatestFile), name + "\n");
        Prune(folder);
        return folder;
    }

    /// <summary>The folder of the newest complete checkpoint, or null when there is none.</summary>
    public string? Current()
    {
        string pointer = Path.Combine(Root, LatestFile);
        if (!File.Exists(pointer)) return null;
        string name = File.ReadAllText(pointer).Trim();
        if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name.Contains(".."))
            throw new InvalidInputException($"does not name a checkpoint folder (got '{name}')", pointer);
        string folder = Path.Combine(Root, name);
        if (!IsComplete(folder)) throw new InvalidInputException($"points to '{name}', which is missing or incomplete", pointer);
        return folder;
    }

    /// <summary>
    /// Where a model lives: a run folder with a <c>latest</c> pointer resolves to its newest checkpoint; any other
    /// folder (e.g. a Hugging Face GPT-2 folder) is returned as it is.
    /// </summary>
    public static string ResolveModelFolder(string path)
    {
        if (!Directory.Exists(path)) throw new InvalidInputException("folder not found", path);
        return new CheckpointDirectory(path).Current() ?? Path.GetFullPath(path);
    }

    static bool IsComplete(string folder) => File.Exists(Path.Combine(folder, CompleteMarker));

    void Prune(string newest)
    {
        var complete = Directory.GetDirectories(Root, "step-*")
            .Where(d => d != newest)
            .OrderByDescending(d => d, StringComparer.Ordinal)
            .ToList();
        int kept = 1;
        foreach (string folder in complete)
        {
            bool done = IsComplete(folder);
            if (done && kept < Keep) { kept++; continue; }
            // Incomplete folders of older steps are crash leftovers; complete ones beyond Keep are old.
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
