// The attention kernels against their reference twin: every head size 1..128 (whole and partial 16-float groups, the
// 512-bit 4-vector column groups, the 8-float SSE and 16-float AVX2/NEON blocks), key lengths around multiples of 16
// (tiles), query counts around multiples of 4 and 8 (narrow and 512-bit row blocks),
// suffix queries (decoding), key padding with fully masked rows, dropout weights in backward, the packed layout, one
// and two threads, two threads calling the kernel at once, and decoding steps bit-identical to the full pass.
// Each width runs on the machine's path: run the suite with DOTNET_EnableAVX512=0 / DOTNET_EnableAVX=0 /
// DOTNET_EnableHWIntrinsic=0 to cover the 256-bit, 128-bit and software paths on an AVX-512 host.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class AttentionKernelTests
{
    // Tolerance: the kernel sums scores with fused multiply-adds in another order and uses its own vector exp, so
    // results differ by float32 round-off relative to the terms (|q||k|, sum |p| |v|), never more.
    const double Tolerance = 2e-5;

    public static TheoryData<int, int, int, int, bool, bool> Shapes => new()
    {
        // batch x heads, query length, key length, head size, causal, key padding
        { 1, 1, 1, 1, true, false },
        { 3, 5, 5, 16, true, false },
        { 2, 17, 17, 32, true, false },
        { 4, 1, 33, 64, true, false },      // one decoding step over a cache
        { 2, 7, 19, 15, true, false },      // suffix queries, odd head size
        { 2, 9, 9, 17, false, true },
        { 1, 64, 64, 16, true, false },
        { 2, 3, 40, 70, false, false },
        { 5, 48, 48, 32, true, false },     // enough work for two threads
        { 3, 23, 64, 64, true, true },      // suffix queries, padding and causal, 3 row blocks (the last partial)
        { 2, 16, 128, 80, false, true },    // 5 vectors per row: a 4-vector group and a single one
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Attention_ForwardAndBackward_MatchReference(int batchHeads, int tq, int tk, int hs, bool causal, bool padding)
    {
        var rng = new Rng((ulong)(batchHeads * 1000 + tq * 100 + tk * 10 + hs));
        bool[] mask = padding ? RandomPadding(rng, batchHeads, tk) : [];
        KernelCheck.ForEachThreadCount(threads => Check(threads, rng, batchHeads, tq, tk, hs, causal, mask));
    }

    public static TheoryData<int> HeadSizes => new(Enumerable.Range(1, 128));

    [Theory]
    [MemberData(nameof(HeadSizes))]
    public void Attention_EveryHeadSize_MatchesReference(int hs)
    {
        var rng = new Rng((ulong)hs);
        Check(KernelCheck.Threads, rng, 2, 11, 21, hs, causal: true, []);
        Check(KernelCheck.Threads, rng, 2, 9, 9, hs, causal: false, RandomPadding(rng, 2, 9));
    }

    public static TheoryData<int> KeyLengths => new(15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65);

    [Theory]
    [MemberData(nameof(KeyLengths))]
    public void Attention_KeyLengthsAroundTiles_MatchReference(int tk)
    {
        var rng = new Rng((ulong)tk);
        // Query counts around the row blocks of 8 (512-bit) and 4 (256/128-bit); all queries, a suffix, one.
        foreach (int tq in new[] { tk, Math.Min(tk, 9), Math.Min(tk, 8), 7, 5, 4, 3, 1 }.Distinct())
            foreach (bool causal in new[] { true, false })
                Check(KernelCheck.Threads, rng, 2, tq, tk, 16, causal, causal ? [] : RandomPadding(rng, 2, tk));
    }

    [Fact]
    public void Attention_FullyMaskedRows_GiveZeros()
    {
        var rng = new Rng(77);
        int tq = 12, tk = 20, hs = 16;
        // Batch row 0: every key padded. Batch row 1: the first 10 keys padded, so causal queries at positions < 10
        // (the first two of the suffix of 12) see no key at all.
        bool[] mask = Enumerable.Range(0, 2 * tk).Select(i => i < tk || i < tk + 10).ToArray();
        var (output, p) = Check(KernelCheck.Threads, rng, 2, tq, tk, hs, causal: true, mask);
        Assert.All(output.AsSpan(0, tq * hs).ToArray(), x => Assert.Equal(0f, x));
        Assert.All(p.AsSpan(0, tq * tk).ToArray(), x => Assert.Equal(0f, x));
        Assert.All(output.AsSpan(tq * hs, 2 * hs).ToArray(), x => Assert.Equal(0f, x));
        Assert.Contains(output.AsSpan(tq * hs + 2 * hs, hs).ToArray(), x => x != 0f);
    }

    [Fact]
    public void Attention_UnderflowedProbabilities_MatchReference()
    {
        // Head 1: keys 48..63 score far below the max for query rows 8..15, so their probabilities underflow to exactly
        // 0 and those rows use fewer key tiles than the rows around them (not the causal staircase). Head 0 is plain,
        // so stale scratch from it would show in head 1's dk.
        var rng = new Rng(5);
        var threads = KernelCheck.Threads;
        int t = 64, hs = 16;
        float[] q = KernelCheck.Normal(rng, 2 * t * hs), k = KernelCheck.Normal(rng, 2 * t * hs), v = KernelCheck.Normal(rng, 2 * t * hs);
        for (int j = 48; j < t; j++) k[(t + j) * hs] = 40f;
        for (int i = 0; i < t; i++) q[(t + i) * hs] = i is >= 8 and < 16 ? -40f : 1f;
        float[] dOut = KernelCheck.Normal(rng, q.Length);
        var p = new float[2 * t * t]; var pRef = new float[p.Length];
        var output = new float[q.Length]; var outputRef = new float[q.Length];
        AttentionKernel.Forward(threads, q, k, v, output, p, 2, 1, t, t, hs, 0.25f, causal: false, []);
        AttentionReference.Forward(threads, q, k, v, outputRef, pRef, 2, 1, t, t, hs, 0.25f, causal: false, []);
        Assert.Equal(0f, pRef[(t + 8) * t + 50]);
        KernelCheck.AssertClose(pRef, p, Tolerance, "probabilities", Enumerable.Repeat(1f, p.Length).ToArray());
        float[] dq = new float[q.Length], dk = new float[k.Length], dv = new float[v.Length];
        float[] dqRef = new float[q.Length], dkRef = new float[k.Length], dvRef = new float[v.Length];
        AttentionKernel.Backward(threads, q, k, v, pRef, [], dOut, dq, dk, dv, 2, t, t, hs, 0.25f);
        AttentionReference.Backward(threads, q, k, v, pRef, [], dOut, dqRef, dkRef, dvRef, 2, t, t, hs, 0.25f);
        float[] size = Enumerable.Repeat(400f, q.Length).ToArray();
        KernelCheck.AssertClose(dqRef, dq, Tolerance, "dq", size);
        KernelCheck.AssertClose(dkRef, dk, Tolerance, "dk", size);
        KernelCheck.AssertClose(dvRef, dv, Tolerance, "dv", size);
    }

    [Theory]
    [InlineData(2, 19, 3, 15, true)]
    [InlineData(2, 64, 4, 16, true)]
    [InlineData(1, 33, 2, 32, false)]
    public void AttentionPacked_MatchesReference(int batch, int time, int heads, int hs, bool causal)
    {
        var rng = new Rng((ulong)(batch * 100 + time * 10 + hs));
        var threads = KernelCheck.Threads;
        int width = heads * hs, n = batch * heads * time * hs;
        float scale = 1f / MathF.Sqrt(hs);
        float[] qkv = KernelCheck.Normal(rng, batch * time * 3 * width), dOutPacked = KernelCheck.Normal(rng, batch * time * width);
        float[][] split = [new float[n], new float[n], new float[n], new float[n]];     // q, k, v, dout in (B*NH, T, HS)
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < time; t++)
                {
                    int at = ((b * heads + h) * time + t) * hs;
                    for (int part = 0; part < 3; part++) Array.Copy(qkv, (b * time + t) * 3 * width + part * width + h * hs, split[part], at, hs);
                    Array.Copy(dOutPacked, (b * time + t) * width + h * hs, split[3], at, hs);
                }
        var output = new float[batch * time * width]; var p = new float[batch * heads * time * time];
        var outputRef = new float[n]; var pRef = new float[p.Length];
        AttentionKernel.ForwardPacked(threads, qkv, output, p, batch, heads, time, hs, scale, causal, []);
        AttentionReference.Forward(threads, split[0], split[1], split[2], outputRef, pRef, batch * heads, heads, time, time, hs, scale, causal, []);
        var dqkv = new float[qkv.Length];
        float[] dq = new float[n], dk = new float[n], dv = new float[n];
        AttentionKernel.BackwardPacked(threads, qkv, p, [], dOutPacked, dqkv, batch, heads, time, hs, scale);
        AttentionReference.Backward(threads, split[0], split[1], split[2], pRef, [], split[3], dq, dk, dv, batch * heads, time, time, hs, scale);
        KernelCheck.AssertClose(pRef, p, Tolerance, "probabilities", Enumerable.Repeat(1f, p.Length).ToArray());
        float[] size = Enumerable.Repeat(4f * MathF.Sqrt(hs), n).ToArray();
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < time; t++)
                {
                    int at = ((b * heads + h) * time + t) * hs;
                    KernelCheck.AssertClose(outputRef.AsSpan(at, hs), output.AsSpan((b * time + t) * width + h * hs, hs), Tolerance, "output", size.AsSpan(0, hs));
                    float[][] grads = [dq, dk, dv];
                    for (int part = 0; part < 3; part++)
                        KernelCheck.AssertClose(grads[part].AsSpan(at, hs), dqkv.AsSpan((b * time + t) * 3 * width + part * width + h * hs, hs), Tolerance,
                            $"d{"qkv"[part]}", size.AsSpan(0, hs));
                }
    }

    [Theory]
    [InlineData(33, 8)]
    [InlineData(21, 16)]
    [InlineData(47, 24)]
    [InlineData(64, 64)]
    [InlineData(19, 100)]
    public void Attention_DecodingSteps_BitIdenticalToFullPass(int time, int hs)
    {
        // The last rows of a causal pass over the whole sequence, and the same queries alone over a cache of the keys so
        // far (a prompt, then decoding steps of one row): one arithmetic per machine, so outputs and probabilities match
        // bit for bit. The queries come packed ([q | k | v] per row, heads side by side) and the output is merged.
        var rng = new Rng((ulong)(time * 1000 + hs));
        var threads = KernelCheck.Threads;
        int heads = 3, capacity = time + 5, width = heads * hs;
        float scale = 1f / MathF.Sqrt(hs);
        float[] q = KernelCheck.Normal(rng, heads * time * hs), k = KernelCheck.Normal(rng, heads * time * hs), v = KernelCheck.Normal(rng, heads * time * hs);
        float[] output = new float[q.Length], p = new float[heads * time * time];
        AttentionKernel.Forward(threads, q, k, v, output, p, heads, heads, time, time, hs, scale, causal: true, []);
        float[] kCache = new float[heads * capacity * hs], vCache = new float[kCache.Length];
        for (int h = 0; h < heads; h++)
        {
            Array.Copy(k, h * time * hs, kCache, h * capacity * hs, time * hs);
            Array.Copy(v, h * time * hs, vCache, h * capacity * hs, time * hs);
        }
        foreach (var (first, rows) in new[] { (0, 1), (1, 1), (time / 2, 1), (time - 2, 1), (time - 1, 1), (0, time), (time / 3, time - time / 3) })
        {
            int keyLength = first + rows;
            float[] qkv = new float[rows * 3 * width], o = new float[rows * width], pr = new float[heads * rows * capacity];
            pr.AsSpan().Fill(float.NaN);
            for (int t = 0; t < rows; t++)
                for (int h = 0; h < heads; h++) Array.Copy(q, (h * time + first + t) * hs, qkv, t * 3 * width + h * hs, hs);
            AttentionKernel.ForwardCachedPacked(threads, qkv, kCache, vCache, capacity, o, pr, 1, heads, rows, keyLength, hs, scale);
            for (int t = 0; t < rows; t++)
                for (int h = 0; h < heads; h++)
                {
                    int row = h * time + first + t;
                    Assert.Equal(output.AsSpan(row * hs, hs).ToArray(), o.AsSpan(t * width + h * hs, hs).ToArray());
                    Assert.Equal(p.AsSpan(row * time, keyLength).ToArray(), pr.AsSpan((h * rows + t) * keyLength, keyLength).ToArray());
                }
        }
    }

    [Fact]
    public void Attention_ConcurrentCallsOnTwoThreads_MatchOneCallAlone()
    {
        // Two data-parallel replicas, each running the kernels single-threaded at the same time on one budget: no shared scratch.
        using var threads = new Parallelism(1);
        var inputs = new[] { 1, 2 }.Select(seed => new Rng((ulong)seed)).Select(rng => (rng, mask: RandomPadding(rng, 4, 40))).ToArray();
        var alone = inputs.Select(x => Run(threads, new Rng(9), 4, 33, 40, 16, causal: true, x.mask)).ToArray();
        var together = new (float[] Output, float[] Dq)[2];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, replica =>
        {
            for (int repeat = 0; repeat < 50; repeat++) together[replica] = Run(threads, new Rng(9), 4, 33, 40, 16, causal: true, inputs[replica].mask);
        });
        for (int replica = 0; replica < 2; replica++)
        {
            Assert.Equal(alone[replica].Output, together[replica].Output);
            Assert.Equal(alone[replica].Dq, together[replica].Dq);
        }
    }

    static (float[] Output, float[] Dq) Run(Parallelism threads, Rng rng, int batchHeads, int tq, int tk, int hs, bool causal, bool[] mask)
    {
        float[] q = KernelCheck.Normal(rng, batchHeads * tq * hs), k = KernelCheck.Normal(rng, batchHeads * tk * hs), v = KernelCheck.Normal(rng, batchHeads * tk * hs);
        float[] output = new float[q.Length], p = new float[batchHeads * tq * tk], dOut = KernelCheck.Normal(rng, q.Length);
        float[] dq = new float[q.Length], dk = new float[k.Length], dv = new float[v.Length];
        AttentionKernel.Forward(threads, q, k, v, output, p, batchHeads, 1, tq, tk, hs, 0.25f, causal, mask);
        AttentionKernel.Backward(threads, q, k, v, p, [], dOut, dq, dk, dv, batchHeads, tq, tk, hs, 0.25f);
        return (output, dq);
    }

    /// <summary>Padding on ~30% of keys, never key 0 (so only causal suffixes can leave a row fully masked).</summary>
    static bool[] RandomPadding(Rng rng, int batchHeads, int tk) =>
        Enumerable.Range(0, batchHeads * tk).Select(i => i % tk != 0 && rng.NextFloat() < 0.3f).ToArray();

    /// <summary>Forward, then backward with and without dropout weights, against the twin; returns the kernel's output and probabilities.</summary>
    static (float[] Output, float[] Probabilities) Check(Parallelism threads, Rng rng, int batchHeads, int tq, int tk, int hs, bool causal, bool[] mask)
    {
        string shape = $"BH {batchHeads} TQ {tq} TK {tk} HS {hs} causal {causal} padding {mask.Length > 0}";
        float scale = 1f / MathF.Sqrt(hs);
        float[] q = KernelCheck.Normal(rng, batchHeads * tq * hs), k = KernelCheck.Normal(rng, batchHeads * tk * hs), v = KernelCheck.Normal(rng, batchHeads * tk * hs);
        var output = new float[q.Length]; var outputRef = new float[q.Length];
        var p = new float[batchHeads * tq * tk]; var pRef = new float[p.Length];
        AttentionKernel.Forward(threads, q, k, v, output, p, batchHeads, 1, tq, tk, hs, scale, causal, mask);
        AttentionReference.Forward(threads, q, k, v, outputRef, pRef, batchHeads, 1, tq, tk, hs, scale, causal, mask);
        KernelCheck.AssertClose(pRef, p, Tolerance, $"probabilities, {shape}", Enumerable.Repeat(1f, p.Length).ToArray());
        KernelCheck.AssertClose(outputRef, output, Tolerance, $"output, {shape}", Enumerable.Repeat(4f, output.Length).ToArray());

        foreach (bool dropout in new[] { false, true })
        {
            // Dropout: the applied weights are the probabilities with some zeroed and the rest scaled by 1/(1-0.25).
            float[] applied = dropout ? pRef.Select(x => rng.NextFloat() < 0.25f ? 0f : x / 0.75f).ToArray() : [];
            float[] dOut = KernelCheck.Normal(rng, q.Length);
            float[] dq = KernelCheck.Normal(rng, q.Length), dk = KernelCheck.Normal(rng, k.Length), dv = KernelCheck.Normal(rng, v.Length);
            float[] dqRef = (float[])dq.Clone(), dkRef = (float[])dk.Clone(), dvRef = (float[])dv.Clone();
            AttentionKernel.Backward(threads, q, k, v, pRef, applied, dOut, dq, dk, dv, batchHeads, tq, tk, hs, scale);
            AttentionReference.Backward(threads, q, k, v, pRef, applied, dOut, dqRef, dkRef, dvRef, batchHeads, tq, tk, hs, scale);
            float[] size = Enumerable.Repeat(4f * MathF.Sqrt(hs) * (dropout ? 2f : 1f), Math.Max(dq.Length, dk.Length)).ToArray();
            KernelCheck.AssertClose(dqRef, dq, Tolerance, $"dq dropout={dropout}, {shape}", size.AsSpan(0, dq.Length));
            KernelCheck.AssertClose(dkRef, dk, Tolerance, $"dk dropout={dropout}, {shape}", size.AsSpan(0, dk.Length));
            KernelCheck.AssertClose(dvRef, dv, Tolerance, $"dv dropout={dropout}, {shape}", size.AsSpan(0, dv.Length));
        }
        return (output, p);
    }
}
