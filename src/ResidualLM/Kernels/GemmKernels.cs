// GEMM micro-kernels: C[MR x NR] (+)= packed A micro-panel (kc x MR) times packed B micro-panel (kc x NR).
// Register-resident accumulators, no calls inside; packing (GemmPacking.cs) guarantees contiguous, aligned operands.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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

    /// <summary>6 x 16 tile with AVX2 + FMA (12 ymm accumulators); same contract as <see cref="Kernel12x32"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x16(nint kc, float* a, float* b, float* c, nint ldc, bool addC)
    {
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        Vector256<float> b0, b1, av;
        do
        {
            b0 = Avx.LoadAlignedVector256(b + 0);
            b1 = Avx.LoadAlignedVector256(b + 8);
            av = Vector256.Create(a[0]); c0a = Fma.MultiplyAdd(av, b0, c0a); c0b = Fma.MultiplyAdd(av, b1, c0b);
            av = Vector256.Create(a[1]); c1a = Fma.MultiplyAdd(av, b0, c1a); c1b = Fma.MultiplyAdd(av, b1, c1b);
            av = Vector256.Create(a[2]); c2a = Fma.MultiplyAdd(av, b0, c2a); c2b = Fma.MultiplyAdd(av, b1, c2b);
            av = Vector256.Create(a[3]); c3a = Fma.MultiplyAdd(av, b0, c3a); c3b = Fma.MultiplyAdd(av, b1, c3b);
            av = Vector256.Create(a[4]); c4a = Fma.MultiplyAdd(av, b0, c4a); c4b = Fma.MultiplyAdd(av, b1, c4b);
            av = Vector256.Create(a[5]); c5a = Fma.MultiplyAdd(av, b0, c5a); c5b = Fma.MultiplyAdd(av, b1, c5b);
            a += 6;
            b += 16;
        }
        while (--kc != 0);
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

    /// <summary>Portable 4 x 8 tile for machines without AVX2; same contract.</summary>
    public static void Kernel4x8(nint kc, float* a, float* b, float* c, nint ldc, bool addC)
    {
        float* acc = stackalloc float[32];
        for (int i = 0; i < 32; i++) acc[i] = 0;
        for (nint p = 0; p < kc; p++, a += 4, b += 8)
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 8; j++) acc[r * 8 + j] += a[r] * b[j];
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 8; j++) c[r * ldc + j] = addC ? c[r * ldc + j] + acc[r * 8 + j] : acc[r * 8 + j];
    }
}
