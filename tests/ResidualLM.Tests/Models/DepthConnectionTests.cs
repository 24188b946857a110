// The policies that connect blocks across depth, against what their papers say they reduce to: DenseFormer at its
// identity init is pre-norm; value residuals with λ = (0, 1) are pre-norm and with learned λ feed block 0's values to
// every later layer; ResiDual's first stream is post-norm's and its second the un-normalised sum of every edit. The
// arithmetic with random weights is checked against PyTorch in GoldenModelTests (gpt-denseformer, gpt-valueresidual,
// llama-valueresidual, gpt-resi-dual).
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Models;

public class DepthConnectionTests
{
    static readonly int[] Ids = PolicyModels.Ids, Targets = PolicyModels.Targets;

    static LanguageModel Model(string family, ResidualMode mode) => PolicyModels.Model(family, mode);

    // Backward of the mean cross-entropy; the gradients by parameter name.
    static Dictionary<string, float[]> Gradients(LanguageModel model, Tensor logits)
    {
        LanguageModel.Loss(model.Context.Threads, logits, Targets).Backward();
        return model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad!.Data);
    }

    /// <summary>
    /// DenseFormer at init (α_i = (0, .., 0, 1)) is its pre-norm blocks alone: every block's stream, the logits and every
    /// gradient of the shared weights bit for bit (0·x adds exact zeros); the averaging weights themselves get gradient.
    /// </summary>
    [Theory]
    [InlineData("gpt")]
    [InlineData("llama")]
    public void DenseFormer_AtInit_IsPreNorm(string family)
    {
        var dense = Model(family, ResidualMode.DenseFormer);
        var pre = Model(family, ResidualMode.PreNorm);
        Assert.Equal(pre.ParameterCount() + 2 + 3 + 4, dense.ParameterCount());
        var denseTrace = dense.ForwardTrace(Ids, 2, 5);
        var preTrace = pre.ForwardTrace(Ids, 2, 5);
        for (int b = 0; b < preTrace.Blocks.Count; b++)
        {
            Assert.Equal(preTrace.Blocks[b].Input.Data, denseTrace.Blocks[b].Input.Data);
            Assert.Equal(preTrace.Blocks[b].Output.Data, denseTrace.Blocks[b].Output.Data);
        }
        Assert.Equal(preTrace.Logits.Data, denseTrace.Logits.Data);
        var expected = Gradients(pre, preTrace.Logits);
        var actual = Gradients(dense, denseTrace.Logits);
        foreach (var (name, gradient) in expected) Assert.Equal(gradient, actual[name]);
        Assert.All(actual.Where(p => p.Key.StartsWith("depth.dwa", StringComparison.Ordinal)), p => Assert.Contains(p.Value, g => g != 0f));
    }

    /// <summary>
    /// With learned averaging weights, block i+1 reads Σ_j α_ij x_j over the embedding and the block outputs (not over
    /// the earlier averages): checked on the traces, the input of each block against the weighted sum of the recorded
    /// outputs.
    /// </summary>
    [Fact]
    public void DenseFormer_BlockInput_IsTheWeightedSumOfEarlierOutputs()
    {
        var model = Model("gpt", ResidualMode.DenseFormer);
        var rng = new Rng(5);
        var weights = ((DenseFormerConnections)model.Depth).Weights;
        foreach (var w in weights)
            for (int i = 0; i < w.Size; i++) w.Data[i] = 0.5f + 0.3f * rng.NextGaussian();
        var trace = model.ForwardTrace(Ids, 2, 5);
        var outputs = new List<float[]> { trace.Blocks[0].Input.Data };                 // x_0, the embedding
        for (int b = 0; b < trace.Blocks.Count - 1; b++)
        {
            outputs.Add(trace.Blocks[b].Output.Data);
            var input = trace.Blocks[b + 1].Input.Data;
            for (int e = 0; e < input.Length; e++)
            {
                double sum = 0;
                for (int j = 0; j < outputs.Count; j++) sum += weights[b].Data[j] * (double)outputs[j][e];
                Assert.True(Math.Abs(input[e] - sum) <= 1e-5 * (1 + Math.Abs(sum)), $"block {b + 1} input[{e}]: {input[e]} vs Σ α x = {sum}");
            }
        }
    }

    /// <summary>
    /// Value residuals with λ = (0, 1) are pre-norm bit for bit; at the paper's λ = (½, ½) the later layers read block 0's
    /// values, so block 0's value projection gets gradient from them (it differs from pre-norm's) while its query and
    /// key rows, which only block 0 reads, see only the change downstream.
    /// </summary>
    [Theory]
    [InlineData("gpt")]
    [InlineData("llama")]
    public void ValueResidual_OwnValuesOnly_IsPreNorm_HalfAndHalf_FeedsBlock0Values(string family)
    {
        var model = Model(family, ResidualMode.ValueResidual);
        var pre = Model(family, ResidualMode.PreNorm);
        var mixes = ((ValueResidualConnections)model.Depth).Mixes;
        Assert.Equal(2, mixes.Count);
        Assert.All(mixes, m => Assert.Equal([0.5f, 0.5f], m.Data));
        foreach (var m in mixes) (m.Data[0], m.Data[1]) = (0f, 1f);
        var own = model.Forward(Ids, 2, 5);
        var preLogits = pre.Forward(Ids, 2, 5);
        Assert.Equal(preLogits.Data, own.Data);
        var expected = Gradients(pre, preLogits);
        var actual = Gradients(model, own);
        foreach (var (name, gradient) in expected) Assert.Equal(gradient, actual[name]);

        var mixed = Model(family, ResidualMode.ValueResidual);
        var logits = mixed.Forward(Ids, 2, 5);
        Assert.NotEqual(preLogits.Data, logits.Data);
        var gradients = Gradients(mixed, logits);
        Assert.All(mixed.NamedParameters().Where(p => p.Name.StartsWith("depth.value_mix", StringComparison.Ordinal)),
            p => Assert.Contains(p.Tensor.Grad!.Data, g => g != 0f));
    }

    /// <summary>
    /// Value residuals, the block-0 values reaching block 2: with λ_2 = (1, 0) block 2's attention uses block 0's values
    /// only, so changing block 2's own value rows of qkv changes nothing, and the mix weight λ_2[1] still gets gradient
    /// (the paper's v'_2 = λ₁ v_1 + λ₂ v_2 with the second term switched off).
    /// </summary>
    [Fact]
    public void ValueResidual_FirstLayerValuesOnly_IgnoreTheBlocksOwnValueRows()
    {
        var model = Model("gpt", ResidualMode.ValueResidual);
        var mixes = ((ValueResidualConnections)model.Depth).Mixes;
        (mixes[1].Data[0], mixes[1].Data[1]) = (1f, 0f);
        model.Eval();
        var before = model.Forward(Ids, 2, 5).Data;
        var qkv = model.Blocks[2].Attention.Qkv.Weight;
        int width = qkv.Dim(1), valueRows = qkv.Dim(0) / 3;
        // Random changes (a constant added to a row would vanish against the zero-mean LayerNorm output).
        var rng = new Rng(3);
        for (int i = 2 * valueRows * width; i < qkv.Size; i++) qkv.Data[i] += rng.NextGaussian();   // block 2's value rows only
        Assert.Equal(before, model.Forward(Ids, 2, 5).Data);
        for (int i = 0; i < valueRows * width; i++) qkv.Data[i] += rng.NextGaussian();              // its query rows: now it matters
        Assert.NotEqual(before, model.Forward(Ids, 2, 5).Data);
    }

    /// <summary>
    /// ResiDual: the first stream of every block is post-norm's stream bit for bit (post-norm built with the same weights:
    /// the parameter names are the same), the second is the embedding plus every edit so far, and the logits are the
    /// head applied to a + final_norm(d).
    /// </summary>
    [Theory]
    [InlineData("gpt")]
    [InlineData("llama")]
    public void ResiDual_Streams_ArePostNormAndTheSumOfEdits(string family)
    {
        var model = Model(family, ResidualMode.ResiDual);
        var post = Model(family, ResidualMode.PostNorm);
        post.LoadStateDict(model.StateDict());
        Assert.Equal(2, model.StreamCopies);
        var trace = model.ForwardTrace(Ids, 2, 5);
        var postTrace = post.ForwardTrace(Ids, 2, 5);
        int width = model.TokenEmbedding.Weight.Dim(1);
        var embedding = postTrace.Blocks[0].Input.Data;
        var sum = (float[])embedding.Clone();
        for (int b = 0; b < trace.Blocks.Count; b++)
        {
            var block = trace.Blocks[b];
            var (a, d) = Halves(block.Output.Data, width);
            Assert.Equal(postTrace.Blocks[b].Output.Data, a);
            for (int e = 0; e < sum.Length; e++) sum[e] += block.AttentionOutput.Data[e] + block.FeedForwardOutput.Data[e];
            for (int e = 0; e < sum.Length; e++) Assert.True(Math.Abs(d[e] - sum[e]) <= 1e-5f * (1 + Math.Abs(sum[e])), $"block {b} d[{e}]: {d[e]} vs {sum[e]}");
        }
        var (lastA, lastD) = Halves(trace.Blocks[^1].Output.Data, width);
        var combined = Tensor.FromArray(lastA, 2, 5, width) + model.FinalNorm.Forward(model.Context, Tensor.FromArray(lastD, 2, 5, width));
        var head = model.Head!.Forward(model.Context, combined);
        Assert.Equal(head.Data, trace.Logits.Data);
        Assert.NotEqual(post.Forward(Ids, 2, 5).Data, trace.Logits.Data);
    }

    // (M·2C) rows -> the first C and the last C of each row.
    static (float[] A, float[] D) Halves(float[] rows, int width)
    {
        int count = rows.Length / (2 * width);
        float[] a = new float[count * width], d = new float[count * width];
        for (int r = 0; r < count; r++)
        {
            rows.AsSpan(r * 2 * width, width).CopyTo(a.AsSpan(r * width));
            rows.AsSpan(r * 2 * width + width, width).CopyTo(d.AsSpan(r * width));
        }
        return (a, d);
    }
}
