// Guards the CI legs that force a narrower vector path (.ci/run sets RLM_EXPECT_VECTOR_PATH per leg): if the runtime
// ignores the switch (as .NET 10 ignores DOTNET_EnableAVX512F), the leg would test the wide path twice and say nothing.
using ResidualLM.Kernels;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class VectorPathTests
{
    /// <summary>The environment variable naming the path a test run must take: avx512, avx2, vector128 or scalar.</summary>
    public const string Variable = "RLM_EXPECT_VECTOR_PATH";

    [ExpectedVectorPathFact]
    public void VectorIsa_TakesThePathTheRunExpects()
    {
        string expected = Environment.GetEnvironmentVariable(Variable)!.Trim();
        Assert.True(expected is "avx512" or "avx2" or "vector128" or "scalar", $"{Variable}='{expected}' is not avx512, avx2, vector128 or scalar");
        Assert.True(expected == VectorIsa.Name,
            $"{Variable}={expected}, but the kernels take {VectorIsa.Name} (features: {VectorIsa.Features()}; " +
            $"DOTNET_EnableAVX512={Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") ?? "unset"}, " +
            $"DOTNET_EnableAVX={Environment.GetEnvironmentVariable("DOTNET_EnableAVX") ?? "unset"})");
    }

    /// <summary>Space-separated features that must be reported (Dp) or must not be (-Dp), for emulated CPUs without them.</summary>
    public const string FeaturesVariable = "RLM_EXPECT_FEATURES";

    [ExpectedFeaturesFact]
    public void VectorIsa_ReportsTheFeaturesTheRunExpects()
    {
        string spec = Environment.GetEnvironmentVariable(FeaturesVariable)!;
        var reported = VectorIsa.Features().Split(' ');
        foreach (string item in spec.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            bool absent = item.StartsWith('-');
            string feature = absent ? item[1..] : item;
            Assert.True(reported.Contains(feature) != absent,
                $"{FeaturesVariable}='{spec}': {feature} should be {(absent ? "absent" : "present")}, the runtime reports: {VectorIsa.Features()}");
        }
    }

    [Fact]
    public void VectorIsa_NameMatchesPath()
    {
        string name = VectorIsa.Path switch
        {
            VectorPath.Avx512 => "avx512",
            VectorPath.Avx2 => "avx2",
            VectorPath.Vector128 => "vector128",
            _ => "scalar",
        };
        Assert.Equal(name, VectorIsa.Name);
        Assert.False(string.IsNullOrWhiteSpace(VectorIsa.Features()));
    }
}

/// <summary>A fact skipped, with the reason shown, when no run has said which vector path to expect.</summary>
public sealed class ExpectedVectorPathFactAttribute : FactAttribute
{
    public ExpectedVectorPathFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(VectorPathTests.Variable)))
            Skip = $"{VectorPathTests.Variable} is unset (.ci/run sets it per leg: avx512, avx2, vector128)";
    }
}

/// <summary>A fact skipped, with the reason shown, when no run has said which CPU features to expect.</summary>
public sealed class ExpectedFeaturesFactAttribute : FactAttribute
{
    public ExpectedFeaturesFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(VectorPathTests.FeaturesVariable)))
            Skip = $"{VectorPathTests.FeaturesVariable} is unset (.ci/run sets it on the emulated arm64 legs)";
    }
}
