// The norm of the gradient at every layer's input for one batch, for a deep MLP stack (plain, residual, pre-norm
// residual) or a GPT (one series per residual policy): where the gradient vanishes, grows, or stays level.
// Limits: at initialisation, one batch; the GPT is trained on nothing (it measures the architecture, not a model).
using System.Globalization;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Lab.Experiments;

/// <summary>The layer stacks an MLP profile compares.</summary>
public enum StackVariant
{
    /// <summary>x ← act(W x + b).</summary>
    None,
    /// <summary>x ← x + act(W x + b).</summary>
    Residual,
    /// <summary>x ← x + act(W LayerNorm(x) + b).</summary>
    PreNorm,
}

/// <summary>Settings of <see cref="GradientProfileExperiment"/>.</summary>
public sealed record GradientProfileOptions
{
    /// <summary>"mlp" (a stack of Linear + activation) or "gpt".</summary>
    public string Model { get; init; } = "mlp";

    /// <summary>Layers (MLP) or blocks (GPT).</summary>
    public int Depth { get; init; } = 50;

    /// <summary>Stream width.</summary>
    public int Width { get; init; } = 32;

    /// <summary>MLP activation.</summary>
    public Activation Activation { get; init; } = Activation.Gelu;

    /// <summary>MLP stacks to compare.</summary>
    public IReadOnlyList<StackVariant> Variants { get; init; } = [StackVariant.None, StackVariant.Residual, StackVariant.PreNorm];

    /// <summary>GPT residual policies to compare.</summary>
    public IReadOnlyList<ResidualMode> Policies { get; init; } = [.. ResidualPolicies.All.Select(p => p.Mode)];

    /// <summary>GPT attention heads (must divide the width).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Samples (MLP) or sequences (GPT) in the batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>GPT tokens per sequence.</summary>
    public int Context { get; init; } = 32;

    /// <summary>Seed of weights and data.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Rejects settings the experiment cannot run with.</summary>
    public void Validate()
    {
        if (Model is not ("mlp" or "gpt")) throw new InvalidInputException($"must be mlp or gpt, got '{Model}'", field: nameof(Model));
        if (Depth is < 1 or > 1000) throw new InvalidInputException($"must be between 1 and 1000, got {Depth}", field: nameof(Depth));
        if (Width is < 1 or > 4096) throw new InvalidInputException($"must be between 1 and 4096, got {Width}", field: nameof(Width));
        if (BatchSize is < 1 or > 1024) throw new InvalidInputException($"must be between 1 and 1024, got {BatchSize}", field: nameof(BatchSize));
        if (Context is < 1 or > 1024) throw new InvalidInputException($"must be between 1 and 1024, got {Context}", field: nameof(Context));
        if (Model == "gpt" && (Heads < 1 || Width % Heads != 0)) throw new InvalidInputException($"must divide the width {Width}, got {Heads}", field: nameof(Heads));
        if (Model == "mlp" ? Variants.Count == 0 : Policies.Count == 0) throw new InvalidInputException("needs at least one", field: Model == "mlp" ? nameof(Variants) : nameof(Policies));
    }
}

/// <summary>
/// Without residuals dL/dx_0 = dL/dx_n J_n … J_1: a product of n Jacobians that shrinks or grows geometrically.
/// With them it is dL/dx_n (I + J_n) … (I + J_1), which keeps the identity's path to every layer.
/// </summary>
public sealed class GradientProfileExperiment(GradientProfileOptions options) : ILabExperiment
{
    public string Name => "gradient-profile";

    /// <summary>One configuration's gradient norms at layer inputs 0..n (n = the output of the last layer).</summary>
    public sealed record Profile(string Name, double[] Norms);

    public ExperimentResult Run()
    {
        options.Validate();
        var profiles = options.Model == "gpt"
            ? options.Policies.Select(p => new Profile(ResidualPolicies.Get(p).Legend, GptProfile(p))).ToList()
            : options.Variants.Select(v => new Profile(VariantName(v), MlpProfile(v))).ToList();
        string unit = options.Model == "gpt" ? "block" : "layer";
        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = options.Model == "gpt"
                ? $"Gradient at every block's input: a {options.Depth}-block GPT by residual policy"
                : $"Gradient at every layer's input: a {options.Depth}-layer stack, plain and residual",
            Description =
                "One batch forward and one Backward(); the gradient of the loss with respect to the stream entering each " +
                $"{unit} (kept with RetainGrad), as a norm over the whole batch. Without residuals x_l = f_l(x_(l−1)), so " +
                "dL/dx_0 = dL/dx_n J_n … J_1: a product of n Jacobians, which vanishes (or explodes) geometrically when their " +
                "typical gain is below (above) 1. With residuals x_l = x_(l−1) + f_l(…) and every factor is I + J_l: " +
                "(I + J_n) … (I + J_1) contains the identity as one of its terms, so the gradient has a direct path to every layer.\n\n" +
                (options.Model == "gpt"
                    ? "The GPT is freshly initialised (each policy with its own init: GPT-2's scaled projections, ReZero's zero gains, " +
                      "DeepNorm's beta), dropout off, on a batch of the built-in corpus at character level."
                    : $"Layers are Linear({options.Width}, {options.Width}) with PyTorch's default init U(−1/√W, 1/√W), then " +
                      $"{options.Activation}; inputs and targets N(0, 1); loss mean((x_n − t)²). The pre-norm stack applies LayerNorm " +
                      "before each layer inside the branch, as a transformer block does."),
            Parameters =
            [
                new("model", options.Model), new("depth", Text(options.Depth)), new("width", Text(options.Width)),
                options.Model == "gpt" ? new("heads", Text(options.Heads)) : new("activation", options.Activation.ToString()),
                new("batch", Text(options.BatchSize)),
                options.Model == "gpt" ? new("context", Text(options.Context)) : new("samples", "N(0, 1) inputs"),
                new("seed", options.Seed.ToString(CultureInfo.InvariantCulture)),
            ],
        };
        var table = new ResultTable
        {
            Id = "profile", Title = $"|dL/dx| at each {unit}'s input ({unit} {options.Depth} = the output of the last)",
            Columns = [new(unit), .. profiles.Select(p => new ResultColumn(p.Name, Format: "G4"))],
        };
        for (int l = 0; l <= options.Depth; l++)
            table.AddRow([l, .. profiles.Select(p => (TableCell)p.Norms[l])]);
        result.Tables.Add(table);
        var summary = new ResultTable
        {
            Id = "summary", Title = $"First {unit} against the output",
            Columns = [new("configuration"), new($"|dL/dx_0|", Format: "G4"), new($"|dL/dx_{options.Depth}|", Format: "G4"),
                       new("ratio first / output", Format: "G4"), new($"factor per {unit} (geometric)", Format: "G4")],
        };
        foreach (var p in profiles)
        {
            double ratio = p.Norms[0] / p.Norms[^1];
            summary.AddRow(p.Name, p.Norms[0], p.Norms[^1], ratio, ratio > 0 ? Math.Pow(ratio, 1.0 / options.Depth) : 0);
        }
        result.Tables.Add(summary);
        result.Charts.Add(new ChartSpec
        {
            Id = "profile", Kind = ChartKind.Line, Title = table.Title,
            Caption = "Log scale: a straight sloping line is geometric decay or growth with depth; a flat line is a gradient that " +
                      $"reaches every {unit} undiminished. Read from the right (the output) to the left (the input).",
            X = new AxisSpec(unit), Y = new AxisSpec("|dL/dx|", Scale: AxisScale.Log),
            Series = profiles.Select(p => new SeriesSpec
            {
                Name = p.Name, Points = p.Norms.Select((v, l) => new ChartPoint(l, v)).ToList(),
            }).ToList(),
        });
        foreach (var p in profiles) result.Findings.Add(Finding(p, unit));
        return result;
    }

    string Finding(Profile p, string unit)
    {
        double ratio = p.Norms[0] / p.Norms[^1];
        if (ratio == 0) return $"{p.Name}: the gradient at the input underflowed to 0 in float32 (it vanished completely through {options.Depth} {unit}s).";
        string trend = ratio < 0.1 ? "vanishes towards the input" : ratio > 10 ? "grows towards the input" : "stays within 10× of the output's";
        // Where the change happens: the largest step between neighbouring layers, against the geometric mean step.
        int step = Enumerable.Range(0, options.Depth).MaxBy(l => Math.Abs(Math.Log(p.Norms[l] / p.Norms[l + 1])));
        double stepRatio = p.Norms[step] / p.Norms[step + 1];
        string where = options.Depth > 2 && Math.Abs(Math.Log(stepRatio)) > 0.5 * Math.Abs(Math.Log(ratio)) && Math.Abs(Math.Log(stepRatio)) > 0.1
            ? $" Most of it happens in one step: ×{stepRatio:G3} across {unit} {step + 1}."
            : "";
        return $"{p.Name}: |dL/dx_0| / |dL/dx_{options.Depth}| = {ratio:G3} (×{Math.Pow(ratio, 1.0 / options.Depth):G4} per {unit}): the gradient {trend}.{where}";
    }

    /// <summary>Gradient norms at the inputs of a freshly initialised MLP stack of the given variant (same weights for every variant).</summary>
    public double[] MlpProfile(StackVariant variant)
    {
        int w = options.Width, n = options.Depth;
        var stack = new MlpStack(new MlpStackConfig { LayerSizes = Enumerable.Repeat(w, n + 1).ToArray(), Activation = options.Activation }, options.Seed);
        var norms = Enumerable.Range(0, n).Select(_ => new LayerNorm(w)).ToArray();
        var rng = new Rng(options.Seed + 1000);
        var input = Tensor.Normal(rng, 0f, 1f, options.BatchSize, w);
        var target = Tensor.Normal(rng, 0f, 1f, options.BatchSize, w);
        var stream = new List<Tensor>(n + 1);
        var x = input.WithGrad();
        for (int l = 0; l < n; l++)
        {
            x.RetainGrad = true;
            stream.Add(x);
            var layer = stack.Layers[l];
            x = variant switch
            {
                StackVariant.None => Activate(stack.Context.Threads, layer.Forward(stack.Context, x)),
                StackVariant.Residual => x + Activate(stack.Context.Threads, layer.Forward(stack.Context, x)),
                _ => x + Activate(stack.Context.Threads, layer.Forward(stack.Context, norms[l].Forward(stack.Context, x))),
            };
        }
        x.RetainGrad = true;
        stream.Add(x);
        var diff = x - target;
        O.Mean(diff * diff).Backward();
        return stream.Select(t => Math.Sqrt(t.Grad!.Data.Sum(g => (double)g * g))).ToArray();
    }

    Tensor Activate(Kernels.Parallelism threads, Tensor x) => options.Activation switch
    {
        Activation.Gelu => O.Gelu(threads, x),
        Activation.Tanh => O.Tanh(x),
        _ => O.Relu(x),
    };

    /// <summary>Gradient norms at every block input (and the last output) of a freshly initialised GPT with <paramref name="policy"/>.</summary>
    public double[] GptProfile(ResidualMode policy)
    {
        var corpus = LabCorpus.Builtin(20_000, (int)options.Seed);
        var config = new GptConfig
        {
            VocabSize = corpus.Tokenizer.VocabSize, ContextLength = options.Context, Width = options.Width, HeadCount = options.Heads,
            LayerCount = options.Depth, Dropout = 0f, Residual = policy, TieWeights = true,
        };
        var model = new Gpt(config, options.Seed);
        LabModels.InitializeFromData(model, corpus.Train, options.Context, options.BatchSize);
        var (inputs, targets) = LabModels.Windows(corpus.Train, options.Context, options.BatchSize);
        return LabModels.StreamGradientNorms(model, inputs, targets, options.BatchSize, options.Context);
    }

    static string VariantName(StackVariant variant) => variant switch
    {
        StackVariant.None => "plain: x = f(x)",
        StackVariant.Residual => "residual: x = x + f(x)",
        _ => "pre-norm residual: x = x + f(LN(x))",
    };

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
