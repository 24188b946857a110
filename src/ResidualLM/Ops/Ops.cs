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
        return Graph.Record(y, [x], sink =>
        {
            // The first gradient to reach x can be y's buffer itself, handed over rather than added to zeros
            // (y's gradient is not read again; it stays if y keeps it on request).
            if (sink.Of(x) is null && !y.RetainGrad)
            {
                sink.Set(x, new Tensor(y.Grad!.Data, x.ShapeArray));
                y.Grad = null;
            }
            else Accumulate(sink, x, y.Grad!.Data);
        });
    }

    /// <summary>x's gradient += g (same length).</summary>
    internal static void Accumulate(GradientSink sink, Tensor x, ReadOnlySpan<float> g)
    {
        if (!x.RequiresGrad) return;
        var dx = sink.OrZeros(x).Data;
        TensorPrimitives.Add(dx, g, dx);
    }

    /// <summary>An output of x's shape whose elements the caller overwrites (a reused buffer, not zeroed).</summary>
    internal static Tensor NewLike(Tensor x) => Tensor.Uninitialized(x.ShapeArray);

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
        if (small.Size == 1 && big.Size > 1) return BroadcastOne(a, b, kind, bSmall);
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
        if (kind == BinaryKind.Add && a.Size == b.Size)
            return Graph.Record(y, [a, b], sink => AddBackward(sink, a, b, y));
        return Graph.Record(y, [a, b], sink => BinaryBackward(sink, a, b, y.Grad!.Data, kind, bSmall, outer, inner));
    }

    /// <summary>a op b where one operand has a single element (a learned scalar gain, a scale): one vector pass each way.</summary>
    static Tensor BroadcastOne(Tensor a, Tensor b, BinaryKind kind, bool bIsScalar)
    {
        Tensor big = bIsScalar ? a : b, one = bIsScalar ? b : a;
        float s = one.Data[0];
        float[] X = big.Data;
        var y = NewLike(big);
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(X, s, y.Data); break;
            case BinaryKind.Multiply: TensorPrimitives.Multiply(X, s, y.Data); break;
            case BinaryKind.Subtract:
                if (bIsScalar) TensorPrimitives.Subtract(X, s, y.Data); else TensorPrimitives.Subtract(s, X, y.Data);
                break;
            default:
                if (bIsScalar) TensorPrimitives.Divide(X, s, y.Data); else TensorPrimitives.Divide(s, X, y.Data);
                break;
        }
        if (!Graph.ShouldRecord(a, b)) return y;
        return Graph.Record(y, [a, b], sink =>
        {
            float[] g = y.Grad!.Data;
            float[]? dBig = big.RequiresGrad ? sink.OrZeros(big).Data : null;
            float[]? dOne = one.RequiresGrad ? sink.OrZeros(one).Data : null;
            switch (kind)
            {
                case BinaryKind.Add:
                    if (dBig is not null) TensorPrimitives.Add(dBig, g, dBig);
                    if (dOne is not null) dOne[0] += TensorPrimitives.Sum(g);
                    break;
                case BinaryKind.Multiply:
                    if (dBig is not null) TensorPrimitives.MultiplyAdd(g, s, dBig, dBig);
                    if (dOne is not null) dOne[0] += TensorPrimitives.Dot(g, X);
                    break;
                case BinaryKind.Subtract:
                    // y = x - s: dx = g, ds = -sum g; y = s - x: dx = -g, ds = sum g
                    if (dBig is not null) { if (bIsScalar) TensorPrimitives.Add(dBig, g, dBig); else TensorPrimitives.Subtract(dBig, g, dBig); }
                    if (dOne is not null) dOne[0] += bIsScalar ? -TensorPrimitives.Sum(g) : TensorPrimitives.Sum(g);
                    break;
                default:
                    if (bIsScalar)
                    {
                        // y = x / s: dx = g / s, ds = -sum(g x) / s^2
                        if (dBig is not null) TensorPrimitives.MultiplyAdd(g, 1f / s, dBig, dBig);
                        if (dOne is not null) dOne[0] -= TensorPrimitives.Dot(g, X) / (s * s);
                    }
                    else
                    {
                        // y = s / x: dx = -g s / x^2, ds = sum(g / x)
                        var t = new float[X.Length];
                        TensorPrimitives.Divide(g, X, t);
                        if (dOne is not null) dOne[0] += TensorPrimitives.Sum(t);
                        if (dBig is not null)
                        {
                            TensorPrimitives.Divide(t, X, t);
                            TensorPrimitives.MultiplyAdd(t, -s, dBig, dBig);
                        }
                    }
                    break;
            }
        });
    }

    /// <summary>
    /// y = a + b, same sizes (the residual add): both gradients are y's. A first gradient is a copy, not an add to zeros,
    /// and a's can be y's buffer itself, handed over (y's gradient is not read again unless it is retained).
    /// </summary>
    static void AddBackward(GradientSink sink, Tensor a, Tensor b, Tensor y)
    {
        float[] g = y.Grad!.Data;
        if (b.RequiresGrad)
        {
            float[] db = sink.Buffer(b, out bool accumulate);
            if (accumulate) TensorPrimitives.Add(db, g, db); else g.AsSpan().CopyTo(db);
        }
        if (!a.RequiresGrad) return;
        if (sink.Of(a) is null && !y.RetainGrad)
        {
            sink.Set(a, new Tensor(g, a.ShapeArray));
            y.Grad = null;
        }
        else
        {
            float[] da = sink.Buffer(a, out bool accumulate);
            if (accumulate) TensorPrimitives.Add(da, g, da); else g.AsSpan().CopyTo(da);
        }
    }

    /// <summary>
    /// Gradients of a op b with the small operand repeated <paramref name="outer"/> times: the big operand's gradient is
    /// element-wise; the small one's is summed over the repeats (a bias gradient is a column sum).
    /// </summary>
    static void BinaryBackward(GradientSink sink, Tensor a, Tensor b, float[] g, BinaryKind kind, bool bSmall, int outer, int inner)
    {
        float[] A = a.Data, B = b.Data;
        float[]? dA = a.RequiresGrad ? sink.OrZeros(a).Data : null;
        float[]? dB = b.RequiresGrad ? sink.OrZeros(b).Data : null;
        // Scratch for one row of products, reused across rows.
        float[]? scratch = kind is BinaryKind.Add or BinaryKind.Subtract ? null : new float[inner];
        for (int o = 0; o < outer; o++)
        {
            var gi = g.AsSpan(o * inner, inner);
            int ao = bSmall ? o * inner : 0, bo = bSmall ? 0 : o * inner;
            var av = A.AsSpan(ao, inner); var bv = B.AsSpan(bo, inner);
            switch (kind)
            {
                case BinaryKind.Add:
                    if (dA is not null) TensorPrimitives.Add(dA.AsSpan(ao, inner), gi, dA.AsSpan(ao, inner));
                    if (dB is not null) TensorPrimitives.Add(dB.AsSpan(bo, inner), gi, dB.AsSpan(bo, inner));
                    break;
                case BinaryKind.Subtract:
                    if (dA is not null) TensorPrimitives.Add(dA.AsSpan(ao, inner), gi, dA.AsSpan(ao, inner));
                    if (dB is not null) TensorPrimitives.Subtract(dB.AsSpan(bo, inner), gi, dB.AsSpan(bo, inner));
                    break;
                case BinaryKind.Multiply:
                    if (dA is not null) TensorPrimitives.MultiplyAdd(gi, bv, dA.AsSpan(ao, inner), dA.AsSpan(ao, inner));
                    if (dB is not null) TensorPrimitives.MultiplyAdd(gi, av, dB.AsSpan(bo, inner), dB.AsSpan(bo, inner));
                    break;
                default:
                    // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2
                    TensorPrimitives.Divide(gi, bv, scratch);
                    if (dA is not null) TensorPrimitives.Add(dA.AsSpan(ao, inner), scratch, dA.AsSpan(ao, inner));
                    if (dB is not null)
                    {
                        TensorPrimitives.Multiply(scratch, av, scratch);
                        TensorPrimitives.Divide(scratch, bv, scratch);
                        TensorPrimitives.Subtract(dB.AsSpan(bo, inner), scratch, dB.AsSpan(bo, inner));
                    }
                    break;
            }
        }
    }

    /// <summary>x + s.</summary>
    public static Tensor AddScalar(Tensor x, float s)
    {
        var y = NewLike(x);
        TensorPrimitives.Add(x.Data, s, y.Data);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink => Accumulate(sink, x, y.Grad!.Data));
    }

    /// <summary>x * s.</summary>
    public static Tensor MultiplyScalar(Tensor x, float s)
    {
        var y = NewLike(x);
        TensorPrimitives.Multiply(x.Data, s, y.Data);
        if (!Graph.ShouldRecord(x)) return y;
        return Graph.Record(y, [x], sink =>
        {
            var dx = sink.OrZeros(x).Data;
            TensorPrimitives.MultiplyAdd(y.Grad!.Data, s, dx, dx);
        });
    }
}
