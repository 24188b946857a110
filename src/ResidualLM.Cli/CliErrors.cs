// Turns exceptions from user mistakes into one-line messages and exit codes; anything else is a bug and shows its trace.
namespace ResidualLM.Cli;

/// <summary>Exit codes and error reporting shared by every command.</summary>
public static class CliErrors
{
    /// <summary>Exit code for bad input (file, configuration or argument).</summary>
    public const int BadInput = 2;

    /// <summary>Runs a command body, mapping user errors to a message on stderr and <see cref="BadInput"/>.</summary>
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsUserError(e)) { return Report(e); }
    }

    /// <summary>
    /// Like <see cref="Run(Func{int})"/>, naming a library setting by its flag: the library's messages name the
    /// property at fault (<c>LearningRate: must be ...</c>), and a property found in <paramref name="flags"/> is
    /// reported as the flag that sets it (<c>--lr: must be ...</c>).
    /// </summary>
    public static int Run(IReadOnlyDictionary<string, string> flags, Func<int> body) => Run(() =>
    {
        try { return body(); }
        catch (InvalidInputException e) when (e.Field is string property && flags.TryGetValue(property, out string? flag))
        {
            throw e.WithField(flag);
        }
    });

    /// <summary>
    /// Like <see cref="Run(Func{int})"/>, writing the message to <paramref name="error"/> (a command's
    /// <c>InvocationConfiguration.Error</c>, so tests can capture it without touching the global console).
    /// </summary>
    public static int Run(TextWriter error, Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"error: {OneLine(e.Message)}");
            return BadInput;
        }
    }

    static string OneLine(string message) => message.ReplaceLineEndings(" ");

    /// <summary>Async version of <see cref="Run(Func{int})"/>.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try { return await body(); }
        catch (Exception e) when (IsUserError(e)) { return Report(e); }
    }

    static bool IsUserError(Exception e) =>
        e is InvalidInputException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or PathTooLongException;

    /// <summary>Prints "error: message" to stderr and returns <see cref="BadInput"/>.</summary>
    public static int Report(Exception e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return BadInput;
    }
}
