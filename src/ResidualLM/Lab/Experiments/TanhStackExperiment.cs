// One Linear(1,1) layer with tanh applied `depth` times, plain h = tanh(w h + b) against residual
// h = h + tanh(w h + b): the gradient reaching the input, by Backward(), at one depth and over a sweep of depths.
// Limits: one dimension, so the branch derivative is a number that can cancel the identity (w <= -1 does).
using System.Globalization;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Lab.Experiments;

/// <summary>Settings of <see cref="TanhStackExperiment"/>.</summary>
public sealed record TanhStackOptions
{
    /// <summary>Layers in the stack for the main measurement.</summary>
    public int Depth { get; init; } = 50;

    /// <summary>
    /// The layer's weight w. 0.9 is a gentle, "well-behaved" slope (below 1), chosen so the plain stack fails
    /// for the reason that matters (each factor w(1 − tanh²) is below 1) rather than through saturation alone.
    /// </summary>
    public float Weight { get; init; } = 0.9f;

    /// <summary>The layer's bias b. A small bias keeps the plain stack away from h = 0, where tanh' = 1.</summary>
    public float Bias { get; init; } = 0.1f;

    /// <summary>The input x fed to the first layer.</summary>
    public float Input { get; init; } = 1f;

    /// <summary>Largest depth of the sweep (1..SweepDepth); 0 skips the sweep.</summary>
    public int SweepDepth { get; init; } = 100;

    /// <summary>When set, w and b are drawn from U(−1, 1) (PyTorch's Linear(1,1) init) with this seed instead.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Rejects settings the experiment cannot run with.</summary>
    public void Validate()
    {
        if (Depth is < 1 or > 10_000) throw new InvalidInputException($"must be between 1 and 10000, got {Depth}", field: nameof(Depth));
        if (SweepDepth is < 0 or > 10_000) throw new InvalidInputException($"must be between 0 and 10000, got {SweepDepth}", field: nameof(SweepDepth));
        if (!float.IsFinite(Weight)) throw new InvalidInputException("must be finite", field: nameof(Weight));
        if (!float.IsFinite(Bias)) throw new InvalidInputException("must be finite", field: nameof(Bias));
        if (!float.IsFinite(Input)) throw new InvalidInputException("must be finite", field: nameof(Input));
    }
}

/// <summary>
/// Plain: d h_D / d x = ∏ w (1 − tanh²(w h + b)), each factor below 1 when |w| ≤ 1, so it vanishes geometrically.
/// Residual: d h_D / d x = ∏ (1 + w (1 − tanh²(w h + b))), each factor at least 1 when w ≥ 0.
/// </summary>
public sealed class TanhStackExperiment(TanhStackOptions options) : ILabExperiment
{
    public string Name => "tanh-stack";

    /// <summary>The values and gradients of one stack.</summary>
    /// <param name="Output">h_D.</param>
    /// <param name="InputGradient">d h_D / d x by Backward().</param>
    /// <param name="Stream">h_0 = x, h_1 .. h_D.</param>
    /// <param name="StreamGradients">d h_D / d h_l for l = 0..D (retained gradients).</param>
    public sealed record StackRun(double Output, double InputGradient, double[] Stream, double[] StreamGradients);

    /// <summary>Runs a stack of <paramref name="depth"/> layers on x and back-propagates from its output.</summary>
    public static StackRun RunStack(int depth, float weight, float bias, float input, bool residual)
    {
        var w = Tensor.Scalar(weight);
        var b = Tensor.Scalar(bias);
        var x = Tensor.Scalar(input).WithGrad();
        x.RetainGrad = true;
        var stream = new List<Tensor>(depth + 1) { x };
        var h = x;
        for (int layer = 0; layer < depth; layer++)
        {
            var branch = O.Tanh(h * w + b);           // f(h) = tanh(w h + b): Linear(1,1) then tanh
            h = residual ? h + branch : branch;       // residual: h + f(h); plain: f(h)
            h.RetainGrad = true;
            stream.Add(h);
        }
        double output = h.Item();
        h.Backward();
        return new StackRun(output, x.Grad!.Item(),
            stream.Select(t => (double)t.Item()).ToArray(),
            stream.Select(t => (double)(t.Grad?.Item() ?? 0f)).ToArray());
    }

    public ExperimentResult Run()
    {
        options.Validate();
        float weight = options.Weight, bias = options.Bias;
        if (options.Seed is ulong seed)
        {
            var rng = new Rng(seed);
            weight = 2 * rng.NextFloat() - 1;
            bias = 2 * rng.NextFloat() - 1;
        }
        int depth = options.Depth;
        var plain = RunStack(depth, weight, bias, options.Input, residual: false);
        var residual = RunStack(depth, weight, bias, options.Input, residual: true);

        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = "A tanh layer stacked: plain against residual",
            Description = Describe(weight, bias),
            Parameters =
            [
                new("depth", depth.ToString(CultureInfo.InvariantCulture), "layers in the stack"),
                new("w", Text(weight), options.Seed is null ? "layer weight" : $"layer weight, drawn from U(−1, 1) with seed {options.Seed}"),
                new("b", Text(bias), "layer bias"),
                new("x", Text(options.Input), "input"),
                new("sweep", options.SweepDepth == 0 ? "off" : $"depth 1..{options.SweepDepth}", "depths of the sweep"),
            ],
        };

        result.Tables.Add(new ResultTable
        {
            Id = "summary", Title = $"Gradient reaching x through {depth} layers",
            Columns = [new("stack"), new("output h_D"), new("d h_D / d x", Format: "G4"), new("per-layer factor (geometric mean)", Format: "G4")],
        }
        .AddRow("plain: h = tanh(w h + b)", plain.Output, plain.InputGradient, GeometricMean(plain.InputGradient, depth))
        .AddRow("residual: h = h + tanh(w h + b)", residual.Output, residual.InputGradient, GeometricMean(residual.InputGradient, depth)));

        result.Tables.Add(LayerTable(plain, residual, depth));
        if (options.SweepDepth > 0) AddSweep(result, weight, bias);
        AddFindings(result, plain, residual, weight, depth);
        return result;
    }

    static string Describe(float weight, float bias) =>
        $"One Linear(1,1) layer, f(h) = tanh(w h + b) with w = {Text(weight)} and b = {Text(bias)}, is applied again and again to " +
        "x = h_0. The plain stack replaces the value, h ← f(h); the residual stack adds an edit, h ← h + f(h).\n\n" +
        "By the chain rule the gradient reaching x is a product of one factor per layer. Plain: w·(1 − tanh²(w h + b)), which is " +
        "below 1 whenever |w| ≤ 1, so the product shrinks geometrically with depth: the vanishing gradient. Residual: " +
        "1 + w·(1 − tanh²(w h + b)), which for w ≥ 0 is at least 1, so nothing can make it vanish; and as h grows and tanh " +
        "saturates, the factors tend to exactly 1, so it does not explode either. Every gradient here is computed by Backward() " +
        "through the engine's autograd.";

    /// <summary>The stream value and the gradient reaching it at selected layers (all when the stack is short).</summary>
    static ResultTable LayerTable(StackRun plain, StackRun residual, int depth)
    {
        var table = new ResultTable
        {
            Id = "layers", Title = "Stream value h_l and gradient d h_D / d h_l, by layer",
            Note = "Layer 0 is the input x. The gradient at layer 0 is the one in the summary table.",
            Columns = [new("layer l"), new("plain h_l"), new("plain d h_D / d h_l", Format: "G4"), new("residual h_l"), new("residual d h_D / d h_l", Format: "G4")],
        };
        var layers = depth <= 12 ? Enumerable.Range(0, depth + 1)
            : new[] { 0, 1, 2, 3, 5, 10, 20, 30, 40, 50, 75, 100, 200, 500, 1000, 5000 }.Where(l => l < depth).Append(depth);
        foreach (int l in layers)
            table.AddRow(l, plain.Stream[l], plain.StreamGradients[l], residual.Stream[l], residual.StreamGradients[l]);
        return table;
    }

    void AddSweep(ExperimentResult result, float weight, float bias)
    {
        var table = new ResultTable
        {
            Id = "sweep", Title = $"Gradient reaching x, by depth (1..{options.SweepDepth})",
            Columns = [new("depth"), new("plain d h_D / d x", Format: "G4"), new("residual d h_D / d x", Format: "G4")],
        };
        var plainPoints = new List<ChartPoint>();
        var residualPoints = new List<ChartPoint>();
        for (int depth = 1; depth <= options.SweepDepth; depth++)
        {
            double plain = RunStack(depth, weight, bias, options.Input, residual: false).InputGradient;
            double residual = RunStack(depth, weight, bias, options.Input, residual: true).InputGradient;
            table.AddRow(depth, plain, residual);
            plainPoints.Add(new ChartPoint(depth, Math.Abs(plain)));
            residualPoints.Add(new ChartPoint(depth, Math.Abs(residual)));
        }
        result.Tables.Add(table);
        result.Charts.Add(new ChartSpec
        {
            Id = "sweep", Kind = ChartKind.Line, Title = "Gradient reaching the input, by depth",
            Caption = "Log scale: a straight falling line is geometric decay. Plain gradients shrink by a constant factor per layer; " +
                      "the residual path stays near 1.",
            X = new AxisSpec("depth", "layers"), Y = new AxisSpec("|d h_D / d x|", Scale: AxisScale.Log),
            Series = [new SeriesSpec { Name = "plain: h = tanh(w h + b)", Points = plainPoints },
                      new SeriesSpec { Name = "residual: h = h + tanh(w h + b)", Points = residualPoints }],
        });
    }

    static void AddFindings(ExperimentResult result, StackRun plain, StackRun residual, float weight, int depth)
    {
        result.Findings.Add($"Through {depth} layers the plain gradient is {plain.InputGradient:G3} " +
            $"(about ×{GeometricMean(plain.InputGradient, depth):G3} per layer); the residual gradient is {residual.InputGradient:G4}.");
        foreach (var (name, run) in new[] { ("plain", plain), ("residual", residual) })
            if (run.InputGradient == 0)
                result.Findings.Add($"The {name} gradient underflowed to exactly 0 in float32: it fell below the smallest representable " +
                    "number (about 1e-45); the log chart leaves such zeros out and says how many.");
        if (Math.Abs(residual.InputGradient) > 1)
            result.Findings.Add($"The residual gradient grew above 1 (to {residual.InputGradient:G4}): with w > 0 every factor " +
                "1 + w(1 − tanh²) is at least 1. It stays bounded because the stream grows " +
                $"(h_D = {residual.Output:G4}), tanh saturates, and the factors approach 1.");
        else if (Math.Abs(residual.InputGradient) < 0.1)
            result.Findings.Add($"The residual gradient also became small ({residual.InputGradient:G3}): with w = {Text(weight)} < 0 the branch " +
                "derivative w(1 − tanh²) subtracts from the identity's 1. The shortcut guarantees the 1 is there, not that the sum stays above 1; " +
                "in wide networks with small initial branches this cancellation does not happen on every path.");
        if (Math.Abs(plain.InputGradient) > 0)
            result.Findings.Add($"Ratio residual / plain at depth {depth}: {residual.InputGradient / plain.InputGradient:G3}.");
    }

    /// <summary>The per-layer factor f with f^depth = |gradient|.</summary>
    static double GeometricMean(double gradient, int depth) =>
        gradient == 0 ? 0 : Math.Exp(Math.Log(Math.Abs(gradient)) / depth);

    static string Text(float value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
