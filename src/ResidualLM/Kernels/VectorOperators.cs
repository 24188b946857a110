// The operator contracts of the vector layer: an element-wise or row operation is written once, as a struct whose static
// Invoke has a float, a 128-, a 256- and a 512-bit form; VectorOps runs it. Limits: float32, at most 8 scalar parameters.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ResidualLM.Kernels;

/// <summary>
/// Up to eight scalar parameters of an operator (a row's mean and rstd, a softmax max, AdamW's betas ...), as floats
/// (<c>Splat&lt;float&gt;</c>) or broadcast once per call to every lane of a vector by the driver. Unused ones stay 0.
/// </summary>
public readonly struct Splat<T>(T a = default, T b = default, T c = default, T d = default, T e = default, T f = default, T g = default, T h = default)
    where T : struct
{
    /// <summary>The parameters, in the order the operator documents.</summary>
    public readonly T A = a, B = b, C = c, D = d, E = e, F = f, G = g, H = h;
}

/// <summary>Broadcasts a <see cref="Splat{T}"/> of floats to each vector width.</summary>
public static class Splat
{
    /// <summary>Each parameter in every lane of a 128-bit vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Splat<Vector128<float>> To128(in Splat<float> p) => new(Vector128.Create(p.A), Vector128.Create(p.B), Vector128.Create(p.C),
        Vector128.Create(p.D), Vector128.Create(p.E), Vector128.Create(p.F), Vector128.Create(p.G), Vector128.Create(p.H));

    /// <summary>Each parameter in every lane of a 256-bit vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Splat<Vector256<float>> To256(in Splat<float> p) => new(Vector256.Create(p.A), Vector256.Create(p.B), Vector256.Create(p.C),
        Vector256.Create(p.D), Vector256.Create(p.E), Vector256.Create(p.F), Vector256.Create(p.G), Vector256.Create(p.H));

    /// <summary>Each parameter in every lane of a 512-bit vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Splat<Vector512<float>> To512(in Splat<float> p) => new(Vector512.Create(p.A), Vector512.Create(p.B), Vector512.Create(p.C),
        Vector512.Create(p.D), Vector512.Create(p.E), Vector512.Create(p.F), Vector512.Create(p.G), Vector512.Create(p.H));
}

/// <summary>result = f(x), per element. The four forms must compute the same function (the float form takes the tails).</summary>
public interface IUnaryOperator
{
    static abstract float Invoke(float x, in Splat<float> p);
    static abstract Vector128<float> Invoke(Vector128<float> x, in Splat<Vector128<float>> p);
    static abstract Vector256<float> Invoke(Vector256<float> x, in Splat<Vector256<float>> p);
    static abstract Vector512<float> Invoke(Vector512<float> x, in Splat<Vector512<float>> p);
}

/// <summary>result = f(x, y), per element.</summary>
public interface IBinaryOperator
{
    static abstract float Invoke(float x, float y, in Splat<float> p);
    static abstract Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, in Splat<Vector128<float>> p);
    static abstract Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, in Splat<Vector256<float>> p);
    static abstract Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, in Splat<Vector512<float>> p);
}

/// <summary>result = f(x, y, z), per element.</summary>
public interface ITernaryOperator
{
    static abstract float Invoke(float x, float y, float z, in Splat<float> p);
    static abstract Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> z, in Splat<Vector128<float>> p);
    static abstract Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> z, in Splat<Vector256<float>> p);
    static abstract Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> z, in Splat<Vector512<float>> p);
}

/// <summary>result = f(x, y, z, w), per element.</summary>
public interface IQuaternaryOperator
{
    static abstract float Invoke(float x, float y, float z, float w, in Splat<float> p);
    static abstract Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> z, Vector128<float> w, in Splat<Vector128<float>> p);
    static abstract Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> z, Vector256<float> w, in Splat<Vector256<float>> p);
    static abstract Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> z, Vector512<float> w, in Splat<Vector512<float>> p);
}

/// <summary>
/// A fused pass with several outputs: reads up to <see cref="Inputs"/> streams (x, y, z), updates up to
/// <see cref="Updates"/> streams in place (a, b, c) and adds into two running sums (the driver keeps one per lane).
/// Used where splitting into maps would read a row several times (norm backward, AdamW).
/// </summary>
public interface IUpdateOperator
{
    /// <summary>How many of x, y, z are read (1-3): the driver loads only those.</summary>
    static abstract int Inputs { get; }
    /// <summary>How many of a, b, c are read and written back (1-3).</summary>
    static abstract int Updates { get; }
    static abstract void Invoke(float x, float y, float z, ref float a, ref float b, ref float c, ref float sum0, ref float sum1, in Splat<float> p);
    static abstract void Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> z, ref Vector128<float> a, ref Vector128<float> b,
        ref Vector128<float> c, ref Vector128<float> sum0, ref Vector128<float> sum1, in Splat<Vector128<float>> p);
    static abstract void Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> z, ref Vector256<float> a, ref Vector256<float> b,
        ref Vector256<float> c, ref Vector256<float> sum0, ref Vector256<float> sum1, in Splat<Vector256<float>> p);
    static abstract void Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> z, ref Vector512<float> a, ref Vector512<float> b,
        ref Vector512<float> c, ref Vector512<float> sum0, ref Vector512<float> sum1, in Splat<Vector512<float>> p);
}

/// <summary>Whether a gradient kernel adds into its destination or writes over it; a type, so the choice folds away.</summary>
public interface IAccumulation
{
    /// <summary>True: destination += value; false: destination = value (a first gradient, old contents ignored).</summary>
    static abstract bool Adds { get; }
}

/// <summary>destination += value.</summary>
public readonly struct AddInto : IAccumulation { public static bool Adds => true; }

/// <summary>destination = value.</summary>
public readonly struct WriteOver : IAccumulation { public static bool Adds => false; }

/// <summary>x itself: for plain sums and copies.</summary>
public readonly struct IdentityOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, in Splat<float> p) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, in Splat<Vector128<float>> p) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, in Splat<Vector256<float>> p) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, in Splat<Vector512<float>> p) => x;
}

/// <summary>|x|: with <see cref="VectorOps.Max{TOp}(float*, int, in Splat{float})"/>, the largest magnitude of a row.</summary>
public readonly struct AbsOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, in Splat<float> p) => MathF.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, in Splat<Vector128<float>> p) => Vector128.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, in Splat<Vector256<float>> p) => Vector256.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, in Splat<Vector512<float>> p) => Vector512.Abs(x);
}

/// <summary>x + y.</summary>
public readonly struct AddOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y, in Splat<float> p) => x + y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, in Splat<Vector128<float>> p) => x + y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, in Splat<Vector256<float>> p) => x + y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, in Splat<Vector512<float>> p) => x + y;
}

/// <summary>x y.</summary>
public readonly struct MultiplyOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y, in Splat<float> p) => x * y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, in Splat<Vector128<float>> p) => x * y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, in Splat<Vector256<float>> p) => x * y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, in Splat<Vector512<float>> p) => x * y;
}

/// <summary>x p.A: a row scaled by one number.</summary>
public readonly struct ScaleOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, in Splat<float> p) => x * p.A;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, in Splat<Vector128<float>> p) => x * p.A;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, in Splat<Vector256<float>> p) => x * p.A;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, in Splat<Vector512<float>> p) => x * p.A;
}

/// <summary>x - p.A: a row shifted by one number.</summary>
public readonly struct ShiftOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, in Splat<float> p) => x - p.A;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, in Splat<Vector128<float>> p) => x - p.A;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, in Splat<Vector256<float>> p) => x - p.A;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, in Splat<Vector512<float>> p) => x - p.A;
}

/// <summary>exp(x - p.A) with <see cref="SimdMath.Exp(Vector512{float})"/> (its float form is the bit-identical twin).</summary>
public readonly struct ExpShiftedOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, in Splat<float> p) => SimdMath.Exp(x - p.A);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, in Splat<Vector128<float>> p) => SimdMath.Exp(x - p.A);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, in Splat<Vector256<float>> p) => SimdMath.Exp(x - p.A);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, in Splat<Vector512<float>> p) => SimdMath.Exp(x - p.A);
}
