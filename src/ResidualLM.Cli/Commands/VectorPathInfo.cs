// What `rlm --version` and `rlm bench --info` print: the version, the vector path the kernels take and why.
using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.InteropServices;
using ResidualLM.Kernels;

namespace ResidualLM.Cli.Commands;

/// <summary>The machine facts a benchmark result depends on.</summary>
public static class VectorPathInfo
{
    /// <summary>The informational version of rlm (with the commit when the build recorded one).</summary>
    public static string Version =>
        typeof(VectorPathInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>"vector path: avx512", the runtime's instruction sets and the forcing switches, one per line.</summary>
    public static IEnumerable<string> Lines()
    {
        yield return $"vector path: {VectorIsa.Name} ({(VectorIsa.FusedMultiplyAdd ? "fused" : "unfused")} multiply-add)";
        yield return $"features: {VectorIsa.Features()}";
        yield return $"runtime: .NET {Environment.Version}, {RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} cores";
        foreach (string name in new[] { "DOTNET_EnableAVX512", "DOTNET_EnableAVX512F", "DOTNET_EnableAVX2", "DOTNET_EnableAVX", "DOTNET_EnableHWIntrinsic" })
            if (Environment.GetEnvironmentVariable(name) is string value) yield return $"{name}={value}";
    }

    /// <summary>Replaces the root command's default --version action with one that also prints <see cref="Lines"/>.</summary>
    public static void ExtendVersionOption(RootCommand root)
    {
        foreach (Option option in root.Options)
            if (option is VersionOption version) version.Action = new PrintVersion();
    }

    sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine(Version);
            foreach (string line in Lines()) output.WriteLine(line);
            return 0;
        }
    }
}
