// The vector operations of the attention kernels, once per width, so AttentionKernel.cs and AttentionBackward.cs are
// written once over a type parameter and the JIT compiles one copy per width (struct type arguments are never shared).
// Limits: float32 only. Each width runs only on the path VectorIsa.Path picks for it: Lanes512 only with AVX-512, so
// no 512-bit code runs emulated; Lanes128 also serves the scalar path (its Vector128 ops then run in software).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

/// <summary>
/// One vector width's operations for the attention kernels: element-wise arithmetic, reductions across lanes, exp and the
/// two register-blocked products (<see cref="Scores"/> and <see cref="RowSums"/>). Column counts are in groups of 16 floats
/// (one 512-bit vector, two 256-bit, four 128-bit), so padding and tiling are the same on every path.
/// </summary>
unsafe interface IAttentionLanes<V> where V : unmanaged
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }
    static abstract V Zero { get; }
    static abstract V One { get; }
    /// <summary>0, 1, 2, ... per lane, as floats.</summary>
    static abstract V Indices { get; }
    static abstract V Create(float x);
    static abstract V Load(float* p);
    static abstract void Store(V x, float* p);
    static abstract V Add(V a, V b);
    static abstract V Subtract(V a, V b);
    static abstract V Multiply(V a, V b);
    static abstract V Divide(V a, V b);
    static abstract V Negate(V a);
    /// <summary>a b + c under <see cref="VectorIsa.MultiplyAdd(float, float, float)"/>'s rule (fused only with hardware FMA).</summary>
    static abstract V MultiplyAdd(V a, V b, V c);
    /// <summary>The hardware max (no NaN or signed-zero fix-ups: scores are neither).</summary>
    static abstract V Max(V a, V b);
    static abstract V GreaterThan(V a, V b);
    static abstract V Equals(V a, V b);
    /// <summary>mask ? a : b per lane (mask lanes all ones or all zeros).</summary>
    static abstract V Select(V mask, V a, V b);
    /// <summary>Bit i set where lane i of <paramref name="x"/> is not 0.</summary>
    static abstract uint NonzeroLanes(V x);
    /// <summary>The largest lane, in every lane.</summary>
    static abstract V MaxAcross(V x);
    /// <summary>The sum of the lanes, in every lane (a fixed pairwise order per width).</summary>
    static abstract V SumAcross(V x);
    /// <summary><see cref="SimdMath"/>'s exp (the same values in every width).</summary>
    static abstract V Exp(V x);
    /// <summary>Two exps; the 512-bit form interleaves their steps.</summary>
    static abstract void Exp2(ref V x, ref V y);

    /// <summary>s[r, j] = sum_d a[r, d] bT[d, j] for r &lt; rows (at most 8), j &lt; 16 * tiles; see <see cref="AttentionTiles.Scores"/>.</summary>
    static abstract void Scores(float* a, long aStride, int rows, float* bT, long bStride, int depth, int tiles, float* s, long sStride);

    /// <summary>o[r, c] (+)= sum_t w[r * wRow + t * wStep] b[t, c] for r &lt; rows (at most 8), c &lt; 16 * groups; see <see cref="AttentionTiles.RowSums"/>.</summary>
    static abstract void RowSums(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int groups, float* o, long oStride, bool accumulate);
}

/// <summary>AVX-512: 16 lanes, 32 zmm registers; the products are AttentionTiles' 16-accumulator tiles.</summary>
readonly unsafe struct Lanes512 : IAttentionLanes<Vector512<float>>
{
    public static int Count => 16;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    public static Vector512<float> One => Vector512<float>.One;
    public static Vector512<float> Indices => Vector512<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Create(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> x, float* p) => x.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Negate(Vector512<float> a) => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => VectorIsa.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => AttentionTiles.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterThan(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Equals(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static uint NonzeroLanes(Vector512<float> x) => ~(uint)Vector512.Equals(x, Vector512<float>.Zero).ExtractMostSignificantBits() & 0xFFFF;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MaxAcross(Vector512<float> x) => AttentionTiles.MaxAcross(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> SumAcross(Vector512<float> x) => AttentionTiles.SumAcross(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> x) => SimdMath.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Exp2(ref Vector512<float> x, ref Vector512<float> y) => SimdMath.Exp2(ref x, ref y);

    public static void Scores(float* a, long aStride, int rows, float* bT, long bStride, int depth, int tiles, float* s, long sStride) =>
        AttentionTiles.Scores(a, aStride, rows, bT, bStride, depth, tiles, s, sStride);

    public static void RowSums(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int groups, float* o, long oStride, bool accumulate) =>
        AttentionTiles.RowSums(w, wRow, wStep, rows, b, bStride, count, groups, o, oStride, accumulate);
}

/// <summary>AVX2: 8 lanes, 16 ymm registers; products in 4 x 16-float blocks (8 accumulators, AttentionNarrowTiles).</summary>
readonly unsafe struct Lanes256 : IAttentionLanes<Vector256<float>>
{
    public static int Count => 8;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    public static Vector256<float> One => Vector256<float>.One;
    public static Vector256<float> Indices => Vector256<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Create(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> x, float* p) => x.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Negate(Vector256<float> a) => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => VectorIsa.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterThan(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Equals(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static uint NonzeroLanes(Vector256<float> x) => ~Vector256.Equals(x, Vector256<float>.Zero).ExtractMostSignificantBits() & 0xFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaxAcross(Vector256<float> x)
    {
        if (!Avx.IsSupported) return Vector256.Create(Lanes128.MaxAcross(Vector128.MaxNative(x.GetLower(), x.GetUpper())).ToScalar());
        x = Avx.Max(x, Avx.Permute2x128(x, x, 1));                       // halves swapped
        x = Avx.Max(x, Avx.Permute(x, 0b01_00_11_10));                   // pairs swapped within each half
        return Avx.Max(x, Avx.Permute(x, 0b10_11_00_01));                // neighbours swapped
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SumAcross(Vector256<float> x)
    {
        if (!Avx.IsSupported) return Vector256.Create(Lanes128.SumAcross(x.GetLower() + x.GetUpper()).ToScalar());
        x += Avx.Permute2x128(x, x, 1);
        x += Avx.Permute(x, 0b01_00_11_10);
        return x + Avx.Permute(x, 0b10_11_00_01);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> x) => SimdMath.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Exp2(ref Vector256<float> x, ref Vector256<float> y) { x = SimdMath.Exp(x); y = SimdMath.Exp(y); }

    public static void Scores(float* a, long aStride, int rows, float* bT, long bStride, int depth, int tiles, float* s, long sStride) =>
        AttentionNarrowTiles.Scores<Lanes256, Vector256<float>>(a, aStride, rows, bT, bStride, depth, tiles, s, sStride);

    public static void RowSums(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int groups, float* o, long oStride, bool accumulate) =>
        AttentionNarrowTiles.RowSums<Lanes256, Vector256<float>>(w, wRow, wStep, rows, b, bStride, count, groups, o, oStride, accumulate);
}

/// <summary>
/// 128-bit: 4 lanes. ARM64 NEON (32 q registers, FMA): 4 x 16-float blocks, 16 accumulators. x86 SSE (16 xmm, no FMA,
/// so each multiply-add needs a temporary): 4 x 8-float blocks, 8 accumulators. Also the scalar path, in software.
/// </summary>
readonly unsafe struct Lanes128 : IAttentionLanes<Vector128<float>>
{
    public static int Count => 4;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    public static Vector128<float> One => Vector128<float>.One;
    public static Vector128<float> Indices => Vector128<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Create(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> x, float* p) => x.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Negate(Vector128<float> a) => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => VectorIsa.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> GreaterThan(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Equals(Vector128<float> a, Vector128<float> b) => Vector128.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static uint NonzeroLanes(Vector128<float> x) => ~Vector128.Equals(x, Vector128<float>.Zero).ExtractMostSignificantBits() & 0xF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MaxAcross(Vector128<float> x)
    {
        if (AdvSimd.Arm64.IsSupported)
        {
            x = AdvSimd.Arm64.MaxPairwise(x, x);                            // fmaxp: max(0,1), max(2,3), repeated
            return AdvSimd.Arm64.MaxPairwise(x, x);
        }
        x = Vector128.MaxNative(x, Vector128.Shuffle(x, Vector128.Create(2, 3, 0, 1)));
        return Vector128.MaxNative(x, Vector128.Shuffle(x, Vector128.Create(1, 0, 3, 2)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SumAcross(Vector128<float> x)
    {
        if (AdvSimd.Arm64.IsSupported)
        {
            x = AdvSimd.Arm64.AddPairwise(x, x);                            // faddp: (0+1), (2+3), repeated
            return AdvSimd.Arm64.AddPairwise(x, x);
        }
        x += Vector128.Shuffle(x, Vector128.Create(2, 3, 0, 1));
        return x + Vector128.Shuffle(x, Vector128.Create(1, 0, 3, 2));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Exp(Vector128<float> x) => SimdMath.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Exp2(ref Vector128<float> x, ref Vector128<float> y) { x = SimdMath.Exp(x); y = SimdMath.Exp(y); }

    public static void Scores(float* a, long aStride, int rows, float* bT, long bStride, int depth, int tiles, float* s, long sStride) =>
        AttentionNarrowTiles.Scores<Lanes128, Vector128<float>>(a, aStride, rows, bT, bStride, depth, tiles, s, sStride);

    public static void RowSums(float* w, long wRow, long wStep, int rows, float* b, long bStride, int count, int groups, float* o, long oStride, bool accumulate) =>
        AttentionNarrowTiles.RowSums<Lanes128, Vector128<float>>(w, wRow, wStep, rows, b, bStride, count, groups, o, oStride, accumulate);
}
