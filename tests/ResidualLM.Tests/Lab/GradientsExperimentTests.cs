// `rlm lab gradients`: PyTorch's numbers from a shared init (fixture by tools/reference/lab_gradients_fixture.py),
// and the qualitative result of the book's chapter-4 demo over several seeded inits.
using System.Text.Json;
using ResidualLM.Lab.Experiments;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class GradientsExperimentTests
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "lab", name);

    [Fact]
    public void Gradients_WithInit_ReproducePyTorch()
    {
        var result = new GradientsExperiment(new GradientsOptions { InitPath = Fixture("gradients-init.safetensors") }).Run();
        using var actual = JsonDocument.Parse(GradientsExperiment.CompactJson(result));
        using var expected = JsonDocument.Parse(File.ReadAllText(Fixture("gradients-expected.json")));
        Assert.Equal(["without_shortcut", "with_shortcut"], actual.RootElement.EnumerateObject().Select(p => p.Name));
        foreach (string key in new[] { "without_shortcut", "with_shortcut" })
        {
            var want = expected.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var got = actual.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(5, got.Length);
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] / want[i] - 1) < 1e-5, $"{key}[{i}]: {got[i]:G9}, PyTorch {want[i]:G9}");
        }
        Assert.DoesNotContain(result.Tables, t => t.Id == "seeds"); // the summary is about seeded inits only
    }

    [Fact]
    public void Gradients_BadInitFile_NamesTheProperty() =>
        Assert.Equal(nameof(GradientsOptions.InitPath), Assert.Throws<InvalidInputException>(() =>
            new GradientsExperiment(new GradientsOptions { InitPath = "no-such-file.safetensors" }).Run()).Field);

    /// <summary>
    /// The book's point, over several seeds: without shortcuts the first layer gets over 10× less gradient than the last;
    /// with them it gets more than without, and the layers that have a shortcut stay within 10× of each other. (The last
    /// layer, 3 → 1, has no shortcut; its own gradient is over 10× the first layer's in about half the seeds even with
    /// shortcuts, so that comparison is reported by the experiment, not asserted.)
    /// </summary>
    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    [InlineData(4UL)]
    [InlineData(5UL)]
    [InlineData(6UL)]
    public void Gradients_SeededInit_ShortcutsKeepTheFirstLayersGradient(ulong seed)
    {
        var m = GradientsExperiment.Measure(null, seed);
        Assert.True(m.WithoutShortcut[^1] > 10 * m.WithoutShortcut[0], $"plain: first {m.WithoutShortcut[0]:G3}, last {m.WithoutShortcut[^1]:G3}");
        Assert.True(m.WithShortcut[0] > m.WithoutShortcut[0], $"first layer: with {m.WithShortcut[0]:G3}, without {m.WithoutShortcut[0]:G3}");
        var shortcutLayers = m.WithShortcut[..4];
        Assert.True(shortcutLayers.Max() < 10 * shortcutLayers.Min(), $"with shortcut: {string.Join(", ", shortcutLayers.Select(v => v.ToString("G3")))}");
        Assert.True(m.WithShortcut[^1] / m.WithShortcut[0] < m.WithoutShortcut[^1] / m.WithoutShortcut[0]);
    }
}
