// The book's initialisation (PyTorch module defaults) as an alternative to GPT-2's.
using ResidualLM.Models;
using Xunit;

namespace ResidualLM.Tests.Models;

public class TorchInitTests
{
    [Fact]
    public void TorchDefaultInit_EmbeddingsUnitNormal_LinearsUniformWithinBound()
    {
        var model = new Gpt(GptConfig.Preset("test") with { Width = 64, HeadCount = 4, VocabSize = 300, ContextLength = 32, TorchDefaultInit = true }, 5);
        var table = model.TokenEmbedding.Weight.Data;
        double mean = table.Average(v => (double)v), variance = table.Average(v => (v - mean) * (v - mean));
        Assert.InRange(Math.Sqrt(variance), 0.95, 1.05);   // 19,200 draws: the std estimate is within ~1%
        foreach (var (name, tensor) in model.NamedParameters())
        {
            if (!name.Contains(".attn.") && !name.Contains(".ffn.")) continue;
            int fanIn = name.EndsWith(".weight") ? tensor.Dim(1) : (name.Contains("ffn.proj") ? 256 : 64);
            float bound = 1f / MathF.Sqrt(fanIn);
            Assert.All(tensor.Data, v => Assert.InRange(v, -bound, bound));
            // Uniform on [-b, b] has std b / sqrt(3): far from GPT-2's 0.02 for these widths.
            double std = Math.Sqrt(tensor.Data.Average(v => (double)v * v));
            Assert.InRange(std, 0.8 * bound / Math.Sqrt(3), 1.2 * bound / Math.Sqrt(3));
        }
    }
}
