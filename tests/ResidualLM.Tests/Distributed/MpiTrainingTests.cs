// `rlm train --distributed mpi` under a real mpirun (Open MPI), two ranks on this machine, against one process
// training on the same global batch; skipped with a reason when mpirun is not installed.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ResidualLM.Tests.Cli;
using Xunit;

namespace ResidualLM.Tests.Distributed;

/// <summary>A fact skipped, with a visible reason, when <c>mpirun</c> is not on PATH.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (MpiTrainingTests.FindMpirun() is null) Skip = "needs Open MPI's mpirun on PATH (apt-get install openmpi-bin), which is absent on this machine";
    }
}

public class MpiTrainingTests
{
    // A tiny model, no dropout (its masks are drawn per process), one thread per rank, 20 steps.
    static readonly string[] Tiny = ["--corpus-chars", "20000", "--layers", "1", "--width", "32", "--heads", "2", "--context", "32", "--dropout", "0",
        "--steps", "20", "--eval-interval", "10", "--eval-batches", "2", "--sample-tokens", "0", "--seed", "7", "--threads", "1"];

    /// <summary>Full path of mpirun when it is on PATH, else null.</summary>
    public static string? FindMpirun() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists);

    /// <summary>mpirun -np <paramref name="ranks"/> ... dotnet rlm.dll args: exit code and both streams; killed (with its ranks) after <paramref name="limit"/>.</summary>
    static (int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed) RunMpi(string dir, int ranks, TimeSpan limit, params string[] args)
    {
        var start = new ProcessStartInfo(FindMpirun()!)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir,
        };
        // As root mpirun refuses to start without --allow-run-as-root; more ranks than cores need --oversubscribe;
        // TERM=dumb keeps .NET's console from writing terminal escape codes into the redirected output.
        foreach (string a in new[] { "-np", ranks.ToString(CultureInfo.InvariantCulture), "--allow-run-as-root", "--oversubscribe", "-x", "TERM=dumb",
                     "dotnet", Path.Combine(AppContext.BaseDirectory, "rlm.dll") })
            start.ArgumentList.Add(a);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        start.Environment.Remove("TERM");
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"mpirun did not finish in {limit}: the job hangs or is far too slow");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }

    /// <summary>
    /// A run folder's metrics.jsonl: per step (in order) the training loss and the gradient norm, then the
    /// evaluation losses.
    /// </summary>
    static (List<double> Steps, List<double> Validation) Losses(string runFolder)
    {
        var steps = new List<double>();
        var validation = new List<double>();
        foreach (string line in File.ReadAllLines(Path.Combine(runFolder, "metrics.jsonl")))
        {
            var node = JsonNode.Parse(line)!;
            if (node["loss"] is { } loss)
            {
                Assert.Equal(steps.Count / 2 + 1, node["step"]!.GetValue<int>());   // one line per step: only rank 0 writes
                // The norm too: AdamW (and clipping) would hide gradients scaled by the rank count from the losses.
                steps.AddRange(loss.GetValue<double>(), node["grad_norm"]!.GetValue<double>());
            }
            if (node["val_loss"] is { } val) validation.Add(val.GetValue<double>());
        }
        return (steps, validation);
    }

    static string TrainTwoRanks(string dir, string name)
    {
        var (code, stdout, stderr, _) = RunMpi(dir, 2, TimeSpan.FromMinutes(3), ["train", "--distributed", "mpi", "--batch", "2", .. Tiny, "--out", name]);
        Assert.True(code == 0, $"mpirun exited with {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("2 MPI ranks, global batch 4 sequences", stdout);
        Assert.Single(stdout.Split('\n'), l => l.StartsWith("done:", StringComparison.Ordinal));   // rank 1 prints nothing
        return Path.Combine(dir, name);
    }

    [MpiFact]
    public void TwoRanksOfBatchTwo_MatchOneProcessOfBatchFour()
    {
        string dir = RlmProcess.TemporaryDirectory();
        var distributed = Losses(TrainTwoRanks(dir, "mpi"));
        // One process, one replica: the whole batch of 4 in one backward, another summation order than two ranks'.
        var (code, stdout, stderr) = RlmProcess.Run(dir, ["train", "--batch", "4", "--data-parallel", "1", .. Tiny, "--out", "single"]);
        Assert.True(code == 0, $"rlm exited with {code}\n{stdout}\n{stderr}");
        var single = Losses(Path.Combine(dir, "single"));

        Assert.Equal(2 * 20, single.Steps.Count);
        Assert.Equal(single.Steps.Count, distributed.Steps.Count);
        Assert.Equal(2, single.Validation.Count);
        Assert.Equal(single.Validation.Count, distributed.Validation.Count);
        // The gradient of the global batch is summed in another order (two half-batch backwards, then an all-reduce),
        // so float32 round-off differs; 20 AdamW steps keep that within 1e-5 relative, while any wrong shard, scale or
        // seed moves the losses by far more (from the first step or within a few).
        const double Tolerance = 1e-5;
        foreach (var (expected, actual) in single.Steps.Concat(single.Validation).Zip(distributed.Steps.Concat(distributed.Validation)))
            Assert.True(Math.Abs(actual - expected) <= Tolerance * Math.Abs(expected), $"loss or norm {actual} on two ranks, {expected} in one process");
        Directory.Delete(dir, recursive: true);
    }

    [MpiFact]
    public void TwoRankRuns_AreBitIdentical()
    {
        string dir = RlmProcess.TemporaryDirectory();
        var first = Losses(TrainTwoRanks(dir, "a"));
        var second = Losses(TrainTwoRanks(dir, "b"));
        Assert.Equal(2 * 20, first.Steps.Count);
        Assert.Equal(first.Steps, second.Steps);       // exact: same data, same reduction order
        Assert.Equal(first.Validation, second.Validation);
        Directory.Delete(dir, recursive: true);
    }

    [MpiFact]
    public void TwoRanksWithAccumulation_MatchOneProcess()
    {
        // Two micro-batches per step: each rank takes its slice of both global batches before the all-reduce.
        string dir = RlmProcess.TemporaryDirectory();
        string[] options = ["--accumulation", "2", .. Tiny];
        var (code, stdout, stderr, _) = RunMpi(dir, 2, TimeSpan.FromMinutes(3), ["train", "--distributed", "mpi", "--batch", "2", .. options, "--out", "mpi"]);
        Assert.True(code == 0, $"mpirun exited with {code}\n{stdout}\n{stderr}");
        (code, stdout, stderr) = RlmProcess.Run(dir, ["train", "--batch", "4", "--data-parallel", "1", .. options, "--out", "single"]);
        Assert.True(code == 0, $"rlm exited with {code}\n{stdout}\n{stderr}");
        var single = Losses(Path.Combine(dir, "single"));
        var distributed = Losses(Path.Combine(dir, "mpi"));
        Assert.Equal(2 * 20, single.Steps.Count);
        Assert.Equal(single.Steps.Count, distributed.Steps.Count);
        foreach (var (expected, actual) in single.Steps.Concat(single.Validation).Zip(distributed.Steps.Concat(distributed.Validation)))
            Assert.True(Math.Abs(actual - expected) <= 1e-5 * Math.Abs(expected), $"loss or norm {actual} on two ranks, {expected} in one process");
        Directory.Delete(dir, recursive: true);
    }

    [MpiFact]
    public void BucketsReducedDuringBackward_EqualOneAllReduceAfterIt()
    {
        // Tiny buckets (10 KB: a dozen all-reduces on the communication thread while backward runs) against one
        // all-reduce after backward: with two ranks every element is the same a + b, so the runs are bit-identical.
        string dir = RlmProcess.TemporaryDirectory();
        var runs = new List<(List<double>, List<double>)>();
        foreach (string bucket in new[] { "0.01", "0" })
        {
            var (code, stdout, stderr, _) = RunMpi(dir, 2, TimeSpan.FromMinutes(3), ["train", "--distributed", "mpi", "--batch", "2", "--bucket-mb", bucket, .. Tiny, "--out", "b" + bucket]);
            Assert.True(code == 0, $"mpirun exited with {code}\n{stdout}\n{stderr}");
            Assert.Contains(bucket == "0" ? "1 bucket, reduced after backward" : "buckets, each reduced as soon as backward has finished its gradients", stdout);
            Assert.Matches(@"all-reduce: \d+\.\d+ s of \d+\.\d+ s of steps", stdout);
            runs.Add(Losses(Path.Combine(dir, "b" + bucket)));
        }
        Assert.Equal(2 * 20, runs[0].Item1.Count);
        Assert.Equal(runs[1].Item1, runs[0].Item1);
        Assert.Equal(runs[1].Item2, runs[0].Item2);
        Directory.Delete(dir, recursive: true);
    }

    [MpiFact]
    public void KillOneRank_ThenResume_GivesTheUninterruptedLosses()
    {
        // 300 steps with a checkpoint every 20; rank 1 is killed (SIGKILL) once step 40 is saved, and the job resumed
        // on two ranks must continue exactly as a run never stopped: same losses, norms and validation losses. With
        // dropout, so the ranks' mask streams must resume in step too.
        string dir = RlmProcess.TemporaryDirectory();
        string[] options = ["--distributed", "mpi", "--batch", "2", "--corpus-chars", "20000", "--layers", "2", "--width", "64", "--heads", "2", "--context", "32",
            "--dropout", "0.1", "--steps", "300", "--checkpoint-interval", "20", "--eval-interval", "100", "--eval-batches", "2", "--sample-tokens", "0", "--seed", "7", "--threads", "1"];
        var (code, stdout, stderr, _) = RunMpi(dir, 2, TimeSpan.FromMinutes(3), ["train", .. options, "--out", "whole"]);
        Assert.True(code == 0, $"mpirun exited with {code}\n{stdout}\n{stderr}");
        var whole = Losses(Path.Combine(dir, "whole"));

        string run = Path.Combine(dir, "killed");
        int killedAt = KillRankOneAfterCheckpoint(dir, run, minimumStep: 40, ["train", .. options, "--out", "killed"]);
        Assert.True(killedAt < 300, $"the run finished (step {killedAt}) before rank 1 could be killed: the test proves nothing");

        // One process cannot take over a two-rank run: refused with the reason, before any work.
        var (refused, _, refusal) = RlmProcess.Run(dir, ["train", "--resume", "killed"]);
        Assert.Equal(2, refused);
        Assert.Contains("was written by 2 ranks (global batch 4 = 2 x 2) but 1 process resumes it", refusal);

        (code, stdout, stderr, _) = RunMpi(dir, 2, TimeSpan.FromMinutes(3), ["train", "--distributed", "mpi", "--resume", "killed"]);
        Assert.True(code == 0, $"resuming exited with {code}\n{stdout}\n{stderr}");
        Assert.Contains($"resuming at step {killedAt}", stdout);
        var resumed = Losses(run);
        Assert.Equal(2 * 300, resumed.Steps.Count);
        Assert.Equal(whole.Steps, resumed.Steps);
        Assert.Equal(whole.Validation, resumed.Validation);
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>
    /// Starts the job, waits until its run folder has a checkpoint at <paramref name="minimumStep"/> or later, kills rank
    /// 1 with SIGKILL and waits for mpirun to end the job (non-zero). Returns the step of the checkpoint left behind.
    /// </summary>
    static int KillRankOneAfterCheckpoint(string dir, string run, int minimumStep, string[] args)
    {
        var start = new ProcessStartInfo(FindMpirun()!) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        foreach (string a in new[] { "-np", "2", "--allow-run-as-root", "--oversubscribe", "-x", "TERM=dumb", "dotnet", Path.Combine(AppContext.BaseDirectory, "rlm.dll") })
            start.ArgumentList.Add(a);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        start.Environment.Remove("TERM");
        using var mpirun = Process.Start(start)!;
        mpirun.StandardInput.Close();
        var stdout = mpirun.StandardOutput.ReadToEndAsync();
        var stderr = mpirun.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        int? rankOne = null;
        while (DateTime.UtcNow < deadline && !mpirun.HasExited)
        {
            if (LatestStep(run) >= minimumStep && (rankOne ??= FindRank(run, 1)) is int pid)
            {
                Process.GetProcessById(pid).Kill();   // SIGKILL on Linux: no chance to clean up
                break;
            }
            Thread.Sleep(5);
        }
        if (!mpirun.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            mpirun.Kill(entireProcessTree: true);
            throw new TimeoutException("mpirun did not end the job after a rank was killed");
        }
        Assert.True(rankOne is not null, $"rank 1 was never found or the job ended first (exit {mpirun.ExitCode})\n{stdout.Result}\n{stderr.Result}");
        Assert.True(mpirun.ExitCode != 0, $"mpirun exited with 0 after rank 1 was killed\n{stdout.Result}\n{stderr.Result}");
        return LatestStep(run);
    }

    /// <summary>The step of the run's newest checkpoint ("latest" names its folder, step-NNNNNNN), or -1.</summary>
    static int LatestStep(string run)
    {
        try
        {
            string name = File.ReadAllText(Path.Combine(run, "latest")).Trim();
            return name.StartsWith("step-", StringComparison.Ordinal) && int.TryParse(name.AsSpan(5), CultureInfo.InvariantCulture, out int step) ? step : -1;
        }
        catch (IOException) { return -1; }
    }

    /// <summary>The pid of the process that is rank <paramref name="rank"/> (OMPI_COMM_WORLD_RANK) of the job writing <paramref name="run"/>.</summary>
    static int? FindRank(string run, int rank)
    {
        string folderName = Path.GetFileName(run);
        foreach (string proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out int pid)) continue;
            try
            {
                string commandLine = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                if (!commandLine.Contains("rlm.dll") || !commandLine.Contains(" " + folderName)) continue;
                string environment = File.ReadAllText(Path.Combine(proc, "environ"));
                if (environment.Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return null;
    }

    [MpiFact]
    public void MissingData_AbortsTheJobWithTheRankInOneLine()
    {
        string dir = RlmProcess.TemporaryDirectory();
        var (code, _, stderr, elapsed) = RunMpi(dir, 2, TimeSpan.FromMinutes(1), ["train", "--distributed", "mpi", "--data", "missing.txt", .. Tiny, "--out", "run"]);
        Assert.NotEqual(0, code);
        Assert.Contains(stderr.Split('\n'), l => l.StartsWith("error: rank ", StringComparison.Ordinal) && l.Contains(" of 2: ") && l.Contains("missing.txt: --data: file not found"));
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"the job took {elapsed} to end");
        Directory.Delete(dir, recursive: true);
    }

    [MpiFact]
    public void OnlyRankZeroFails_TheJobStillEnds()
    {
        // Rank 0 alone checks the output folder; rank 1 goes on to its first collective and would wait there forever.
        string dir = RlmProcess.TemporaryDirectory();
        File.WriteAllText(Path.Combine(dir, "file.txt"), "x");
        var (code, _, stderr, elapsed) = RunMpi(dir, 2, TimeSpan.FromMinutes(1), ["train", "--distributed", "mpi", .. Tiny, "--out", "file.txt/run"]);
        Assert.NotEqual(0, code);
        Assert.Contains(stderr.Split('\n'), l => l.StartsWith("error: rank 0 of 2: ", StringComparison.Ordinal) && l.Contains("--out"));
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"the job took {elapsed} to end");
        Directory.Delete(dir, recursive: true);
    }
}
