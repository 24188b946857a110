// SGEMM throughput on the transformer shapes (GPT-2 small, B*T = 256) and square 1024, every layout; each
// configuration is checked against the scalar reference on sampled entries in GlobalSetup before it is timed.
using BenchmarkDotNet.Attributes;
using ResidualLM.Kernels;

namespace ResidualLM.Benchmarks;

[MemoryDiagnoser]
public class GemmBenchmarks
{
    // The kernels' threads: RLM_THREADS or every core, as a model's default context would have.
    readonly Parallelism threads = new(ComputeContext.DefaultThreadCount);

    float[] a = [], b = [], c = [];

    /// <summary>m x k x n: attention/MLP projections (qkv, fc, proj), a square product, batch-1 decoding.</summary>
    [Params("256x768x2304", "256x768x3072", "256x3072x768", "1024x1024x1024", "1x768x2304")]
    public string Shape { get; set; } = "256x768x2304";

    [Params("nn", "nt", "tn")]
    public string Layout { get; set; } = "nn";

    int M, K, N;
    bool TransposeA, TransposeB;

    [GlobalSetup]
    public void Setup()
    {
        int[] mkn = Array.ConvertAll(Shape.Split('x'), int.Parse);
        (M, K, N) = (mkn[0], mkn[1], mkn[2]);
        (TransposeA, TransposeB) = (Layout[0] == 't', Layout[1] == 't');
        var rng = new Random(42);
        a = Fill(rng, M * K);
        b = Fill(rng, K * N);
        c = new float[M * N];
        Gemm.Multiply(threads, a, b, c, M, K, N, TransposeA, TransposeB);
        for (int s = 0; s < 32; s++)
        {
            int i = rng.Next(M), j = rng.Next(N);
            double sum = 0, abs = 0;
            for (int p = 0; p < K; p++)
            {
                double prod = (double)(TransposeA ? a[p * M + i] : a[i * K + p]) * (TransposeB ? b[j * K + p] : b[p * N + j]);
                sum += prod;
                abs += Math.Abs(prod);
            }
            if (Math.Abs(c[i * N + j] - sum) > 4 * Math.Sqrt(K) * 6e-8 * abs)
                throw new InvalidOperationException($"{Shape} {Layout}: entry ({i}, {j}) is {c[i * N + j]}, reference {sum}");
        }
    }

    /// <summary>One product; GFLOP/s = 2 m k n / mean time.</summary>
    [Benchmark]
    public void Multiply() => Gemm.Multiply(threads, a, b, c, M, K, N, TransposeA, TransposeB);

    static float[] Fill(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
