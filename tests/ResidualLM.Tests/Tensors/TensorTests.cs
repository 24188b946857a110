// The Tensor type's own public behaviour: construction and shape checks, row-major indexing, Reshape as a view,
// copies, gradients flags, and backward through a small broadcast graph against derivatives worked out by hand.
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Tensors;

public class TensorTests
{
    [Fact]
    public void Constructor_Shape_GivesZerosOfThatSize()
    {
        var t = new Tensor(2, 3, 4);
        Assert.Equal([2, 3, 4], t.Shape.ToArray());
        Assert.Equal(3, t.Rank);
        Assert.Equal(24, t.Size);
        Assert.Equal(24, t.Data.Length);
        Assert.All(t.Data, v => Assert.Equal(0f, v));
        Assert.Equal(2, t.Dim(0));
        Assert.Equal(4, t.Dim(2));
        Assert.Equal(4, t.Dim(-1));
        Assert.Equal(2, t.Dim(-3));
        Assert.Equal("[2, 3, 4]", t.ShapeString);
        Assert.False(t.RequiresGrad);
        Assert.Null(t.Grad);

        // Empty dimensions are allowed and hold no elements; a scalar has rank 0 and one element.
        var empty = new Tensor(0, 5);
        Assert.Equal(0, empty.Size);
        var scalar = Tensor.Scalar(2.5f);
        Assert.Equal(0, scalar.Rank);
        Assert.Equal(1, scalar.Size);
        Assert.Equal(2.5f, scalar.Item());
        Assert.Equal("[]", scalar.ShapeString);
    }

    [Fact]
    public void Constructor_Data_WrapsWithoutCopying_AndChecksTheSize()
    {
        float[] data = [1, 2, 3, 4, 5, 6];
        var t = new Tensor(data, 2, 3);
        Assert.Same(data, t.Data);
        data[4] = 50;
        Assert.Equal(50f, t[1, 1]);

        var e = Assert.Throws<ArgumentException>(() => new Tensor(data, 4, 2));
        Assert.Contains("6", e.Message);
        Assert.Contains("[4, 2]", e.Message);
        Assert.Throws<ArgumentException>(() => new Tensor(new float[0], -1));
        Assert.Throws<ArgumentException>(() => new Tensor(3, -2));
        Assert.Throws<ArgumentException>(() => new Tensor(65536, 65536));      // 2^32 elements: more than an array holds
        Assert.Throws<ArgumentNullException>(() => new Tensor(null!, 1));
    }

    [Fact]
    public void Factories_FillCopyAndDraw()
    {
        Assert.All(Tensor.Zeros(3, 2).Data, v => Assert.Equal(0f, v));
        Assert.All(Tensor.Ones(4).Data, v => Assert.Equal(1f, v));
        var full = Tensor.Full(-1.5f, 2, 2);
        Assert.Equal([2, 2], full.Shape.ToArray());
        Assert.All(full.Data, v => Assert.Equal(-1.5f, v));

        float[] source = [1, 2, 3];
        var copy = Tensor.FromArray(source, 3);
        Assert.NotSame(source, copy.Data);
        source[0] = 9;
        Assert.Equal(1f, copy.Data[0]);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(source, 2));

        // Seeded draws: the same seed gives the same tensor; moments of 20,000 draws within 5 standard errors.
        var normal = Tensor.Normal(new Rng(5), 1f, 2f, 100, 200);
        Assert.Equal(normal.Data, Tensor.Normal(new Rng(5), 1f, 2f, 100, 200).Data);
        double mean = normal.Data.Average(v => (double)v);
        double variance = normal.Data.Average(v => (v - mean) * (v - mean));
        Assert.True(Math.Abs(mean - 1) < 5 * 2 / Math.Sqrt(20_000), $"normal mean {mean}");
        Assert.True(Math.Abs(variance - 4) < 5 * 4 * Math.Sqrt(2.0 / 20_000), $"normal variance {variance}");

        var uniform = Tensor.Uniform(new Rng(6), -3f, 1f, 20_000);
        Assert.All(uniform.Data, v => Assert.True(v >= -3f && v < 1f, $"uniform value {v}"));
        double uniformMean = uniform.Data.Average(v => (double)v);
        Assert.True(Math.Abs(uniformMean + 1) < 5 * (4 / Math.Sqrt(12)) / Math.Sqrt(20_000), $"uniform mean {uniformMean}");
    }

    [Fact]
    public void Indexer_IsRowMajor_AndChecksEveryIndex()
    {
        var t = new Tensor(2, 3, 4);
        for (int i = 0; i < t.Size; i++) t.Data[i] = i;
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 4; c++)
                    Assert.Equal(a * 12 + b * 4 + c, t[a, b, c]);
        t[1, 2, 3] = -7f;
        Assert.Equal(-7f, t.Data[23]);

        Assert.Throws<ArgumentException>(() => t[1, 2]);
        Assert.Throws<ArgumentException>(() => t[0, 0, 0, 0]);
        Assert.Throws<IndexOutOfRangeException>(() => t[2, 0, 0]);
        Assert.Throws<IndexOutOfRangeException>(() => t[0, 3, 0]);
        Assert.Throws<IndexOutOfRangeException>(() => t[0, 0, -1]);
        Assert.Throws<IndexOutOfRangeException>(() => t[0, 0, 4] = 1f);
    }

    [Fact]
    public void Reshape_IsAViewOfTheSameElements()
    {
        var t = Tensor.FromArray([0, 1, 2, 3, 4, 5], 2, 3);
        var r = t.Reshape(3, 2);
        Assert.Same(t.Data, r.Data);
        Assert.Equal([3, 2], r.Shape.ToArray());
        Assert.Equal(3f, r[1, 1]);
        r[2, 0] = 40f;                                  // writes through to the original
        Assert.Equal(40f, t[1, 1]);
        Assert.Equal([2, 3], t.Shape.ToArray());        // the original keeps its shape

        Assert.Equal([6], t.Reshape(-1).Shape.ToArray());
        Assert.Equal([3, 2], t.Reshape(-1, 2).Shape.ToArray());
        Assert.Equal([1, 6, 1], t.Reshape(1, -1, 1).Shape.ToArray());
        Assert.Throws<ArgumentException>(() => t.Reshape(4, 2));
        Assert.Throws<ArgumentException>(() => t.Reshape(-1, 4));
        Assert.Throws<ArgumentException>(() => t.Reshape(-1, -1));
    }

    [Fact]
    public void ItemToArrayCloneAndToString()
    {
        Assert.Equal(4f, Tensor.FromArray([4f], 1, 1).Item());
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Ones(2).Item());
        Assert.Contains("[2]", e.Message);

        var t = Tensor.FromArray([1, 2, 3, 4], 2, 2).WithGrad();
        t.Name = "w";
        float[] array = t.ToArray();
        Assert.NotSame(t.Data, array);
        Assert.Equal(t.Data, array);

        var clone = t.Clone();
        Assert.NotSame(t.Data, clone.Data);
        Assert.Equal(t.Data, clone.Data);
        Assert.Equal([2, 2], clone.Shape.ToArray());
        Assert.Equal("w", clone.Name);
        Assert.False(clone.RequiresGrad);               // detached: no graph, no gradient
        clone.Data[0] = 100;
        Assert.Equal(1f, t.Data[0]);

        Assert.Equal("Tensor[2, 2] w [1, 2, 3, 4]", t.ToString());
        Assert.Equal("Tensor[10] [0, 1, 2, 3, 4, 5, 6, 7, ...]", Tensor.FromArray(Enumerable.Range(0, 10).Select(i => (float)i).ToArray(), 10).ToString());
    }

    [Fact]
    public void Operators_ComputeElementwiseAndBroadcast()
    {
        var a = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        var row = Tensor.FromArray([10, 20, 30], 3);
        Assert.Equal([11, 22, 33, 14, 25, 36], (a + row).Data);
        Assert.Equal([-9, -18, -27, -6, -15, -24], (a - row).Data);
        Assert.Equal([10, 40, 90, 40, 100, 180], (a * row).Data);
        Assert.Equal([0.1f, 0.1f, 0.1f, 0.4f, 0.25f, 0.2f], (a / row).Data);
        Assert.Equal([3, 4, 5, 6, 7, 8], (a + 2f).Data);
        Assert.Equal([2, 4, 6, 8, 10, 12], (a * 2f).Data);
        Assert.Equal([2, 4, 6, 8, 10, 12], (2f * a).Data);
        Assert.Equal([-1, -2, -3, -4, -5, -6], (-a).Data);
        Assert.Equal([2, 3, 4, 5, 6, 7], (a + Tensor.Scalar(1f)).Data);
        Assert.Equal([2, 1, 3, 5, 4, 6], (a - Tensor.FromArray([-1, 1, 0], 3) * Tensor.FromArray([1, 1, 0], 3)).Data);
        Assert.Throws<ArgumentException>(() => a + Tensor.Ones(2));     // [2] is not a suffix of [2, 3]
        // Inputs are untouched.
        Assert.Equal([1, 2, 3, 4, 5, 6], a.Data);
    }

    [Fact]
    public void RequiresGrad_OnlyMarkedLeavesAndWhatDependsOnThemTrackGradients()
    {
        var x = Tensor.FromArray([1, 2], 2).WithGrad();
        var constant = Tensor.FromArray([3, 4], 2);
        Assert.True(x.RequiresGrad);
        Assert.False(constant.RequiresGrad);
        Assert.False((constant * 2f).RequiresGrad);      // nothing to differentiate
        Assert.True((constant * x).RequiresGrad);
        Assert.False(Tensor.Ones(1).WithGrad(false).RequiresGrad);

        var loss = ResidualLM.Ops.Ops.Sum(constant * x);
        loss.Backward();
        Assert.Equal([3f, 4f], x.Grad!.Data);
        Assert.Null(constant.Grad);                      // a constant gets no gradient
    }

    /// <summary>
    /// L = sum(y^2), y = (a * b - s) / d with a (2, 3), b (3) broadcast over rows, s and d one-element. By hand:
    /// dL/dy = 2y; dL/da = 2y b / d; dL/db_j = sum_i 2 y_ij a_ij / d; dL/ds = -sum 2y / d; dL/dd = -sum 2 y^2 / d.
    /// </summary>
    [Fact]
    public void Backward_SmallBroadcastGraph_MatchesHandDerivatives()
    {
        double[] av = [0.5, -1, 2, 1.5, 0.25, -0.75], bv = [2, -0.5, 1];
        double sv = 0.3, dv = 1.7;
        var a = Tensor.FromArray(av.Select(v => (float)v).ToArray(), 2, 3).WithGrad();
        var b = Tensor.FromArray(bv.Select(v => (float)v).ToArray(), 3).WithGrad();
        var s = Tensor.FromArray([(float)sv], 1).WithGrad();
        var d = Tensor.Scalar((float)dv).WithGrad();
        var y = (a * b - s) / d;
        y.RetainGrad = true;
        var loss = ResidualLM.Ops.Ops.Sum(y * y);
        loss.Backward();

        double[] yv = new double[6];
        for (int i = 0; i < 6; i++) yv[i] = (av[i] * bv[i % 3] - (float)sv) / (float)dv;
        AssertClose(yv, y.Data, "y");
        Assert.Equal(yv.Sum(v => v * v), loss.Item(), 1e-5);
        AssertClose(yv.Select(v => 2 * v).ToArray(), y.Grad!.Data, "dL/dy (retained)");
        AssertClose(Enumerable.Range(0, 6).Select(i => 2 * yv[i] * bv[i % 3] / (float)dv).ToArray(), a.Grad!.Data, "dL/da");
        AssertClose(Enumerable.Range(0, 3).Select(j => (2 * yv[j] * av[j] + 2 * yv[3 + j] * av[3 + j]) / (float)dv).ToArray(), b.Grad!.Data, "dL/db");
        AssertClose([-yv.Sum(v => 2 * v) / (float)dv], s.Grad!.Data, "dL/ds");
        AssertClose([-yv.Sum(v => 2 * v * v) / (float)dv], d.Grad!.Data, "dL/dd");
        Assert.Equal([1], s.Grad.Shape.ToArray());       // gradients keep their tensor's shape
        Assert.Equal(0, d.Grad.Rank);
        Assert.Equal([2, 3], a.Grad.Shape.ToArray());
    }

    [Fact]
    public void Backward_ThroughReshape_ReturnsTheGradientInTheLeafShape()
    {
        var x = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3).WithGrad();
        var weights = Tensor.FromArray([1, 10], 2);
        // x viewed as (3, 2), each row times [1, 10]: d/dx of the sum is 1 at even flat positions and 10 at odd ones.
        ResidualLM.Ops.Ops.Sum(x.Reshape(3, 2) * weights).Backward();
        Assert.Equal([2, 3], x.Grad!.Shape.ToArray());
        Assert.Equal([1f, 10f, 1f, 10f, 1f, 10f], x.Grad.Data);
    }

    [Fact]
    public void RetainGrad_KeepsAnIntermediateGradient_ZeroGradClearsIt()
    {
        var x = Tensor.FromArray([1, -2], 2).WithGrad();
        var hidden = x * 3f;
        var kept = x * 4f;
        kept.RetainGrad = true;
        ResidualLM.Ops.Ops.Sum(hidden * hidden + kept).Backward();
        Assert.Null(hidden.Grad);                        // an intermediate's gradient is released after use
        Assert.Equal([1f, 1f], kept.Grad!.Data);
        Assert.Equal([2 * 9 * 1 + 4, 2 * 9 * -2 + 4], x.Grad!.Data);

        kept.ZeroGrad();
        Assert.Null(kept.Grad);
        x.ZeroGrad(reuseBuffer: true);
        Assert.Null(x.Grad);
        x.ZeroGrad(reuseBuffer: true);                   // no gradient: nothing to return, no error
        // A gradient can be set by hand (an optimizer test, a loaded state) and is what the next backward adds to.
        x.Grad = Tensor.FromArray([100, 200], 2);
        ResidualLM.Ops.Ops.Sum(x * 2f).Backward();
        Assert.Equal([102f, 202f], x.Grad.Data);
    }

    /// <summary>float32 results of a few operations on exact-ish inputs: 1e-6 relative (about 8 float ulps).</summary>
    static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6 * (1 + Math.Abs(expected[i])), $"{what}[{i}] = {actual[i]:R}, expected {expected[i]:R}");
    }
}
