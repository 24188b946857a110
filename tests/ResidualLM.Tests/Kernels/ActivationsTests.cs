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

    /// <summary>The kernel's erf (series / continued fraction split at 2.5) against the reference's all-positive series.</summary>
    [Fact]
    public void Erf_AcrossRange_MatchesReference()
    {
        for (double x = -7; x <= 7; x += 0.01)
        {
            double expected = ActivationsReference.Erf(x), actual = Activations.Erf(x);
            Assert.True(Math.Abs(actual - expected) <= 1e-13, $"erf({x}) = {actual:R}, reference {expected:R}");
        }
        // Known values (Abramowitz and Stegun, table 7.1) pin the reference itself.
        foreach (var (x, erf) in new[] { (0.5, 0.5204998778130465), (1.0, 0.8427007929497149), (2.0, 0.9953222650189527), (3.0, 0.9999779095030014) })
            Assert.True(Math.Abs(ActivationsReference.Erf(x) - erf) <= 1e-15, $"reference erf({x}) = {ActivationsReference.Erf(x):R}, expected {erf:R}");
    }
}
