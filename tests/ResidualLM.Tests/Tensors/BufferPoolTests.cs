// The buffer pool grows to a training step's working set: returns dropped while it was full raise its capacity.
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Tensors;

public class BufferPoolTests
{
    [Fact]
    public void FitWorkingSet_KeepsWhatWasDroppedNextTime()
    {
        var pool = new BufferPool(capacityBytes: 64 * 1024);    // room for 16 buffers of 1024 floats
        const int Length = 1031;
        var buffers = Enumerable.Range(0, 40).Select(_ => pool.Rent(Length, clear: false)).ToList();
        foreach (var b in buffers) pool.Return(b);
        Assert.True(pool.PooledBytes <= 64 * 1024);
        Assert.True(pool.FitWorkingSet());
        Assert.True(pool.CapacityBytes >= 40L * 4 * Length, $"capacity {pool.CapacityBytes}");
        Assert.False(pool.FitWorkingSet());         // nothing dropped since: no change

        // The next "step" rents and returns as many: now every one is kept, so the step after reuses all of them.
        var second = Enumerable.Range(0, 40).Select(_ => pool.Rent(Length, clear: false)).ToList();
        foreach (var b in second) pool.Return(b);
        Assert.False(pool.FitWorkingSet());
        var third = Enumerable.Range(0, 40).Select(_ => pool.Rent(Length, clear: false)).ToList();
        Assert.All(third, a => Assert.Contains(second, b => ReferenceEquals(a, b)));
    }
}
