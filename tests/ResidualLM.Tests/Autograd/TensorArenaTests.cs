// The arena behind Graph.Inference: tensors made in a step get its buffers, the next step gets the same ones back, the
// scope records no graph, and buffers leave the arena only to the shared pool.
using ResidualLM.Autograd;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Autograd;

public class TensorArenaTests
{
    [Fact]
    public void TheNextStep_GetsTheSameBuffers_InTheSameOrder()
    {
        var arena = new TensorArena();
        float[][] first, second;
        using (Graph.Inference(arena)) first = [Tensor.Zeros(3, 5).Data, Tensor.Zeros(15).Data, Tensor.Zeros(7).Data];
        using (Graph.Inference(arena)) second = [Tensor.Zeros(3, 5).Data, Tensor.Zeros(15).Data, Tensor.Zeros(7).Data];
        for (int i = 0; i < 3; i++) Assert.Same(first[i], second[i]);
        Assert.NotSame(first[0], first[1]);           // two live tensors of one length never share a buffer
        Assert.Equal(4L * (15 + 15 + 7), arena.Bytes);
    }

    [Fact]
    public void ZeroedTensors_AreZeroedAgain_WhenTheirBufferComesBack()
    {
        var arena = new TensorArena();
        using (Graph.Inference(arena)) Tensor.Zeros(2048).Data.AsSpan().Fill(5f);
        using (Graph.Inference(arena)) Assert.All(Tensor.Zeros(2048).Data, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void TheScope_RecordsNoGraph_AndEndsCleanly()
    {
        var w = Tensor.Zeros(4);
        w.RequiresGrad = true;
        var arena = new TensorArena();
        using (Graph.Inference(arena))
        {
            Assert.False(Graph.IsRecording);
            Assert.False((w * w).RequiresGrad);
        }
        Assert.True(Graph.IsRecording);
        Assert.True((w * w).RequiresGrad);
        Assert.NotSame(Tensor.Zeros(9).Data, Tensor.Zeros(9).Data);   // outside the scope: fresh buffers again
    }

    [Fact]
    public void BuffersAStepDidNotUse_LeaveTheArena()
    {
        // A long prompt's buffers are not kept for the single tokens after it.
        var arena = new TensorArena();
        using (Graph.Inference(arena)) { Tensor.Zeros(4096); Tensor.Zeros(4096); }
        using (Graph.Inference(arena)) Tensor.Zeros(4096);
        Assert.Equal(4L * 4096, arena.Bytes);
        arena.Release();
        Assert.Equal(0L, arena.Bytes);
    }

    [Fact]
    public void OneArena_ServesOneScopeAtATime()
    {
        var arena = new TensorArena();
        using (Graph.Inference(arena))
        {
            Assert.Throws<InvalidOperationException>(() => Graph.Inference(arena));
            Assert.Throws<InvalidOperationException>(arena.Release);
        }
        using (Graph.Inference(arena)) { }          // free again once the scope ended
    }
}
