// Entry point of the `rlm` command: builds the command tree and turns user mistakes into one-line errors.
using System.CommandLine;
using ResidualLM.Cli.Commands;

namespace ResidualLM.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("rlm: train, run and study transformer language models, with the residual connection in view.");
        root.Subcommands.Add(TokenizeCommand.Create());
        return root.Parse(args).Invoke();
    }
}
