// A summary of a model for `rlm inspect` and the lab: architecture, parameter counts, residual connections.
using System.Globalization;
using System.Text;
using ResidualLM.Nn;

namespace ResidualLM.Models;

/// <summary>What a model is and how big: counts computed from its parameters, not from its config.</summary>
/// <param name="Architecture">Family and shape, e.g. "GPT, 12 layers, 12 heads, width 768, PreNorm".</param>
/// <param name="Parameters">Distinct parameters of this model as built (a tied head counted once).</param>
/// <param name="ParametersUntied">Parameters with the output head counted as its own matrix (the book's "total").</param>
/// <param name="ParametersTied">Parameters with the output head sharing the token embedding (the book's count without the head).</param>
/// <param name="Tied">Whether the output head shares the token embedding.</param>
/// <param name="Blocks">Transformer blocks (or MLP layers).</param>
/// <param name="ResidualConnections">Shortcut paths: two per transformer block unless the policy is None.</param>
public sealed record ModelInfo(string Architecture, long Parameters, long ParametersUntied, long ParametersTied, bool Tied, int Blocks, int ResidualConnections)
{
    /// <summary>Summarises any model of the library.</summary>
    public static ModelInfo Of(Module model) => model switch
    {
        Gpt gpt => Decoder("GPT", gpt, gpt.Config.LayerCount, gpt.Config.HeadCount, gpt.Config.Width),
        Llama llama => Decoder("Llama", llama, llama.Config.LayerCount, llama.Config.HeadCount, llama.Config.Width),
        Encoder enc => new ModelInfo(
            $"Encoder, {enc.Config.LayerCount} layers, {enc.Config.HeadCount} heads, width {enc.Config.Width}, {enc.Config.ClassCount} classes, PreNorm",
            enc.ParameterCount(), enc.ParameterCount(), enc.ParameterCount(), false, enc.Config.LayerCount, 2 * enc.Config.LayerCount),
        MlpStack mlp => new ModelInfo(
            $"MLP [{string.Join(", ", mlp.Config.LayerSizes)}], {mlp.Config.Activation}, shortcut {(mlp.Config.Shortcut ? "on" : "off")}",
            mlp.ParameterCount(), mlp.ParameterCount(), mlp.ParameterCount(), false, mlp.Layers.Count, Shortcuts(mlp)),
        _ => new ModelInfo(model.GetType().Name, model.ParameterCount(), model.ParameterCount(), model.ParameterCount(), false, 0, 0),
    };

    static ModelInfo Decoder(string family, LanguageModel model, int layers, int heads, int width)
    {
        long count = model.ParameterCount();
        bool tied = model.Head is null;
        int residuals = model.Blocks.Items.Sum(b => (b.Residual1.HasShortcut ? 1 : 0) + (b.Residual2.HasShortcut ? 1 : 0));
        long head = model.TokenEmbedding.Weight.Size;
        long untied = tied ? count + head : count;
        return new ModelInfo($"{family}, {layers} layers, {heads} heads, width {width}, {model.ResidualMode}",
            count, untied, untied - head, tied, layers, residuals);
    }

    static int Shortcuts(MlpStack mlp)
    {
        if (!mlp.Config.Shortcut) return 0;
        var s = mlp.Config.LayerSizes;
        return Enumerable.Range(0, s.Length - 1).Count(i => s[i] == s[i + 1]);
    }

    /// <summary>Multi-line text for the console.</summary>
    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(Architecture);
        sb.AppendLine(string.Format(c, "parameters: {0:N0} ({1} head; {2:N0} untied, {3:N0} tied)", Parameters, Tied ? "tied" : "own", ParametersUntied, ParametersTied));
        sb.Append(string.Format(c, "residual connections: {0}", ResidualConnections));
        return sb.ToString();
    }
}
