// Assertions for bad input: the action throws InvalidInputException naming the field, with the expected words in its
// reason (or exactly the file, field and reason). Shared by the validation tests of models, configs and tokenizer files.
using Xunit;

namespace ResidualLM.Tests;

public static class InputErrors
{
    public static InvalidInputException AssertRefused(Action action, string field, string words)
    {
        var e = Assert.Throws<InvalidInputException>(action);
        Assert.Equal(field, e.Field);
        Assert.Contains(words, e.Reason);
        return e;
    }

    /// <summary>The action throws InvalidInputException with exactly this file, field and reason.</summary>
    public static InvalidInputException AssertRefusedExactly(Action action, string? file, string? field, string reason)
    {
        var e = Assert.Throws<InvalidInputException>(action);
        Assert.Equal((file, field, reason), (e.FilePath, e.Field, e.Reason));
        return e;
    }
}
