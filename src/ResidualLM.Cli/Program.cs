// Entry point of the `rlm` command: builds the command tree and turns user mistakes into one-line errors.
using System.CommandLine;
using ResidualLM.Cli.Commands;

namespace ResidualLM.Cli;

public static class Program
{
    /// <summary>Kernel threads for every command (default: RLM_THREADS or all cores).</summary>
    public static readonly Option<int?> ThreadsOption = new("--threads")
    {
        Description = "Threads for the kernels (default: RLM_THREADS or all cores)",
        Recursive = true,
    };

    public static int Main(string[] args)
    {
        var root = new RootCommand("rlm: train, run and study transformer language models, with the residual connection in view.");
        root.Options.Add(ThreadsOption);
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(LabCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(LogitsCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        VectorPathInfo.ExtendVersionOption(root);
        var parse = root.Parse(args);
        if (parse.Errors.Count == 0 && parse.GetValue(ThreadsOption) is int threads)
        {
            if (threads < 1) return CliErrors.Report(new InvalidInputException($"must be at least 1, got {threads}", field: "--threads"));
            // Every model this process builds takes its thread count from a default ComputeContext, which reads this.
            Environment.SetEnvironmentVariable("RLM_THREADS", threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }
}
