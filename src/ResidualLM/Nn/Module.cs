// The base of every layer and model: owns named parameters and child modules, and a train/eval switch.
// Names are dotted paths (blocks.0.attn.qkv.weight), as in PyTorch state dicts; a tensor shared by two
// modules (a tied output head) is listed once, under the first name met.
namespace ResidualLM.Nn;

/// <summary>
/// A layer or model: named parameters, named children, and a training flag that dropout reads.
/// Subclasses create their parameters with <see cref="Parameter"/> and their sub-layers with <see cref="Child{T}"/>.
/// </summary>
public abstract class Module
{
    readonly List<(string Name, Tensor Tensor)> parameters = [];
    readonly List<(string Name, Module Module)> children = [];

    /// <summary>True in training mode (dropout active); set for the whole tree by <see cref="Train"/> and <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    ComputeContext? context;

    /// <summary>
    /// How this module computes when it is the one called (a model's forward, a trainer): the model owns its context and
    /// hands it down to every module and op of a forward pass, so a child's own is not read then. A default context
    /// until one is set.
    /// </summary>
    public ComputeContext Context
    {
        get => context ??= new ComputeContext();
        set => context = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Registers a parameter (marked as requiring a gradient) under a local name; returns it.</summary>
    protected Tensor Parameter(string name, Tensor tensor)
    {
        if (name.Length == 0 || name.Contains('.')) throw new ArgumentException($"parameter name '{name}' must be non-empty and without dots");
        tensor.RequiresGrad = true;
        parameters.Add((name, tensor));
        return tensor;
    }

    /// <summary>
    /// Registers a child module under a local name (its parameters become <c>name.*</c>); returns it. An empty name
    /// merges the child's parameters into this module's namespace (a residual policy's <c>norm1</c> reads as the block's).
    /// </summary>
    protected T Child<T>(string name, T module) where T : Module
    {
        if (name.Contains('.')) throw new ArgumentException($"child name '{name}' must not contain dots");
        children.Add((name, module));
        return module;
    }

    /// <summary>The direct children, in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> Children => children;

    /// <summary>
    /// Every parameter of this module and its descendants, depth-first in registration order, with its dotted name.
    /// A tensor reachable under two names (weight tying) appears once, under the first.
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters()
    {
        var result = new List<(string, Tensor)>();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        Collect("", result, seen);
        return result;
    }

    void Collect(string prefix, List<(string, Tensor)> result, HashSet<Tensor> seen)
    {
        foreach (var (name, tensor) in parameters)
        {
            if (!seen.Add(tensor)) continue;
            result.Add((prefix + name, tensor));
        }
        foreach (var (name, child) in children) child.Collect(name.Length == 0 ? prefix : prefix + name + ".", result, seen);
    }

    /// <summary>Sets each parameter's <see cref="Tensor.Name"/> to its full dotted name (models call this once built).</summary>
    protected void NameParameters()
    {
        foreach (var (name, tensor) in NamedParameters()) tensor.Name = name;
    }

    /// <summary>The parameters by name (the tensors themselves, not copies): the content of a checkpoint.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in NamedParameters()) dict[name] = tensor;
        return dict;
    }

    /// <summary>
    /// Copies values into the parameters by name. With <paramref name="strict"/>, every parameter must be present
    /// and no unknown name may appear. Shapes must match. Throws <see cref="InvalidInputException"/> naming the tensor.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        foreach (var (name, source) in state)
        {
            if (!own.TryGetValue(name, out var target))
            {
                if (strict) throw new InvalidInputException("unknown parameter", field: name);
                continue;
            }
            if (!source.Shape.SequenceEqual(target.Shape))
                throw new InvalidInputException($"shape {source.ShapeString} does not match the model's {target.ShapeString}", field: name);
            source.Data.AsSpan().CopyTo(target.Data);
        }
        if (strict)
            foreach (var name in own.Keys)
                if (!state.ContainsKey(name)) throw new InvalidInputException("missing parameter", field: name);
    }

    /// <summary>Number of scalar parameters (shared tensors counted once).</summary>
    public long ParameterCount()
    {
        long n = 0;
        foreach (var (_, t) in NamedParameters()) n += t.Size;
        return n;
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad() => ZeroGrad(reuseBuffers: false);

    /// <summary>
    /// Clears every parameter's gradient; with <paramref name="reuseBuffers"/> the gradient buffers are kept for the
    /// next backward instead of being left to the GC (old <c>Grad</c> references must then not be read), and the
    /// buffer pool grows if the step just finished handed back more than it could keep (a training loop calls this
    /// once per step: the step's whole working set is then reused, not reallocated).
    /// </summary>
    public void ZeroGrad(bool reuseBuffers)
    {
        foreach (var (_, t) in NamedParameters()) t.ZeroGrad(reuseBuffers);
        if (reuseBuffers) Tensors.BufferPool.Shared.FitWorkingSet();
    }

    /// <summary>Switches this module and all descendants to training mode (dropout on). Returns this.</summary>
    public Module Train() => SetTraining(true);

    /// <summary>Switches this module and all descendants to evaluation mode (dropout off). Returns this.</summary>
    public Module Eval() => SetTraining(false);

    Module SetTraining(bool training)
    {
        Training = training;
        foreach (var (_, child) in children) child.SetTraining(training);
        return this;
    }
}
