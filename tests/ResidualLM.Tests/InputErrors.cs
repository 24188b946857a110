// One assertion for bad input: the action throws InvalidInputException naming the field, with the expected words in
// its reason. Shared by the validation tests of models, configs and tokenizer files.
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
}
