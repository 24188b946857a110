// Products of block-quantised weights (Q8_0, Q4_0) with float32 activations, as llama.cpp computes them: each row of
// activations is quantised to Q8_0 on the fly (per block of 32: d = max|x| / 127 rounded to float16, q = roundf(x / d)),
// then every block contributes an exact int32 sum of 32 int8 x int8 (or int4 x int8) products, scaled by d_w d_x.
//
// The float part has one fixed order on every path, so every path equals the scalar twin bit for bit: block b's term
// t_b = float(isum_b) * (d_w,b * d_x,b) (two roundings, never fused) is added to lane b mod 8 of eight accumulators, in
// block order, and the lanes are summed as ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)). The integer sums are exact
// on every path (AVX-VNNI vpdpbusd, AVX2/SSSE3 pmaddubsw + pmaddwd, ARM64 SDOT or widening multiply-adds, scalar).
// Limits: k a multiple of 32 and at most 2^20 (|isum| <= 32 * 128 * 127 per block, so no int32 overflow anywhere).
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using ResidualLM.Tensors;

namespace ResidualLM.Kernels;

/// <summary>The integer loops <see cref="BlockDot"/> can take.</summary>
public enum BlockDotPath
{
    /// <summary>Plain loops.</summary>
    Scalar,
    /// <summary>128 bits: ARM64 SDOT (or widening multiply-adds without the dot-product extension), x86 SSSE3 pmaddubsw.</summary>
    Vector128,
    /// <summary>AVX2 pmaddubsw + pmaddwd on one block (32 bytes) per step.</summary>
    Avx2,
    /// <summary>AVX-VNNI vpdpbusd on one block per step.</summary>
    Vnni256,
}

/// <summary>Rows of activations quantised to Q8_0 blocks: values (m x k), scales (m x k/32, float16-rounded), block sums of the values.</summary>
public sealed class QuantizedActivations : IDisposable
{
    /// <summary>Rows.</summary>
    public int Rows { get; private set; }
    /// <summary>Columns (a multiple of 32).</summary>
    public int Columns { get; private set; }
    internal sbyte[] Values = [];
    internal float[] Scales = [];
    internal int[] Sums = [];
    // The same values with each pair of blocks (a, b) reordered as a[0..15] b[0..15] a[16..31] b[16..31]: the order in
    // which one 32-byte load of two Q4_0 blocks' packed nibbles unpacks (low nibbles, then high). Filled on request.
    internal sbyte[] Paired = [];

    /// <summary>Quantises x (m x k) row by row, reusing this object's buffers when they are large enough.</summary>
    public void Quantize(ReadOnlySpan<float> x, int m, int k) => Quantize(x, m, k, paired: false);

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, int, int)"/>, also writing the paired order Q4_0 products read.</summary>
    internal void Quantize(ReadOnlySpan<float> x, int m, int k, bool paired)
    {
        if (k % BlockQuant.BlockSize != 0 || k < 1 || k > BlockDot.MaxColumns || m < 0 || x.Length != (long)m * k)
            throw new ArgumentException($"activations ({m} x {k}): k must be a positive multiple of 32 (at most {BlockDot.MaxColumns}) and x hold m x k values");
        int blocks = k / BlockQuant.BlockSize;
        Rent(ref Values, m * k); Rent(ref Scales, m * blocks); Rent(ref Sums, m * blocks);
        Rows = m; Columns = k;
        for (int b = 0; b < m * blocks; b++)
        {
            var block = x.Slice(b * BlockQuant.BlockSize, BlockQuant.BlockSize);
            float amax = 0f;
            foreach (float v in block) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f, id = d != 0f ? 1f / d : 0f;
            Scales[b] = (float)(Half)d;
            int sum = 0;
            for (int j = 0; j < BlockQuant.BlockSize; j++)
            {
                int q = (int)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero);
                Values[b * BlockQuant.BlockSize + j] = (sbyte)q;
                sum += q;
            }
            Sums[b] = sum;
        }
        if (!paired) return;
        Rent(ref Paired, m * k);
        for (int b = 0; b + 1 < m * blocks; b += 2)
        {
            if ((b % blocks) + 1 >= blocks) { b--; continue; }                     // a row's odd last block is read unpaired
            var from = Values.AsSpan(b * BlockQuant.BlockSize, 2 * BlockQuant.BlockSize);
            var to = Paired.AsSpan(b * BlockQuant.BlockSize, 2 * BlockQuant.BlockSize);
            from[..16].CopyTo(to); from.Slice(32, 16).CopyTo(to[16..]); from.Slice(16, 16).CopyTo(to[32..]); from.Slice(48, 16).CopyTo(to[48..]);
        }
    }

    static void Rent<T>(ref T[] buffer, int length)
    {
        if (buffer.Length >= length) return;
        if (buffer.Length > 0) ArrayPool<T>.Shared.Return(buffer);
        buffer = ArrayPool<T>.Shared.Rent(length);
    }

    /// <summary>Hands the buffers back to the shared pool.</summary>
    public void Dispose()
    {
        if (Values.Length > 0) ArrayPool<sbyte>.Shared.Return(Values);
        if (Scales.Length > 0) ArrayPool<float>.Shared.Return(Scales);
        if (Sums.Length > 0) ArrayPool<int>.Shared.Return(Sums);
        if (Paired.Length > 0) ArrayPool<sbyte>.Shared.Return(Paired);
        Values = []; Scales = []; Sums = []; Paired = [];
        Rows = Columns = 0;
    }
}

/// <summary>y = x W^T (+ bias) with W block-quantised: the decode step's matrix-vector products and the prompt's matrix products.</summary>
public static unsafe class BlockDot
{
    /// <summary>Longest row: 2^20 values (32768 blocks: the per-block sums cannot overflow and the block count fits a lane).</summary>
    public const int MaxColumns = 1 << 20;

    const int Lanes = 8;
    const uint TwoTo112 = (127 + 112) << 23;          // the bits of the float 2^112

    /// <summary>The integer loop this machine takes: AVX-VNNI where the runtime has it, else the widest of AVX2, 128 bits, scalar.</summary>
    public static readonly BlockDotPath Path =
        VectorIsa.Path >= VectorPath.Avx2 ? (AvxVnni.IsSupported ? BlockDotPath.Vnni256 : BlockDotPath.Avx2)
        : VectorIsa.Path == VectorPath.Vector128 && (Ssse3.IsSupported || AdvSimd.Arm64.IsSupported) ? BlockDotPath.Vector128
        : BlockDotPath.Scalar;

    /// <summary>Whether this machine can run <paramref name="path"/> (tests run every one that it can).</summary>
    public static bool IsSupported(BlockDotPath path) => path switch
    {
        BlockDotPath.Vnni256 => AvxVnni.IsSupported,
        BlockDotPath.Avx2 => Avx2.IsSupported,
        BlockDotPath.Vector128 => Ssse3.IsSupported || AdvSimd.Arm64.IsSupported,
        _ => true,
    };

    /// <summary>
    /// y (m x n) = x W^T (+ bias), with x (m x k) quantised into <paramref name="scratch"/> first. Rows of W are split
    /// between the threads; each thread takes its rows in order, for every row of x.
    /// </summary>
    public static void Multiply(Parallelism threads, ReadOnlySpan<float> x, int m, QuantizedMatrix w, ReadOnlySpan<float> bias, Span<float> y,
        QuantizedActivations scratch) => MultiplyOn(Path, threads, x, m, w, bias, y, scratch);

    /// <summary><see cref="Multiply"/> on a chosen integer loop (tests).</summary>
    internal static void MultiplyOn(BlockDotPath path, Parallelism threads, ReadOnlySpan<float> x, int m, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> y, QuantizedActivations scratch)
    {
        int n = w.Rows, k = w.Columns;
        if (x.Length != (long)m * k || y.Length != (long)m * n || (bias.Length != 0 && bias.Length != n))
            throw new ArgumentException($"quantised product: x {x.Length}, y {y.Length} and bias {bias.Length} do not match ({m} x {k}) times ({n} x {k})^T");
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"block dots: {path} is not available here");
        if (m == 0 || n == 0) return;
        scratch.Quantize(x, m, k, paired: w.Format == BlockFormat.Q4_0 && path is BlockDotPath.Avx2 or BlockDotPath.Vnni256);
        fixed (float* py = y)
        fixed (float* pb = bias)
        {
            var job = new Job(path, w, scratch, (nint)py, bias.Length == 0 ? 0 : (nint)pb, m);
            // Rows of W in groups of 4, so two threads never share a cache line of y for one row of x.
            int groups = (n + 3) / 4;
            threads.For(0, groups, job.Run, costPerItem: 4L * 2 * k * m);
        }
    }

    sealed class Job(BlockDotPath path, QuantizedMatrix w, QuantizedActivations x, nint y, nint bias, int m)
    {
        public void Run(int fromGroup, int toGroup)
        {
            int n = w.Rows, k = w.Columns, blocks = k / BlockQuant.BlockSize;
            int from = fromGroup * 4, to = Math.Min(n, toGroup * 4);
            int rowBytes = blocks * BlockQuant.ValueBytes(w.Format);
            float* py = (float*)y, pb = (float*)bias;
            fixed (byte* pw = w.Values)
            fixed (ushort* pd = w.Scales)
            fixed (sbyte* px = x.Values)
            fixed (sbyte* pp = x.Paired)
            fixed (float* pdx = x.Scales)
            fixed (int* ps = x.Sums)
            {
                // Tiles of weight rows that stay in L1 (about 16 KB) while every row of x passes by once: a prompt's
                // activations then stream from L2 once per tile, not once per weight row.
                int tile = Math.Max(1, Math.Min(64, (16 << 10) / rowBytes));
                for (int j0 = from; j0 < to; j0 += tile)
                {
                    int j1 = Math.Min(to, j0 + tile);
                    for (int i = 0; i < m; i++)
                    {
                        long xOffset = (long)i * blocks;
                        float* yRow = py + (long)i * n;
                        for (int j = j0; j < j1; j++)
                        {
                            byte* wRow = pw + (long)j * rowBytes;
                            ushort* dRow = pd + (long)j * blocks;
                            float dot = w.Format == BlockFormat.Q8_0
                                ? RowDotQ8(path, (sbyte*)wRow, dRow, px + xOffset * BlockQuant.BlockSize, pdx + xOffset, blocks)
                                : RowDotQ4(path, wRow, dRow, px + xOffset * BlockQuant.BlockSize, pp + xOffset * BlockQuant.BlockSize, pdx + xOffset, ps + xOffset, blocks);
                            yRow[j] = dot + (pb == null ? 0f : pb[j]);
                        }
                    }
                }
            }
        }
    }

    /// <summary>One Q8_0 row of W against one quantised row of x: sum_b float(isum_b) (d_w,b d_x,b) in the fixed order.</summary>
    internal static float RowDotQ8(BlockDotPath path, sbyte* w, ushort* dw, sbyte* x, float* dx, int blocks)
    {
        float* lanes = stackalloc float[Lanes];
        int b = 0;
        if (path is BlockDotPath.Avx2 or BlockDotPath.Vnni256)
        {
            Vector256<float> acc = default;
            bool vnni = path == BlockDotPath.Vnni256;
            for (; b + Lanes <= blocks; b += Lanes)
            {
                sbyte* wb = w + b * 32, xb = x + b * 32;
                var sums = Reduce8(Q8Block256(wb, xb, vnni), Q8Block256(wb + 32, xb + 32, vnni), Q8Block256(wb + 64, xb + 64, vnni),
                    Q8Block256(wb + 96, xb + 96, vnni), Q8Block256(wb + 128, xb + 128, vnni), Q8Block256(wb + 160, xb + 160, vnni),
                    Q8Block256(wb + 192, xb + 192, vnni), Q8Block256(wb + 224, xb + 224, vnni));
                acc += Avx.ConvertToVector256Single(sums) * (HalfToSingle(Vector128.Load(dw + b)) * Vector256.Load(dx + b));
            }
            acc.Store(lanes);
        }
        else if (path == BlockDotPath.Vector128)
        {
            Vector128<float> acc0 = default, acc1 = default;
            for (; b + Lanes <= blocks; b += Lanes)
            {
                sbyte* wb = w + b * 32, xb = x + b * 32;
                var s0 = Reduce4(Q8Block128(wb, xb), Q8Block128(wb + 32, xb + 32), Q8Block128(wb + 64, xb + 64), Q8Block128(wb + 96, xb + 96));
                var s1 = Reduce4(Q8Block128(wb + 128, xb + 128), Q8Block128(wb + 160, xb + 160), Q8Block128(wb + 192, xb + 192), Q8Block128(wb + 224, xb + 224));
                var (d0, d1) = HalfToSingle128(Vector128.Load(dw + b));
                acc0 += Vector128.ConvertToSingle(s0) * (d0 * Vector128.Load(dx + b));
                acc1 += Vector128.ConvertToSingle(s1) * (d1 * Vector128.Load(dx + b + 4));
            }
            acc0.Store(lanes); acc1.Store(lanes + 4);
        }
        else new Span<float>(lanes, Lanes).Clear();
        for (; b < blocks; b++)
        {
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += w[b * 32 + j] * x[b * 32 + j];
            lanes[b % Lanes] += isum * (BlockQuant.HalfValue(dw[b]) * dx[b]);
        }
        return SumLanes(lanes);
    }

    /// <summary>One Q4_0 row of W against one quantised row of x: isum_b = sum q x - 8 sum x, then as <see cref="RowDotQ8"/>.</summary>
    internal static float RowDotQ4(BlockDotPath path, byte* w, ushort* dw, sbyte* x, sbyte* xPaired, float* dx, int* xSums, int blocks)
    {
        float* lanes = stackalloc float[Lanes];
        int b = 0;
        if (path is BlockDotPath.Avx2 or BlockDotPath.Vnni256)
        {
            Vector256<float> acc = default;
            bool vnni = path == BlockDotPath.Vnni256;
            for (; b + Lanes <= blocks; b += Lanes)
            {
                byte* wb = w + b * 16; sbyte* xb = xPaired + b * 32;
                var sums = ReducePairs(Q4Pair256(wb, xb, vnni), Q4Pair256(wb + 32, xb + 64, vnni), Q4Pair256(wb + 64, xb + 128, vnni), Q4Pair256(wb + 96, xb + 192, vnni));
                sums -= Vector256.Load(xSums + b) << 3;
                acc += Avx.ConvertToVector256Single(sums) * (HalfToSingle(Vector128.Load(dw + b)) * Vector256.Load(dx + b));
            }
            acc.Store(lanes);
        }
        else if (path == BlockDotPath.Vector128)
        {
            Vector128<float> acc0 = default, acc1 = default;
            for (; b + Lanes <= blocks; b += Lanes)
            {
                byte* wb = w + b * 16; sbyte* xb = x + b * 32;
                var s0 = Reduce4(Q4Block128(wb, xb), Q4Block128(wb + 16, xb + 32), Q4Block128(wb + 32, xb + 64), Q4Block128(wb + 48, xb + 96));
                var s1 = Reduce4(Q4Block128(wb + 64, xb + 128), Q4Block128(wb + 80, xb + 160), Q4Block128(wb + 96, xb + 192), Q4Block128(wb + 112, xb + 224));
                s0 -= Vector128.Load(xSums + b) << 3;
                s1 -= Vector128.Load(xSums + b + 4) << 3;
                var (d0, d1) = HalfToSingle128(Vector128.Load(dw + b));
                acc0 += Vector128.ConvertToSingle(s0) * (d0 * Vector128.Load(dx + b));
                acc1 += Vector128.ConvertToSingle(s1) * (d1 * Vector128.Load(dx + b + 4));
            }
            acc0.Store(lanes); acc1.Store(lanes + 4);
        }
        else new Span<float>(lanes, Lanes).Clear();
        for (; b < blocks; b++)
        {
            int isum = 0;
            for (int j = 0; j < 16; j++)
            {
                byte packed = w[b * 16 + j];
                isum += (packed & 0x0F) * x[b * 32 + j] + (packed >> 4) * x[b * 32 + j + 16];
            }
            isum -= 8 * xSums[b];
            lanes[b % Lanes] += isum * (BlockQuant.HalfValue(dw[b]) * dx[b]);
        }
        return SumLanes(lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float SumLanes(float* a) => ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));

    // Eight int32 partial sums of one Q8_0 block: |w| (unsigned) times x with w's sign, which is w x exactly (a byte
    // -128 becomes 128 unsigned). pmaddubsw's int16 pairs cannot saturate: 2 x 128 x 127 < 2^15.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Q8Block256(sbyte* w, sbyte* x, bool vnni)
    {
        var wv = Vector256.Load(w);
        var xs = Avx2.Sign(Vector256.Load(x), wv);
        var wa = Avx2.Abs(wv);
        if (vnni) return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, wa, xs);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wa, xs), Vector256.Create((short)1));
    }

    // Two Q4_0 blocks (a, b) from one 32-byte load of their packed nibbles: the low nibbles are a[0..15] b[0..15], the high
    // ones a[16..31] b[16..31], which is the order of the paired activations. Returns four int32 partial sums of
    // sum q x for block a in the low half and four for block b in the high half (q in [0, 15]: no sign trick needed;
    // pmaddubsw's pairs stay below 2 x 2 x 15 x 127 in int16).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Q4Pair256(byte* w, sbyte* x, bool vnni)
    {
        var packed = Vector256.Load(w);
        var mask = Vector256.Create((byte)0x0F);
        Vector256<byte> lo = packed & mask, hi = Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask;
        Vector256<sbyte> xLo = Vector256.Load(x), xHi = Vector256.Load(x + 32);
        if (vnni) return AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, lo, xLo), hi, xHi);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, xLo) + Avx2.MultiplyAddAdjacent(hi, xHi), Vector256.Create((short)1));
    }

    // Four pair vectors (blocks 0,1 | 2,3 | 4,5 | 6,7, each block's partials in one 128-bit half) -> the eight block totals
    // in block order: the horizontal adds leave [b0 b2 b4 b6 | b1 b3 b5 b7], which one permutation puts in order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> ReducePairs(Vector256<int> p01, Vector256<int> p23, Vector256<int> p45, Vector256<int> p67)
    {
        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(p01, p23), Avx2.HorizontalAdd(p45, p67));
        return Avx2.PermuteVar8x32(h, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
    }

    // Four int32 partial sums of one Q8_0 block at 128 bits.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Q8Block128(sbyte* w, sbyte* x)
    {
        Vector128<sbyte> w0 = Vector128.Load(w), w1 = Vector128.Load(w + 16), x0 = Vector128.Load(x), x1 = Vector128.Load(x + 16);
        if (Dp.IsSupported) return Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, w0, x0), w1, x1);
        if (AdvSimd.Arm64.IsSupported) return WidenedDot(w0, x0) + WidenedDot(w1, x1);
        var ones = Vector128.Create((short)1);
        return Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Ssse3.Abs(w0), Ssse3.Sign(x0, w0)), ones)
             + Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Ssse3.Abs(w1), Ssse3.Sign(x1, w1)), ones);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Q4Block128(byte* w, sbyte* x)
    {
        var packed = Vector128.Load(w);
        var mask = Vector128.Create((byte)0x0F);
        Vector128<byte> lo = packed & mask, hi = Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask;
        Vector128<sbyte> x0 = Vector128.Load(x), x1 = Vector128.Load(x + 16);
        if (Dp.IsSupported) return Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, lo.AsSByte(), x0), hi.AsSByte(), x1);
        if (AdvSimd.Arm64.IsSupported) return WidenedDot(lo.AsSByte(), x0) + WidenedDot(hi.AsSByte(), x1);
        var ones = Vector128.Create((short)1);
        return Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(lo, x0), ones) + Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(hi, x1), ones);
    }

    // ARM64 without SDOT: widen to int16, multiply-add widening into int32 (SMLAL, SMLAL2).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> WidenedDot(Vector128<sbyte> a, Vector128<sbyte> b)
    {
        var products = AdvSimd.MultiplyWideningLower(a.GetLower(), b.GetLower());            // 8 x int16 (|a b| <= 128 x 127)
        var upper = AdvSimd.MultiplyWideningUpper(a, b);
        return AdvSimd.AddPairwiseWidening(products) + AdvSimd.AddPairwiseWidening(upper);
    }

    // Eight vectors of partial sums -> one vector of their eight totals (exact: integer adds).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Reduce8(Vector256<int> v0, Vector256<int> v1, Vector256<int> v2, Vector256<int> v3,
        Vector256<int> v4, Vector256<int> v5, Vector256<int> v6, Vector256<int> v7)
    {
        var h0 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(v0, v1), Avx2.HorizontalAdd(v2, v3)); // [v0..v3 low halves | v0..v3 high halves]
        var h1 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(v4, v5), Avx2.HorizontalAdd(v6, v7));
        return Avx2.Permute2x128(h0, h1, 0x20) + Avx2.Permute2x128(h0, h1, 0x31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Reduce4(Vector128<int> v0, Vector128<int> v1, Vector128<int> v2, Vector128<int> v3)
    {
        if (AdvSimd.Arm64.IsSupported) return AdvSimd.Arm64.AddPairwise(AdvSimd.Arm64.AddPairwise(v0, v1), AdvSimd.Arm64.AddPairwise(v2, v3));
        return Ssse3.HorizontalAdd(Ssse3.HorizontalAdd(v0, v1), Ssse3.HorizontalAdd(v2, v3));
    }

    // float16 bits to float32, exactly, for finite values: the 15 magnitude bits moved to float32's exponent and mantissa
    // fields and scaled by 2^112 (which also makes float16 subnormals right), then the sign put back.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> HalfToSingle(Vector128<ushort> bits)
    {
        var wide = Avx2.ConvertToVector256Int32(bits).AsUInt32();
        var magnitude = ((wide & Vector256.Create(0x7FFFu)) << 13).AsSingle() * Vector256.Create(TwoTo112).AsSingle();
        return (magnitude.AsUInt32() | ((wide & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector128<float>, Vector128<float>) HalfToSingle128(Vector128<ushort> bits)
    {
        var (lo, hi) = Vector128.Widen(bits);
        return (Convert(lo), Convert(hi));

        static Vector128<float> Convert(Vector128<uint> wide)
        {
            var magnitude = ((wide & Vector128.Create(0x7FFFu)) << 13).AsSingle() * Vector128.Create(TwoTo112).AsSingle();
            return (magnitude.AsUInt32() | ((wide & Vector128.Create(0x8000u)) << 16)).AsSingle();
        }
    }
}
