// Finite-difference gradient checks of reshape, element-wise arithmetic (every broadcasting mode) and reductions.
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class ArithmeticGradTests
{
    /// <summary>(left shape, right shape, output shape): same shape, bias over (B, T, C), a 2-D suffix, one element either side, small operand on the left.</summary>
    static readonly (int[] A, int[] B, int[] Out)[] BroadcastCases =
    [
        ([1], [1], [1]),
        ([7], [7], [7]),
        ([2, 3, 5], [2, 3, 5], [2, 3, 5]),
        ([2, 3, 5], [5], [2, 3, 5]),
        ([3, 1, 17], [1, 17], [3, 1, 17]),
        ([2, 3, 5], [3, 5], [2, 3, 5]),
        ([3, 7], [1], [3, 7]),
        ([3, 7], [], [3, 7]),
        ([5], [2, 3, 5], [2, 3, 5]),
        ([1], [3, 7], [3, 7]),
        ([], [2, 3], [2, 3]),
    ];

    public static TheoryData<string> Kinds => new() { "Add", "Subtract", "Multiply", "Divide" };

    static Tensor Apply(string kind, Tensor a, Tensor b) => kind switch
    {
        "Add" => O.Add(a, b),
        "Subtract" => O.Subtract(a, b),
        "Multiply" => O.Multiply(a, b),
        _ => O.Divide(a, b),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Binary_EveryBroadcastMode_GradientsMatchFiniteDifferences(string kind)
    {
        var rng = new Rng(101);
        foreach (var (shapeA, shapeB, shapeOut) in BroadcastCases)
        {
            var a = Tensor.Normal(rng, 0, 1, shapeA);
            // Divisors kept in [0.5, 1.5] in magnitude: 1/b stays smooth over the finite-difference step.
            var b = kind == "Divide" ? AwayFromZero(rng, shapeB) : Tensor.Normal(rng, 0, 1, shapeB);
            Assert.Equal(shapeOut, Apply(kind, a, b).Shape.ToArray());
            GradCheck.Check(t => Apply(kind, t[0], t[1]), [a, b]);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Binary_SmallOperandOnLeft_ValuesMatchDefinition(string kind)
    {
        // The forward values of the left-broadcast case, written out: y[o, i] = a[i] (op) b[o, i].
        var rng = new Rng(102);
        var a = Tensor.Normal(rng, 0, 1, 5); var b = AwayFromZero(rng, 3, 5);
        var y = Apply(kind, a, b);
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 5; i++)
            {
                float av = a.Data[i], bv = b.Data[o * 5 + i];
                float expected = kind switch { "Add" => av + bv, "Subtract" => av - bv, "Multiply" => av * bv, _ => av / bv };
                Assert.Equal(expected, y.Data[o * 5 + i]);
            }
    }

    [Fact]
    public void Binary_NonSuffixShapes_Throw()
    {
        foreach (var (a, b) in new (int[], int[])[] { ([2, 3], [3, 2]), ([2, 3, 5], [3, 1]), ([4], [5]) })
            Assert.Throws<ArgumentException>(() => O.Add(new Tensor(a), new Tensor(b)));
    }

    [Fact]
    public void Scalars_OddShapes_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(103);
        foreach (int[] shape in new[] { new[] { 1 }, [7], [3, 17] })
        {
            GradCheck.Check(t => O.AddScalar(t[0], 0.75f) * t[0], [Tensor.Normal(rng, 0, 1, shape)]);
            GradCheck.Check(t => O.MultiplyScalar(t[0], -2.5f), [Tensor.Normal(rng, 0, 1, shape)]);
            GradCheck.Check(t => -t[0] * t[0], [Tensor.Normal(rng, 0, 1, shape)]);
        }
    }

    [Fact]
    public void Reshape_InferredDimension_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(104);
        var x = Tensor.Normal(rng, 0, 1, 2, 3, 5);
        var w = Tensor.Normal(rng, 0, 1, 5, 6);
        Assert.Equal([5, 6], O.Reshape(x, 5, -1).Shape.ToArray());
        // Multiplying by a weight of the new shape makes a wrong element order visible in the gradient.
        GradCheck.Check(t => O.Reshape(t[0], 5, -1) * t[1], [x, w]);
        GradCheck.Check(t => O.Reshape(t[0], -1) * O.Reshape(t[1], 30), [x, w]);
    }

    [Fact]
    public void Reductions_OddShapes_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(105);
        foreach (int[] shape in new[] { new[] { 1 }, [7], [3, 5], [2, 3, 17] })
        {
            // Multiplying by x makes each reduction's gradient depend on the element (a constant gradient hides index bugs).
            GradCheck.Check(t => O.Sum(t[0] * t[0]), [Tensor.Normal(rng, 0, 1, shape)]);
            GradCheck.Check(t => O.Mean(t[0] * t[0]), [Tensor.Normal(rng, 0, 1, shape)]);
            GradCheck.Check(t => O.SumLastDim(t[0]) * O.SumLastDim(t[0]), [Tensor.Normal(rng, 0, 1, shape)]);
            GradCheck.Check(t => O.MeanLastDim(t[0] * t[0]), [Tensor.Normal(rng, 0, 1, shape)]);
        }
    }

    [Fact]
    public void Reductions_ValuesMatchDefinition()
    {
        var x = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        Assert.Equal(21f, O.Sum(x).Item());
        Assert.Equal(3.5f, O.Mean(x).Item());
        Assert.Equal([6f, 15f], O.SumLastDim(x).Data);
        Assert.Equal([2f, 5f], O.MeanLastDim(x).Data);
        Assert.Equal([2], O.SumLastDim(x).Shape.ToArray());
    }

    static Tensor AwayFromZero(Rng rng, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Size; i++) t.Data[i] = (rng.NextFloat() < 0.5f ? -1f : 1f) * (0.5f + rng.NextFloat());
        return t;
    }
}
