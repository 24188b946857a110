// The vector layer itself: the path each runtime switch selects, the max reduction's edge cases, in-place maps, and
// single-row normalisation bit-identical to the batched kernels (what decoding relies on).
using System.Runtime.InteropServices;
using ResidualLM.Kernels;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public unsafe class VectorOpsTests
{
    /// <summary>The CI legs force each path with these switches; a leg that silently ran another path would test nothing new.</summary>
    [X86Fact]
    public void Path_FollowsRuntimeSwitches()
    {
        static bool Off(string name) => Environment.GetEnvironmentVariable(name) == "0";
        if (Off("DOTNET_EnableHWIntrinsic")) Assert.Equal(VectorPath.Scalar, VectorIsa.Path);
        else if (Off("DOTNET_EnableAVX")) Assert.Equal(VectorPath.Vector128, VectorIsa.Path);
        else if (Off("DOTNET_EnableAVX512")) Assert.NotEqual(VectorPath.Avx512, VectorIsa.Path);
    }

    [Fact]
    public void Max_EveryLength_MatchesMathFMax()
    {
        var rng = new Rng(41);
        for (int n = 0; n <= KernelCheck.MaxLength; n++)
        {
            float[] x = KernelCheck.WithExtremes(rng, n);
            float expected = float.NegativeInfinity;
            foreach (float v in x) expected = MathF.Max(expected, v);
            fixed (float* px = x) Assert.Equal(expected, VectorOps.Max(px, n));
            for (int at = 0; at < n; at += Math.Max(1, n / 5))
            {
                float[] withNaN = (float[])x.Clone();
                withNaN[at] = float.NaN;
                fixed (float* px = withNaN) Assert.True(float.IsNaN(VectorOps.Max(px, n)), $"n={n} NaN at {at}");
            }
        }
    }

    [Fact]
    public void Map_InPlace_EqualsOutOfPlace()
    {
        var rng = new Rng(42);
        for (int n = 0; n <= KernelCheck.MaxLength; n++)
        {
            float[] x = KernelCheck.WithExtremes(rng, n), y = new float[n], inPlace = (float[])x.Clone();
            Activations.GeluTanhForward(x, y);
            Activations.GeluTanhForward(inPlace, inPlace);
            Assert.Equal(y, inPlace);
        }
    }

    [Fact]
    public void NormRows_EveryLength_EqualBatchedRowsBitForBit()
    {
        var rng = new Rng(43);
        KernelCheck.ForEachThreadCount(threads =>
        {
            for (int cols = 1; cols <= KernelCheck.MaxLength; cols++)
            {
                int rows = KernelCheck.RowCounts(cols)[^1];
                float[] x = KernelCheck.WithExtremes(rng, rows * cols), w = KernelCheck.Normal(rng, cols), b = KernelCheck.Normal(rng, cols);
                float[] y = new float[x.Length], mean = new float[rows], rstd = new float[rows], yRms = new float[x.Length], rstdRms = new float[rows];
                Normalization.LayerNormForward(threads, x, w, b, y, mean, rstd, rows, cols, 1e-5f);
                Normalization.RmsNormForward(threads, x, w, yRms, rstdRms, rows, cols, 1e-5f);
                var row = new float[cols];
                foreach (int r in new[] { 0, rows / 2, rows - 1 })
                {
                    Normalization.LayerNormRow(x.AsSpan(r * cols, cols), w, b, row, 1e-5f, out float m, out float s);
                    Assert.True(row.AsSpan().SequenceEqual(y.AsSpan(r * cols, cols)) && m == mean[r] && s == rstd[r], $"LayerNorm cols={cols} row {r}");
                    Normalization.RmsNormRow(x.AsSpan(r * cols, cols), w, row, 1e-5f, out s);
                    Assert.True(row.AsSpan().SequenceEqual(yRms.AsSpan(r * cols, cols)) && s == rstdRms[r], $"RMSNorm cols={cols} row {r}");
                }
            }
        });
    }
}

/// <summary>A fact skipped, with the reason shown, where the x86 runtime switches (DOTNET_EnableAVX...) do not apply.</summary>
public sealed class X86FactAttribute : FactAttribute
{
    public X86FactAttribute()
    {
        // The process architecture, not X86Base.IsSupported: DOTNET_EnableHWIntrinsic=0 turns that off too, and that
        // switch's scalar path is one the test checks.
        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.X86))
            Skip = $"the DOTNET_Enable* switches tested here are x86 ones, and this process is {RuntimeInformation.ProcessArchitecture}";
    }
}
