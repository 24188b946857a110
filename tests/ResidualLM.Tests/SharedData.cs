// Locates ../shared/data (present in CI and on developer machines, absent on a fresh clone) for tests that need it.
using Xunit;

namespace ResidualLM.Tests;

/// <summary>Finds the shared data folder by walking up from the test binary to a directory that has a sibling <c>shared/data</c>.</summary>
public static class SharedData
{
    public static readonly string? Directory = Find();

    static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data");
            if (System.IO.Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Full path of a file under shared/data, or null when it is absent.</summary>
    public static string? File(string relative)
    {
        if (Directory is null) return null;
        string path = Path.Combine(Directory, relative);
        return System.IO.File.Exists(path) ? path : null;
    }
}

/// <summary>A fact that is skipped, with a visible reason, when a file of ../shared/data is absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(params string[] files)
    {
        foreach (string f in files)
            if (SharedData.File(f) is null) { Skip = $"needs ../shared/data/{f}, which is absent on this machine"; break; }
    }
}
