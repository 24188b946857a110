// DecodeAttention against its scalar twin over head counts, head sizes around the vector width and key lengths around
// multiples of 16, one and two threads; and bit for bit against AttentionKernel.Forward for one causal query (the
// general path the decoder must reproduce exactly).
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

[Collection(ThreadCountCollection.Name)]
public class DecodeAttentionTests
{
    public static TheoryData<int, int, int, int> Shapes()
    {
        // heads, head size, keys, capacity
        var data = new TheoryData<int, int, int, int>
        {
            { 1, 1, 1, 1 }, { 2, 8, 5, 7 }, { 3, 15, 16, 16 }, { 12, 64, 17, 80 }, { 12, 64, 80, 80 }, { 4, 17, 33, 40 },
            { 2, 16, 200, 257 }, { 5, 70, 31, 31 }, { 16, 32, 129, 300 }, { 1, 64, 1024, 1024 },
        };
        var rng = new Random(3);
        for (int i = 0; i < 8; i++)
        {
            int keys = rng.Next(1, 150);
            data.Add(rng.Next(1, 14), rng.Next(1, 80), keys, keys + rng.Next(0, 40));
        }
        return data;
    }

    /// <summary>Random q, keys and values in the decoder's layouts, plus the same keys and values contiguous (NH, L, HS).</summary>
    static (float[] Q, float[] KeysT, float[] Values, float[] K, float[] V) Inputs(int heads, int hs, int keys, int capacity)
    {
        var rng = new Rng((ulong)(heads * 7919 + hs * 101 + keys * 13 + capacity));
        int stride = DecodeAttention.Stride(capacity);
        float[] q = KernelCheck.Normal(rng, heads * hs), k = KernelCheck.Normal(rng, heads * keys * hs), v = KernelCheck.Normal(rng, heads * keys * hs);
        // Unused positions hold garbage, as a reused cache would.
        float[] keysT = KernelCheck.Normal(rng, heads * hs * stride, 50f), values = KernelCheck.Normal(rng, heads * capacity * hs, 50f);
        for (int h = 0; h < heads; h++)
            for (int t = 0; t < keys; t++)
                for (int d = 0; d < hs; d++)
                {
                    keysT[(h * hs + d) * stride + t] = k[(h * keys + t) * hs + d];
                    values[(h * capacity + t) * hs + d] = v[(h * keys + t) * hs + d];
                }
        return (q, keysT, values, k, v);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_MatchesReference(int heads, int hs, int keys, int capacity)
    {
        var (q, keysT, values, _, _) = Inputs(heads, hs, keys, capacity);
        float scale = 1f / MathF.Sqrt(hs);
        var expected = new float[heads * hs];
        DecodeAttentionReference.Forward(q, keysT, values, expected, heads, hs, keys, capacity, scale);
        KernelCheck.ForEachThreadCount(threads =>
        {
            var output = new float[heads * hs];
            DecodeAttention.Forward(q, keysT, values, output, new float[heads * DecodeAttention.Stride(capacity)], heads, hs, keys, capacity, scale);
            // Scores round-off is relative to |q||k| ~ HS, outputs to sum p |v| ~ a few.
            KernelCheck.AssertClose(expected, output, 2e-5, $"{threads} threads", Enumerable.Repeat(4f, output.Length).ToArray());
        });
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_EqualsGeneralKernelBitForBit(int heads, int hs, int keys, int capacity)
    {
        var (q, keysT, values, k, v) = Inputs(heads, hs, keys, capacity);
        float scale = 1f / MathF.Sqrt(hs);
        var general = new float[heads * hs];
        AttentionKernel.Forward(q, k, v, general, new float[heads * keys], heads, heads, 1, keys, hs, scale, causal: true, []);
        KernelCheck.ForEachThreadCount(threads =>
        {
            var output = new float[heads * hs];
            DecodeAttention.Forward(q, keysT, values, output, new float[heads * DecodeAttention.Stride(capacity)], heads, hs, keys, capacity, scale);
            for (int i = 0; i < output.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(general[i]) == BitConverter.SingleToInt32Bits(output[i]),
                    $"element {i}, {threads} threads: {output[i]:R}, general kernel {general[i]:R}");
        });
    }
}
