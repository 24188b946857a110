// Where a backward pass writes the gradients of an op's inputs. Data-parallel replicas share the parameters and run
// their backward passes at once, so each passes its own sink and a shared parameter's gradient lands in its slot.
using ResidualLM.Tensors;

namespace ResidualLM.Autograd;

/// <summary>
/// The gradients a backward pass writes: each tensor's own <see cref="Tensor.Grad"/> (the default sink), or for replica
/// r &gt; 0 of a data-parallel step, slot r - 1 of <see cref="Tensor.ReplicaGrads"/> of a parameter that has them.
/// </summary>
internal readonly record struct GradientSink(int Replica)
{
    /// <summary>The gradient of <paramref name="t"/> in this sink (null until one arrives).</summary>
    public Tensor? Of(Tensor t) => Replica != 0 && t.ReplicaGrads is { } slots ? slots[Replica - 1] : t.Grad;

    /// <summary>Sets the gradient of <paramref name="t"/> in this sink.</summary>
    public void Set(Tensor t, Tensor? gradient)
    {
        if (Replica != 0 && t.ReplicaGrads is { } slots) slots[Replica - 1] = gradient;
        else t.Grad = gradient;
    }

    /// <summary>The gradient of <paramref name="t"/>, created as zeros when absent.</summary>
    public Tensor OrZeros(Tensor t)
    {
        if (Of(t) is { } existing) return existing;
        var zeros = new Tensor(t.ShapeArray);
        Set(t, zeros);
        return zeros;
    }

    /// <summary>
    /// The gradient buffer of <paramref name="t"/> for a backward closure to write into. <paramref name="accumulate"/> is
    /// true when it already holds a gradient to add to; when false the buffer is new and uninitialised, and the caller
    /// must overwrite every element (a first gradient is written, not added to zeros: one pass over memory fewer).
    /// </summary>
    public float[] Buffer(Tensor t, out bool accumulate)
    {
        if (Of(t) is { } existing)
        {
            accumulate = true;
            return existing.Data;
        }
        accumulate = false;
        var fresh = Tensor.Uninitialized(t.ShapeArray);
        Set(t, fresh);
        return fresh.Data;
    }
}
