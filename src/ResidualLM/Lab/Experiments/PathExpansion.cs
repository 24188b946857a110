// The gradient of a residual stack x_i = x_(i-1) + f_i(x_(i-1)) expanded over paths (Veit et al. 2016, "Residual
// Networks Behave Like Ensembles of Relatively Shallow Networks"): g ∏ (I + J_i) = Σ over subsets of branches.
// Branch Jacobians come from the engine's autograd; the expansion itself is exact arithmetic in double.
// Limits: per-sample Jacobians are materialised (width × width each), so this is for small widths (≤ a few hundred).
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Lab.Experiments;

/// <summary>
/// A stack of residual branches f_i(x) = tanh(W_i x + b_i), x_i = x_(i-1) + f_i(x_(i-1)), with loss
/// L = mean((x_n − target)²), and the tools to split dL/dx_0 into the contributions of paths of each length.
/// </summary>
public sealed class PathExpansion
{
    readonly List<Linear> branches;
    readonly ComputeContext context = new();
    readonly Tensor input, target;

    /// <summary>Samples (N) and width (W).</summary>
    public int SampleCount { get; }
    public int Width { get; }
    public int Depth => branches.Count;

    /// <summary>
    /// Builds <paramref name="depth"/> branches of width <paramref name="width"/>: W_i ~ N(0, gain²/width), b_i ~ N(0, 0.1²),
    /// inputs and targets N(0, 1), all from <paramref name="seed"/>.
    /// </summary>
    public PathExpansion(int depth, int width, int samples, float gain, ulong seed)
    {
        var rng = new Rng(seed);
        SampleCount = samples;
        Width = width;
        branches = Enumerable.Range(0, depth).Select(_ =>
        {
            var linear = new Linear(width, width, bias: true, rng, std: gain / MathF.Sqrt(width));
            for (int j = 0; j < width; j++) linear.Bias!.Data[j] = 0.1f * rng.NextGaussian();
            return linear;
        }).ToList();
        input = Tensor.Normal(rng, 0f, 1f, samples, width);
        target = Tensor.Normal(rng, 0f, 1f, samples, width);
    }

    /// <summary>f_i(x) = tanh(W_i x + b_i) for branch <paramref name="index"/> (0-based).</summary>
    public Tensor Branch(int index, Tensor x) => O.Tanh(branches[index].Forward(context, x));

    /// <summary>The stream x_0 .. x_n (no graph).</summary>
    public float[][] Stream()
    {
        var states = new float[Depth + 1][];
        using (Autograd.Graph.NoGrad())
        {
            var x = input;
            states[0] = x.ToArray();
            for (int i = 0; i < Depth; i++)
            {
                x = x + Branch(i, x);
                states[i + 1] = x.ToArray();
            }
        }
        return states;
    }

    /// <summary>dL/dx_0 and g = dL/dx_n, by one Backward() through the whole stack.</summary>
    public (double[] Total, double[] OutputGradient, double Loss) Gradients()
    {
        var x0 = input.Clone().WithGrad();
        x0.RetainGrad = true;
        var x = x0;
        for (int i = 0; i < Depth; i++) x = x + Branch(i, x);
        x.RetainGrad = true;
        var diff = x - target;
        var loss = O.Mean(diff * diff);
        double value = loss.Item();
        loss.Backward();
        return (ToDouble(x0.Grad!), ToDouble(x.Grad!), value);
    }

    /// <summary>
    /// The vector-Jacobian product v J_i of branch <paramref name="index"/> at <paramref name="at"/> (both (N, W)), by
    /// Backward() with seed v through the branch alone.
    /// </summary>
    public double[] VectorJacobian(int index, float[] at, double[] v)
    {
        var x = Tensor.FromArray(at, SampleCount, Width).WithGrad();
        Branch(index, x).Backward(Tensor.FromArray(v.Select(e => (float)e).ToArray(), SampleCount, Width));
        return ToDouble(x.Grad!);
    }

    /// <summary>The gradient of branch <paramref name="index"/>'s weight W_i when v (N, W) arrives at its output.</summary>
    public double[] WeightGradient(int index, float[] at, double[] v)
    {
        var weight = branches[index].Weight;
        weight.ZeroGrad();
        var x = Tensor.FromArray(at, SampleCount, Width);
        Branch(index, x).Backward(Tensor.FromArray(v.Select(e => (float)e).ToArray(), SampleCount, Width));
        var result = ToDouble(weight.Grad!);
        weight.ZeroGrad();
        return result;
    }

    /// <summary>dL/dW_i of every branch by one Backward() through the whole stack.</summary>
    public double[][] WeightGradients()
    {
        foreach (var b in branches) b.ZeroGrad();
        Gradients();
        var result = branches.Select(b => ToDouble(b.Weight.Grad!)).ToArray();
        foreach (var b in branches) b.ZeroGrad();
        return result;
    }

    /// <summary>
    /// Per-sample Jacobians of branch <paramref name="index"/> at <paramref name="at"/>: [n][j * W + m] = d f_j / d x_m.
    /// One Backward() over the input repeated W times per sample, seeded with the identity: row j of the result is e_j J.
    /// </summary>
    public double[][] Jacobians(int index, float[] at)
    {
        int n = SampleCount, w = Width;
        var repeated = new float[n * w * w];
        var seed = new float[n * w * w];
        for (int s = 0; s < n; s++)
            for (int j = 0; j < w; j++)
            {
                Array.Copy(at, s * w, repeated, (s * w + j) * w, w);
                seed[(s * w + j) * w + j] = 1f;
            }
        var x = Tensor.FromArray(repeated, n * w, w).WithGrad();
        Branch(index, x).Backward(Tensor.FromArray(seed, n * w, w));
        var grad = x.Grad!.Data;
        return Enumerable.Range(0, n).Select(s => grad.AsSpan(s * w * w, w * w).ToArray().Select(e => (double)e).ToArray()).ToArray();
    }

    /// <summary>
    /// terms[k] = the sum over all paths through exactly k branches of g J_(i_k) … J_(i_1), flattened (N, W), k = 0..n.
    /// Dynamic program from the top: v_k ← v_k + v_(k−1) J_i for i = n .. 1 (k descending, so v_(k−1) is still the
    /// value above layer i). Σ_k terms[k] = g ∏ (I + J_i) = dL/dx_0.
    /// </summary>
    public double[][] PathTerms(double[] outputGradient, float[][] stream, out double[][][] jacobians)
    {
        int n = Depth;
        jacobians = new double[n][][];
        for (int i = 0; i < n; i++) jacobians[i] = Jacobians(i, stream[i]);
        var terms = new double[n + 1][];
        terms[0] = (double[])outputGradient.Clone();
        for (int k = 1; k <= n; k++) terms[k] = new double[outputGradient.Length];
        for (int i = n - 1; i >= 0; i--)
        {
            int deepest = n - i; // paths above and including branch i pass through at most n − i branches
            for (int k = deepest; k >= 1; k--) AddTimesJacobian(terms[k], terms[k - 1], jacobians[i]);
        }
        return terms;
    }

    /// <summary>g J_(i_k) … J_(i_1) for one path (branch indices in any order; applied from the top down).</summary>
    public double[] PathGradient(double[] outputGradient, double[][][] jacobians, IEnumerable<int> branchIndices)
    {
        var v = (double[])outputGradient.Clone();
        foreach (int i in branchIndices.OrderDescending())
        {
            var next = new double[v.Length];
            AddTimesJacobian(next, v, jacobians[i]);
            v = next;
        }
        return v;
    }

    /// <summary>
    /// The same terms as <see cref="PathTerms"/> by brute force: every one of the 2^n subsets of branches enumerated as
    /// its own path (<see cref="PathGradient"/>) and added to the term of its length. Exponential: for n up to about 16.
    /// </summary>
    public double[][] EnumeratedTerms(double[] outputGradient, double[][][] jacobians)
    {
        int n = jacobians.Length;
        if (n > 20) throw new InvalidInputException($"enumerating 2^{n} paths is too many (at most 20 branches)", field: "Depth");
        var terms = Enumerable.Range(0, n + 1).Select(_ => new double[outputGradient.Length]).ToArray();
        for (int mask = 0; mask < 1 << n; mask++)
        {
            var branchIndices = Enumerable.Range(0, n).Where(i => (mask >> i & 1) == 1).ToArray();
            var path = PathGradient(outputGradient, jacobians, branchIndices);
            var term = terms[branchIndices.Length];
            for (int i = 0; i < term.Length; i++) term[i] += path[i];
        }
        return terms;
    }

    /// <summary>Each term's share of the total gradient, term·total / |total|²: the shares sum to 1 when the terms sum to the total.</summary>
    public static double[] Shares(double[][] terms, IReadOnlyList<double> total)
    {
        double square = Dot(total, total);
        return terms.Select(t => Dot(t, total) / square).ToArray();
    }

    /// <summary>destination += v J per sample: destination[s, m] += Σ_j v[s, j] J_s[j, m].</summary>
    void AddTimesJacobian(double[] destination, double[] v, double[][] jacobian)
    {
        int w = Width;
        for (int s = 0; s < SampleCount; s++)
        {
            var j = jacobian[s];
            for (int row = 0; row < w; row++)
            {
                double scale = v[s * w + row];
                if (scale == 0) continue;
                for (int m = 0; m < w; m++) destination[s * w + m] += scale * j[row * w + m];
            }
        }
    }

    /// <summary>Euclidean norm.</summary>
    public static double Norm(IReadOnlyList<double> v)
    {
        double sum = 0;
        for (int i = 0; i < v.Count; i++) sum += v[i] * v[i];
        return Math.Sqrt(sum);
    }

    /// <summary>Dot product.</summary>
    public static double Dot(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Count; i++) sum += a[i] * b[i];
        return sum;
    }

    static double[] ToDouble(Tensor t) => t.Data.Select(e => (double)e).ToArray();
}
