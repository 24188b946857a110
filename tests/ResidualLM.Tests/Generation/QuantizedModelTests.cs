// Models with block-quantised matrices (Q8_0, Q4_0): decoding with the KV cache gives the tokens and, bit for bit, the
// logits of recomputation through the model's general forward; the quantised model stays close to the float model it
// came from; the head, tied or not, is quantised; and quantised layers refuse to run where a gradient is expected.
using ResidualLM;
using ResidualLM.Autograd;
using ResidualLM.Generation;
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using ResidualLM.Tests.Kernels;
using Xunit;

namespace ResidualLM.Tests.Generation;

public class QuantizedModelTests
{
    public static TheoryData<string, BlockFormat> Cases()
    {
        var data = new TheoryData<string, BlockFormat>();
        foreach (string kind in new[] { "gpt", "gpt-untied-erf", "gpt-deepnorm", "llama", "llama-tied" })
            foreach (var format in new[] { BlockFormat.Q8_0, BlockFormat.Q4_0 })
                data.Add(kind, format);
        return data;
    }

    static LanguageModel Quantized(string kind, BlockFormat format)
    {
        var model = DecodeSessionTests.Model(kind);
        model.Quantize(format);
        model.Eval();
        return model;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CachedDecoding_GivesTheTokensAndLogitsOfRecomputation(string kind, BlockFormat format)
    {
        var model = Quantized(kind, format);
        Assert.Equal(BlockQuant.Name(format), model.WeightFormat);
        int[] prompt = [1, 5, 2, 7, 11];
        var fast = Generator.Generate(model, prompt, 25, SamplingOptions.Greedy, new Rng(9));
        var cachedGeneral = Generator.Generate(model, prompt, 25, SamplingOptions.Greedy, new Rng(9), null, true, null, fastPath: false);
        var recomputed = Generator.Generate(model, prompt, 25, SamplingOptions.Greedy, new Rng(9), null, false, null, fastPath: false);
        Assert.Equal(recomputed, cachedGeneral);
        Assert.Equal(recomputed, fast);

        using var _ = Graph.NoGrad();
        using var session = DecodeSession.TryCreate(model, 30, greedy: false)!;
        var cache = new KvCache(model.Blocks.Count, 30);
        int[] pending = prompt;
        var sequence = new List<int>(prompt);
        for (int step = 0; step < 12; step++)
        {
            int next = session.Next(pending, new SamplingOptions(1f), new Rng((ulong)step));
            var cached = model.Forward(pending, 1, pending.Length, cache);
            var full = model.Forward(sequence.ToArray(), 1, sequence.Count);                  // no cache: every row again
            int vocab = cached.Dim(-1);
            float[] fromSession = session.Logits.ToArray();
            Assert.Equal(cached.Data.AsSpan((pending.Length - 1) * vocab, vocab).ToArray(), fromSession);
            Assert.Equal(full.Data.AsSpan((sequence.Count - 1) * vocab, vocab).ToArray(), fromSession);
            pending = [next];
            sequence.Add(next);
        }
    }

    [Theory]
    [InlineData(BlockFormat.Q8_0, 0.025)]
    [InlineData(BlockFormat.Q4_0, 0.25)]
    public void QuantisedLogits_StayCloseToTheFloatModels(BlockFormat format, double allowed)
    {
        // Relative RMS difference of the logits (measured: 1.3% at Q8_0, 16% at Q4_0 for this 2-block model): each weight
        // and activation rounded to 1/254 (Q8_0) or 1/16 (Q4_0 weights) of its block's largest value, compounding by layer.
        var reference = DecodeSessionTests.Model("gpt");
        var model = DecodeSessionTests.Model("gpt");
        model.Quantize(format);
        reference.Eval(); model.Eval();
        using var _ = Graph.NoGrad();
        int[] ids = [3, 1, 4, 1, 5, 9, 2, 6];
        float[] a = reference.Forward(ids, 1, ids.Length).Data, b = model.Forward(ids, 1, ids.Length).Data;
        double difference = 0, norm = 0;
        for (int i = 0; i < ids.Length * reference.VocabSize; i++) { difference += (a[i] - b[i]) * (double)(a[i] - b[i]); norm += a[i] * (double)a[i]; }
        double relative = Math.Sqrt(difference / norm);
        Assert.True(relative > 0 && relative < allowed, $"{format}: relative RMS difference {relative:G3}, allowed {allowed}");
    }

    [Fact]
    public void EveryMatrixAndTheHead_AreQuantised_AndTheFloatWeightsHoldTheirValues()
    {
        var model = DecodeSessionTests.Model("gpt");                                 // tied head
        model.Quantize(BlockFormat.Q4_0);
        Assert.All(model.Linears(), linear => Assert.Equal(BlockFormat.Q4_0, linear.Quantized?.Format));
        Assert.Equal(4 * model.Blocks.Count, model.Linears().Count());             // qkv, proj, fc, fc2
        var table = model.TokenEmbedding.Quantized!;
        var values = new float[table.Rows * table.Columns];
        table.Dequantize(values);
        Assert.Equal(values, model.TokenEmbedding.Weight.Data.AsSpan(0, values.Length).ToArray());
        var untied = DecodeSessionTests.Model("gpt-untied-erf");
        untied.Quantize(BlockFormat.Q8_0);
        Assert.Null(untied.TokenEmbedding.Quantized);                             // a lookup table only: float32
        Assert.NotNull(untied.Head!.Quantized);
    }

    [Theory]
    [InlineData(BlockFormat.Q8_0)]
    [InlineData(BlockFormat.Q4_0)]
    public void LongPrompts_MultiplyInFloat_ShortOnesInInt8(BlockFormat format)
    {
        // Below 32 rows each row is the int8 product of its own (a row's result does not depend on the others); from 32
        // rows on, the float GEMM on the dequantised weights (llama.cpp's BLAS route). Both checked against their kernels.
        var rng = new Rng(8);
        var linear = new Linear(96, 70, bias: true, rng);
        KernelCheck.Normal(rng, 70).CopyTo(linear.Bias!.Data, 0);
        linear.Quantize(format);
        using var _ = Graph.NoGrad();
        foreach (int rows in new[] { 1, ResidualLM.Ops.Ops.QuantizedFloatRows - 1, ResidualLM.Ops.Ops.QuantizedFloatRows, 50 })
        {
            var x = Tensor.FromArray(KernelCheck.Normal(rng, rows * 96), rows, 96);
            var y = linear.Forward(new ComputeContext(), x);
            var expected = new float[rows * 70];
            if (rows < ResidualLM.Ops.Ops.QuantizedFloatRows)
            {
                using var scratch = new QuantizedActivations();
                BlockDot.Multiply(KernelCheck.Threads, x.Data.AsSpan(0, x.Size), rows, linear.Quantized!, linear.Bias.Data, expected, scratch);
            }
            else
            {
                var values = new float[70 * 96];
                linear.Quantized!.Dequantize(values);
                var dense = ResidualLM.Ops.Ops.Linear(KernelCheck.Threads, x, Tensor.FromArray(values, 70, 96), linear.Bias);
                dense.Data.AsSpan(0, expected.Length).CopyTo(expected);
            }
            Assert.Equal(expected, y.Data.AsSpan(0, expected.Length).ToArray());
        }
    }

    [Fact]
    public void QuantisedLayers_RefuseToRecordGradients()
    {
        var model = DecodeSessionTests.Model("gpt");
        model.Quantize(BlockFormat.Q8_0);
        model.Train();
        var error = Assert.Throws<InvalidOperationException>(() => model.Forward([1, 2, 3], 1, 3));
        Assert.Contains("inference", error.Message);
    }

    [Fact]
    public void WidthsThatAreNotWholeBlocks_AreAClearError()
    {
        var model = new Gpt(GptConfig.Preset("tiny") with { Width = 48, HeadCount = 2 }, 1);
        var error = Assert.Throws<InvalidInputException>(() => model.Quantize(BlockFormat.Q8_0));
        Assert.Contains("multiple of 32", error.Message);
        Assert.Equal("f32", model.WeightFormat);                                    // checked before any layer changed
    }
}
