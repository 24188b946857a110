// The build mutation testing uses (RLM_MUTATION_SPLIT=1, docs/testing.md) puts the engine layers in an assembly of their
// own; the shipped build keeps one. .ci/run's "layers" leg runs this under the split build, the main leg without it.
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests;

public class EngineLayerTests
{
    [Fact]
    public void TheEngineLayers_AreApartExactlyInTheMutationBuild()
    {
        bool split = Environment.GetEnvironmentVariable("RLM_MUTATION_SPLIT") == "1";
        Assert.Equal(split ? "ResidualLM.Engine" : "ResidualLM", typeof(Tensor).Assembly.GetName().Name);
        Assert.Equal(split ? "ResidualLM.Engine" : "ResidualLM", typeof(ResidualLM.Kernels.Gemm).Assembly.GetName().Name);
        Assert.Equal("ResidualLM", typeof(Gpt).Assembly.GetName().Name);
    }
}
