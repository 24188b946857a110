// Semantics of reverse-mode autograd: accumulation, NoGrad, graph release, seeds, ZeroGrad and very deep graphs.
using ResidualLM.Autograd;
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class AutogradTests
{
    [Fact]
    public void TensorUsedTwice_AccumulatesBothGradients()
    {
        var x = Tensor.FromArray([1.5f, -2f, 0.25f], 3).WithGrad();
        O.Sum(x * x).Backward();
        Assert.Equal([3f, -4f, 0.5f], x.Grad!.Data);

        x.ZeroGrad();
        O.Sum(x + O.Tanh(x)).Backward();
        for (int i = 0; i < 3; i++)
        {
            double t = Math.Tanh(x.Data[i]);
            Assert.Equal(2 - t * t, x.Grad!.Data[i], 6);
        }

        // Two branches that meet again: d/dx (2x + 3x) = 5.
        x.ZeroGrad();
        O.Sum(x * 2f + x * 3f).Backward();
        Assert.All(x.Grad!.Data, g => Assert.Equal(5f, g));
    }

    [Fact]
    public void NoGrad_RecordsNothing_AndNests()
    {
        var x = Tensor.FromArray([1f, 2f], 2).WithGrad();
        using (Graph.NoGrad())
        {
            using (Graph.NoGrad()) Assert.False(Graph.IsRecording);
            Assert.False(Graph.IsRecording);
            var y = O.Sum(x * x);
            Assert.False(y.RequiresGrad);
            Assert.Empty(y.Parents);
            Assert.Null(y.BackwardFn);
            Assert.Throws<InvalidOperationException>(() => y.Backward());
        }
        Assert.True(Graph.IsRecording);
        Assert.True(O.Sum(x * x).RequiresGrad);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Backward_ReleasesGraph_KeepsOnlyLeafAndRetainedGradients()
    {
        var x = Tensor.FromArray([1f, -2f, 3f], 3).WithGrad();
        var h = x * 2f;
        var kept = O.Tanh(h);
        kept.RetainGrad = true;
        var loss = O.Sum(kept * h);
        loss.Backward();

        Assert.NotNull(x.Grad);
        Assert.Null(h.Grad);
        Assert.Null(loss.Grad);
        // d loss / d kept = h.
        Assert.Equal(h.Data, kept.Grad!.Data);
        foreach (var t in new[] { h, kept, loss })
        {
            Assert.Empty(t.Parents);
            Assert.Null(t.BackwardFn);
        }
    }

    [Fact]
    public void Backward_ThroughReleasedGraph_Throws()
    {
        // A second backward through a released graph would silently stop at the released nodes (like PyTorch, refuse).
        var x = Tensor.FromArray([1f, 2f], 2).WithGrad();
        var h = O.Tanh(x);
        var loss = O.Sum(h);
        loss.Backward();
        Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Throws<InvalidOperationException>(() => O.Sum(h * h).Backward());
    }

    [Fact]
    public void Backward_Seeds_AreChecked()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], 3).WithGrad();
        Assert.Throws<InvalidOperationException>(() => (x * x).Backward());
        Assert.Throws<ArgumentException>(() => (x * x).Backward(Tensor.Ones(4)));
        Assert.Throws<InvalidOperationException>(() => Tensor.Ones(1).Backward());
        (x * x).Backward(Tensor.FromArray([1f, 0f, -1f], 3));
        Assert.Equal([2f, 0f, -6f], x.Grad!.Data);
    }

    [Fact]
    public void ZeroGrad_StartsNextBackwardFromZero_OtherwiseGradientsAccumulate()
    {
        var x = Tensor.FromArray([1f, 2f], 2).WithGrad();
        O.Sum(x * x).Backward();
        O.Sum(x * x).Backward();
        Assert.Equal([4f, 8f], x.Grad!.Data);
        x.ZeroGrad();
        Assert.Null(x.Grad);
        O.Sum(x * x).Backward();
        Assert.Equal([2f, 4f], x.Grad!.Data);
    }

    [Fact]
    public void DeepChain_TenThousandOps_DoesNotOverflowTheStack()
    {
        // On a thread with a 256 KB stack, a recursive topological sort or backward 10,000 levels deep would overflow.
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                var x = Tensor.FromArray([0.5f, -1f], 2).WithGrad();
                var y = x;
                for (int i = 0; i < 5000; i++) y = O.MultiplyScalar(O.AddScalar(y, 0.001f), 1f);
                O.Sum(y).Backward();
                Assert.Equal([1f, 1f], x.Grad!.Data);
                Assert.Equal(0.5f + 5f, y.Data[0], 3);
            }
            catch (Exception e) { failure = e; }
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        Assert.Null(failure);
    }
}
