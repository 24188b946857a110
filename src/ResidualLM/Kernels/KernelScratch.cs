// Working memory the kernels reuse from call to call instead of allocating: the GEMM's packing buffers, the small-m
// GEMM's transposed rows, the norms' partial gradient sums. Used by one thread at a time: each worker of a Parallelism
// owns one, and a calling thread rents one from its Parallelism for the length of a call.
namespace ResidualLM.Kernels;

sealed class KernelScratch
{
    GemmDriver.Scratch? gemm;
    GemmSmallM.Scratch? smallM;
    float[]? partials;

    /// <summary>The blocked GEMM's packing buffers.</summary>
    public GemmDriver.Scratch Gemm => gemm ??= new GemmDriver.Scratch();

    /// <summary>An aligned buffer of at least <paramref name="floats"/> floats for the small-m GEMM.</summary>
    public GemmSmallM.Scratch SmallM(int floats) =>
        smallM is { } s && s.Floats >= floats ? s : smallM = new GemmSmallM.Scratch(Math.Max(floats, 1 << 14));

    /// <summary>At least <paramref name="length"/> floats (contents arbitrary) for the norms' partial sums.</summary>
    public float[] Partials(int length) => partials is { } p && p.Length >= length ? p : partials = new float[Math.Max(length, 1024)];
}
