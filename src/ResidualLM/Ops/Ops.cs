// Tensor operations with autograd: each calls a kernel and, when recording, attaches one backward closure.
// This file: shared helpers, reshape, and element-wise arithmetic with trailing-shape broadcasting.
using System.Numerics.Tensors;
using ResidualLM.Autograd;
using ResidualLM.Tensors;

namespace ResidualLM.Ops;

/// <summary>
/// The differentiable operations of the engine. Binary arithmetic broadcasts an operand whose shape is a suffix of
/// the other's (a bias (C) over (B, T, C)), or a one-element operand over everything.
/// </summary>
public static partial class Ops
{
    /// <summary>The same buffer under another shape; one dimension may be -1.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        int[] resolved = (int[])shape.Clone();
        int infer = Array.IndexOf(resolved, -1);
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < resolved.Length; i++) if (i != infer) known *= resolved[i];
            if (known == 0 || x.Size % known != 0) throw new ArgumentException($"cannot reshape {x.ShapeString} to [{string.Join(", ", shape)}]");
            resolved[infer] = (int)(x.Size / known);
        }
        var y = new Tensor(x.Data, resolved);
        if (y.Size != x.Size) throw new ArgumentException($"cannot reshape {x.ShapeString} to [{string.Join(", ", shape)}]");
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], () => Accumulate(x, y.Grad!.Data));
    }

    /// <summary>x.Grad += g (same length).</summary>
    internal static void Accumulate(Tensor x, ReadOnlySpan<float> g)
    {
        if (!x.RequiresGrad) return;
        var dx = x.GradOrZeros().Data;
        TensorPrimitives.Add(dx, g, dx);
    }

    internal static Tensor NewLike(Tensor x) => new(x.ShapeArray);

    enum BinaryKind { Add, Subtract, Multiply, Divide }

    /// <summary>a + b, broadcasting as described on <see cref="Ops"/>.</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Add);

    /// <summary>a - b.</summary>
    public static Tensor Subtract(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Subtract);

    /// <summary>a * b, element-wise.</summary>
    public static Tensor Multiply(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Multiply);

    /// <summary>a / b, element-wise.</summary>
    public static Tensor Divide(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Divide);

    /// <summary>True when <paramref name="small"/> can repeat over <paramref name="big"/>: one element, or a suffix of its shape.</summary>
    static bool IsSuffixOf(Tensor small, Tensor big)
    {
        if (small.Size == 1) return true;
        if (small.Rank > big.Rank) return false;
        for (int i = 1; i <= small.Rank; i++) if (small.Dim(-i) != big.Dim(-i)) return false;
        return true;
    }

    static Tensor Binary(Tensor a, Tensor b, BinaryKind kind)
    {
        bool bSmall = IsSuffixOf(b, a) && (b.Size < a.Size || b.Rank <= a.Rank);
        bool aSmall = !bSmall && IsSuffixOf(a, b);
        if (!bSmall && !aSmall) throw new ArgumentException($"shapes {a.ShapeString} and {b.ShapeString} do not broadcast (one must be a suffix of the other)");
        Tensor big = bSmall ? a : b, small = bSmall ? b : a;
        int inner = small.Size, outer = big.Size / Math.Max(inner, 1);
        var y = NewLike(big);
        float[] A = a.Data, B = b.Data, Y = y.Data;
        for (int o = 0; o < outer; o++)
        {
            var ys = Y.AsSpan(o * inner, inner);
            ReadOnlySpan<float> av = bSmall ? A.AsSpan(o * inner, inner) : A, bv = bSmall ? B : B.AsSpan(o * inner, inner);
            switch (kind)
            {
                case BinaryKind.Add: TensorPrimitives.Add(av, bv, ys); break;
                case BinaryKind.Subtract: TensorPrimitives.Subtract(av, bv, ys); break;
                case BinaryKind.Multiply: TensorPrimitives.Multiply(av, bv, ys); break;
                default: TensorPrimitives.Divide(av, bv, ys); break;
            }
        }
        if (!Graph.ShouldRecord(a, b)) return y;
        return Graph.Record(y, [a, b], () =>
        {
            float[] G = y.Grad!.Data;
            float[]? dA = a.RequiresGrad ? a.GradOrZeros().Data : null;
            float[]? dB = b.RequiresGrad ? b.GradOrZeros().Data : null;
            for (int o = 0; o < outer; o++)
            {
                var g = G.AsSpan(o * inner, inner);
                int ao = bSmall ? o * inner : 0, bo = bSmall ? 0 : o * inner;
                var av = A.AsSpan(ao, inner); var bv = B.AsSpan(bo, inner);
                for (int i = 0; i < inner; i++)
                {
                    float gi = g[i];
                    switch (kind)
                    {
                        case BinaryKind.Add:
                            if (dA is not null) dA[ao + i] += gi;
                            if (dB is not null) dB[bo + i] += gi;
                            break;
                        case BinaryKind.Subtract:
                            if (dA is not null) dA[ao + i] += gi;
                            if (dB is not null) dB[bo + i] -= gi;
                            break;
                        case BinaryKind.Multiply:
                            if (dA is not null) dA[ao + i] += gi * bv[i];
                            if (dB is not null) dB[bo + i] += gi * av[i];
                            break;
                        default:
                            if (dA is not null) dA[ao + i] += gi / bv[i];
                            if (dB is not null) dB[bo + i] -= gi * av[i] / (bv[i] * bv[i]);
                            break;
                    }
                }
            }
        });
    }

    /// <summary>x + s.</summary>
    public static Tensor AddScalar(Tensor x, float s)
    {
        var y = NewLike(x);
        TensorPrimitives.Add(x.Data, s, y.Data);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], () => Accumulate(x, y.Grad!.Data));
    }

    /// <summary>x * s.</summary>
    public static Tensor MultiplyScalar(Tensor x, float s)
    {
        var y = NewLike(x);
        TensorPrimitives.Multiply(x.Data, s, y.Data);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], () =>
        {
            var dx = x.GradOrZeros().Data;
            TensorPrimitives.MultiplyAdd(y.Grad!.Data, s, dx, dx);
        });
    }
}
