// Which vector width the kernels run at on this machine, and the multiply-add every kernel and scalar twin uses.
// Limits: float32 only. Decided once at start-up from what the JIT reports, so each branch folds to a constant.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ResidualLM.Kernels;

/// <summary>The vector paths a kernel can take, widest first.</summary>
public enum VectorPath
{
    /// <summary>No accelerated vectors: plain scalar loops.</summary>
    Scalar,
    /// <summary>128-bit vectors: ARM64 NEON (with FMA), or x86 SSE without AVX (multiply then add).</summary>
    Vector128,
    /// <summary>256-bit vectors with FMA (x86 AVX2, 16 ymm registers).</summary>
    Avx2,
    /// <summary>512-bit vectors with FMA (x86 AVX-512, 32 zmm registers).</summary>
    Avx512,
}

/// <summary>The widest path this machine runs, and the multiply-add that matches it in every width.</summary>
public static class VectorIsa
{
    /// <summary>
    /// The path every kernel takes. AVX-512 is chosen from <see cref="Avx512F.IsSupported"/>, not
    /// <see cref="Vector512.IsHardwareAccelerated"/> (which .NET reports false on CPUs that throttle at 512 bits, where
    /// explicit 512-bit code still ran at full speed). Forced narrower on x86 with <c>DOTNET_EnableAVX512=0</c> (.NET 10's
    /// name; <c>DOTNET_EnableAVX512F</c> is no longer read) and <c>DOTNET_EnableAVX=0</c>.
    /// </summary>
    public static readonly VectorPath Path =
        Avx512F.IsSupported && Fma.IsSupported ? VectorPath.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? VectorPath.Avx2
        : Vector128.IsHardwareAccelerated ? VectorPath.Vector128
        : VectorPath.Scalar;

    /// <summary>
    /// Whether <see cref="MultiplyAdd(float, float, float)"/> rounds once (hardware FMA: x86 with FMA3, every ARM64) or
    /// twice (multiply, then add). Never a software FMA: where the hardware has none, the product is rounded first.
    /// </summary>
    public static bool FusedMultiplyAdd => Fma.IsSupported || AdvSimd.IsSupported;

    /// <summary>The name used in benchmark JSON and <c>rlm bench --info</c>: avx512, avx2, vector128 or scalar.</summary>
    public static string Name => Path switch
    {
        VectorPath.Avx512 => "avx512",
        VectorPath.Avx2 => "avx2",
        VectorPath.Vector128 => "vector128",
        _ => "scalar",
    };

    /// <summary>The vector instruction sets the runtime reports, for <c>rlm --version</c> and benchmark headers.</summary>
    public static string Features()
    {
        var names = new List<string>();
        if (AdvSimd.IsSupported) names.Add("AdvSimd");
        if (AdvSimd.Arm64.IsSupported) names.Add("AdvSimd.Arm64");
        if (System.Runtime.Intrinsics.Arm.Dp.IsSupported) names.Add("Dp");
        if (Sse41.IsSupported) names.Add("SSE4.1");
        if (Avx2.IsSupported) names.Add("AVX2");
        if (Fma.IsSupported) names.Add("FMA");
        if (Avx512F.IsSupported) names.Add("AVX-512F");
        if (Avx512BW.IsSupported) names.Add("AVX-512BW");
        if (AvxVnni.IsSupported) names.Add("AVX-VNNI");
        if (Avx512Vbmi.IsSupported) names.Add("AVX-512VBMI");
        return names.Count == 0 ? "none" : string.Join(' ', names);
    }

    /// <summary>a b + c, fused where the hardware has FMA, else multiply then add (the same rule as the vector forms).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float a, float b, float c) => float.MultiplyAddEstimate(a, b, c);

    /// <summary>a b + c per lane, under the rule of <see cref="MultiplyAdd(float, float, float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    /// <summary>a b + c per lane, under the rule of <see cref="MultiplyAdd(float, float, float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);

    /// <summary>a b + c per lane, under the rule of <see cref="MultiplyAdd(float, float, float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
}
