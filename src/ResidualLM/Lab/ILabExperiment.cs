// The contract every lab experiment meets, and the catalogue of experiments with their default settings (which
// `rlm lab report` runs when the run folder is still empty). To add an experiment: implement ILabExperiment, add
// an entry to LabCatalog.All, and give it a subcommand with LabCommand.AddExperiment in the CLI.
namespace ResidualLM.Lab;

/// <summary>An experiment: configured by its constructor (a sealed options record), run once, returns its result.</summary>
public interface ILabExperiment
{
    /// <summary>Command-style name, also the result's file stem: <c>tanh-stack</c>.</summary>
    string Name { get; }

    /// <summary>Runs the experiment (computing gradients with the engine's autograd) and returns tables, charts and findings.</summary>
    ExperimentResult Run();
}

/// <summary>A catalogue entry: an experiment's name, a one-line summary and how to make it with default settings.</summary>
/// <param name="Name">Command-style name (<c>edits</c>).</param>
/// <param name="Summary">One line for help text.</param>
/// <param name="IsCheap">True when it runs in well under a second, so the report may run it on demand.</param>
/// <param name="CreateDefault">Makes the experiment with its default options.</param>
public sealed record LabCatalogEntry(string Name, string Summary, bool IsCheap, Func<ILabExperiment> CreateDefault);

/// <summary>Every lab experiment, in report order.</summary>
public static class LabCatalog
{
    public static readonly IReadOnlyList<LabCatalogEntry> All =
    [
        new("edits", "The residual stream as a running sum of edits, and the local gradient 1 + f'(x)", true,
            () => new Experiments.EditsExperiment()),
        new("tanh-stack", "A tanh layer stacked plain vs residual: the gradient reaching the input, by depth", true,
            () => new Experiments.TanhStackExperiment(new Experiments.TanhStackOptions())),
        new("gradients", "The book's chapter-4 demo: mean |dL/dW| per layer of a 5-layer GELU stack, without and with shortcuts", true,
            () => new Experiments.GradientsExperiment(new Experiments.GradientsOptions())),
        new("paths", "The gradient split into shortcut and branch paths, exactly, and by path length (Veit et al. 2016)", true,
            () => new Experiments.PathsExperiment(new Experiments.PathsOptions())),
        new("gradient-profile", "The gradient norm at every layer's input of a deep stack, plain vs residual vs pre-norm", true,
            () => new Experiments.GradientProfileExperiment(new Experiments.GradientProfileOptions())),
        new("depth-sweep", "Train the same small GPT at several depths under each residual policy: validation loss and first-block gradient", false,
            () => new Experiments.DepthSweepExperiment(new Experiments.DepthSweepOptions())),
        new("stream", "The residual stream block by block: edit sizes and directions, and the logit lens", false,
            () => new Experiments.StreamExperiment(new Experiments.StreamOptions())),
        new("lesion", "Delete each block in turn and measure the loss: residual vs plain (Veit et al. 2016)", false,
            () => new Experiments.LesionExperiment(new Experiments.LesionOptions())),
    ];

    /// <summary>The order of <paramref name="experiment"/> in the catalogue (unknown names sort last).</summary>
    public static int OrderOf(string experiment)
    {
        for (int i = 0; i < All.Count; i++) if (All[i].Name == experiment) return i;
        return int.MaxValue;
    }
}
