// Fused causal attention, kernel against its scalar twin (the baseline of each category), forward and backward, on
// the shapes of the small training presets: BH x T x HS = 16 x 64 x 16 (deep-narrow, batch 4), 24 x 64 x 32
// (shakespeare-char, batch 6), 48 x 64 x 64. GlobalSetup checks the kernel's outputs and gradients against the twin
// before anything is timed. GFLOP/s = 4 (forward) or 8 (backward) x HS x BH x T(T+1)/2 / mean time.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;

namespace ResidualLM.Benchmarks;

[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class AttentionBenchmarks
{
    // The kernels' threads: RLM_THREADS or every core, as a model's default context would have.
    readonly Parallelism threads = new(ComputeContext.DefaultThreadCount);

    /// <summary>(batch x heads) x time x head size.</summary>
    [Params("16x64x16", "24x64x32", "48x64x64")]
    public string Shape { get; set; } = "16x64x16";

    int batchHeads, time, headSize;
    float scale;
    float[] q = [], k = [], v = [], output = [], p = [], dOutput = [], dq = [], dk = [], dv = [];

    [GlobalSetup]
    public void Setup()
    {
        int[] parts = Array.ConvertAll(Shape.Split('x'), int.Parse);
        (batchHeads, time, headSize) = (parts[0], parts[1], parts[2]);
        scale = 1f / MathF.Sqrt(headSize);
        var rng = new Random(42);
        int n = batchHeads * time * headSize;
        (q, k, v, dOutput) = (Fill(rng, n), Fill(rng, n), Fill(rng, n), Fill(rng, n));
        (output, p, dq, dk, dv) = (new float[n], new float[batchHeads * time * time], new float[n], new float[n], new float[n]);
        float[] outputRef = new float[n], pRef = new float[p.Length], dqRef = new float[n], dkRef = new float[n], dvRef = new float[n];
        Forward();
        Backward();
        AttentionReference.Forward(threads, q, k, v, outputRef, pRef, batchHeads, 1, time, time, headSize, scale, true, []);
        AttentionReference.Backward(threads, q, k, v, pRef, [], dOutput, dqRef, dkRef, dvRef, batchHeads, time, time, headSize, scale);
        foreach (var (name, actual, expected) in new[] { ("output", output, outputRef), ("p", p, pRef), ("dq", dq, dqRef), ("dk", dk, dkRef), ("dv", dv, dvRef) })
            for (int i = 0; i < actual.Length; i++)
                if (!(Math.Abs(actual[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i]))))
                    throw new InvalidOperationException($"{Shape}: {name}[{i}] is {actual[i]}, reference {expected[i]}");
    }

    [Benchmark, BenchmarkCategory("forward")]
    public void Forward() => AttentionKernel.Forward(threads, q, k, v, output, p, batchHeads, 1, time, time, headSize, scale, true, []);

    [Benchmark(Baseline = true), BenchmarkCategory("forward")]
    public void ForwardReference() => AttentionReference.Forward(threads, q, k, v, output, p, batchHeads, 1, time, time, headSize, scale, true, []);

    // Backward accumulates into dq, dk, dv; repeated calls only grow them (no effect on the time).
    [Benchmark, BenchmarkCategory("backward")]
    public void Backward() => AttentionKernel.Backward(threads, q, k, v, p, [], dOutput, dq, dk, dv, batchHeads, time, time, headSize, scale);

    [Benchmark(Baseline = true), BenchmarkCategory("backward")]
    public void BackwardReference() => AttentionReference.Backward(threads, q, k, v, p, [], dOutput, dq, dk, dv, batchHeads, time, time, headSize, scale);

    static float[] Fill(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
