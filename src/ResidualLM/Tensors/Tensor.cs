// The float32 tensor: a shape over a contiguous row-major buffer, plus what reverse-mode autograd needs.
// Limits: always contiguous; the only view is Reshape (shares the buffer). Transposes live in kernel indexing.
using System.Text;
using ResidualLM.Autograd;

namespace ResidualLM.Tensors;

/// <summary>
/// A float32 tensor, row-major and contiguous. Tensors produced by ops on inputs that require gradients remember
/// how they were made (<see cref="Parents"/> and a backward closure), so <see cref="Backward()"/> can send gradients
/// back to the leaves (parameters and inputs) through the chain rule.
/// </summary>
public sealed class Tensor
{
    readonly int[] shape;

    /// <summary>The elements, row-major. Its length is <see cref="Size"/>.</summary>
    public float[] Data { get; }

    /// <summary>Number of elements.</summary>
    public int Size { get; }

    /// <summary>Optional name (parameters are named like <c>blocks.0.attn.qkv.weight</c>).</summary>
    public string? Name { get; set; }

    /// <summary>Whether gradients should flow into this tensor.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Keep <see cref="Grad"/> after backward even though this tensor is an intermediate result (e.g. the residual stream, for the lab).</summary>
    public bool RetainGrad { get; set; }

    /// <summary>The gradient accumulated by <see cref="Backward()"/>; same shape; null until a gradient arrives.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>
    /// Per-replica gradients of a parameter during a data-parallel step (replica 0 uses <see cref="Grad"/>), written by
    /// backward passes given that replica's <see cref="GradientSink"/>; null otherwise.
    /// </summary>
    internal Tensor?[]? ReplicaGrads { get; set; }

    /// <summary>The tensors this one was computed from (empty for leaves and for released graphs).</summary>
    internal Tensor[] Parents { get; set; } = [];

    /// <summary>Adds this tensor's gradient, times the local derivative, into the gradients of its parents (written through the sink).</summary>
    internal Action<GradientSink>? BackwardFn { get; set; }

    /// <summary>True once a backward pass has released the graph that produced this tensor: it cannot be backpropagated through again.</summary>
    internal bool GraphReleased { get; set; }

    /// <summary>Creates a tensor of zeros.</summary>
    public Tensor(params int[] shape) : this(BufferPool.Shared.Rent(CheckedSize(shape), clear: true), shape) { }

    /// <summary>A tensor whose elements are arbitrary (a reused buffer): only for ops that overwrite every element.</summary>
    internal static Tensor Uninitialized(params int[] shape) => new(BufferPool.Shared.Rent(CheckedSize(shape), clear: false), shape);

    /// <summary>Wraps <paramref name="data"/> (not copied) with the given shape.</summary>
    public Tensor(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        int size = CheckedSize(shape);
        if (data.Length != size)
            throw new ArgumentException($"data has {data.Length} elements but shape [{string.Join(", ", shape)}] needs {size}");
        this.shape = (int[])shape.Clone();
        Data = data;
        Size = size;
    }

    static int CheckedSize(int[] shape)
    {
        long size = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape [{string.Join(", ", shape)}]");
            size *= d;
            if (size > Array.MaxLength) throw new ArgumentException($"shape [{string.Join(", ", shape)}] is too large");
        }
        return (int)size;
    }

    /// <summary>The dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Shape => shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => shape.Length;

    /// <summary>Size of dimension <paramref name="dim"/>; negative values count from the end.</summary>
    public int Dim(int dim) => shape[dim < 0 ? shape.Length + dim : dim];

    /// <summary>The elements as a span.</summary>
    public Span<float> Span => Data;

    internal int[] ShapeArray => shape;

    // ---- creation -------------------------------------------------------------------------------

    public static Tensor Zeros(params int[] shape) => new(shape);

    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = new Tensor(shape);
        t.Data.AsSpan().Fill(value);
        return t;
    }

    /// <summary>A tensor holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape) => new(values.ToArray(), shape);

    /// <summary>A one-element tensor of shape [] (a scalar).</summary>
    public static Tensor Scalar(float value) => new([value]);

    /// <summary>Normal(mean, std) entries drawn from <paramref name="rng"/>.</summary>
    public static Tensor Normal(Rng rng, float mean, float std, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Size; i++) t.Data[i] = mean + std * rng.NextGaussian();
        return t;
    }

    /// <summary>Uniform[low, high) entries drawn from <paramref name="rng"/>.</summary>
    public static Tensor Uniform(Rng rng, float low, float high, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Size; i++) t.Data[i] = low + (high - low) * rng.NextFloat();
        return t;
    }

    /// <summary>Marks this tensor as a leaf that receives gradients; returns it for chaining.</summary>
    public Tensor WithGrad(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    // ---- views and values -----------------------------------------------------------------------

    /// <summary>
    /// The same elements under another shape (free: shares the buffer). One dimension may be -1 (inferred).
    /// Gradients flow through unchanged.
    /// </summary>
    public Tensor Reshape(params int[] newShape) => Ops.Ops.Reshape(this, newShape);

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Size != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, this one has shape {ShapeString}");
        return Data[0];
    }

    /// <summary>A copy of the elements.</summary>
    public float[] ToArray() => (float[])Data.Clone();

    /// <summary>Element at a multi-dimensional index.</summary>
    [System.Runtime.CompilerServices.IndexerName("Element")]
    public float this[params int[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    int Offset(int[] index)
    {
        if (index.Length != shape.Length) throw new ArgumentException($"index has {index.Length} dims, tensor has {shape.Length}");
        int offset = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)shape[i]) throw new IndexOutOfRangeException($"index {index[i]} out of range for dim {i} of size {shape[i]}");
            offset = offset * shape[i] + index[i];
        }
        return offset;
    }

    /// <summary>The shape as text, e.g. <c>[4, 64, 768]</c>.</summary>
    public string ShapeString => "[" + string.Join(", ", shape) + "]";

    /// <summary>A detached copy (no graph, no gradient).</summary>
    public Tensor Clone() => new((float[])Data.Clone(), shape) { Name = Name };

    /// <summary>Sets the gradient to null (the next backward starts from zero).</summary>
    public void ZeroGrad() => Grad = null;

    /// <summary>
    /// Sets the gradient to null; with <paramref name="reuseBuffer"/>, its buffer goes back to the pool for the next
    /// backward (a reference to the old <see cref="Grad"/> held elsewhere must then not be read).
    /// </summary>
    public void ZeroGrad(bool reuseBuffer)
    {
        if (reuseBuffer && Grad is not null) BufferPool.Shared.Return(Grad.Data);
        Grad = null;
    }

    /// <summary>Runs reverse-mode autograd from this scalar: d(this)/d(leaf) accumulates into every leaf's <see cref="Grad"/>.</summary>
    public void Backward() => Graph.Backward(this, null);

    /// <summary><see cref="Backward(bool)"/> with the leaves' gradients written through <paramref name="sink"/> (a data-parallel replica's).</summary>
    internal void Backward(bool reuseBuffers, GradientSink sink) => Graph.Backward(this, null, reuseBuffers, sink);

    /// <summary>
    /// <see cref="Backward(bool)"/> that calls <paramref name="leafReady"/> with each leaf (a parameter, say) as soon as
    /// its gradient is final, while backward goes on with the rest of the graph (a distributed run starts reducing it).
    /// </summary>
    public void Backward(bool reuseBuffers, Action<Tensor> leafReady) => Graph.Backward(this, null, reuseBuffers, default, leafReady);

    /// <summary>Runs reverse-mode autograd seeded with <paramref name="gradient"/> (same shape as this tensor).</summary>
    public void Backward(Tensor gradient) => Graph.Backward(this, gradient);

    /// <summary>
    /// Like <see cref="Backward()"/>; with <paramref name="reuseBuffers"/> the values of every intermediate tensor of the
    /// graph (all but this root, the leaves and tensors marked <see cref="RetainGrad"/>) go back to the pool as soon as
    /// backward no longer needs them, as PyTorch frees saved activations. Read nothing of the graph (e.g. the logits)
    /// afterwards: training loops use this to keep a step's memory flat.
    /// </summary>
    public void Backward(bool reuseBuffers) => Graph.Backward(this, null, reuseBuffers);

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor").Append(ShapeString);
        if (Name is not null) sb.Append(' ').Append(Name);
        sb.Append(" [");
        int shown = Math.Min(Size, 8);
        for (int i = 0; i < shown; i++) sb.Append(i > 0 ? ", " : "").Append(Data[i].ToString("G5", System.Globalization.CultureInfo.InvariantCulture));
        if (Size > shown) sb.Append(", ...");
        return sb.Append(']').ToString();
    }

    public static Tensor operator +(Tensor a, Tensor b) => Ops.Ops.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Ops.Subtract(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Ops.Multiply(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Ops.Divide(a, b);
    public static Tensor operator +(Tensor a, float s) => Ops.Ops.AddScalar(a, s);
    public static Tensor operator *(Tensor a, float s) => Ops.Ops.MultiplyScalar(a, s);
    public static Tensor operator *(float s, Tensor a) => Ops.Ops.MultiplyScalar(a, s);
    public static Tensor operator -(Tensor a) => Ops.Ops.MultiplyScalar(a, -1f);
}
