// The chapter-4 shortcut demo of "Build a Large Language Model (from Scratch)": a 5-layer GELU stack 3-3-3-3-3-1, one
// input [[1, 0, -1]], target [[0]], MSE loss; the mean |dL/dW| of each layer's weight without and with shortcuts.
// Limits: the stack is tiny and one input is one sample, so the result varies with the initial weights; the
// experiment therefore also repeats the comparison over several seeds and reports how often the pattern holds.
using System.Globalization;
using System.Text.Json;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Tensors;

namespace ResidualLM.Lab.Experiments;

/// <summary>Settings of <see cref="GradientsExperiment"/>.</summary>
public sealed record GradientsOptions
{
    /// <summary>A safetensors file with <c>layers.{i}.weight</c> (out, in) and <c>layers.{i}.bias</c>; both runs start from it.</summary>
    public string? InitPath { get; init; }

    /// <summary>Without <see cref="InitPath"/>: the weights of torch.manual_seed(Seed) and nn.Linear's default init, reproduced bit for bit (123: the book's).</summary>
    public ulong Seed { get; init; } = 123;

    /// <summary>Seeds of the robustness summary (seeds Seed, Seed+1, ...); 0 skips it.</summary>
    public int SummarySeeds { get; init; } = 20;

    /// <summary>Rejects settings the experiment cannot run with.</summary>
    public void Validate()
    {
        if (InitPath is not null && !File.Exists(InitPath)) throw new InvalidInputException("file not found", InitPath, nameof(InitPath));
        if (SummarySeeds is < 0 or > 10_000) throw new InvalidInputException($"must be between 0 and 10000, got {SummarySeeds}", field: nameof(SummarySeeds));
    }
}

/// <summary>
/// Without shortcuts dL/dx_0 is a product of five layer Jacobians, each shrinking the gradient (GELU' &lt; 1 around 0,
/// weights below 1); with x = x + layer(x) every factor is I + J and the gradient reaches the first layer.
/// </summary>
public sealed class GradientsExperiment(GradientsOptions options) : ILabExperiment
{
    /// <summary>The book's layer sizes: five layers, 3 → 3 → 3 → 3 → 3 → 1.</summary>
    public static readonly int[] LayerSizes = [3, 3, 3, 3, 3, 1];

    public string Name => "gradients";

    /// <summary>Mean |dL/dW| per layer (first layer first), for both stacks.</summary>
    public sealed record Measurement(double[] WithoutShortcut, double[] WithShortcut);

    /// <summary>Runs both stacks from the same weights <paramref name="state"/> (or the seeded init) and measures.</summary>
    public static Measurement Measure(IReadOnlyDictionary<string, Tensor>? state, ulong seed) =>
        new(MeanAbsoluteWeightGradients(false, state, seed), MeanAbsoluteWeightGradients(true, state, seed));

    /// <summary>Forward on [[1, 0, −1]], MSE against [[0]], Backward(); the mean |grad| of each layer's weight.</summary>
    public static double[] MeanAbsoluteWeightGradients(bool shortcut, IReadOnlyDictionary<string, Tensor>? state, ulong seed)
    {
        var model = new MlpStack(new MlpStackConfig { LayerSizes = LayerSizes, Activation = Activation.Gelu, Shortcut = shortcut }, seed);
        model.LoadStateDict(state ?? TorchSeededState(seed));
        var input = Tensor.FromArray([1f, 0f, -1f], 1, 3);
        var target = Tensor.FromArray([0f], 1, 1);
        MlpStack.MseLoss(model.Forward(input), target).Backward();
        return model.Layers.Items.Select(layer => layer.Weight.Grad!.Data.Average(g => Math.Abs((double)g))).ToArray();
    }

    /// <summary>
    /// The weights PyTorch gives the book's network after torch.manual_seed(seed): its nn.Linear layers initialised in
    /// order from the same MT19937 stream (bit for bit; the book uses seed 123 for both networks).
    /// </summary>
    public static Dictionary<string, Tensor> TorchSeededState(ulong seed)
    {
        var generator = new TorchGenerator(unchecked((uint)seed));
        var state = new Dictionary<string, Tensor>();
        for (int i = 0; i + 1 < LayerSizes.Length; i++)
        {
            var weight = new Tensor(LayerSizes[i + 1], LayerSizes[i]);
            var bias = new Tensor(LayerSizes[i + 1]);
            generator.InitializeLinear(weight, bias);
            state[$"layers.{i}.weight"] = weight;
            state[$"layers.{i}.bias"] = bias;
        }
        return state;
    }

    /// <summary>Reads <c>layers.{i}.weight</c> and <c>layers.{i}.bias</c> for the book's sizes from a safetensors file.</summary>
    public static Dictionary<string, Tensor> ReadInit(string path)
    {
        using var file = SafeTensors.Read(path);
        var state = new Dictionary<string, Tensor>();
        for (int i = 0; i < LayerSizes.Length - 1; i++)
        {
            foreach (var (name, shape) in new[] { ($"layers.{i}.weight", new[] { LayerSizes[i + 1], LayerSizes[i] }), ($"layers.{i}.bias", new[] { LayerSizes[i + 1] }) })
            {
                if (!file.Contains(name)) throw new InvalidInputException("missing tensor", path, name);
                int[] stored = file.Info(name).ShapeAsInt32();
                if (!stored.SequenceEqual(shape))
                    throw new InvalidInputException($"shape [{string.Join(", ", stored)}], expected [{string.Join(", ", shape)}] (PyTorch's (out, in) layout)", path, name);
                state[name] = Tensor.FromArray(file.ReadFloat32(name), shape);
            }
        }
        return state;
    }

    /// <summary>The compact JSON of <c>rlm lab gradients --json</c>: <c>{"without_shortcut": [...], "with_shortcut": [...]}</c>.</summary>
    public static string CompactJson(ExperimentResult result)
    {
        var table = result.Tables.Single(t => t.Id == "layers");
        double[] Column(int c) => table.Rows.Select(r => r[c].Number!.Value).ToArray();
        return JsonSerializer.Serialize(new Dictionary<string, double[]> { ["without_shortcut"] = Column(1), ["with_shortcut"] = Column(2) });
    }

    public ExperimentResult Run()
    {
        options.Validate();
        var state = options.InitPath is null ? null : ReadInit(options.InitPath);
        var main = Measure(state, options.Seed);
        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = "Shortcut connections: the gradient reaching each layer of a 5-layer stack",
            Description =
                "The chapter-4 demo of \"Build a Large Language Model (from Scratch)\": five Linear layers (3 → 3 → 3 → 3 → 3 → 1), " +
                "each followed by GELU (tanh approximation), one input [[1, 0, −1]], target [[0]], mean squared error. The table " +
                "gives the mean absolute gradient of each layer's weight matrix after one Backward(), for the plain stack " +
                "(x ← GELU(Wx + b)) and for the same weights with shortcuts (x ← x + GELU(Wx + b) where the shapes match, " +
                "i.e. every layer but the last).\n\n" +
                "The gradient reaching layer l passes through the Jacobians of all the layers above it. Plain: a product of " +
                "J_5 … J_(l+1), each typically shrinking it. With shortcuts each factor is I + J, which keeps a path that " +
                "passes the gradient through unchanged.",
            Parameters =
            [
                new("init", options.InitPath is null ? $"torch.manual_seed({options.Seed}) + nn.Linear defaults, reproduced exactly" : Path.GetFileName(options.InitPath),
                    "starting weights, the same for both stacks"),
                new("seeds", options.SummarySeeds.ToString(CultureInfo.InvariantCulture), "seeds of the robustness summary"),
            ],
        };
        var table = new ResultTable
        {
            Id = "layers", Title = "Mean |dL/dW| of each layer's weight",
            Note = "Layer 1 is the first (input) layer, layer 5 the last (3 → 1, no shortcut because the shapes differ).",
            Columns = [new("layer"), new("without shortcut", Format: "G6"), new("with shortcut", Format: "G6"), new("with / without", Format: "G4")],
        };
        for (int i = 0; i < main.WithoutShortcut.Length; i++)
            table.AddRow(i + 1, main.WithoutShortcut[i], main.WithShortcut[i], main.WithShortcut[i] / main.WithoutShortcut[i]);
        result.Tables.Add(table);
        result.Charts.Add(new ChartSpec
        {
            Id = "layers", Kind = ChartKind.Bar, Title = "Mean |dL/dW| by layer, without and with shortcuts",
            Caption = "Log scale. Without shortcuts the bars fall towards the first layer; with them the first layers keep a gradient of the same order.",
            X = new AxisSpec("layer"), Y = new AxisSpec("mean |dL/dW|", Scale: AxisScale.Log),
            Categories = Enumerable.Range(1, main.WithoutShortcut.Length).Select(i => $"layer {i}").ToList(),
            Series = [new SeriesSpec { Name = "without shortcut", Values = main.WithoutShortcut.Select(v => (double?)v).ToList() },
                      new SeriesSpec { Name = "with shortcut", Values = main.WithShortcut.Select(v => (double?)v).ToList() }],
        });
        AddFindings(result, main);
        if (options.SummarySeeds > 0 && state is null) AddSeedSummary(result);
        return result;
    }

    static void AddFindings(ExperimentResult result, Measurement m)
    {
        double plainRatio = m.WithoutShortcut[^1] / m.WithoutShortcut[0], shortcutRatio = m.WithShortcut[^1] / m.WithShortcut[0];
        result.Findings.Add($"Without shortcuts the first layer's gradient ({m.WithoutShortcut[0]:G3}) is {plainRatio:G3}× smaller than the last " +
            $"layer's ({m.WithoutShortcut[^1]:G3}); with shortcuts it is {m.WithShortcut[0]:G3}, {shortcutRatio:G3}× smaller than the last.");
        result.Findings.Add($"The shortcut multiplies the first layer's gradient by {m.WithShortcut[0] / m.WithoutShortcut[0]:G3}.");
        int shortcutLayers = m.WithShortcut.Length - 1;
        double spread = m.WithShortcut[..shortcutLayers].Max() / m.WithShortcut[..shortcutLayers].Min();
        result.Findings.Add($"With shortcuts the {shortcutLayers} layers that have one stay within a factor {spread:G3} of each other " +
            $"(without: {m.WithoutShortcut[..shortcutLayers].Max() / m.WithoutShortcut[..shortcutLayers].Min():G3}).");
    }

    /// <summary>The same comparison from many seeded inits: how often the first layer gets over 10× less than the last.</summary>
    void AddSeedSummary(ExperimentResult result)
    {
        var table = new ResultTable
        {
            Id = "seeds", Title = $"Last-layer / first-layer gradient over {options.SummarySeeds} seeded inits",
            Note = "A ratio above 10 means the first layer gets over 10× less gradient than the last.",
            Columns = [new("seed"), new("without shortcut", Format: "G4"), new("with shortcut", Format: "G4")],
        };
        int plainVanish = 0, shortcutVanish = 0, shortcutBetter = 0;
        var plainRatios = new List<double>();
        var shortcutRatios = new List<double>();
        for (int s = 0; s < options.SummarySeeds; s++)
        {
            ulong seed = options.Seed + (ulong)s;
            var m = Measure(null, seed);
            double plain = m.WithoutShortcut[^1] / m.WithoutShortcut[0], shortcut = m.WithShortcut[^1] / m.WithShortcut[0];
            table.AddRow(seed.ToString(CultureInfo.InvariantCulture), plain, shortcut);
            plainRatios.Add(plain);
            shortcutRatios.Add(shortcut);
            if (plain > 10) plainVanish++;
            if (shortcut > 10) shortcutVanish++;
            if (m.WithShortcut[0] > m.WithoutShortcut[0]) shortcutBetter++;
        }
        result.Tables.Add(table);
        int n = options.SummarySeeds;
        result.Findings.Add($"Over {n} seeded inits the first layer got over 10× less gradient than the last in {plainVanish}/{n} plain stacks " +
            $"and {shortcutVanish}/{n} stacks with shortcuts (geometric-mean ratio {GeometricMean(plainRatios):G3} against " +
            $"{GeometricMean(shortcutRatios):G3}); the shortcut raised the first layer's gradient in {shortcutBetter}/{n}.");
    }

    static double GeometricMean(IEnumerable<double> values) => Math.Exp(values.Average(Math.Log));
}
