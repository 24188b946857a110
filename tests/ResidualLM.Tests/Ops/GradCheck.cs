// Finite-difference gradient checking: compares autograd gradients with central differences of a scalar loss.
using ResidualLM.Autograd;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Ops;

/// <summary>
/// Checks d loss / d input for every input of a function, where loss = sum(f(inputs) * R) with a fixed random R
/// (a random projection exercises every output element with a distinct weight).
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// The forward pass runs in float32, so central differences with step h carry round-off ~ eps32 * |loss| / h
    /// and truncation ~ h^2 |f'''|. The loss is accumulated in double; h = 1e-2 with a relative tolerance of 2e-2
    /// (of max(|analytic|, |numeric|, 1e-2 * scale)) separates a correct gradient (errors ~1e-3) from a wrong one
    /// (errors of order 1) for the smooth ops checked here.
    /// </summary>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double h = 1e-2, double tolerance = 2e-2, int seed = 7)
    {
        var rng = new Rng((ulong)seed);
        // Gradients already present must be added to, never overwritten: start every input from a random prior gradient
        // and subtract it afterwards.
        var priors = new float[inputs.Length][];
        for (int k = 0; k < inputs.Length; k++)
        {
            priors[k] = new float[inputs[k].Size];
            for (int i = 0; i < priors[k].Length; i++) priors[k][i] = rng.NextFloat() * 2f - 1f;
            inputs[k].RequiresGrad = true;
            inputs[k].Grad = new Tensor((float[])priors[k].Clone(), inputs[k].Shape.ToArray());
        }
        var output = f(inputs);
        var projection = new float[output.Size];
        for (int i = 0; i < projection.Length; i++) projection[i] = rng.NextFloat() * 2f - 1f;
        var loss = ResidualLM.Ops.Ops.Sum(output * new Tensor(projection, output.ShapeArray()));
        loss.Backward();

        double Evaluate()
        {
            using var _ = Graph.NoGrad();
            var y = f(inputs);
            double s = 0;
            for (int i = 0; i < y.Size; i++) s += (double)y.Data[i] * projection[i];
            return s;
        }

        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            Assert.NotNull(x.Grad);
            var gradient = new double[x.Size];
            for (int i = 0; i < x.Size; i++) gradient[i] = (double)x.Grad!.Data[i] - priors[k][i];
            double scale = 0;
            foreach (double g in gradient) scale = Math.Max(scale, Math.Abs(g));
            for (int i = 0; i < x.Size; i++)
            {
                float saved = x.Data[i];
                x.Data[i] = (float)(saved + h); double plus = Evaluate();
                x.Data[i] = (float)(saved - h); double minus = Evaluate();
                x.Data[i] = saved;
                double numeric = (plus - minus) / (2 * h);
                double analytic = gradient[i];
                double denominator = Math.Max(Math.Max(Math.Abs(numeric), Math.Abs(analytic)), 1e-2 * Math.Max(scale, 1e-3));
                double error = Math.Abs(numeric - analytic) / denominator;
                Assert.True(error < tolerance, $"{x.Name ?? "input"}[{i}] analytic {analytic:G6} vs numeric {numeric:G6} (relative error {error:G3})");
            }
        }
    }

    static int[] ShapeArray(this Tensor t) => t.Shape.ToArray();
}
