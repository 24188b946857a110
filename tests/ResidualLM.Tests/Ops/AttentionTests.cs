// The fused attention op against the unfused composition (MatMul, mask, Softmax, MatMul), values and gradients.
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class AttentionTests
{
    static Tensor Unfused(Tensor q, Tensor k, Tensor v, bool causal)
    {
        var scores = O.MatMul(Kernels.KernelCheck.Threads, q, k, transposeB: true) * (1f / MathF.Sqrt(q.Dim(-1)));
        if (causal) scores = O.CausalMask(scores);
        return O.MatMul(Kernels.KernelCheck.Threads, O.Softmax(Kernels.KernelCheck.Threads, scores), v);
    }

    [Theory]
    [InlineData(1, 1, 1, 1, true)]
    [InlineData(2, 3, 5, 4, true)]
    [InlineData(2, 2, 7, 3, false)]
    [InlineData(1, 4, 17, 8, true)]
    public void Fused_MatchesUnfused_ValuesAndGradients(int batch, int heads, int time, int headSize, bool causal)
    {
        var rng = new Rng(3);
        Tensor[] Make() => [Tensor.Normal(new Rng(5), 0, 1, batch, heads, time, headSize).WithGrad(),
                            Tensor.Normal(new Rng(6), 0, 1, batch, heads, time, headSize).WithGrad(),
                            Tensor.Normal(new Rng(7), 0, 1, batch, heads, time, headSize).WithGrad()];
        var a = Make(); var b = Make();
        var seed = Tensor.Normal(rng, 0, 1, batch, heads, time, headSize);
        var fused = O.Attention(Kernels.KernelCheck.Threads, a[0], a[1], a[2], causal);
        var unfused = Unfused(b[0], b[1], b[2], causal);
        // Same arithmetic in a different order: float32 round-off only.
        for (int i = 0; i < fused.Size; i++) Assert.Equal(unfused.Data[i], fused.Data[i], 1e-5);
        O.Sum(fused * seed).Backward();
        O.Sum(unfused * seed).Backward();
        for (int t = 0; t < 3; t++)
            for (int i = 0; i < a[t].Size; i++) Assert.Equal(b[t].Grad!.Data[i], a[t].Grad!.Data[i], 1e-4);
    }

    [Fact]
    public void Fused_FiniteDifferences()
    {
        var rng = new Rng(11);
        GradCheck.Check(t => O.Attention(Kernels.KernelCheck.Threads, t[0], t[1], t[2], causal: true),
            [Tensor.Normal(rng, 0, 1, 2, 2, 5, 3), Tensor.Normal(rng, 0, 1, 2, 2, 5, 3), Tensor.Normal(rng, 0, 1, 2, 2, 5, 3)]);
    }

    [Fact]
    public void KeyPadding_MaskedKeysGetNoWeightAndNoGradient()
    {
        var rng = new Rng(2);
        var q = Tensor.Normal(rng, 0, 1, 2, 1, 4, 3).WithGrad();
        var k = Tensor.Normal(rng, 0, 1, 2, 1, 4, 3).WithGrad();
        var v = Tensor.Normal(rng, 0, 1, 2, 1, 4, 3).WithGrad();
        var padding = new bool[] { false, false, true, true, false, false, false, true };
        GradCheck.Check(t => O.Attention(Kernels.KernelCheck.Threads, t[0], t[1], t[2], causal: false, keyPadding: padding), [q, k, v]);
        foreach (var t in new[] { q, k, v }) t.Grad = null;
        O.Sum(O.Attention(Kernels.KernelCheck.Threads, q, k, v, causal: false, keyPadding: padding) * Tensor.Normal(rng, 0, 1, 2, 1, 4, 3)).Backward();
        // Padded keys (batch 0: keys 2, 3) receive no gradient in k and v.
        for (int j = 2; j < 4; j++)
            for (int c = 0; c < 3; c++) { Assert.Equal(0f, k.Grad!.Data[j * 3 + c]); Assert.Equal(0f, v.Grad!.Data[j * 3 + c]); }
    }

    [Fact]
    public void SuffixQueries_MatchFullCausalRows()
    {
        // Decoding with a cache: the last query over all keys equals the last row of full causal attention.
        var rng = new Rng(9);
        var q = Tensor.Normal(rng, 0, 1, 1, 2, 6, 4); var k = Tensor.Normal(rng, 0, 1, 1, 2, 6, 4); var v = Tensor.Normal(rng, 0, 1, 1, 2, 6, 4);
        var full = O.Attention(Kernels.KernelCheck.Threads, q, k, v, causal: true);
        var lastQ = new Tensor(1, 2, 1, 4);
        for (int h = 0; h < 2; h++) Array.Copy(q.Data, (h * 6 + 5) * 4, lastQ.Data, h * 4, 4);
        var one = O.Attention(Kernels.KernelCheck.Threads, lastQ, k, v, causal: true);
        for (int h = 0; h < 2; h++)
            for (int c = 0; c < 4; c++) Assert.Equal(full.Data[(h * 6 + 5) * 4 + c], one.Data[h * 4 + c], 1e-6);
    }

    [Fact]
    public void Dropout_FiniteDifferencesWithFixedMask()
    {
        // A fresh Rng with the same seed per evaluation gives the same dropout mask, so the function is smooth.
        var rng = new Rng(12);
        GradCheck.Check(t => O.Attention(Kernels.KernelCheck.Threads, t[0], t[1], t[2], causal: true, dropout: 0.3f, rng: new Rng(99), training: true),
            [Tensor.Normal(rng, 0, 1, 1, 2, 6, 3), Tensor.Normal(rng, 0, 1, 1, 2, 6, 3), Tensor.Normal(rng, 0, 1, 1, 2, 6, 3)]);
    }
}
