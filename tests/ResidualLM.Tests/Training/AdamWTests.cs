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

    /// <summary>A tensor longer than one work chunk (16,384 elements) is updated in full, chunk edges included, threads or not.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ALargeTensor_IsUpdatedEverywhere(bool threaded)
    {
        const int n = 40_000;   // two whole chunks and a partial one
        var p = Tensor.Ones(n).WithGrad();
        var grad = new float[n];
        for (int i = 0; i < n; i++) grad[i] = i % 2 == 0 ? 1f : -1f;
        p.Grad = new Tensor(grad, n);
        using var threads = new ResidualLM.Kernels.Parallelism(2);
        var optimizer = new AdamW([("p", p)], Settings with { WeightDecay = 0f }, threads: threaded ? threads : null);
        optimizer.Step();
        // Step 1: m_hat = g, v_hat = g^2, so every element moves by lr * g / (|g| + eps).
        double move = Settings.LearningRate / (1 + Settings.Epsilon);
        for (int i = 0; i < n; i++) Assert.Equal(1 - (i % 2 == 0 ? move : -move), p.Data[i], 6);
    }

    [Fact]
    public void ACustomDecayRule_IsUsed_AndNamesAreUnique()
    {
        var w = Tensor.Ones(2, 2).WithGrad(); var b = Tensor.Ones(2).WithGrad();
        var optimizer = new AdamW([("w", w), ("b", b)], Settings, decays: (name, _) => name == "b");
        Assert.Equal(["b"], optimizer.DecayedNames);
        var e = Assert.Throws<ArgumentException>(() => new AdamW([("w", w), ("w", b)], Settings));
        Assert.Contains("parameter 'w' is listed twice", e.Message);
    }

    [Fact]
    public void ZeroGrad_ClearsEveryParametersGradient()
    {
        var w = Tensor.Ones(2, 2).WithGrad(); var b = Tensor.Ones(2).WithGrad();
        w.Grad = Tensor.Ones(2, 2); b.Grad = Tensor.Ones(2);
        new AdamW([("w", w), ("b", b)], Settings).ZeroGrad();
        foreach (var t in new[] { w, b }) Assert.True(t.Grad is null || t.Grad.Data.All(v => v == 0f));
    }

    [Fact]
    public void GetState_CopiesUnlessAskedNotTo()
    {
        var p = Tensor.Ones(3).WithGrad();
        p.Grad = new Tensor([1f, 2f, 3f], 3);
        var optimizer = new AdamW([("p", p)], Settings);
        optimizer.Step();
        var copy = optimizer.GetState();
        float m0 = copy.FirstMoment["p"][0], v0 = copy.SecondMoment["p"][0];
        Assert.NotEqual(0f, m0);
        optimizer.Step();                               // moves the optimizer's moments
        Assert.Equal(m0, copy.FirstMoment["p"][0]);     // the copy keeps the values it was taken with
        Assert.Equal(v0, copy.SecondMoment["p"][0]);
        var live = optimizer.GetState(copy: false);
        optimizer.Step();
        Assert.Equal(optimizer.GetState().FirstMoment["p"], live.FirstMoment["p"]);   // a view follows the optimizer
        Assert.Equal(optimizer.GetState().SecondMoment["p"], live.SecondMoment["p"]);
    }

    [Fact]
    public void LoadState_RefusesMissingOrMisSizedMoments()
    {
        var p = Tensor.Ones(3).WithGrad();
        var optimizer = new AdamW([("p", p)], Settings);
        var missing = Assert.Throws<InvalidInputException>(() => optimizer.LoadState(new AdamWState { FirstMoment = { ["p"] = new float[3] } }));
        Assert.Equal("p", missing.Field);
        Assert.Equal("optimizer state has no moments for this parameter", missing.Reason);
        foreach (var (m, v) in new[] { (4, 3), (3, 4) })
        {
            var e = Assert.Throws<InvalidInputException>(() => optimizer.LoadState(new AdamWState { FirstMoment = { ["p"] = new float[m] }, SecondMoment = { ["p"] = new float[v] } }));
            Assert.Equal("p", e.Field);
            Assert.Contains($"optimizer moments have {m} elements, the parameter 3", e.Reason);
        }
    }
}
