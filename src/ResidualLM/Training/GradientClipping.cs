// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_): one scale for all parameters together.
// The squares are summed in double, per fixed chunk of each gradient and chunk after chunk, so the norm does not
// depend on the thread count.
using ResidualLM.Kernels;

namespace ResidualLM.Training;

/// <summary>Global-norm gradient utilities.</summary>
public static class GradientClipping
{
    const int Chunk = 1 << 16;

    /// <summary>
    /// sqrt(sum over parameters of |grad|^2), accumulated in double; NaN or infinity if any gradient is. Computed on
    /// <paramref name="threads"/>, or on the calling thread alone when null (the same value either way).
    /// </summary>
    public static double GlobalNorm(IEnumerable<Tensor> parameters, Parallelism? threads = null)
    {
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        var chunks = new List<(float[] Data, int From, int Length)>();
        foreach (var g in grads)
            for (int from = 0; from < g.Size; from += Chunk) chunks.Add((g.Data, from, Math.Min(Chunk, g.Size - from)));
        var sums = new double[chunks.Count];
        Action<int, int> square = (start, end) =>
        {
            for (int i = start; i < end; i++) sums[i] = GradientNorm.SumOfSquares(chunks[i].Data.AsSpan(chunks[i].From, chunks[i].Length));
        };
        if (threads is null) square(0, chunks.Count);
        else threads.For(0, chunks.Count, square, costPerItem: 2L * Chunk);
        double sum = 0;
        foreach (double s in sums) sum += s;
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// Scales every gradient by maxNorm / norm when the global norm exceeds <paramref name="maxNorm"/> (nothing when it is
    /// not finite or maxNorm is 0); returns the norm before clipping.
    /// </summary>
    public static double ClipByGlobalNorm(IReadOnlyCollection<Tensor> parameters, double maxNorm) =>
        ClipByGlobalNorm(parameters, maxNorm, GlobalNorm(parameters));

    /// <summary><see cref="ClipByGlobalNorm(IReadOnlyCollection{Tensor}, double)"/> given the norm already computed.</summary>
    public static double ClipByGlobalNorm(IReadOnlyCollection<Tensor> parameters, double maxNorm, double norm)
    {
        if (!double.IsFinite(norm) || maxNorm <= 0 || norm <= maxNorm) return norm;
        float scale = (float)(maxNorm / (norm + 1e-6));
        foreach (var p in parameters)
            if (p.Grad is not null) GradientNorm.Scale(p.Grad.Data, scale);
        return norm;
    }
}
