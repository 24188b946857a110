// The gradient of a residual stack split into the shortcut's and the branches' parts: exactly for two layers
// (g + g J2 + g J1 + g J2 J1), and over path lengths for a deep stack (Veit et al. 2016), with the check that the
// parts sum to the gradient Backward() gives. Limits: tanh branches on random inputs, not a trained network.
using System.Globalization;

namespace ResidualLM.Lab.Experiments;

/// <summary>Settings of <see cref="PathsExperiment"/>.</summary>
public sealed record PathsOptions
{
    /// <summary>Residual branches in the deep stack (n).</summary>
    public int Depth { get; init; } = 40;

    /// <summary>Width of the stream (W).</summary>
    public int Width { get; init; } = 16;

    /// <summary>Input samples (N) in the batch.</summary>
    public int Samples { get; init; } = 4;

    /// <summary>Branch weights are N(0, gain²/W): the typical gain of one branch Jacobian.</summary>
    public float Gain { get; init; } = 0.5f;

    /// <summary>Individual paths sampled per length k to estimate the gradient of one path.</summary>
    public int PathSamples { get; init; } = 32;

    /// <summary>Seed of weights, inputs, targets and path sampling.</summary>
    public ulong Seed { get; init; } = 7;

    /// <summary>Branches of the small stack whose 2^n paths are enumerated one by one to check the dynamic program (0: skip).</summary>
    public int EnumeratedDepth { get; init; } = 10;

    /// <summary>Rejects settings the experiment cannot run with.</summary>
    public void Validate()
    {
        if (Depth is < 2 or > 200) throw new InvalidInputException($"must be between 2 and 200, got {Depth}", field: nameof(Depth));
        if (Width is < 1 or > 256) throw new InvalidInputException($"must be between 1 and 256, got {Width}", field: nameof(Width));
        if (Samples is < 1 or > 64) throw new InvalidInputException($"must be between 1 and 64, got {Samples}", field: nameof(Samples));
        if (!(Gain > 0 && Gain < 100)) throw new InvalidInputException($"must be in (0, 100), got {Gain}", field: nameof(Gain));
        if (PathSamples is < 0 or > 10_000) throw new InvalidInputException($"must be between 0 and 10000, got {PathSamples}", field: nameof(PathSamples));
        if (EnumeratedDepth is < 0 or > 16) throw new InvalidInputException($"must be between 0 and 16, got {EnumeratedDepth}", field: nameof(EnumeratedDepth));
    }
}

/// <summary>
/// dL/dx_0 = g ∏ (I + J_i) expanded: every subset of branches is one path; the degree-k term sums the C(n, k) paths
/// through exactly k branches. Computed with vector-Jacobian products from Backward() and an exact dynamic program.
/// </summary>
public sealed class PathsExperiment(PathsOptions options) : ILabExperiment
{
    public string Name => "paths";

    public ExperimentResult Run()
    {
        options.Validate();
        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = "Gradient paths: the shortcut's part and the branches' part",
            Description =
                "A residual stack x_i = x_(i−1) + f_i(x_(i−1)) has Jacobian I + J_i per layer, so the gradient reaching the input " +
                "is dL/dx_0 = g (I + J_n) … (I + J_1), g = dL/dx_n. Multiplying out gives one term per subset of branches: a path " +
                "that goes through those branches and takes the shortcut everywhere else. For two layers: g (pure shortcut) + " +
                "g J2 + g J1 + g J2 J1.\n\n" +
                "Each term is computed here with vector-Jacobian products (Backward() through one branch at a time, seeded with " +
                "the vector arriving from above) and checked against one Backward() through the whole stack. For the deep stack, " +
                "the sum of all C(n, k) paths through exactly k branches is kept by a dynamic program from the top layer down, " +
                "v_k ← v_k + v_(k−1) J_i, which is the degree-k term of the product, exactly (Veit et al. 2016 estimated it by " +
                "sampling paths). Branches are f_i(x) = tanh(W_i x + b_i) on random inputs; loss mean((x_n − t)²).",
            Parameters =
            [
                new("depth", Text(options.Depth), "branches n in the deep stack"),
                new("width", Text(options.Width), "stream width W"),
                new("samples", Text(options.Samples), "inputs N"),
                new("gain", options.Gain.ToString("G4", CultureInfo.InvariantCulture), "W_i ~ N(0, gain²/W)"),
                new("path samples", Text(options.PathSamples), "individual paths sampled per length"),
                new("seed", Text((int)options.Seed)),
            ],
        };
        TwoLayers(result);
        DeepStack(result);
        if (options.EnumeratedDepth > 0) Enumerated(result);
        return result;
    }

    /// <summary>(c) A small stack: the share of each path length by enumerating all 2^n paths, against the dynamic program.</summary>
    void Enumerated(ExperimentResult result)
    {
        int n = options.EnumeratedDepth;
        var stack = new PathExpansion(n, options.Width, options.Samples, options.Gain, options.Seed + 3);
        var (total, g, _) = stack.Gradients();
        var byProgram = PathExpansion.Shares(stack.PathTerms(g, stack.Stream(), out var jacobians), total);
        var byEnumeration = PathExpansion.Shares(stack.EnumeratedTerms(g, jacobians), total);
        var table = new ResultTable
        {
            Id = "enumerated", Title = $"Check: the share of each path length in a {n}-branch stack, all {1 << n} paths enumerated",
            Note = "Share = term·total / |total|². The dynamic program is what the deep stack uses; enumeration adds every path one by one.",
            Columns = [new("k"), new("paths C(n, k)", Format: "G4"), new("share (dynamic program)", Format: "G6"),
                       new("share (enumerated)", Format: "G6"), new("|difference|", Format: "G2")],
        };
        for (int k = 0; k <= n; k++) table.AddRow(k, Binomial(n, k), byProgram[k], byEnumeration[k], Math.Abs(byProgram[k] - byEnumeration[k]));
        result.Tables.Add(table);
        double largest = byProgram.Zip(byEnumeration, (a, b) => Math.Abs(a - b)).Max();
        result.Findings.Add($"Check with {n} branches: enumerating all {1 << n} paths gives the same share per path length as the dynamic program " +
            $"(largest difference {largest:G2}); the shares sum to {byEnumeration.Sum():F6}.");
    }

    /// <summary>(a) Two layers: the four terms, their sum against Backward(), and the first layer's weight gradient split.</summary>
    void TwoLayers(ExperimentResult result)
    {
        var stack = new PathExpansion(2, options.Width, options.Samples, options.Gain, options.Seed);
        var stream = stack.Stream();
        var (total, g, _) = stack.Gradients();
        var gJ2 = stack.VectorJacobian(1, stream[1], g);
        var gJ1 = stack.VectorJacobian(0, stream[0], g);
        var gJ2J1 = stack.VectorJacobian(0, stream[0], gJ2);
        var sum = Add(Add(g, gJ2), Add(gJ1, gJ2J1));
        double totalNorm = PathExpansion.Norm(total), totalSquare = totalNorm * totalNorm;
        var table = new ResultTable
        {
            Id = "two-layer", Title = "Two layers: dL/dx_0 = g (I + J2)(I + J1) term by term",
            Note = "Share = the term's projection on the total, term·total / |total|²; the four shares sum to 1.",
            Columns = [new("term"), new("path"), new("norm", Format: "G5"), new("share of dL/dx_0", Format: "F4")],
        };
        foreach (var (term, path, v) in new[] { ("g", "shortcut, shortcut", g), ("g J2", "branch 2, shortcut", gJ2),
                                                ("g J1", "shortcut, branch 1", gJ1), ("g J2 J1", "branch 2, branch 1", gJ2J1) })
            table.AddRow(term, path, PathExpansion.Norm(v), PathExpansion.Dot(v, total) / totalSquare);
        double error = PathExpansion.Norm(Subtract(sum, total));
        table.AddRow("sum of the four", "", PathExpansion.Norm(sum), PathExpansion.Dot(sum, total) / totalSquare);
        table.AddRow("Backward() through both layers", "", totalNorm, 1.0);
        table.AddRow("|sum − Backward()|", "", error, "");
        result.Tables.Add(table);

        // The first layer's weight gradient: dL/dW1 = (g + g J2) df1/dW1, the shortcut's part and branch 2's part.
        var viaShortcut = stack.WeightGradient(0, stream[0], g);
        var viaBranch = stack.WeightGradient(0, stream[0], gJ2);
        var weightTotal = stack.WeightGradients()[0];
        double weightNorm = PathExpansion.Norm(weightTotal);
        var weights = new ResultTable
        {
            Id = "first-layer-weight", Title = "Two layers: dL/dW1 = (g + g J2) ∂f1/∂W1, split by the way the gradient arrived",
            Columns = [new("part"), new("norm", Format: "G5"), new("mean |entry|", Format: "G5"), new("share of dL/dW1", Format: "F4")],
        };
        foreach (var (part, v) in new[] { ("via the shortcut of layer 2 (g)", viaShortcut), ("via branch 2 (g J2)", viaBranch),
                                          ("Backward() through both layers", weightTotal) })
            weights.AddRow(part, PathExpansion.Norm(v), v.Average(Math.Abs), PathExpansion.Dot(v, weightTotal) / (weightNorm * weightNorm));
        result.Tables.Add(weights);

        double shortcutShare = PathExpansion.Dot(g, total) / totalSquare;
        result.Findings.Add($"Two layers: the four path terms sum to the Backward() gradient within {error / totalNorm:G2} (relative). " +
            $"The pure-shortcut term g carries {shortcutShare:P1} of dL/dx_0 (projection share); the three terms through branches carry {1 - shortcutShare:P1}.");
        double weightShortcutShare = PathExpansion.Dot(viaShortcut, weightTotal) / (weightNorm * weightNorm);
        result.Findings.Add($"The first layer's weight gradient arrives {weightShortcutShare:P1} through layer 2's shortcut and " +
            $"{1 - weightShortcutShare:P1} through branch 2: {(weightShortcutShare > 0.5 ? "mostly" : "less than half")} the shortcut's.");
    }

    /// <summary>(b) A deep stack: the degree-k terms by dynamic programming, sampled single paths, and their sum.</summary>
    void DeepStack(ExperimentResult result)
    {
        int n = options.Depth;
        var stack = new PathExpansion(n, options.Width, options.Samples, options.Gain, options.Seed + 1);
        var stream = stack.Stream();
        var (total, g, _) = stack.Gradients();
        var terms = stack.PathTerms(g, stream, out var jacobians);
        var sum = new double[total.Length];
        foreach (var term in terms) for (int i = 0; i < sum.Length; i++) sum[i] += term[i];
        double totalNorm = PathExpansion.Norm(total), error = PathExpansion.Norm(Subtract(sum, total)) / totalNorm;

        var rng = new Tensors.Rng(options.Seed + 2);
        var norms = terms.Select(t => PathExpansion.Norm(t)).ToArray();
        var table = new ResultTable
        {
            Id = "path-lengths", Title = $"Deep stack ({n} branches): the gradient by path length k",
            Note = "Term k sums all C(n, k) paths through exactly k branches. One path = mean norm of sampled single paths; " +
                   "C(n, k) × one path bounds the term's norm (paths of equal length may cancel).",
            Columns = [new("k"), new("paths C(n, k)", Format: "G4"), new("|term k|", Format: "G4"), new("share of dL/dx_0", Format: "F4"),
                       new("one path (mean |·|)", Format: "G4"), new("C(n, k) × one path", Format: "G4")],
        };
        var termPoints = new List<ChartPoint>();
        var pathPoints = new List<ChartPoint>();
        var boundPoints = new List<ChartPoint>();
        for (int k = 0; k <= n; k++)
        {
            double count = Binomial(n, k);
            double onePath = options.PathSamples == 0 ? double.NaN : Enumerable.Range(0, options.PathSamples)
                .Average(_ => PathExpansion.Norm(stack.PathGradient(g, jacobians, RandomSubset(rng, n, k))));
            table.AddRow(k, count, norms[k], PathExpansion.Dot(terms[k], total) / (totalNorm * totalNorm), onePath, count * onePath);
            termPoints.Add(new ChartPoint(k, norms[k]));
            pathPoints.Add(new ChartPoint(k, onePath));
            boundPoints.Add(new ChartPoint(k, count * onePath));
        }
        table.AddRow("sum", Math.Pow(2, n), PathExpansion.Norm(sum), PathExpansion.Dot(sum, total) / (totalNorm * totalNorm), "", "");
        table.AddRow("Backward()", "", totalNorm, 1.0, "", "");
        result.Tables.Add(table);
        result.Charts.Add(new ChartSpec
        {
            Id = "path-lengths", Kind = ChartKind.Line, Title = $"Gradient by path length, {n} residual branches",
            Caption = "Log scale. One path's gradient falls geometrically with the branches it passes; the number of paths " +
                      "C(n, k) rises; their product says which lengths the gradient comes from.",
            X = new AxisSpec("path length k", "branches"), Y = new AxisSpec("gradient norm", Scale: AxisScale.Log),
            Series = [new SeriesSpec { Name = "|term k| (all paths of length k, exact)", Points = termPoints },
                      new SeriesSpec { Name = "one path (sampled mean)", Points = pathPoints },
                      new SeriesSpec { Name = "C(n, k) × one path", Points = boundPoints }],
        });
        AddDeepFindings(result, n, norms, error, terms, total);
    }

    static void AddDeepFindings(ExperimentResult result, int n, double[] norms, double error, double[][] terms, double[] total)
    {
        result.Findings.Add($"Deep stack: the {n + 1} path-length terms (2^{n} paths) sum to the Backward() gradient within {error:G2} (relative).");
        int peak = Array.IndexOf(norms, norms.Max());
        double mass = norms.Sum(), mean = Enumerable.Range(0, n + 1).Sum(k => k * norms[k]) / mass;
        // The shortest central range of lengths holding 90% of Σ_k |term k|.
        int bestLow = 0, bestHigh = n;
        for (int low = 0; low <= n; low++)
        {
            double acc = 0;
            for (int high = low; high <= n; high++)
            {
                acc += norms[high];
                if (acc >= 0.9 * mass) { if (high - low < bestHigh - bestLow) (bestLow, bestHigh) = (low, high); break; }
            }
        }
        result.Findings.Add($"The largest term is at k = {peak} (|term| {norms[peak]:G3}); 90% of Σ_k |term k| comes from paths of length " +
            $"{bestLow}–{bestHigh}, mean length {mean:F1}, while most paths have length about n/2 = {n / 2}: the effective paths are " +
            $"{(bestHigh < n / 2 ? "shorter than the typical path" : "not shorter than the typical path")}.");
        double totalSquare = PathExpansion.Dot(total, total);
        result.Findings.Add($"The pure-shortcut path (k = 0) alone carries {PathExpansion.Dot(terms[0], total) / totalSquare:P1} of dL/dx_0; " +
            $"paths through at least one branch carry the rest.");
    }

    static IEnumerable<int> RandomSubset(Tensors.Rng rng, int n, int k)
    {
        var indices = Enumerable.Range(0, n).ToArray();
        for (int i = 0; i < k; i++)
        {
            int j = i + rng.NextInt(n - i);
            (indices[i], indices[j]) = (indices[j], indices[i]);
        }
        return indices[..k];
    }

    static double Binomial(int n, int k)
    {
        double value = 1;
        for (int i = 1; i <= k; i++) value = value * (n - k + i) / i;
        return value;
    }

    static double[] Add(double[] a, double[] b) => a.Zip(b, (x, y) => x + y).ToArray();
    static double[] Subtract(double[] a, double[] b) => a.Zip(b, (x, y) => x - y).ToArray();
    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
