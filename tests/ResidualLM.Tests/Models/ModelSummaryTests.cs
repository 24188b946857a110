// ModelInfo (what `rlm inspect` prints) for every model family, with parameter counts worked out here from the
// architecture (not from the model), and the shape checks at the entry of a language model's forward pass.
using ResidualLM.Models;
using Xunit;

namespace ResidualLM.Tests.Models;

public class ModelSummaryTests
{
    // GPT "test": vocabulary 11, context 8, width 12, 2 layers, hidden 48, qkv bias, untied head.
    // Per block: 2 norms (2 x 24) + qkv (3 x 144 + 36) + projection (144 + 12) + fc (12 x 48 + 48) + fc2 (48 x 12 + 12) = 1884.
    // Embeddings 11 x 12 + 8 x 12, final norm 24, head 11 x 12.
    const long GptTestUntied = 132 + 96 + 2 * 1884 + 24 + 132, GptTestHead = 132;

    [Fact]
    public void AnUntiedGpt_CountsItsHeadOnce()
    {
        var info = ModelInfo.Of(new Gpt(GptConfig.Preset("test")));
        Assert.Equal("GPT, 2 layers, 2 heads, width 12, PreNorm", info.Architecture);
        Assert.False(info.Tied);
        Assert.Equal(GptTestUntied, info.Parameters);
        Assert.Equal(GptTestUntied, info.ParametersUntied);
        Assert.Equal(GptTestUntied - GptTestHead, info.ParametersTied);
        Assert.Equal(2, info.Blocks);
        Assert.Equal(4, info.ResidualConnections);
        Assert.Equal("GPT, 2 layers, 2 heads, width 12, PreNorm\nparameters: 4,152 (own head; 4,152 untied, 4,020 tied)\nresidual connections: 4",
            info.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ATiedGpt_CountsTheSharedTableOnce_AndReportsTheUntiedTotal()
    {
        var info = ModelInfo.Of(new Gpt(GptConfig.Preset("test") with { TieWeights = true }));
        Assert.True(info.Tied);
        Assert.Equal(GptTestUntied - GptTestHead, info.Parameters);
        Assert.Equal(GptTestUntied, info.ParametersUntied);
        Assert.Equal(GptTestUntied - GptTestHead, info.ParametersTied);
        Assert.Contains("parameters: 4,020 (tied head; 4,152 untied, 4,020 tied)", info.ToString());
    }

    [Fact]
    public void WithoutShortcuts_ThereAreNoResidualConnections()
    {
        var info = ModelInfo.Of(new Gpt(GptConfig.Preset("test") with { Residual = ResidualMode.None }));
        Assert.Equal(0, info.ResidualConnections);
        Assert.EndsWith("width 12, None", info.Architecture);
        Assert.EndsWith("residual connections: 0", info.ToString());
    }

    [Fact]
    public void Llama_IsNamedWithItsShape()
    {
        var info = ModelInfo.Of(new Llama(LlamaConfig.Preset("test")));
        Assert.Equal("Llama, 2 layers, 2 heads, width 12, PreNorm", info.Architecture);
        Assert.Equal(4, info.ResidualConnections);
        Assert.False(info.Tied);
    }

    [Fact]
    public void AnEncoder_IsNamedWithItsClasses()
    {
        var config = new EncoderConfig { VocabSize = 20, ContextLength = 8, Width = 16, HeadCount = 2, LayerCount = 3, ClassCount = 5, Dropout = 0f };
        var encoder = new Encoder(config);
        var info = ModelInfo.Of(encoder);
        Assert.Equal("Encoder, 3 layers, 2 heads, width 16, 5 classes, PreNorm", info.Architecture);
        Assert.Equal(encoder.ParameterCount(), info.Parameters);
        Assert.Equal(info.Parameters, info.ParametersUntied);
        Assert.Equal(info.Parameters, info.ParametersTied);
        Assert.False(info.Tied);
        Assert.Equal(3, info.Blocks);
        Assert.Equal(6, info.ResidualConnections);
    }

    [Fact]
    public void AnMlpStack_CountsAShortcutWhereverTheWidthStays()
    {
        var on = ModelInfo.Of(new MlpStack(new MlpStackConfig { LayerSizes = [4, 4, 4, 2], Activation = Activation.Relu, Shortcut = true }));
        Assert.Equal("MLP [4, 4, 4, 2], Relu, shortcut on", on.Architecture);
        Assert.Equal(4 * 4 + 4 + 4 * 4 + 4 + 4 * 2 + 2, on.Parameters);
        Assert.Equal(on.Parameters, on.ParametersUntied);
        Assert.False(on.Tied);
        Assert.Equal(3, on.Blocks);
        Assert.Equal(2, on.ResidualConnections);
        Assert.Contains("parameters: 50 (own head; 50 untied, 50 tied)", on.ToString());
        var off = ModelInfo.Of(new MlpStack(new MlpStackConfig { LayerSizes = [4, 4, 4, 2], Shortcut = false }));
        Assert.Equal("MLP [4, 4, 4, 2], Gelu, shortcut off", off.Architecture);
        Assert.Equal(0, off.ResidualConnections);
    }

    [Fact]
    public void TheForwardPass_RefusesIdsThatAreNotABatch_OrPassTheContext()
    {
        var model = new Gpt(GptConfig.Preset("test"));   // context 8
        void Refused(Action forward, string field, string words)
        {
            var e = Assert.Throws<InvalidInputException>(forward);
            Assert.Equal(field, e.Field);
            Assert.Contains(words, e.Reason);
        }
        Refused(() => model.Forward(new int[5], 2, 3), "ids", "5 ids do not form a batch of 2 x 3");
        Refused(() => model.Forward([], 0, 3), "ids", "0 ids do not form a batch of 0 x 3");
        Refused(() => model.Forward([], 3, 0), "ids", "a batch of 3 x 0");
        Refused(() => model.Forward(new int[9], 1, 9), "time", "sequence length 9 exceeds the context length 8");
        Assert.Throws<ArgumentNullException>(() => model.Forward(null!, 1, 1));
        model.Forward(new int[8], 1, 8);   // exactly the context
        // With a cache the positions already stored count: 6 cached + 3 new is past the context, 6 + 2 is not.
        var cache = model.CreateCache();
        model.Forward(new int[6], 1, 6, cache);
        Assert.Equal(6, cache.Length);
        Refused(() => model.Forward(new int[3], 1, 3, cache), "time", "sequence length 9 exceeds the context length 8");
        model.Forward(new int[2], 1, 2, cache);
        Assert.Equal(8, cache.Length);
    }
}
