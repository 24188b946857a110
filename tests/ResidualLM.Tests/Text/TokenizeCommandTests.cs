// `rlm tokenize`: JSON output, the table, and exit code 2 with a one-line error for a bad tokenizer directory.
using System.CommandLine;
using System.Text.Json;
using ResidualLM.Cli.Commands;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class TokenizeCommandTests
{
    static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand();
        root.Subcommands.Add(TokenizeCommand.Create());
        var output = new StringWriter();
        var error = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Tokenize_Json_PrintsIdsOfTheSavedTokenizer()
    {
        using var directory = new TemporaryDirectory();
        var tokenizer = BpeTrainer.Train(TextTestData.EnglishLike(10_000, seed: 13), 40);
        tokenizer.Save(directory.Path);

        var (code, output, _) = Run("tokenize", "--vocab", directory.Path, "--text", "the rest, again", "--json");
        Assert.Equal(0, code);
        int[] ids = JsonDocument.Parse(output).RootElement.GetProperty("ids").EnumerateArray().Select(id => id.GetInt32()).ToArray();
        Assert.Equal(tokenizer.Encode("the rest, again"), ids);
        Assert.Single(output.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Tokenize_Table_PrintsOneLinePerToken()
    {
        using var directory = new TemporaryDirectory();
        new ByteTokenizer().Save(directory.Path);
        var (code, output, _) = Run("tokenize", "--vocab", directory.Path, "--text", "hi!");
        Assert.Equal(0, code);
        string[] lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Contains("\"!\"", lines[3]);
    }

    [Fact]
    public void Tokenize_MissingVocabulary_ExitsWithTwo()
    {
        using var directory = new TemporaryDirectory();
        var (code, _, error) = Run("tokenize", "--vocab", Path.Combine(directory.Path, "nothing"), "--text", "x");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("nothing", error);
    }
}
