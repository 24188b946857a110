// `rlm train` and the library records it fills: every setting has a flag, and the map that turns a library message's
// property name into that flag names only real flags.
using System.CommandLine;
using System.Reflection;
using ResidualLM.Cli.Commands;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Cli;

public class TrainFlagsTests
{
    // Settings the command line does not set: the nested options record, and AdamW's beta1 (kept at 0.9).
    static readonly string[] NoFlag = [nameof(TrainingSpec.Options), nameof(TrainingOptions.Beta1)];

    [Fact]
    public void EverySpecAndOptionsProperty_HasAFlag()
    {
        var properties = typeof(TrainingSpec).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Concat(typeof(TrainingOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
            .Where(p => p.CanWrite).Select(p => p.Name).Except(NoFlag);
        Assert.All(properties, name => Assert.True(TrainCommand.Flags.ContainsKey(name), $"{name} has no flag in TrainCommand.Flags"));
    }

    [Fact]
    public void EveryMappedFlag_IsAnOptionOfTrain()
    {
        var options = TrainCommand.Create().Options.Select(o => o.Name).ToHashSet();
        Assert.All(TrainCommand.Flags, pair => Assert.Contains(pair.Value, options));
    }
}
