// Reverse-mode automatic differentiation: a topological sort of the recorded graph and a reverse loop over it.
// Each op records its parents and one closure that adds (local derivative x upstream gradient) into them.
using ResidualLM.Tensors;

namespace ResidualLM.Autograd;

/// <summary>Records ops on tensors that require gradients and runs the backward pass.</summary>
public static class Graph
{
    // NOTE: per thread on purpose, like PyTorch's grad mode: a lexical scope of the calling code, not a setting. Every op
    // (a + b included) must see it, and the explicit alternative is a context argument on each of them.
    [ThreadStatic] static int noGradDepth;

    /// <summary>True when ops record backward closures (not inside a <see cref="NoGrad"/> scope).</summary>
    public static bool IsRecording => noGradDepth == 0;

    /// <summary>
    /// A scope in which ops record nothing (evaluation, generation, optimizer updates):
    /// <c>using (Graph.NoGrad()) { ... }</c>. Scopes nest; per thread.
    /// </summary>
    public static NoGradScope NoGrad()
    {
        noGradDepth++;
        return new NoGradScope();
    }

    /// <summary>Ends a <see cref="NoGrad"/> scope.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => noGradDepth--;
    }

    // The arena of the innermost Inference scope on this thread, or null: per thread for the reason above.
    [ThreadStatic] static TensorArena? arena;

    /// <summary>Where tensors created on this thread get their buffers now: an <see cref="Inference"/> scope's arena, or null.</summary>
    internal static TensorArena? Arena => arena;

    /// <summary>
    /// A <see cref="NoGrad"/> scope whose tensors take their buffers from <paramref name="stepArena"/> and give them back
    /// when it ends, for the next step to reuse (decoding: each token the same shapes, nothing allocated once the first
    /// token has run). Nothing created inside may be read after the scope; per thread; an arena serves one scope at a time.
    /// </summary>
    public static InferenceScope Inference(TensorArena stepArena)
    {
        ArgumentNullException.ThrowIfNull(stepArena);
        if (stepArena.InUse) throw new InvalidOperationException("this arena already serves an Inference scope");
        stepArena.InUse = true;
        var scope = new InferenceScope(arena, stepArena);
        arena = stepArena;
        noGradDepth++;
        return scope;
    }

    /// <summary>Ends an <see cref="Inference"/> scope: its arena's buffers are free for the next step.</summary>
    public readonly struct InferenceScope : IDisposable
    {
        readonly TensorArena? outer;
        readonly TensorArena inner;

        internal InferenceScope(TensorArena? outer, TensorArena inner) => (this.outer, this.inner) = (outer, inner);

        public void Dispose()
        {
            noGradDepth--;
            arena = outer;
            inner.InUse = false;
            inner.EndStep();
        }
    }

    /// <summary>
    /// Whether an op on these inputs must record a backward closure: recording is on and some input requires a gradient.
    /// </summary>
    internal static bool ShouldRecord(Tensor a) => noGradDepth == 0 && a.RequiresGrad;

    internal static bool ShouldRecord(Tensor a, Tensor b) => noGradDepth == 0 && (a.RequiresGrad || b.RequiresGrad);

    internal static bool ShouldRecord(ReadOnlySpan<Tensor> inputs)
    {
        if (noGradDepth != 0) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>
    /// Attaches parents and a backward closure to an op's output, marking it as requiring a gradient. The closure reads
    /// the output's gradient from <see cref="Tensor.Grad"/> and writes its inputs' gradients through the
    /// <see cref="GradientSink"/> it is given (the backward pass's: a data-parallel replica's goes to its own slots).
    /// </summary>
    internal static Tensor Record(Tensor output, Tensor[] parents, Action<GradientSink> backward)
    {
        output.RequiresGrad = true;
        output.Parents = parents;
        output.BackwardFn = backward;
        return output;
    }

    /// <summary>
    /// Backpropagates from <paramref name="root"/>. Without a seed the root must have one element and its gradient is 1.
    /// Gradients accumulate into leaves (so a tensor used twice, like x in x + f(x), gets both contributions), and
    /// the graph is released as backward goes: once a node's closure has run, its gradient buffer is reused (unless it
    /// has <see cref="Tensor.RetainGrad"/>) and the node drops its parents and closure; a later backward that reaches
    /// one of them throws. With <paramref name="reuseValues"/>, the value buffers of intermediate tensors are reused
    /// too (see <see cref="Tensor.Backward(bool)"/>).
    /// </summary>
    public static void Backward(Tensor root, Tensor? seed, bool reuseValues = false) => Backward(root, seed, reuseValues, default);

    /// <summary>
    /// <see cref="Backward(Tensor, Tensor?, bool)"/> writing the gradients of leaves through <paramref name="sink"/>
    /// (a data-parallel replica's slots).
    /// </summary>
    internal static void Backward(Tensor root, Tensor? seed, bool reuseValues, GradientSink sink) => Backward(root, seed, reuseValues, sink, null);

    /// <summary>
    /// <see cref="Backward(Tensor, Tensor?, bool, GradientSink)"/> that calls <paramref name="leafReady"/> (on this thread)
    /// for each leaf as soon as its gradient is final: once every node of the graph that reads it has run its closure.
    /// Leaves reach it in the order backward finishes them, roughly reverse model order (what DDP buckets by).
    /// </summary>
    internal static void Backward(Tensor root, Tensor? seed, bool reuseValues, GradientSink sink, Action<Tensor>? leafReady)
    {
        if (!root.RequiresGrad) throw new InvalidOperationException("Backward() on a tensor that does not require a gradient (was it computed in a NoGrad scope, or from inputs without RequiresGrad?)");
        if (seed is null && root.Size != 1) throw new InvalidOperationException($"Backward() without a seed needs a one-element tensor; this one has shape {root.ShapeString}");
        if (seed is not null && !seed.Shape.SequenceEqual(root.Shape)) throw new ArgumentException($"seed shape {seed.ShapeString} differs from {root.ShapeString}");
        List<Tensor> order = TopologicalOrder(root);
        // NOTE: a released node has lost its parents; going on would silently stop the gradient there (a second
        // Backward on the same loss, or a new graph built on an intermediate of an old one). Refuse, as PyTorch does.
        foreach (Tensor t in order)
            if (t.GraphReleased) throw new InvalidOperationException("Backward() through a graph already released by an earlier Backward(); recompute the forward pass (or keep the values with Clone()).");

        if (seed is null)
        {
            sink.OrZeros(root).Data[0] += 1f;
        }
        else
        {
            var g = sink.OrZeros(root);
            for (int i = 0; i < g.Size; i++) g.Data[i] += seed.Data[i];
        }

        // Value buffers that may be reused, with the number of graph nodes still to run that share each one
        // (Reshape outputs share their input's buffer; a leaf's buffer, e.g. a reshaped parameter, is never reused).
        Dictionary<float[], int>? sharers = reuseValues ? CountReusableValues(root, order) : null;
        Dictionary<Tensor, int>? readers = leafReady is null ? null : CountLeafReaders(order);
        for (int i = order.Count - 1; i >= 0; i--)
        {
            Tensor t = order[i];
            if (t.BackwardFn is null) continue;                       // a leaf: keeps its gradient
            if (t.Grad is not null) t.BackwardFn(sink);
            if (readers is not null)
                foreach (Tensor parent in t.Parents)
                    if (readers.TryGetValue(parent, out int uses))
                    {
                        if (uses > 1) readers[parent] = uses - 1;
                        else { readers.Remove(parent); leafReady!(parent); }
                    }
            // Every consumer of t ran before it (reverse topological order), so nothing reads t's gradient again,
            // and, with reuseValues, nothing reads its value once the last node sharing the buffer has run.
            t.BackwardFn = null;
            t.Parents = [];
            t.GraphReleased = true;
            if (!t.RetainGrad && t.Grad is not null)
            {
                BufferPool.Shared.Return(t.Grad.Data);
                t.Grad = null;
            }
            if (sharers is not null && sharers.TryGetValue(t.Data, out int left))
            {
                if (left > 1) sharers[t.Data] = left - 1;
                else { sharers.Remove(t.Data); BufferPool.Shared.Return(t.Data); }
            }
        }
    }

    /// <summary>Every leaf that requires a gradient, with the number of times graph nodes read it (a node reading it twice counts twice).</summary>
    static Dictionary<Tensor, int> CountLeafReaders(List<Tensor> order)
    {
        var counts = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        foreach (Tensor t in order)
            if (t.BackwardFn is not null)
                foreach (Tensor parent in t.Parents)
                    if (parent.BackwardFn is null && parent.RequiresGrad) counts[parent] = counts.GetValueOrDefault(parent) + 1;
        return counts;
    }

    /// <summary>Value buffers of interior nodes that no leaf, the root or a RetainGrad tensor holds, with their sharer counts.</summary>
    static Dictionary<float[], int> CountReusableValues(Tensor root, List<Tensor> order)
    {
        var counts = new Dictionary<float[], int>(ReferenceEqualityComparer.Instance);
        var kept = new HashSet<float[]>(ReferenceEqualityComparer.Instance) { root.Data };
        foreach (Tensor t in order)
        {
            if (t.BackwardFn is null || t.RetainGrad) { kept.Add(t.Data); continue; }
            counts[t.Data] = counts.GetValueOrDefault(t.Data) + 1;
        }
        foreach (float[] k in kept) counts.Remove(k);
        return counts;
    }

    /// <summary>Nodes reachable from root, each after all of its parents (iterative DFS: deep graphs must not overflow the stack).</summary>
    static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Node, int NextParent)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (next < node.Parents.Length)
            {
                stack.Push((node, next + 1));
                Tensor parent = node.Parents[next];
                if (parent.RequiresGrad && visited.Add(parent)) stack.Push((parent, 0));
            }
            else
            {
                order.Add(node);
            }
        }
        return order;
    }
}
