// Finite-difference gradient checks of the activations, the softmax family and the fused cross-entropy.
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class FunctionGradTests
{
    static readonly int[][] Shapes = [[1], [7], [3, 17], [2, 3, 5]];

    public static TheoryData<string> Activations => new() { "GeluTanh", "GeluErf", "Silu", "Tanh", "Relu" };

    static Tensor Activate(string name, Tensor x) => name switch
    {
        "GeluTanh" => O.Gelu(Kernels.KernelCheck.Threads, x),
        "GeluErf" => O.Gelu(Kernels.KernelCheck.Threads, x, exact: true),
        "Silu" => O.Silu(x),
        "Tanh" => O.Tanh(x),
        _ => O.Relu(x),
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void Activation_OddShapes_GradientsMatchFiniteDifferences(string name)
    {
        var rng = new Rng(121);
        foreach (int[] shape in Shapes)
        {
            var x = Tensor.Normal(rng, 0, 2, shape);
            // ReLU has a kink at 0: keep every element at least 5 steps (h = 1e-2) away from it.
            if (name == "Relu")
                for (int i = 0; i < x.Size; i++) if (Math.Abs(x.Data[i]) < 0.05f) x.Data[i] += x.Data[i] < 0 ? -0.05f : 0.05f;
            GradCheck.Check(t => Activate(name, t[0]), [x]);
        }
    }

    [Fact]
    public void SoftmaxFamily_OddShapes_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(122);
        foreach (int[] shape in Shapes)
        {
            GradCheck.Check(t => O.Softmax(Kernels.KernelCheck.Threads, t[0]), [Tensor.Normal(rng, 0, 2, shape)]);
            GradCheck.Check(t => O.LogSoftmax(Kernels.KernelCheck.Threads, t[0]), [Tensor.Normal(rng, 0, 2, shape)]);
        }
    }

    [Fact]
    public void Softmax_AfterCausalMask_GradientsMatchFiniteDifferences()
    {
        // Masked scores become -inf, softmax gives them probability 0 and no gradient flows back to them.
        var rng = new Rng(123);
        foreach (int t in new[] { 1, 3, 5 })
            GradCheck.Check(x => O.Softmax(Kernels.KernelCheck.Threads, O.CausalMask(x[0])), [Tensor.Normal(rng, 0, 1, 2, t, t)]);
    }

    [Fact]
    public void CrossEntropy_WithIgnoreIndex_GradientsMatchFiniteDifferences()
    {
        var rng = new Rng(124);
        // (logits shape, targets, ignore index): both ends of the vocabulary, ignored rows, and a real class as ignore index.
        var cases = new (int[] Shape, int[] Targets, int Ignore)[]
        {
            ([1, 1], [0], -100),
            ([3, 7], [0, 6, -100], -100),
            ([2, 3, 5], [4, 2, 0, 2, 1, 3], 2),
            ([4, 17], [16, -1, 3, -1], -1),
        };
        foreach (var (shape, targets, ignore) in cases)
        {
            var logits = Tensor.Normal(rng, 0, 2, shape);
            GradCheck.Check(t => O.CrossEntropy(Kernels.KernelCheck.Threads, t[0], targets, ignore), [logits]);
            logits.Grad = null;
            O.CrossEntropy(Kernels.KernelCheck.Threads, logits, targets, ignore).Backward();
            int cols = shape[^1];
            for (int r = 0; r < targets.Length; r++)
                if (targets[r] == ignore)
                    for (int c = 0; c < cols; c++) Assert.Equal(0f, logits.Grad!.Data[r * cols + c]);
        }
    }

    [Fact]
    public void CrossEntropy_EveryRowIgnored_IsZeroWithZeroGradient()
    {
        var logits = Tensor.Normal(new Rng(125), 0, 1, 2, 3).WithGrad();
        var loss = O.CrossEntropy(Kernels.KernelCheck.Threads, logits, [-100, -100]);
        Assert.Equal(0f, loss.Item());
        loss.Backward();
        Assert.All(logits.Grad!.Data, g => Assert.Equal(0f, g));
    }
}
