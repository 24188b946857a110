// AdamW against a scalar double-precision transcription of torch.optim.AdamW, decay groups and state round-trip.
using ResidualLM.Tensors;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class AdamWTests
{
    static readonly AdamWSettings Settings = new() { LearningRate = 0.05f, Beta1 = 0.8f, Beta2 = 0.9f, Epsilon = 1e-6f, WeightDecay = 0.3f };

    /// <summary>Three steps on a matrix (decays) and a vector (does not), against the formulas in double.</summary>
    [Fact]
    public void Step_MatchesScalarReference()
    {
        var rng = new Rng(4);
        var w = Tensor.Normal(rng, 0f, 1f, 3, 5).WithGrad(); var b = Tensor.Normal(rng, 0f, 1f, 7).WithGrad();
        var optimizer = new AdamW([("w", w), ("b", b)], Settings);
        Assert.Equal(["w"], optimizer.DecayedNames);
        var reference = new[] { w, b }.Select(t => (p: t.Data.Select(v => (double)v).ToArray(), m: new double[t.Size], v: new double[t.Size])).ToArray();
        for (int step = 1; step <= 3; step++)
        {
            foreach (var t in new[] { w, b }) t.Grad = Tensor.Normal(rng, 0f, 1f, t.Shape.ToArray());
            for (int k = 0; k < 2; k++)
            {
                var (p, m, v) = reference[k]; var g = (k == 0 ? w : b).Grad!.Data; double wd = k == 0 ? Settings.WeightDecay : 0;
                for (int i = 0; i < p.Length; i++)
                {
                    p[i] *= 1 - Settings.LearningRate * wd;
                    m[i] = Settings.Beta1 * m[i] + (1 - Settings.Beta1) * g[i];
                    v[i] = Settings.Beta2 * v[i] + (1 - Settings.Beta2) * g[i] * g[i];
                    double mHat = m[i] / (1 - Math.Pow(Settings.Beta1, step)), vHat = v[i] / (1 - Math.Pow(Settings.Beta2, step));
                    p[i] -= Settings.LearningRate * mHat / (Math.Sqrt(vHat) + Settings.Epsilon);
                }
            }
            optimizer.Step();
            for (int k = 0; k < 2; k++)
                for (int i = 0; i < reference[k].p.Length; i++)
                    Assert.Equal(reference[k].p[i], (k == 0 ? w : b).Data[i], 5);
        }
        Assert.Equal(3, optimizer.StepCount);
    }

    [Fact]
    public void State_SaveAndRestore_ContinuesIdentically()
    {
        Tensor Fresh() => Tensor.Normal(new Rng(1), 0f, 1f, 4, 4).WithGrad();
        Tensor Gradient(int step) => Tensor.Normal(new Rng((ulong)(100 + step)), 0f, 1f, 4, 4);
        var a = Fresh();
        var first = new AdamW([("a", a)], Settings);
        for (int s = 0; s < 3; s++) { a.Grad = Gradient(s); first.Step(); }
        var saved = first.GetState();
        var copy = new Tensor(a.ToArray(), 4, 4).WithGrad();
        var second = new AdamW([("a", copy)], Settings);
        second.LoadState(saved);
        for (int s = 3; s < 6; s++)
        {
            a.Grad = Gradient(s); first.Step();
            copy.Grad = Gradient(s); second.Step();
        }
        Assert.Equal(a.Data, copy.Data);
        Assert.Equal(6, second.StepCount);
        Assert.Equal("a", Assert.Throws<InvalidInputException>(() => new AdamW([("a", Tensor.Zeros(2))], Settings).LoadState(saved)).Field);
    }

    [Fact]
    public void Step_SkipsParametersWithoutGradient()
    {
        var p = Tensor.Ones(2, 2).WithGrad();
        new AdamW([("p", p)], Settings).Step();
        Assert.All(p.Data, v => Assert.Equal(1f, v));
    }
}
