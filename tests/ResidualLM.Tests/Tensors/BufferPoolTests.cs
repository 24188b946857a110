// The buffer pool grows to a training step's working set: returns dropped while it was full raise its capacity.
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Tensors;

[Collection(ResidualLM.Tests.Kernels.ThreadCountCollection.Name)]
public class BufferPoolTests
{
    [Fact]
    public void FitWorkingSet_KeepsWhatWasDroppedNextTime()
    {
        long saved = BufferPool.CapacityBytes;
        try
        {
            BufferPool.Clear();
            BufferPool.FitWorkingSet();                       // forget drops counted before this test
            BufferPool.CapacityBytes = 64 * 1024;             // room for 16 buffers of 1024 floats
            const int Length = 1031;                          // a length no other test uses: only ours land in this bucket
            var buffers = Enumerable.Range(0, 40).Select(_ => BufferPool.Rent(Length, clear: false)).ToList();
            foreach (var b in buffers) BufferPool.Return(b);
            Assert.True(BufferPool.PooledBytes <= 64 * 1024);
            Assert.True(BufferPool.FitWorkingSet());
            Assert.True(BufferPool.CapacityBytes >= 40L * 4 * Length, $"capacity {BufferPool.CapacityBytes}");
            Assert.False(BufferPool.FitWorkingSet());         // nothing dropped since: no change

            // The next "step" rents and returns as many: now every one is kept, so the step after reuses all of them.
            var second = Enumerable.Range(0, 40).Select(_ => BufferPool.Rent(Length, clear: false)).ToList();
            foreach (var b in second) BufferPool.Return(b);
            Assert.False(BufferPool.FitWorkingSet());
            var third = Enumerable.Range(0, 40).Select(_ => BufferPool.Rent(Length, clear: false)).ToList();
            Assert.All(third, a => Assert.Contains(second, b => ReferenceEquals(a, b)));
        }
        finally
        {
            BufferPool.CapacityBytes = saved;
            BufferPool.Clear();
        }
    }
}
