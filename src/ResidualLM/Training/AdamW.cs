// AdamW (Loshchilov and Hutter 2019) exactly as torch.optim.AdamW: decoupled weight decay, bias-corrected moments.
// One fused, vectorised pass per tensor (decay, moments, update; Kernels.Optimizer), split over threads for large tensors. State saves by name.
using ResidualLM.Autograd;
using ResidualLM.Kernels;

namespace ResidualLM.Training;

/// <summary>Hyper-parameters of <see cref="AdamW"/>; defaults are PyTorch's.</summary>
public sealed record AdamWSettings
{
    /// <summary>Step size (may be changed between steps by a schedule through <see cref="AdamW.LearningRate"/>).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Decay of the first-moment (mean gradient) average.</summary>
    public float Beta1 { get; init; } = 0.9f;

    /// <summary>Decay of the second-moment (mean squared gradient) average.</summary>
    public float Beta2 { get; init; } = 0.999f;

    /// <summary>Added to sqrt(v-hat) to avoid division by zero.</summary>
    public float Epsilon { get; init; } = 1e-8f;

    /// <summary>Decoupled weight decay: p -= lr * WeightDecay * p, applied only to parameters marked to decay.</summary>
    public float WeightDecay { get; init; } = 1e-2f;
}

/// <summary>Saved optimizer state: the step count and both moments of each parameter, by parameter name.</summary>
public sealed class AdamWState
{
    public long Step { get; init; }
    public Dictionary<string, float[]> FirstMoment { get; init; } = [];
    public Dictionary<string, float[]> SecondMoment { get; init; } = [];
}

/// <summary>
/// The optimizer. For each parameter p with gradient g, at step t (from 1):
/// p -= lr wd p (if it decays); m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
/// Parameters without a gradient are skipped (their moments stay).
/// </summary>
public sealed class AdamW
{
    sealed class Slot(string name, Tensor parameter, bool decay)
    {
        public readonly string Name = name;
        public readonly Tensor Parameter = parameter;
        public readonly bool Decay = decay;
        public readonly float[] M = new float[parameter.Size];
        public readonly float[] V = new float[parameter.Size];
    }

    readonly List<Slot> slots = [];

    public AdamWSettings Settings { get; }

    /// <summary>The learning rate of the next step (initially <see cref="AdamWSettings.LearningRate"/>).</summary>
    public float LearningRate { get; set; }

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>
    /// Optimizes the given named parameters. <paramref name="decays"/> decides which get weight decay; by default the
    /// matrices (rank &gt;= 2: linear and embedding weights) do and vectors (biases, norm gains) do not, as in nanoGPT.
    /// <see cref="Step"/> runs on <paramref name="threads"/> (the model's, say), or on the calling thread alone when null.
    /// </summary>
    public AdamW(IEnumerable<(string Name, Tensor Parameter)> parameters, AdamWSettings settings, Func<string, Tensor, bool>? decays = null,
        Parallelism? threads = null)
    {
        this.threads = threads;
        Settings = settings;
        LearningRate = settings.LearningRate;
        decays ??= (_, p) => p.Rank >= 2;
        var names = new HashSet<string>();
        foreach (var (name, p) in parameters)
        {
            if (!names.Add(name)) throw new ArgumentException($"parameter '{name}' is listed twice");
            slots.Add(new Slot(name, p, decays(name, p)));
        }
    }

    readonly Parallelism? threads;

    /// <summary>Names of the parameters that receive weight decay.</summary>
    public IEnumerable<string> DecayedNames => slots.Where(s => s.Decay).Select(s => s.Name);

    /// <summary>Applies one update from the current gradients.</summary>
    public void Step()
    {
        StepCount++;
        float lr = LearningRate, b1 = Settings.Beta1, b2 = Settings.Beta2, eps = Settings.Epsilon;
        float stepSize = lr / (1f - MathF.Pow(b1, StepCount));
        float rootCorrection = MathF.Sqrt(1f - MathF.Pow(b2, StepCount));
        float decayShrink = 1f - lr * Settings.WeightDecay;
        using var _ = Graph.NoGrad();
        // One parallel loop over chunks of every tensor (memory-bound: 16k elements are 448 KB of streams), so a model of
        // many small tensors keeps both cores busy too, not only the large matrices. Element-wise: any split gives the same result.
        (int Slot, int From, int Length)[] work = chunks ??= Chunks();
        Action<int, int> update = (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                var (index, from, length) = work[i];
                var slot = slots[index];
                if (slot.Parameter.Grad is not { } grad) continue;
                Kernels.Optimizer.AdamWUpdate(grad.Data.AsSpan(from, length), slot.Parameter.Data.AsSpan(from, length), slot.M.AsSpan(from, length),
                    slot.V.AsSpan(from, length), b1, b2, slot.Decay ? decayShrink : 1f, stepSize, rootCorrection, eps);
            }
        };
        if (threads is null) update(0, work.Length);
        else threads.For(0, work.Length, update, costPerItem: 10L * Chunk);
    }

    const int Chunk = 16384;
    (int Slot, int From, int Length)[]? chunks;

    (int Slot, int From, int Length)[] Chunks()
    {
        var list = new List<(int, int, int)>();
        for (int i = 0; i < slots.Count; i++)
            for (int from = 0; from < slots[i].Parameter.Size; from += Chunk)
                list.Add((i, from, Math.Min(Chunk, slots[i].Parameter.Size - from)));
        return list.ToArray();
    }

    /// <summary>Clears the gradients of every optimized parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var slot in slots) slot.Parameter.ZeroGrad();
    }

    /// <summary>A copy of the state (step count and moments by name).</summary>
    public AdamWState GetState() => GetState(copy: true);

    /// <summary>
    /// The state; with <paramref name="copy"/> false the moments are the optimizer's own arrays, valid until the next
    /// <see cref="Step"/> (a checkpoint written between steps needs no copy of two model-sized arrays).
    /// </summary>
    public AdamWState GetState(bool copy) => new()
    {
        Step = StepCount,
        FirstMoment = slots.ToDictionary(s => s.Name, s => copy ? (float[])s.M.Clone() : s.M),
        SecondMoment = slots.ToDictionary(s => s.Name, s => copy ? (float[])s.V.Clone() : s.V),
    };

    /// <summary>Restores a state saved by <see cref="GetState(bool)"/>; every parameter must be present with its size.</summary>
    public void LoadState(AdamWState state)
    {
        foreach (var slot in slots)
        {
            if (!state.FirstMoment.TryGetValue(slot.Name, out var m) || !state.SecondMoment.TryGetValue(slot.Name, out var v))
                throw new InvalidInputException("optimizer state has no moments for this parameter", field: slot.Name);
            if (m.Length != slot.M.Length || v.Length != slot.V.Length)
                throw new InvalidInputException($"optimizer moments have {m.Length} elements, the parameter {slot.M.Length}", field: slot.Name);
            m.CopyTo(slot.M, 0);
            v.CopyTo(slot.V, 0);
        }
        StepCount = state.Step;
    }
}
