// QuantizedRows against its scalar twin: the same int8 rows, scales and row sums exactly, norms that bound the twin's
// from above by a hair; integer dot products exactly on every loop this machine can run (every length 1..257, row
// ranges, extreme bytes that would saturate an int16 step); and a quantised vector's reported norms bound the real ones.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class QuantizedRowsTests
{
    public static TheoryData<int, int> Shapes => new()
    {
        // rows, columns
        { 1, 1 }, { 3, 15 }, { 9, 16 }, { 8, 17 }, { 17, 31 }, { 7, 32 }, { 16, 33 }, { 23, 64 }, { 41, 768 }, { 10, 1000 }, { 5, 3072 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void QuantizeRows_MatchesReference(int n, int k)
    {
        var rng = new Rng((ulong)(n * 1009 + k));
        float[] w = KernelCheck.WithExtremes(rng, n * k, 0.02f);
        if (n > 2) w.AsSpan(k, k).Clear();                                       // an all-zero row: scale 0
        var q = new sbyte[n * k]; var scales = new float[n]; var sums = new int[n];
        float[] norms = new float[n], quantized = new float[n], errors = new float[n];
        var qRef = new sbyte[n * k]; var scalesRef = new float[n]; var sumsRef = new int[n];
        double[] normsRef = new double[n], quantizedRef = new double[n], errorsRef = new double[n];
        // Two calls on row ranges, as the screened head splits them between threads.
        QuantizedRows.QuantizeRows(w, k, 0, n / 2, q, scales, sums, norms, quantized, errors);
        QuantizedRows.QuantizeRows(w, k, n / 2, n, q, scales, sums, norms, quantized, errors);
        QuantizedRowsReference.QuantizeRows(w, k, 0, n, qRef, scalesRef, sumsRef, normsRef, quantizedRef, errorsRef);
        Assert.Equal(qRef, q);
        Assert.Equal(scalesRef, scales);
        Assert.Equal(sumsRef, sums);
        foreach (var (name, got, expected) in new[] { ("norm", norms, normsRef), ("quantised norm", quantized, quantizedRef), ("error norm", errors, errorsRef) })
            for (int j = 0; j < n; j++)
                Assert.True(got[j] >= expected[j] && got[j] <= expected[j] * (1 + 1e-6) + 1e-30, $"{name} of row {j}: {got[j]:R} vs {expected[j]:R}");
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++)
                Assert.True(Math.Abs(w[j * k + p] - (double)scales[j] * q[j * k + p]) <= scales[j] * 0.5000001, $"rounding of ({j}, {p})");
    }

    /// <summary>Every dot-product loop this machine can run (the default one among them).</summary>
    public static TheoryData<IntDotPath> DotPaths()
    {
        var paths = new TheoryData<IntDotPath>();
        foreach (var path in Enum.GetValues<IntDotPath>())
            if (QuantizedRows.IsSupported(path)) paths.Add(path);
        return paths;
    }

    static (byte[] X, sbyte[] Q) DotInputs(Rng rng, int n, int k)
    {
        var x = new byte[k]; var q = new sbyte[n * k];
        for (int p = 0; p < k; p++) x[p] = (byte)(p % 11 == 0 ? 255 : p % 7 == 0 ? 0 : rng.NextInt(256));
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)(i % 13 == 0 ? 127 : i % 17 == 0 ? -127 : rng.NextInt(255) - 127);
        return (x, q);
    }

    [Fact]
    public void Dots_DefaultPathIsOneThisMachineRuns() => Assert.True(QuantizedRows.IsSupported(QuantizedRows.DotPath), $"{QuantizedRows.DotPath}");

    [Theory]
    [MemberData(nameof(DotPaths))]
    public void Dots_EveryLength_MatchReferenceExactly(IntDotPath path)
    {
        var rng = new Rng(5);
        for (int k = 1; k <= KernelCheck.MaxLength; k++)
        {
            const int n = 3;
            var (x, q) = DotInputs(rng, n, k);
            int[] dots = new int[n], expected = new int[n];
            QuantizedRows.DotsOn(path, x, q, 0, n, dots);
            QuantizedRowsReference.Dots(x, q, 0, n, expected);
            Assert.True(expected.AsSpan().SequenceEqual(dots), $"{path}, k = {k}: [{string.Join(", ", dots)}] vs [{string.Join(", ", expected)}]");
        }
    }

    [Theory]
    [MemberData(nameof(DotPaths))]
    public void Dots_Shapes_MatchReferenceExactly(IntDotPath path)
    {
        foreach (var (n, k) in new[] { (1, 1), (9, 16), (8, 17), (17, 31), (16, 33), (23, 64), (41, 768), (10, 1000), (5, 3072), (2, 4099) })
        {
            var (x, q) = DotInputs(new Rng((ulong)(n * 31 + k * 7)), n, k);
            int[] dots = new int[n], expected = new int[n];
            // Rows [1, n) then row 0 alone, as the screened head calls it per part and per candidate.
            QuantizedRows.DotsOn(path, x, q, 1, n, dots);
            QuantizedRows.DotsOn(path, x, q, 0, 1, dots);
            QuantizedRowsReference.Dots(x, q, 0, n, expected);
            Assert.Equal(expected, dots);
            // The largest terms everywhere (no int16 step may saturate), then the most negative: still exact.
            foreach (var (xv, qv) in new[] { ((byte)255, (sbyte)-127), ((byte)255, (sbyte)127), ((byte)0, (sbyte)-127), ((byte)128, (sbyte)127) })
            {
                Array.Fill(x, xv); Array.Fill(q, qv);
                QuantizedRows.DotsOn(path, x, q, 0, n, dots);
                Assert.All(dots, d => Assert.Equal(xv * qv * k, d));
            }
        }
    }

    [Fact]
    public void Dots_LongestRow_IsExact()
    {
        // 255 * 127 * 65536 < 2^31: the bound of MaxLength, on the default path.
        const int k = QuantizedRows.MaxLength;
        var x = new byte[k]; var q = new sbyte[k];
        Array.Fill(x, (byte)255); Array.Fill(q, (sbyte)-127);
        var dots = new int[1];
        QuantizedRows.Dots(x, q, 0, 1, dots);
        Assert.Equal(-255 * 127 * k, dots[0]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(768)]
    public void QuantizeVector_BoundsItsRounding(int k)
    {
        var rng = new Rng((ulong)k);
        float[] x = KernelCheck.WithExtremes(rng, k);
        var q = new byte[k];
        float scale = QuantizedRows.QuantizeVector(x, q, out double norm, out double errorNorm);
        double xx = 0, ee = 0;
        for (int p = 0; p < k; p++)
        {
            double e = x[p] - scale * (double)(q[p] - QuantizedRows.ZeroPoint);
            Assert.True(Math.Abs(e) <= scale * 0.5000001, $"rounding of element {p}");
            xx += (double)x[p] * x[p]; ee += e * e;
        }
        Assert.InRange(norm, Math.Sqrt(xx), Math.Sqrt(xx) * (1 + 1e-6));
        Assert.InRange(errorNorm, Math.Sqrt(ee), Math.Sqrt(ee) * (1 + 1e-6) + 1e-30);
    }
}
