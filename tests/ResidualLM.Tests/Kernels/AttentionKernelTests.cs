// The attention kernels against their reference twin: head sizes around the vector width, key lengths that are not
// multiples of 16, suffix queries (decoding), key padding, and dropout weights in backward.
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
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Attention_ForwardAndBackward_MatchReference(int batchHeads, int tq, int tk, int hs, bool causal, bool padding)
    {
        var rng = new Rng((ulong)(batchHeads * 1000 + tq * 100 + tk * 10 + hs));
        float scale = 1f / MathF.Sqrt(hs);
        float[] q = KernelCheck.Normal(rng, batchHeads * tq * hs), k = KernelCheck.Normal(rng, batchHeads * tk * hs), v = KernelCheck.Normal(rng, batchHeads * tk * hs);
        bool[] mask = padding ? Enumerable.Range(0, batchHeads * tk).Select(i => i % tk != 0 && rng.NextFloat() < 0.3f).ToArray() : [];
        var output = new float[q.Length]; var outputRef = new float[q.Length];
        var p = new float[batchHeads * tq * tk]; var pRef = new float[p.Length];
        AttentionKernel.Forward(q, k, v, output, p, batchHeads, 1, tq, tk, hs, scale, causal, mask);
        AttentionReference.Forward(q, k, v, outputRef, pRef, batchHeads, 1, tq, tk, hs, scale, causal, mask);
        KernelCheck.AssertClose(pRef, p, Tolerance, "probabilities", Enumerable.Repeat(1f, p.Length).ToArray());
        KernelCheck.AssertClose(outputRef, output, Tolerance, "output", Enumerable.Repeat(4f, output.Length).ToArray());

        foreach (bool dropout in new[] { false, true })
        {
            // Dropout: the applied weights are the probabilities with some zeroed and the rest scaled by 1/(1-0.25).
            float[] applied = dropout ? pRef.Select(x => rng.NextFloat() < 0.25f ? 0f : x / 0.75f).ToArray() : [];
            float[] dOut = KernelCheck.Normal(rng, q.Length);
            float[] dq = KernelCheck.Normal(rng, q.Length), dk = KernelCheck.Normal(rng, k.Length), dv = KernelCheck.Normal(rng, v.Length);
            float[] dqRef = (float[])dq.Clone(), dkRef = (float[])dk.Clone(), dvRef = (float[])dv.Clone();
            AttentionKernel.Backward(q, k, v, pRef, applied, dOut, dq, dk, dv, batchHeads, tq, tk, hs, scale);
            AttentionReference.Backward(q, k, v, pRef, applied, dOut, dqRef, dkRef, dvRef, batchHeads, tq, tk, hs, scale);
            float[] size = Enumerable.Repeat(4f * MathF.Sqrt(hs) * (dropout ? 2f : 1f), Math.Max(dq.Length, dk.Length)).ToArray();
            KernelCheck.AssertClose(dqRef, dq, Tolerance, $"dq dropout={dropout}", size.AsSpan(0, dq.Length));
            KernelCheck.AssertClose(dkRef, dk, Tolerance, $"dk dropout={dropout}", size.AsSpan(0, dk.Length));
            KernelCheck.AssertClose(dvRef, dv, Tolerance, $"dv dropout={dropout}", size.AsSpan(0, dv.Length));
        }
    }
}
