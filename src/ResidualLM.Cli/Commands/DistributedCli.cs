// Running a command body on every rank of an MPI job: only rank 0 prints, and a rank that fails ends the whole job
// with one line naming it (the others would otherwise wait forever in their next collective).
using ResidualLM.Distributed;

namespace ResidualLM.Cli.Commands;

static class DistributedCli
{
    /// <summary>
    /// Creates the communicator of <paramref name="backend"/> and runs <paramref name="body"/> with it. With several
    /// ranks, every rank but 0 writes nothing to stdout, and an exception on any rank aborts the job with
    /// "error: rank R of N: message" (the flag named as in <paramref name="flags"/>) and the usual exit code.
    /// </summary>
    public static int Run(DistributedKind backend, IReadOnlyDictionary<string, string>? flags, Func<ICommunicator, int> body)
    {
        using var communicator = Communicators.Create(backend);
        if (communicator.Size == 1) return body(communicator);
        if (communicator.Rank != 0) Console.SetOut(TextWriter.Null);
        try { return body(communicator); }
        catch (Exception e)
        {
            string message = e is InvalidInputException { Field: string property } bad && flags is not null && flags.TryGetValue(property, out string? flag)
                ? bad.WithField(flag).Message : e.Message;
            communicator.Abort($"error: rank {communicator.Rank} of {communicator.Size}: {message.ReplaceLineEndings(" ")}", e is InvalidInputException ? CliErrors.BadInput : 1);
            throw;
        }
    }
}
