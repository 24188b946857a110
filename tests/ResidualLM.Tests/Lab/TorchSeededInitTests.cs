// The book's chapter-4 weights: torch.manual_seed(seed) + nn.Linear defaults, reproduced bit for bit, and with them
// the book's printed gradients and its qualitative claim.
using System.Text.Json;
using ResidualLM.Lab.Experiments;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class TorchSeededInitTests
{
    [Theory]
    [InlineData(123)]
    [InlineData(7)]
    public void TorchSeededState_EqualsPyTorchBitForBit(int seed)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "torch", "manual-seed-linear.json");
        using var fixture = JsonDocument.Parse(File.ReadAllText(path));
        var expected = fixture.RootElement.GetProperty(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var state = GradientsExperiment.TorchSeededState((ulong)seed);
        foreach (var tensor in expected.EnumerateObject())
        {
            float[] want = tensor.Value.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
            Assert.Equal(want, state[tensor.Name].Data);
        }
    }

    [Fact]
    public void DefaultInit_ReproducesTheBooksPrintedGradients()
    {
        // "Build a Large Language Model (from Scratch)", chapter 4, printed to the digits shown there.
        double[] bookWithout = [0.00020, 0.00012, 0.00072, 0.00140, 0.00505];
        double[] bookWith = [0.22, 0.20, 0.32, 0.26, 1.32];
        var m = GradientsExperiment.Measure(null, 123);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(bookWithout[i], m.WithoutShortcut[i], 0.000006);
            Assert.InRange(m.WithShortcut[i], bookWith[i], bookWith[i] + 0.01);
        }
        // The qualitative result: without shortcuts the first layer gets over 10x less than the last; with them, not.
        Assert.True(m.WithoutShortcut[0] * 10 < m.WithoutShortcut[4]);
        Assert.False(m.WithShortcut[0] * 10 < m.WithShortcut[4]);
    }
}
