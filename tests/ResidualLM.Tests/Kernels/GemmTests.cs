// Gemm against its scalar twin (GemmReference) over odd shapes, every layout, accumulate on/off, batches, 1 and 2
// threads and concurrent callers; shapes cross the micro-tile (12 x 32) and block (KC 256, or 1024 on AVX2, MC 264, NC 512) edges.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class GemmTests
{
    static readonly (bool A, bool B)[] Layouts = [(false, false), (false, true), (true, false), (true, true)];

    public static TheoryData<int, int, int> OddShapes()
    {
        var data = new TheoryData<int, int, int>
        {
            { 1, 1, 1 }, { 3, 3, 3 }, { 1, 768, 100 }, { 1, 100, 333 }, { 77, 50, 1 }, { 2, 1, 2 }, { 12, 1, 32 },
            { 13, 17, 33 }, { 24, 256, 64 }, { 11, 257, 31 }, { 37, 300, 65 }, { 257, 5, 3 }, { 5, 3, 257 },
            { 16, 16, 17 }, { 16, 17, 16 }, { 100, 64, 100 }, { 129, 129, 129 }, { 64, 64, 64 }, { 255, 31, 97 },
        };
        // Seeded random odd sizes in 1..257 so every tile-edge remainder shows up somewhere.
        var rng = new Random(7);
        for (int i = 0; i < 10; i++) data.Add(rng.Next(1, 258), rng.Next(1, 258), rng.Next(1, 258));
        return data;
    }

    [Theory]
    [MemberData(nameof(OddShapes))]
    public void Multiply_OddShapes_MatchesReference(int m, int k, int n)
    {
        using var pool = new Parallelism(2);
        foreach (var (ta, tb) in Layouts)
            foreach (bool accumulate in new[] { false, true })
                foreach (int threads in new[] { 1, 2 })
                    CheckProduct(pool, m, k, n, ta, tb, accumulate, threads, seed: m * 7919 + k * 31 + n);
    }

    [Theory]
    [InlineData(280, 300, 530)]   // crosses KC, MC and NC with remainders
    [InlineData(70, 1100, 90)]    // crosses AVX2's KC (1024)
    [InlineData(4200, 520, 40)]   // A too tall to pack whole per KC slice: packed MC rows at a time
    [InlineData(1, 2304, 768)]    // decoding GEMV, W (k x n) or (n x k)
    [InlineData(2304, 768, 1)]
    public void Multiply_BlockEdges_MatchesReference(int m, int k, int n)
    {
        using var pool = new Parallelism(2);
        foreach (var (ta, tb) in Layouts)
            CheckProduct(pool, m, k, n, ta, tb, accumulate: ta, threads: 2, seed: 11);
    }

    [Fact]
    public void Multiply_ZeroK_ClearsOrKeepsC()
    {
        var threads = KernelCheck.Threads;
        float[] c = [1, 2, 3, 4, 5, 6];
        Gemm.Multiply(threads, [], [], c, 2, 0, 3, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, c);
        Gemm.Multiply(threads, [], [], c, 2, 0, 3);
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Multiply_EmptyMatrices_DoNothing()
    {
        var threads = KernelCheck.Threads;
        Gemm.Multiply(threads, [], [1, 2, 3], [], 0, 3, 1);
        Gemm.Multiply(threads, [1, 2, 3], [], [], 1, 3, 0);
        Gemm.MultiplyBatched(threads, [], [], [], 0, 4, 4, 4);
    }

    [Fact]
    public void Multiply_ShortSpans_Throw()
    {
        var threads = KernelCheck.Threads;
        float[] a = new float[6], b = new float[6], c = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(threads, a.AsSpan(0, 5), b, c, 2, 3, 2));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(threads, a, b.AsSpan(0, 5), c, 2, 3, 2));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(threads, a, b, c.AsSpan(0, 3), 2, 3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(threads, a, b, c, -1, 3, 2));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyBatched(threads, a, b, c, 2, 2, 3, 2, broadcastB: true));
    }

    [Theory]
    [InlineData(48, 64, 64, 64)]   // attention scores / values: B*NH products of (T x HS)
    [InlineData(5, 13, 29, 35)]
    [InlineData(2, 280, 130, 240)] // large enough (> 16 MFLOP) that each product is threaded on its own
    public void MultiplyBatched_AllLayouts_MatchesReference(int batch, int m, int k, int n)
    {
        var rng = new Random(batch + m + k + n);
        using var pool = new Parallelism(2);
        foreach (var (ta, tb) in Layouts)
        {
            foreach (bool broadcastB in new[] { false, true })
            {
                foreach (int threads in batch > 2 ? new[] { 1, 2 } : new[] { 2 })
                {
                    bool accumulate = broadcastB;
                    float[] a = Random(rng, batch * m * k), b = Random(rng, (broadcastB ? 1 : batch) * k * n);
                    float[] c = Random(rng, batch * m * n), expected = (float[])c.Clone();
                    Gemm.MultiplyBatchedWithThreads(pool, a, b, c, batch, m, k, n, ta, tb, accumulate, broadcastB, threads);
                    GemmReference.MultiplyBatched(a, b, expected, batch, m, k, n, ta, tb, accumulate, broadcastB);
                    float[] bound = AbsBound(a, b, accumulate ? expected : null, batch, m, k, n, ta, tb, broadcastB);
                    AssertClose(expected, c, bound, k, $"batch {batch} {m}x{k}x{n} ta={ta} tb={tb} bcast={broadcastB} threads={threads}");
                }
            }
        }
    }

    [Fact]
    public void Multiply_ConcurrentCallers_MatchReference()
    {
        // Several threads share one budget's workers: whoever finds them busy must still compute the right answer alone.
        using var pool = new Parallelism(2);
        int[] sizes = [40, 96, 150, 200, 64, 130, 180, 77];
        Parallel.For(0, sizes.Length * 3, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            int s = sizes[i % sizes.Length];
            CheckProduct(pool, s, s + 3, s + 5, i % 2 == 0, i % 3 == 0, accumulate: false, threads: 2, seed: i);
        });
    }

    static void CheckProduct(Parallelism pool, int m, int k, int n, bool ta, bool tb, bool accumulate, int threads, int seed)
    {
        var rng = new Random(seed);
        float[] a = Random(rng, m * k), b = Random(rng, k * n), c = Random(rng, m * n), expected = (float[])c.Clone();
        Gemm.MultiplyWithThreads(pool, a, b, c, m, k, n, ta, tb, accumulate, threads);
        GemmReference.Multiply(a, b, expected, m, k, n, ta, tb, accumulate);
        float[] bound = AbsBound(a, b, accumulate ? expected : null, 1, m, k, n, ta, tb, false);
        AssertClose(expected, c, bound, k, $"{m}x{k}x{n} ta={ta} tb={tb} acc={accumulate} threads={threads}");
    }

    // sum_p |a_ip| |b_pj| (+ |c|): the scale of the rounding error of entry (i, j).
    static float[] AbsBound(float[] a, float[] b, float[]? c, int batch, int m, int k, int n, bool ta, bool tb, bool broadcastB)
    {
        float[] absA = Array.ConvertAll(a, Math.Abs), absB = Array.ConvertAll(b, Math.Abs), bound = new float[batch * m * n];
        GemmReference.MultiplyBatched(absA, absB, bound, batch, m, k, n, ta, tb, accumulate: false, broadcastB);
        if (c is not null) for (int i = 0; i < bound.Length; i++) bound[i] += Math.Abs(c[i]);
        return bound;
    }

    // Float summation of k products in any order errs by at most ~k eps sum|a b|, and in practice (random rounding
    // signs, blocked FMA sums) by ~sqrt(k) eps sum|a b|; 4 sqrt(k + 1) eps is that with margin. A wrong index or a
    // lost tile gives errors of order sum|a b| itself, orders of magnitude above it.
    static void AssertClose(float[] expected, float[] actual, float[] bound, int k, string what)
    {
        double factor = 4 * Math.Sqrt(k + 1) * Math.ScaleB(1.0, -24);   // unit roundoff of float
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = factor * bound[i] + 1e-30;
            if (!(Math.Abs(expected[i] - actual[i]) <= tolerance))
                Assert.Fail($"{what}: element {i} is {actual[i]}, reference {expected[i]} (tolerance {tolerance:G3})");
        }
    }

    static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
