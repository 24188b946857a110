using ResidualLM.Kernels;
using Xunit;

namespace ResidualLM.Tests;

public class ParallelismTests
{
    [Fact]
    public void For_CoversEveryIndexOnce()
    {
        var hits = new int[1000];
        using var threads = new Parallelism(2);
        threads.For(0, hits.Length, (s, e) => { for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]); }, costPerItem: 1 << 20);
        Assert.All(hits, h => Assert.Equal(1, h));
    }
}
