// GEMM micro-kernels: C[MR x NR] (+)= A micro-panel (kc x MR) times packed B micro-panel (kc x NR). A is packed k-major
// except on AVX2, where the kernel reads MR rows along k (in place when A is row-major). Register-resident accumulators,
// no calls inside; packing (GemmPacking.cs) guarantees contiguous, aligned B panels.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

static unsafe class GemmKernels
{
    /// <summary>
    /// 12 x 32 tile with AVX-512: 24 zmm accumulators, 2 for the B row, A broadcast from memory (embedded broadcast).
    /// a: packed (kc x 12), b: packed (kc x 32) 64-byte aligned, c: row-major with row stride ldc; kc &gt;= 1.
    /// When addC the tile is added to C, else it overwrites C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel12x32(nint kc, float* a, float* b, float* c, nint ldc, bool addC)
    {
        Vector512<float> c00a = default, c00b = default, c01a = default, c01b = default, c02a = default, c02b = default, c03a = default, c03b = default, c04a = default, c04b = default, c05a = default, c05b = default, c06a = default, c06b = default, c07a = default, c07b = default, c08a = default, c08b = default, c09a = default, c09b = default, c10a = default, c10b = default, c11a = default, c11b = default;
        Vector512<float> b0, b1, av;
        nint quads = kc >> 2;
        if (quads != 0)
        {
            do
            {
                b0 = Avx512F.LoadAlignedVector512(b + 0);
                b1 = Avx512F.LoadAlignedVector512(b + 16);
                av = Vector512.Create(a[0]); c00a = Avx512F.FusedMultiplyAdd(av, b0, c00a); c00b = Avx512F.FusedMultiplyAdd(av, b1, c00b);
                av = Vector512.Create(a[1]); c01a = Avx512F.FusedMultiplyAdd(av, b0, c01a); c01b = Avx512F.FusedMultiplyAdd(av, b1, c01b);
                av = Vector512.Create(a[2]); c02a = Avx512F.FusedMultiplyAdd(av, b0, c02a); c02b = Avx512F.FusedMultiplyAdd(av, b1, c02b);
                av = Vector512.Create(a[3]); c03a = Avx512F.FusedMultiplyAdd(av, b0, c03a); c03b = Avx512F.FusedMultiplyAdd(av, b1, c03b);
                av = Vector512.Create(a[4]); c04a = Avx512F.FusedMultiplyAdd(av, b0, c04a); c04b = Avx512F.FusedMultiplyAdd(av, b1, c04b);
                av = Vector512.Create(a[5]); c05a = Avx512F.FusedMultiplyAdd(av, b0, c05a); c05b = Avx512F.FusedMultiplyAdd(av, b1, c05b);
                av = Vector512.Create(a[6]); c06a = Avx512F.FusedMultiplyAdd(av, b0, c06a); c06b = Avx512F.FusedMultiplyAdd(av, b1, c06b);
                av = Vector512.Create(a[7]); c07a = Avx512F.FusedMultiplyAdd(av, b0, c07a); c07b = Avx512F.FusedMultiplyAdd(av, b1, c07b);
                av = Vector512.Create(a[8]); c08a = Avx512F.FusedMultiplyAdd(av, b0, c08a); c08b = Avx512F.FusedMultiplyAdd(av, b1, c08b);
                av = Vector512.Create(a[9]); c09a = Avx512F.FusedMultiplyAdd(av, b0, c09a); c09b = Avx512F.FusedMultiplyAdd(av, b1, c09b);
                av = Vector512.Create(a[10]); c10a = Avx512F.FusedMultiplyAdd(av, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(av, b1, c10b);
                av = Vector512.Create(a[11]); c11a = Avx512F.FusedMultiplyAdd(av, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(av, b1, c11b);
                b0 = Avx512F.LoadAlignedVector512(b + 32);
                b1 = Avx512F.LoadAlignedVector512(b + 48);
                av = Vector512.Create(a[12]); c00a = Avx512F.FusedMultiplyAdd(av, b0, c00a); c00b = Avx512F.FusedMultiplyAdd(av, b1, c00b);
                av = Vector512.Create(a[13]); c01a = Avx512F.FusedMultiplyAdd(av, b0, c01a); c01b = Avx512F.FusedMultiplyAdd(av, b1, c01b);
                av = Vector512.Create(a[14]); c02a = Avx512F.FusedMultiplyAdd(av, b0, c02a); c02b = Avx512F.FusedMultiplyAdd(av, b1, c02b);
                av = Vector512.Create(a[15]); c03a = Avx512F.FusedMultiplyAdd(av, b0, c03a); c03b = Avx512F.FusedMultiplyAdd(av, b1, c03b);
                av = Vector512.Create(a[16]); c04a = Avx512F.FusedMultiplyAdd(av, b0, c04a); c04b = Avx512F.FusedMultiplyAdd(av, b1, c04b);
                av = Vector512.Create(a[17]); c05a = Avx512F.FusedMultiplyAdd(av, b0, c05a); c05b = Avx512F.FusedMultiplyAdd(av, b1, c05b);
                av = Vector512.Create(a[18]); c06a = Avx512F.FusedMultiplyAdd(av, b0, c06a); c06b = Avx512F.FusedMultiplyAdd(av, b1, c06b);
                av = Vector512.Create(a[19]); c07a = Avx512F.FusedMultiplyAdd(av, b0, c07a); c07b = Avx512F.FusedMultiplyAdd(av, b1, c07b);
                av = Vector512.Create(a[20]); c08a = Avx512F.FusedMultiplyAdd(av, b0, c08a); c08b = Avx512F.FusedMultiplyAdd(av, b1, c08b);
                av = Vector512.Create(a[21]); c09a = Avx512F.FusedMultiplyAdd(av, b0, c09a); c09b = Avx512F.FusedMultiplyAdd(av, b1, c09b);
                av = Vector512.Create(a[22]); c10a = Avx512F.FusedMultiplyAdd(av, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(av, b1, c10b);
                av = Vector512.Create(a[23]); c11a = Avx512F.FusedMultiplyAdd(av, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(av, b1, c11b);
                b0 = Avx512F.LoadAlignedVector512(b + 64);
                b1 = Avx512F.LoadAlignedVector512(b + 80);
                av = Vector512.Create(a[24]); c00a = Avx512F.FusedMultiplyAdd(av, b0, c00a); c00b = Avx512F.FusedMultiplyAdd(av, b1, c00b);
                av = Vector512.Create(a[25]); c01a = Avx512F.FusedMultiplyAdd(av, b0, c01a); c01b = Avx512F.FusedMultiplyAdd(av, b1, c01b);
                av = Vector512.Create(a[26]); c02a = Avx512F.FusedMultiplyAdd(av, b0, c02a); c02b = Avx512F.FusedMultiplyAdd(av, b1, c02b);
                av = Vector512.Create(a[27]); c03a = Avx512F.FusedMultiplyAdd(av, b0, c03a); c03b = Avx512F.FusedMultiplyAdd(av, b1, c03b);
                av = Vector512.Create(a[28]); c04a = Avx512F.FusedMultiplyAdd(av, b0, c04a); c04b = Avx512F.FusedMultiplyAdd(av, b1, c04b);
                av = Vector512.Create(a[29]); c05a = Avx512F.FusedMultiplyAdd(av, b0, c05a); c05b = Avx512F.FusedMultiplyAdd(av, b1, c05b);
                av = Vector512.Create(a[30]); c06a = Avx512F.FusedMultiplyAdd(av, b0, c06a); c06b = Avx512F.FusedMultiplyAdd(av, b1, c06b);
                av = Vector512.Create(a[31]); c07a = Avx512F.FusedMultiplyAdd(av, b0, c07a); c07b = Avx512F.FusedMultiplyAdd(av, b1, c07b);
                av = Vector512.Create(a[32]); c08a = Avx512F.FusedMultiplyAdd(av, b0, c08a); c08b = Avx512F.FusedMultiplyAdd(av, b1, c08b);
                av = Vector512.Create(a[33]); c09a = Avx512F.FusedMultiplyAdd(av, b0, c09a); c09b = Avx512F.FusedMultiplyAdd(av, b1, c09b);
                av = Vector512.Create(a[34]); c10a = Avx512F.FusedMultiplyAdd(av, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(av, b1, c10b);
                av = Vector512.Create(a[35]); c11a = Avx512F.FusedMultiplyAdd(av, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(av, b1, c11b);
                b0 = Avx512F.LoadAlignedVector512(b + 96);
                b1 = Avx512F.LoadAlignedVector512(b + 112);
                av = Vector512.Create(a[36]); c00a = Avx512F.FusedMultiplyAdd(av, b0, c00a); c00b = Avx512F.FusedMultiplyAdd(av, b1, c00b);
                av = Vector512.Create(a[37]); c01a = Avx512F.FusedMultiplyAdd(av, b0, c01a); c01b = Avx512F.FusedMultiplyAdd(av, b1, c01b);
                av = Vector512.Create(a[38]); c02a = Avx512F.FusedMultiplyAdd(av, b0, c02a); c02b = Avx512F.FusedMultiplyAdd(av, b1, c02b);
                av = Vector512.Create(a[39]); c03a = Avx512F.FusedMultiplyAdd(av, b0, c03a); c03b = Avx512F.FusedMultiplyAdd(av, b1, c03b);
                av = Vector512.Create(a[40]); c04a = Avx512F.FusedMultiplyAdd(av, b0, c04a); c04b = Avx512F.FusedMultiplyAdd(av, b1, c04b);
                av = Vector512.Create(a[41]); c05a = Avx512F.FusedMultiplyAdd(av, b0, c05a); c05b = Avx512F.FusedMultiplyAdd(av, b1, c05b);
                av = Vector512.Create(a[42]); c06a = Avx512F.FusedMultiplyAdd(av, b0, c06a); c06b = Avx512F.FusedMultiplyAdd(av, b1, c06b);
                av = Vector512.Create(a[43]); c07a = Avx512F.FusedMultiplyAdd(av, b0, c07a); c07b = Avx512F.FusedMultiplyAdd(av, b1, c07b);
                av = Vector512.Create(a[44]); c08a = Avx512F.FusedMultiplyAdd(av, b0, c08a); c08b = Avx512F.FusedMultiplyAdd(av, b1, c08b);
                av = Vector512.Create(a[45]); c09a = Avx512F.FusedMultiplyAdd(av, b0, c09a); c09b = Avx512F.FusedMultiplyAdd(av, b1, c09b);
                av = Vector512.Create(a[46]); c10a = Avx512F.FusedMultiplyAdd(av, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(av, b1, c10b);
                av = Vector512.Create(a[47]); c11a = Avx512F.FusedMultiplyAdd(av, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(av, b1, c11b);
                a += 48;
                b += 128;
            }
            while (--quads != 0);
        }
        nint rest = kc & 3;
        while (rest-- != 0)
        {
            b0 = Avx512F.LoadAlignedVector512(b + 0);
            b1 = Avx512F.LoadAlignedVector512(b + 16);
            av = Vector512.Create(a[0]); c00a = Avx512F.FusedMultiplyAdd(av, b0, c00a); c00b = Avx512F.FusedMultiplyAdd(av, b1, c00b);
            av = Vector512.Create(a[1]); c01a = Avx512F.FusedMultiplyAdd(av, b0, c01a); c01b = Avx512F.FusedMultiplyAdd(av, b1, c01b);
            av = Vector512.Create(a[2]); c02a = Avx512F.FusedMultiplyAdd(av, b0, c02a); c02b = Avx512F.FusedMultiplyAdd(av, b1, c02b);
            av = Vector512.Create(a[3]); c03a = Avx512F.FusedMultiplyAdd(av, b0, c03a); c03b = Avx512F.FusedMultiplyAdd(av, b1, c03b);
            av = Vector512.Create(a[4]); c04a = Avx512F.FusedMultiplyAdd(av, b0, c04a); c04b = Avx512F.FusedMultiplyAdd(av, b1, c04b);
            av = Vector512.Create(a[5]); c05a = Avx512F.FusedMultiplyAdd(av, b0, c05a); c05b = Avx512F.FusedMultiplyAdd(av, b1, c05b);
            av = Vector512.Create(a[6]); c06a = Avx512F.FusedMultiplyAdd(av, b0, c06a); c06b = Avx512F.FusedMultiplyAdd(av, b1, c06b);
            av = Vector512.Create(a[7]); c07a = Avx512F.FusedMultiplyAdd(av, b0, c07a); c07b = Avx512F.FusedMultiplyAdd(av, b1, c07b);
            av = Vector512.Create(a[8]); c08a = Avx512F.FusedMultiplyAdd(av, b0, c08a); c08b = Avx512F.FusedMultiplyAdd(av, b1, c08b);
            av = Vector512.Create(a[9]); c09a = Avx512F.FusedMultiplyAdd(av, b0, c09a); c09b = Avx512F.FusedMultiplyAdd(av, b1, c09b);
            av = Vector512.Create(a[10]); c10a = Avx512F.FusedMultiplyAdd(av, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(av, b1, c10b);
            av = Vector512.Create(a[11]); c11a = Avx512F.FusedMultiplyAdd(av, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(av, b1, c11b);
            a += 12;
            b += 32;
        }
        if (addC)
        {
            c00a += Vector512.Load(c + 0 * ldc); c00b += Vector512.Load(c + 0 * ldc + 16);
            c01a += Vector512.Load(c + 1 * ldc); c01b += Vector512.Load(c + 1 * ldc + 16);
            c02a += Vector512.Load(c + 2 * ldc); c02b += Vector512.Load(c + 2 * ldc + 16);
            c03a += Vector512.Load(c + 3 * ldc); c03b += Vector512.Load(c + 3 * ldc + 16);
            c04a += Vector512.Load(c + 4 * ldc); c04b += Vector512.Load(c + 4 * ldc + 16);
            c05a += Vector512.Load(c + 5 * ldc); c05b += Vector512.Load(c + 5 * ldc + 16);
            c06a += Vector512.Load(c + 6 * ldc); c06b += Vector512.Load(c + 6 * ldc + 16);
            c07a += Vector512.Load(c + 7 * ldc); c07b += Vector512.Load(c + 7 * ldc + 16);
            c08a += Vector512.Load(c + 8 * ldc); c08b += Vector512.Load(c + 8 * ldc + 16);
            c09a += Vector512.Load(c + 9 * ldc); c09b += Vector512.Load(c + 9 * ldc + 16);
            c10a += Vector512.Load(c + 10 * ldc); c10b += Vector512.Load(c + 10 * ldc + 16);
            c11a += Vector512.Load(c + 11 * ldc); c11b += Vector512.Load(c + 11 * ldc + 16);
        }
        Vector512.Store(c00a, c + 0 * ldc); Vector512.Store(c00b, c + 0 * ldc + 16);
        Vector512.Store(c01a, c + 1 * ldc); Vector512.Store(c01b, c + 1 * ldc + 16);
        Vector512.Store(c02a, c + 2 * ldc); Vector512.Store(c02b, c + 2 * ldc + 16);
        Vector512.Store(c03a, c + 3 * ldc); Vector512.Store(c03b, c + 3 * ldc + 16);
        Vector512.Store(c04a, c + 4 * ldc); Vector512.Store(c04b, c + 4 * ldc + 16);
        Vector512.Store(c05a, c + 5 * ldc); Vector512.Store(c05b, c + 5 * ldc + 16);
        Vector512.Store(c06a, c + 6 * ldc); Vector512.Store(c06b, c + 6 * ldc + 16);
        Vector512.Store(c07a, c + 7 * ldc); Vector512.Store(c07b, c + 7 * ldc + 16);
        Vector512.Store(c08a, c + 8 * ldc); Vector512.Store(c08b, c + 8 * ldc + 16);
        Vector512.Store(c09a, c + 9 * ldc); Vector512.Store(c09b, c + 9 * ldc + 16);
        Vector512.Store(c10a, c + 10 * ldc); Vector512.Store(c10b, c + 10 * ldc + 16);
        Vector512.Store(c11a, c + 11 * ldc); Vector512.Store(c11b, c + 11 * ldc + 16);
    }

    /// <summary>
    /// 6 x 16 tile with AVX2 + FMA (12 ymm accumulators). Unlike the other kernels it reads A as six rows
    /// <paramref name="lda"/> floats apart, each contiguous along k: a row-major A in place (no packing), or a panel
    /// packed that way (lda = kc). Six short streams that the hardware prefetches, broadcast from memory. The C tile is
    /// prefetched before the loop so its rows are in cache when the sums are stored. Same contract as
    /// <see cref="Kernel12x32"/> otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x16(nint kc, float* a, nint lda, float* b, float* c, nint ldc, bool addC)
    {
        for (nint r = 0; r < 6; r++) { Sse.Prefetch0(c + r * ldc); Sse.Prefetch0(c + r * ldc + 15); }
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        Vector256<float> b0, b1, av;
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a1 + 2 * lda, a4 = a + 4 * lda, a5 = a3 + 2 * lda;
        nint quads = kc >> 2;
        if (quads != 0)
        {
            do
            {
                b0 = Avx.LoadAlignedVector256(b + 0);
                b1 = Avx.LoadAlignedVector256(b + 8);
                av = Vector256.Create(a0[0]); c0a = Fma.MultiplyAdd(av, b0, c0a); c0b = Fma.MultiplyAdd(av, b1, c0b);
                av = Vector256.Create(a1[0]); c1a = Fma.MultiplyAdd(av, b0, c1a); c1b = Fma.MultiplyAdd(av, b1, c1b);
                av = Vector256.Create(a2[0]); c2a = Fma.MultiplyAdd(av, b0, c2a); c2b = Fma.MultiplyAdd(av, b1, c2b);
                av = Vector256.Create(a3[0]); c3a = Fma.MultiplyAdd(av, b0, c3a); c3b = Fma.MultiplyAdd(av, b1, c3b);
                av = Vector256.Create(a4[0]); c4a = Fma.MultiplyAdd(av, b0, c4a); c4b = Fma.MultiplyAdd(av, b1, c4b);
                av = Vector256.Create(a5[0]); c5a = Fma.MultiplyAdd(av, b0, c5a); c5b = Fma.MultiplyAdd(av, b1, c5b);
                b0 = Avx.LoadAlignedVector256(b + 16);
                b1 = Avx.LoadAlignedVector256(b + 24);
                av = Vector256.Create(a0[1]); c0a = Fma.MultiplyAdd(av, b0, c0a); c0b = Fma.MultiplyAdd(av, b1, c0b);
                av = Vector256.Create(a1[1]); c1a = Fma.MultiplyAdd(av, b0, c1a); c1b = Fma.MultiplyAdd(av, b1, c1b);
                av = Vector256.Create(a2[1]); c2a = Fma.MultiplyAdd(av, b0, c2a); c2b = Fma.MultiplyAdd(av, b1, c2b);
                av = Vector256.Create(a3[1]); c3a = Fma.MultiplyAdd(av, b0, c3a); c3b = Fma.MultiplyAdd(av, b1, c3b);
                av = Vector256.Create(a4[1]); c4a = Fma.MultiplyAdd(av, b0, c4a); c4b = Fma.MultiplyAdd(av, b1, c4b);
                av = Vector256.Create(a5[1]); c5a = Fma.MultiplyAdd(av, b0, c5a); c5b = Fma.MultiplyAdd(av, b1, c5b);
                b0 = Avx.LoadAlignedVector256(b + 32);
                b1 = Avx.LoadAlignedVector256(b + 40);
                av = Vector256.Create(a0[2]); c0a = Fma.MultiplyAdd(av, b0, c0a); c0b = Fma.MultiplyAdd(av, b1, c0b);
                av = Vector256.Create(a1[2]); c1a = Fma.MultiplyAdd(av, b0, c1a); c1b = Fma.MultiplyAdd(av, b1, c1b);
                av = Vector256.Create(a2[2]); c2a = Fma.MultiplyAdd(av, b0, c2a); c2b = Fma.MultiplyAdd(av, b1, c2b);
                av = Vector256.Create(a3[2]); c3a = Fma.MultiplyAdd(av, b0, c3a); c3b = Fma.MultiplyAdd(av, b1, c3b);
                av = Vector256.Create(a4[2]); c4a = Fma.MultiplyAdd(av, b0, c4a); c4b = Fma.MultiplyAdd(av, b1, c4b);
                av = Vector256.Create(a5[2]); c5a = Fma.MultiplyAdd(av, b0, c5a); c5b = Fma.MultiplyAdd(av, b1, c5b);
                b0 = Avx.LoadAlignedVector256(b + 48);
                b1 = Avx.LoadAlignedVector256(b + 56);
                av = Vector256.Create(a0[3]); c0a = Fma.MultiplyAdd(av, b0, c0a); c0b = Fma.MultiplyAdd(av, b1, c0b);
                av = Vector256.Create(a1[3]); c1a = Fma.MultiplyAdd(av, b0, c1a); c1b = Fma.MultiplyAdd(av, b1, c1b);
                av = Vector256.Create(a2[3]); c2a = Fma.MultiplyAdd(av, b0, c2a); c2b = Fma.MultiplyAdd(av, b1, c2b);
                av = Vector256.Create(a3[3]); c3a = Fma.MultiplyAdd(av, b0, c3a); c3b = Fma.MultiplyAdd(av, b1, c3b);
                av = Vector256.Create(a4[3]); c4a = Fma.MultiplyAdd(av, b0, c4a); c4b = Fma.MultiplyAdd(av, b1, c4b);
                av = Vector256.Create(a5[3]); c5a = Fma.MultiplyAdd(av, b0, c5a); c5b = Fma.MultiplyAdd(av, b1, c5b);
                a0 += 4; a1 += 4; a2 += 4; a3 += 4; a4 += 4; a5 += 4;
                b += 64;
            }
            while (--quads != 0);
        }
        nint rest = kc & 3;
        while (rest-- != 0)
        {
            b0 = Avx.LoadAlignedVector256(b + 0);
            b1 = Avx.LoadAlignedVector256(b + 8);
            av = Vector256.Create(a0[0]); c0a = Fma.MultiplyAdd(av, b0, c0a); c0b = Fma.MultiplyAdd(av, b1, c0b);
            av = Vector256.Create(a1[0]); c1a = Fma.MultiplyAdd(av, b0, c1a); c1b = Fma.MultiplyAdd(av, b1, c1b);
            av = Vector256.Create(a2[0]); c2a = Fma.MultiplyAdd(av, b0, c2a); c2b = Fma.MultiplyAdd(av, b1, c2b);
            av = Vector256.Create(a3[0]); c3a = Fma.MultiplyAdd(av, b0, c3a); c3b = Fma.MultiplyAdd(av, b1, c3b);
            av = Vector256.Create(a4[0]); c4a = Fma.MultiplyAdd(av, b0, c4a); c4b = Fma.MultiplyAdd(av, b1, c4b);
            av = Vector256.Create(a5[0]); c5a = Fma.MultiplyAdd(av, b0, c5a); c5b = Fma.MultiplyAdd(av, b1, c5b);
            a0++; a1++; a2++; a3++; a4++; a5++;
            b += 16;
        }
        if (addC)
        {
            c0a += Vector256.Load(c + 0 * ldc); c0b += Vector256.Load(c + 0 * ldc + 8);
            c1a += Vector256.Load(c + 1 * ldc); c1b += Vector256.Load(c + 1 * ldc + 8);
            c2a += Vector256.Load(c + 2 * ldc); c2b += Vector256.Load(c + 2 * ldc + 8);
            c3a += Vector256.Load(c + 3 * ldc); c3b += Vector256.Load(c + 3 * ldc + 8);
            c4a += Vector256.Load(c + 4 * ldc); c4b += Vector256.Load(c + 4 * ldc + 8);
            c5a += Vector256.Load(c + 5 * ldc); c5b += Vector256.Load(c + 5 * ldc + 8);
        }
        Vector256.Store(c0a, c + 0 * ldc); Vector256.Store(c0b, c + 0 * ldc + 8);
        Vector256.Store(c1a, c + 1 * ldc); Vector256.Store(c1b, c + 1 * ldc + 8);
        Vector256.Store(c2a, c + 2 * ldc); Vector256.Store(c2b, c + 2 * ldc + 8);
        Vector256.Store(c3a, c + 3 * ldc); Vector256.Store(c3b, c + 3 * ldc + 8);
        Vector256.Store(c4a, c + 4 * ldc); Vector256.Store(c4b, c + 4 * ldc + 8);
        Vector256.Store(c5a, c + 5 * ldc); Vector256.Store(c5b, c + 5 * ldc + 8);
    }

    /// <summary>
    /// 6 x 8 tile with 128-bit vectors for x86 without AVX (SSE: 16 xmm registers, no FMA): 12 accumulators, 2 for the
    /// B row, 1 for the broadcast of A and 1 for the product, which is rounded before it is added (see
    /// <see cref="VectorIsa.MultiplyAdd(Vector128{float}, Vector128{float}, Vector128{float})"/>). A is packed with every
    /// element already broadcast to 4 lanes (<see cref="GemmPacking.PackBroadcast"/>): SSE has no broadcast load, and a
    /// shuffle per element would compete with the multiplies and adds for the same ports. Same contract otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x8(nint kc, float* a, float* b, float* c, nint ldc, bool addC)
    {
        Vector128<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        Vector128<float> b0, b1, av;
        do
        {
            b0 = Vector128.LoadAligned(b + 0);
            b1 = Vector128.LoadAligned(b + 4);
            av = Vector128.LoadAligned(a + 0); c0a = VectorIsa.MultiplyAdd(av, b0, c0a); c0b = VectorIsa.MultiplyAdd(av, b1, c0b);
            av = Vector128.LoadAligned(a + 4); c1a = VectorIsa.MultiplyAdd(av, b0, c1a); c1b = VectorIsa.MultiplyAdd(av, b1, c1b);
            av = Vector128.LoadAligned(a + 8); c2a = VectorIsa.MultiplyAdd(av, b0, c2a); c2b = VectorIsa.MultiplyAdd(av, b1, c2b);
            av = Vector128.LoadAligned(a + 12); c3a = VectorIsa.MultiplyAdd(av, b0, c3a); c3b = VectorIsa.MultiplyAdd(av, b1, c3b);
            av = Vector128.LoadAligned(a + 16); c4a = VectorIsa.MultiplyAdd(av, b0, c4a); c4b = VectorIsa.MultiplyAdd(av, b1, c4b);
            av = Vector128.LoadAligned(a + 20); c5a = VectorIsa.MultiplyAdd(av, b0, c5a); c5b = VectorIsa.MultiplyAdd(av, b1, c5b);
            a += 24;
            b += 8;
        }
        while (--kc != 0);
        if (addC)
        {
            c0a += Vector128.Load(c + 0 * ldc); c0b += Vector128.Load(c + 0 * ldc + 4);
            c1a += Vector128.Load(c + 1 * ldc); c1b += Vector128.Load(c + 1 * ldc + 4);
            c2a += Vector128.Load(c + 2 * ldc); c2b += Vector128.Load(c + 2 * ldc + 4);
            c3a += Vector128.Load(c + 3 * ldc); c3b += Vector128.Load(c + 3 * ldc + 4);
            c4a += Vector128.Load(c + 4 * ldc); c4b += Vector128.Load(c + 4 * ldc + 4);
            c5a += Vector128.Load(c + 5 * ldc); c5b += Vector128.Load(c + 5 * ldc + 4);
        }
        Vector128.Store(c0a, c + 0 * ldc); Vector128.Store(c0b, c + 0 * ldc + 4);
        Vector128.Store(c1a, c + 1 * ldc); Vector128.Store(c1b, c + 1 * ldc + 4);
        Vector128.Store(c2a, c + 2 * ldc); Vector128.Store(c2b, c + 2 * ldc + 4);
        Vector128.Store(c3a, c + 3 * ldc); Vector128.Store(c3b, c + 3 * ldc + 4);
        Vector128.Store(c4a, c + 4 * ldc); Vector128.Store(c4b, c + 4 * ldc + 4);
        Vector128.Store(c5a, c + 5 * ldc); Vector128.Store(c5b, c + 5 * ldc + 4);
    }

    /// <summary>
    /// 8 x 12 tile for ARM64 NEON (32 q registers): 24 accumulators, 3 for the B row, 2 for 8 elements of A, each used
    /// by lane with FMLA (vector, by element), so A needs no broadcast. Same contract as <see cref="Kernel12x32"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel8x12(nint kc, float* a, float* b, float* c, nint ldc, bool addC)
    {
        Vector128<float> c0a = default, c0b = default, c0c = default, c1a = default, c1b = default, c1c = default;
        Vector128<float> c2a = default, c2b = default, c2c = default, c3a = default, c3b = default, c3c = default;
        Vector128<float> c4a = default, c4b = default, c4c = default, c5a = default, c5b = default, c5c = default;
        Vector128<float> c6a = default, c6b = default, c6c = default, c7a = default, c7b = default, c7c = default;
        Vector128<float> b0, b1, b2, a0, a1;
        do
        {
            a0 = AdvSimd.LoadVector128(a); a1 = AdvSimd.LoadVector128(a + 4);
            b0 = AdvSimd.LoadVector128(b); b1 = AdvSimd.LoadVector128(b + 4); b2 = AdvSimd.LoadVector128(b + 8);
            c0a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c0a, b0, a0, 0); c0b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c0b, b1, a0, 0); c0c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c0c, b2, a0, 0);
            c1a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c1a, b0, a0, 1); c1b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c1b, b1, a0, 1); c1c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c1c, b2, a0, 1);
            c2a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c2a, b0, a0, 2); c2b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c2b, b1, a0, 2); c2c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c2c, b2, a0, 2);
            c3a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c3a, b0, a0, 3); c3b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c3b, b1, a0, 3); c3c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c3c, b2, a0, 3);
            c4a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c4a, b0, a1, 0); c4b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c4b, b1, a1, 0); c4c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c4c, b2, a1, 0);
            c5a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c5a, b0, a1, 1); c5b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c5b, b1, a1, 1); c5c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c5c, b2, a1, 1);
            c6a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c6a, b0, a1, 2); c6b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c6b, b1, a1, 2); c6c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c6c, b2, a1, 2);
            c7a = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c7a, b0, a1, 3); c7b = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c7b, b1, a1, 3); c7c = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c7c, b2, a1, 3);
            a += 8;
            b += 12;
        }
        while (--kc != 0);
        if (addC)
        {
            c0a += Vector128.Load(c + 0 * ldc); c0b += Vector128.Load(c + 0 * ldc + 4); c0c += Vector128.Load(c + 0 * ldc + 8);
            c1a += Vector128.Load(c + 1 * ldc); c1b += Vector128.Load(c + 1 * ldc + 4); c1c += Vector128.Load(c + 1 * ldc + 8);
            c2a += Vector128.Load(c + 2 * ldc); c2b += Vector128.Load(c + 2 * ldc + 4); c2c += Vector128.Load(c + 2 * ldc + 8);
            c3a += Vector128.Load(c + 3 * ldc); c3b += Vector128.Load(c + 3 * ldc + 4); c3c += Vector128.Load(c + 3 * ldc + 8);
            c4a += Vector128.Load(c + 4 * ldc); c4b += Vector128.Load(c + 4 * ldc + 4); c4c += Vector128.Load(c + 4 * ldc + 8);
            c5a += Vector128.Load(c + 5 * ldc); c5b += Vector128.Load(c + 5 * ldc + 4); c5c += Vector128.Load(c + 5 * ldc + 8);
            c6a += Vector128.Load(c + 6 * ldc); c6b += Vector128.Load(c + 6 * ldc + 4); c6c += Vector128.Load(c + 6 * ldc + 8);
            c7a += Vector128.Load(c + 7 * ldc); c7b += Vector128.Load(c + 7 * ldc + 4); c7c += Vector128.Load(c + 7 * ldc + 8);
        }
        Vector128.Store(c0a, c + 0 * ldc); Vector128.Store(c0b, c + 0 * ldc + 4); Vector128.Store(c0c, c + 0 * ldc + 8);
        Vector128.Store(c1a, c + 1 * ldc); Vector128.Store(c1b, c + 1 * ldc + 4); Vector128.Store(c1c, c + 1 * ldc + 8);
        Vector128.Store(c2a, c + 2 * ldc); Vector128.Store(c2b, c + 2 * ldc + 4); Vector128.Store(c2c, c + 2 * ldc + 8);
        Vector128.Store(c3a, c + 3 * ldc); Vector128.Store(c3b, c + 3 * ldc + 4); Vector128.Store(c3c, c + 3 * ldc + 8);
        Vector128.Store(c4a, c + 4 * ldc); Vector128.Store(c4b, c + 4 * ldc + 4); Vector128.Store(c4c, c + 4 * ldc + 8);
        Vector128.Store(c5a, c + 5 * ldc); Vector128.Store(c5b, c + 5 * ldc + 4); Vector128.Store(c5c, c + 5 * ldc + 8);
        Vector128.Store(c6a, c + 6 * ldc); Vector128.Store(c6b, c + 6 * ldc + 4); Vector128.Store(c6c, c + 6 * ldc + 8);
        Vector128.Store(c7a, c + 7 * ldc); Vector128.Store(c7b, c + 7 * ldc + 4); Vector128.Store(c7c, c + 7 * ldc + 8);
    }

    /// <summary>Portable 4 x 8 tile for machines without vector hardware; same contract.</summary>
    public static void Kernel4x8(nint kc, float* a, float* b, float* c, nint ldc, bool addC)
    {
        float* acc = stackalloc float[32];
        for (int i = 0; i < 32; i++) acc[i] = 0;
        for (nint p = 0; p < kc; p++, a += 4, b += 8)
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 8; j++) acc[r * 8 + j] = VectorIsa.MultiplyAdd(a[r], b[j], acc[r * 8 + j]);
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 8; j++) c[r * ldc + j] = addC ? c[r * ldc + j] + acc[r * 8 + j] : acc[r * 8 + j];
    }
}
