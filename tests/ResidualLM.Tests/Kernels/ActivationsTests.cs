// Activation kernels (GELU tanh/erf, SiLU, ReLU, tanh) against their double-precision scalar twins, every length 0..257.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Kernels;

public class ActivationsTests
{
    delegate void ForwardKernel(ReadOnlySpan<float> x, Span<float> y);
    delegate void BackwardKernel(ReadOnlySpan<float> xOrY, ReadOnlySpan<float> dy, Span<float> dx);

    /// <summary>A kernel pair and its twin; <c>FromOutput</c>: backward reads the forward output y instead of x (tanh).</summary>
    sealed record Pair(string Name, ForwardKernel Forward, ForwardKernel ReferenceForward,
        BackwardKernel Backward, BackwardKernel ReferenceBackward, bool FromOutput = false);

    static readonly Pair[] Pairs =
    [
        new("GeluTanh", Activations.GeluTanhForward, ActivationsReference.GeluTanhForward, Activations.GeluTanhBackward, ActivationsReference.GeluTanhBackward),
        new("GeluErf", Activations.GeluErfForward, ActivationsReference.GeluErfForward, Activations.GeluErfBackward, ActivationsReference.GeluErfBackward),
        new("Silu", Activations.SiluForward, ActivationsReference.SiluForward, Activations.SiluBackward, ActivationsReference.SiluBackward),
        new("Relu", Activations.ReluForward, ActivationsReference.ReluForward, Activations.ReluBackward, ActivationsReference.ReluBackward),
        new("Tanh", Activations.TanhForward, ActivationsReference.TanhForward, Activations.TanhBackward, ActivationsReference.TanhBackward, FromOutput: true),
    ];

    // Tolerance. Each activation is y = x phi(x) with phi in [0, 1] built from exp/tanh, which the kernels evaluate in
    // float32 (vector Exp: ~1 ulp; 1 - 2/(e + 1) and 1 + t: a few eps absolute). So |error| <= k eps (|y| + |x|) with k
    // in the tens; 1e-5 ~ 170 eps leaves room for that and still catches a wrong constant (0.044715 off by 1e-3 moves y
    // by ~1e-4 relative) or a wrong branch. Backward: local derivative times dy added to dx, so the scale is
    // |dx_before| + (1 + |x|) |dy| (the derivative's terms grow like |x|, e.g. 0.5 x (1 - t^2) ...).
    const double Rtol = 1e-5;

    [Fact]
    public void Activations_EveryLength_MatchReference()
    {
        var rng = new Rng(11);
        foreach (var pair in Pairs)
            for (int n = 0; n <= KernelCheck.MaxLength; n++)
            {
                float[] x = KernelCheck.WithExtremes(rng, n);
                var y = new float[n]; var yRef = new float[n];
                pair.Forward(x, y);
                pair.ReferenceForward(x, yRef);
                var absX = x.Select(Math.Abs).ToArray();
                KernelCheck.AssertClose(yRef, y, Rtol, $"{pair.Name} forward n={n}", absX);

                float[] dy = KernelCheck.Normal(rng, n), dxBefore = KernelCheck.Normal(rng, n);
                float[] dx = (float[])dxBefore.Clone(), dxRef = (float[])dxBefore.Clone();
                float[] input = pair.FromOutput ? yRef : x;
                pair.Backward(input, dy, dx);
                pair.ReferenceBackward(input, dy, dxRef);
                var scale = new float[n];
                for (int i = 0; i < n; i++) scale[i] = Math.Abs(dxBefore[i]) + (1 + Math.Abs(input[i])) * Math.Abs(dy[i]);
                KernelCheck.AssertClose(dxRef, dx, Rtol, $"{pair.Name} backward n={n}", scale);
            }
    }

    [Fact]
    public void GeluTanhBackwardWrite_EveryLength_OverwritesWithTheGradient()
    {
        var rng = new Rng(12);
        for (int n = 0; n <= KernelCheck.MaxLength; n++)
        {
            float[] x = KernelCheck.WithExtremes(rng, n), dy = KernelCheck.Normal(rng, n);
            float[] dx = Enumerable.Repeat(float.NaN, n).ToArray(), dxRef = new float[n];
            Activations.GeluTanhBackwardWrite(x, dy, dx);
            ActivationsReference.GeluTanhBackward(x, dy, dxRef);
            var scale = new float[n];
            for (int i = 0; i < n; i++) scale[i] = (1 + Math.Abs(x[i])) * Math.Abs(dy[i]);
            KernelCheck.AssertClose(dxRef, dx, Rtol, $"GeluTanh backward (write) n={n}", scale);
        }
    }

    /// <summary>The GELU op splits work into 4096-element chunks across threads; chunk edges must not drop or repeat elements.</summary>
    [Fact]
    public void GeluOp_ParallelChunks_MatchReference()
    {
        var rng = new Rng(12);
        int n = 3 * 4096 + 17;
        float[] xs = KernelCheck.WithExtremes(rng, n), seed = KernelCheck.Normal(rng, n);
        KernelCheck.ForEachThreadCount(threads =>
        {
            var x = Tensor.FromArray(xs, n).WithGrad();
            var y = O.Gelu(threads, x);
            y.Backward(Tensor.FromArray(seed, n));
            var yRef = new float[n]; var dxRef = new float[n];
            ActivationsReference.GeluTanhForward(xs, yRef);
            ActivationsReference.GeluTanhBackward(xs, seed, dxRef);
            var scale = new float[n];
            for (int i = 0; i < n; i++) scale[i] = (1 + Math.Abs(xs[i])) * Math.Abs(seed[i]);
            KernelCheck.AssertClose(yRef, y.Data, Rtol, $"Gelu op forward, {threads.ThreadCount} threads", xs.Select(Math.Abs).ToArray());
            KernelCheck.AssertClose(dxRef, x.Grad!.Data, Rtol, $"Gelu op backward, {threads.ThreadCount} threads", scale);
        });
    }

    /// <summary>
    /// The exact GELU in float32 (erfc as t exp(P - x^2/2), on every width) against the twin in double (series and
    /// continued fraction). Bound, forward: 6 + x^2 ulp of the result; the x^2 part is the rounding of x^2/2 and of the
    /// exponent P - x^2/2 (GELU's condition number grows like x^2 in the left tail, so a one-ulp change of x moves it as
    /// much). Measured: at most 0.83 of the bound forward and 0.64 backward, on the 512-, 256- and 128-bit paths alike
    /// (2026-12-07, Zen 5). Backward: the derivative Phi + x phi to
    /// the same bound relative to its two terms' magnitudes, plus the rounding of dy f'(x) added into dx. A coefficient of
    /// the fit off in its fourth digit moves erfc by ~1e-4 relative and fails both, as does a 1 + erf form (the tail loses
    /// every digit below x = -6) or a wrong sign in the select.
    /// </summary>
    [Fact]
    public void GeluErf_DenseGridAndEveryLength_MatchReferenceToTheRounding()
    {
        var rng = new Rng(13);
        var inputs = new List<float[]>();
        for (int n = 0; n <= KernelCheck.MaxLength; n++) inputs.Add(KernelCheck.WithExtremes(rng, n));
        inputs.Add(Enumerable.Range(0, 24001).Select(i => -16f + i * 0.001f).ToArray());   // into the left tail and past 1 - q = 1
        inputs.Add(Enumerable.Range(-200, 401).Select(i => i * 1e-3f * MathF.Abs(i) * 1e-3f).ToArray()); // around 0
        foreach (float[] x in inputs)
        {
            int n = x.Length;
            float[] y = new float[n];
            Activations.GeluErfForward(x, y);
            for (int i = 0; i < n; i++)
            {
                double exact = x[i] * ActivationsReference.NormalCdf(x[i]);
                float rounded = MathF.Abs((float)exact);
                double ulp = MathF.BitIncrement(rounded) - rounded;
                double bound = (6 + x[i] * (double)x[i]) * ulp;
                Assert.True(Math.Abs(y[i] - exact) <= bound, $"GeluErf({x[i]:R}) = {y[i]:R}, reference {exact:R}");
            }

            float[] dy = KernelCheck.Normal(rng, n), dxBefore = KernelCheck.Normal(rng, n);
            float[] dx = (float[])dxBefore.Clone();
            Activations.GeluErfBackward(x, dy, dx);
            for (int i = 0; i < n; i++)
            {
                double v = x[i], cdf = ActivationsReference.NormalCdf(v), pdf = Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI);
                double exact = dxBefore[i] + (cdf + v * pdf) * dy[i];
                double derivativeBound = (6 + v * v) * Math.Pow(2, -24) * (cdf + Math.Abs(v) * pdf) * Math.Abs(dy[i]);
                double bound = Math.Pow(2, -23) * (Math.Abs(dxBefore[i]) + Math.Abs(exact - dxBefore[i])) + derivativeBound + 1e-44;
                Assert.True(Math.Abs(dx[i] - exact) <= bound, $"GeluErf backward at x = {x[i]:R}: {dx[i]:R}, reference {exact:R}");
            }
        }
    }

    /// <summary>The twin's erf and erfc pinned at known values (A&amp;S table 7.1, C99 erf/erfc), both signs, into the far tail.</summary>
    [Fact]
    public void ReferenceErfAndErfc_KnownValues()
    {
        foreach (var (x, erf) in new[]
                 {
                     (0.1, 0.1124629160182849), (0.5, 0.5204998778130465), (1.0, 0.8427007929497149), (1.5, 0.9661051464753108),
                     (2.0, 0.9953222650189527), (2.5, 0.999593047982555), (3.0, 0.9999779095030014), (3.5, 0.9999992569016276),
                     (4.0, 0.9999999845827421), (5.0, 0.9999999999984626),
                 })
        {
            Assert.True(Math.Abs(ActivationsReference.Erf(x) - erf) <= 1e-15, $"reference erf({x}) = {ActivationsReference.Erf(x):R}, expected {erf:R}");
            Assert.True(ActivationsReference.Erf(-x) == -ActivationsReference.Erf(x), $"reference erf is not odd at {x}");
        }
        Assert.Equal(0.0, ActivationsReference.Erf(0.0));
        foreach (var (x, erfc) in new[]
                 {
                     (0.5, 0.4795001221869535), (1.0, 0.15729920705028513), (2.0, 0.004677734981047265), (3.0, 2.2090496998585438e-05),
                     (4.0, 1.541725790028002e-08), (5.0, 1.5374597944280351e-12), (7.0, 4.183825607779414e-23), (10.0, 2.088487583762545e-45),
                 })
        {
            Assert.True(Math.Abs(ActivationsReference.Erfc(x) - erfc) <= 1e-11 * erfc, $"reference erfc({x}) = {ActivationsReference.Erfc(x):R}, expected {erfc:R}");
            Assert.True(Math.Abs(ActivationsReference.Erfc(-x) - (2 - erfc)) <= 1e-15, $"reference erfc({-x}) = {ActivationsReference.Erfc(-x):R}, expected {2 - erfc:R}");
        }
        Assert.Equal(1.0, ActivationsReference.Erfc(0.0));
    }
}
