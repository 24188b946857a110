// A deep stack of small Linear + activation layers, with optional shortcuts: the chapter-4 demo of "Build a Large
// Language Model (from Scratch)" showing that x = x + layer(x) keeps gradients alive at depth.
using ResidualLM.Nn;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Models;

/// <summary>The activation after every layer of an <see cref="MlpStack"/>.</summary>
public enum Activation
{
    /// <summary>GELU, tanh approximation (as the book).</summary>
    Gelu,
    Tanh,
    Relu,
}

/// <summary>Configuration of an <see cref="MlpStack"/>.</summary>
public sealed record MlpStackConfig
{
    /// <summary>Widths from input to output: [3, 3, 3, 3, 3, 1] is five layers mapping 3 -> 1 (the book's example).</summary>
    public int[] LayerSizes { get; init; } = [3, 3, 3, 3, 3, 1];

    /// <summary>The activation applied after every layer, the last included.</summary>
    public Activation Activation { get; init; } = Activation.Gelu;

    /// <summary>Add the layer's input to its output wherever the shapes match.</summary>
    public bool Shortcut { get; init; }

    /// <summary>Throws <see cref="InvalidInputException"/> naming the field at fault.</summary>
    public MlpStackConfig Validate()
    {
        if (LayerSizes is null || LayerSizes.Length < 2) throw new InvalidInputException("needs at least an input and an output width", field: nameof(LayerSizes));
        for (int i = 0; i < LayerSizes.Length; i++) ConfigChecks.Positive(LayerSizes[i], $"{nameof(LayerSizes)}[{i}]");
        if (!Enum.IsDefined(Activation)) throw new InvalidInputException($"unknown activation {(int)Activation}", field: nameof(Activation));
        return this;
    }
}

/// <summary>
/// y = act(layer_i(x)); x = Shortcut and shapes match ? x + y : y, for each layer. Parameters <c>layers.{i}.weight</c>
/// and <c>layers.{i}.bias</c>, initialised as PyTorch's Linear: U(-1/sqrt(in), 1/sqrt(in)).
/// </summary>
public sealed class MlpStack : Module
{
    public MlpStackConfig Config { get; }
    public ModuleList<Linear> Layers { get; }

    public MlpStack(MlpStackConfig config, ulong seed = 123)
    {
        Config = config.Validate();
        var rng = new Rng(seed);
        var sizes = config.LayerSizes;
        Layers = Child("layers", new ModuleList<Linear>(Enumerable.Range(0, sizes.Length - 1).Select(i =>
        {
            var layer = new Linear(sizes[i], sizes[i + 1], bias: true, rng);
            float bound = 1f / MathF.Sqrt(sizes[i]);
            foreach (var p in new[] { layer.Weight, layer.Bias! })
                for (int j = 0; j < p.Size; j++) p.Data[j] = (2f * rng.NextFloat() - 1f) * bound;
            return layer;
        })));
        NameParameters();
    }

    /// <summary>(N, LayerSizes[0]) -> (N, LayerSizes[^1]), computed with <see cref="Module.Context"/>.</summary>
    public Tensor Forward(Tensor x)
    {
        var context = Context;
        foreach (var layer in Layers.Items)
        {
            var y = Activate(context.Threads, layer.Forward(context, x));
            x = Config.Shortcut && x.Shape.SequenceEqual(y.Shape) ? x + y : y;
        }
        return x;
    }

    Tensor Activate(Kernels.Parallelism threads, Tensor x) => Config.Activation switch
    {
        Activation.Gelu => O.Gelu(threads, x),
        Activation.Tanh => O.Tanh(x),
        _ => O.Relu(x),
    };

    /// <summary>Mean squared error, mean over all elements (PyTorch's MSELoss).</summary>
    public static Tensor MseLoss(Tensor output, Tensor target)
    {
        var diff = output - target;
        return O.Mean(diff * diff);
    }
}
