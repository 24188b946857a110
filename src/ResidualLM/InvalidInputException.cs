// The one exception type for bad user input (files, configs, arguments); the CLI turns it into a one-line error.
namespace ResidualLM;

/// <summary>
/// Thrown when a file, configuration or argument supplied by the user is invalid. The message names the file
/// (when there is one), the field and what was expected. The CLI prints it on one line and exits with code 2;
/// any other exception type is a bug.
/// </summary>
public sealed class InvalidInputException : Exception
{
    /// <summary>The file at fault, when the input came from a file.</summary>
    public string? FilePath { get; }

    /// <summary>
    /// The field, tensor or argument at fault, when known. For a library record's setting it is the property's name
    /// (e.g. LearningRate), which a front end may map to its own name for it (the CLI's --lr).
    /// </summary>
    public string? Field { get; }

    /// <summary>What is wrong, without the file and field that <see cref="Exception.Message"/> starts with.</summary>
    public string Reason { get; }

    public InvalidInputException(string message, string? filePath = null, string? field = null, Exception? inner = null)
        : base(Compose(message, filePath, field), inner)
    {
        FilePath = filePath;
        Field = field;
        Reason = message;
    }

    /// <summary>The same error with the field named <paramref name="field"/> (e.g. a property renamed to a command-line flag).</summary>
    public InvalidInputException WithField(string field) => new(Reason, FilePath, field, this);

    static string Compose(string message, string? filePath, string? field)
    {
        string where = (filePath, field) switch
        {
            (not null, not null) => $"{filePath}: {field}: ",
            (not null, null) => $"{filePath}: ",
            (null, not null) => $"{field}: ",
            _ => "",
        };
        return where + message;
    }
}
