// The residual policy catalogue: one complete entry per ResidualMode, parsing, and its use by config.json and the CLI.
// Every check enumerates ResidualMode or the catalogue, so a new policy is covered without editing this file.
using System.Text.RegularExpressions;
using ResidualLM.Cli.Commands;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tests.Cli;
using Xunit;

namespace ResidualLM.Tests.Models;

public class ResidualPoliciesTests
{
    public static TheoryData<ResidualMode> Modes => [.. Enum.GetValues<ResidualMode>()];

    [Theory]
    [MemberData(nameof(Modes))]
    public void Catalogue_EveryMode_HasOneCompleteEntryWhoseNameRoundTrips(ResidualMode mode)
    {
        var policy = Assert.Single(ResidualPolicies.All, p => p.Mode == mode);
        Assert.Same(policy, ResidualPolicies.Get(mode));
        // The name is typed on command lines and in comma-separated lists.
        Assert.Matches("^[a-z][a-z0-9-]*$", policy.Name);
        Assert.Equal(mode, ResidualPolicies.Parse(policy.Name));
        Assert.Equal(mode, ResidualPolicies.Parse($" {policy.Name.ToUpperInvariant()} "));
        Assert.Equal(mode, ResidualPolicies.Parse(mode.ToString()));            // config.json written before the catalogue
        foreach (string alias in policy.Aliases) Assert.Equal(mode, ResidualPolicies.Parse(alias));
        foreach (string text in new[] { policy.Title, policy.Description, policy.Equation })
        {
            Assert.False(string.IsNullOrWhiteSpace(text), $"{mode}: empty field");
            Assert.DoesNotContain('\n', text);
        }
        Assert.StartsWith("y = ", policy.Equation);
        Assert.Equal($"{policy.Title}: {policy.Equation}", policy.Legend);
    }

    [Fact]
    public void Catalogue_InEnumOrder_NamesAndAliasesUnambiguous()
    {
        Assert.Equal(Enum.GetValues<ResidualMode>(), ResidualPolicies.All.Select(p => p.Mode));
        var spellings = ResidualPolicies.All.SelectMany(p => p.Aliases.Prepend(p.Name)).Select(s => s.ToLowerInvariant()).ToList();
        Assert.Equal(spellings.Count, spellings.Distinct().Count());
        Assert.Equal(string.Join(", ", ResidualPolicies.All.Select(p => p.Name)), ResidualPolicies.Names);
    }

    [Fact]
    public void Parse_UnknownName_OneLineErrorNamingTheFieldAndEveryPolicy()
    {
        var error = Assert.Throws<InvalidInputException>(() => ResidualPolicies.Parse("sideways", "--residual"));
        Assert.Equal("--residual", error.Field);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("'sideways'", error.Message);
        foreach (var policy in ResidualPolicies.All) Assert.Matches($@"\b{Regex.Escape(policy.Name)}\b", error.Message);
        Assert.Throws<InvalidInputException>(() => ResidualPolicies.Get((ResidualMode)42));
    }

    [Fact]
    public void TrainCommand_ParsesEveryName_AndLeavesAbsentToThePreset()
    {
        Assert.Null(TrainCommand.ParseResidual(null));
        foreach (var policy in ResidualPolicies.All) Assert.Equal(policy.Mode, TrainCommand.ParseResidual(policy.Name));
        Assert.Equal("--residual", Assert.Throws<InvalidInputException>(() => TrainCommand.ParseResidual("resnet")).Field);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ConfigJson_WritesTheName_ReadsItAndTheOldEnumSpelling(ResidualMode mode)
    {
        var gpt = GptConfig.Preset("test") with { Residual = mode };
        var json = ModelConfigJson.ToJson(gpt);
        Assert.Equal(ResidualPolicies.Get(mode).Name, (string?)json["residual"]);
        Assert.Equal(mode, ModelConfigJson.ReadGpt(JsonInput.ParseText(json.ToJsonString(), "config.json")).Residual);
        json["residual"] = mode.ToString();
        Assert.Equal(mode, ModelConfigJson.ReadGpt(JsonInput.ParseText(json.ToJsonString(), "config.json")).Residual);

        var llama = ModelConfigJson.ToJson(LlamaConfig.Preset("test") with { Residual = mode });
        Assert.Equal(mode, ModelConfigJson.ReadLlama(JsonInput.ParseText(llama.ToJsonString(), "config.json")).Residual);
    }

    [Fact]
    public void ConfigJson_UnknownPolicy_ErrorNamesFileFieldAndEveryPolicy()
    {
        var json = ModelConfigJson.ToJson(GptConfig.Preset("test"));
        json["residual"] = "Sideways";
        var error = Assert.Throws<InvalidInputException>(() => ModelConfigJson.ReadGpt(JsonInput.ParseText(json.ToJsonString(), "config.json")));
        Assert.Equal("residual", error.Field);
        Assert.Contains("Sideways", error.Message);
        foreach (var policy in ResidualPolicies.All) Assert.Matches($@"\b{Regex.Escape(policy.Name)}\b", error.Message);
    }

    /// <summary>The help of every option that takes a policy names each one (read from the real `rlm --help`).</summary>
    [Theory]
    [InlineData("--residual", "train")]
    [InlineData("--policies", "lab", "depth-sweep")]
    [InlineData("--residual", "lab", "gradient-profile")]
    [InlineData("--residual", "lab", "stream")]
    public void Help_PolicyOptions_ShowEveryName(string option, params string[] command)
    {
        string dir = RlmProcess.TemporaryDirectory();
        try
        {
            var (code, stdout, stderr) = RlmProcess.Run(dir, [.. command, "--help"]);
            Assert.True(code == 0, stderr);
            string help = OptionHelp(stdout, option);
            foreach (var policy in ResidualPolicies.All) Assert.Matches($@"\b{Regex.Escape(policy.Name)}\b", help);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The help text of one option: its line and any wrapped continuation lines, up to the next option.</summary>
    static string OptionHelp(string help, string option)
    {
        var lines = help.Split('\n');
        int start = Array.FindIndex(lines, l => l.TrimStart().StartsWith(option + " ", StringComparison.Ordinal));
        Assert.True(start >= 0, $"{option} not in help:\n{help}");
        var section = lines.Skip(start + 1).TakeWhile(l => !l.TrimStart().StartsWith('-') && l.Trim().Length > 0);
        return string.Join(" ", section.Prepend(lines[start]));
    }
}
