// Runs the real `rlm` (rlm.dll beside the tests) in a child process, as a user would, with a time limit.
using System.Diagnostics;

namespace ResidualLM.Tests.Cli;

/// <summary>Child-process runner for CLI tests.</summary>
public static class RlmProcess
{
    /// <summary>How to start rlm with the arguments, both streams redirected, colours off.</summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rlm.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        return start;
    }

    /// <summary>Runs rlm with the arguments; returns the exit code and both streams.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, params string[] args)
    {
        using var process = Process.Start(StartInfo(workingDirectory, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3))) { process.Kill(entireProcessTree: true); throw new TimeoutException("rlm did not finish in 3 minutes"); }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A fresh empty folder under the temp directory.</summary>
    public static string TemporaryDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "rlm-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
