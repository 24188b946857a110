// Picks the next token from a row of logits: greedy, temperature, top-k and top-p (nucleus), seeded.
using ResidualLM.Tensors;

namespace ResidualLM.Generation;

/// <summary>How to choose the next token.</summary>
/// <param name="Temperature">0 means greedy (argmax); otherwise logits are divided by it before softmax.</param>
/// <param name="TopK">Keep only the k most likely tokens (0: all).</param>
/// <param name="TopP">Keep the smallest set of most likely tokens whose probability reaches p (1: all).</param>
public sealed record SamplingOptions(float Temperature = 1f, int TopK = 0, float TopP = 1f)
{
    /// <summary>Greedy decoding.</summary>
    public static SamplingOptions Greedy { get; } = new(0f);

    /// <summary>Throws <see cref="InvalidInputException"/> for values out of range.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0f) || float.IsInfinity(Temperature)) throw new InvalidInputException($"must be a finite number >= 0, got {Temperature}", field: "temperature");
        if (TopK < 0) throw new InvalidInputException($"must be >= 0, got {TopK}", field: "top-k");
        if (!(TopP > 0f && TopP <= 1f)) throw new InvalidInputException($"must be in (0, 1], got {TopP}", field: "top-p");
    }
}

/// <summary>Token selection from logits.</summary>
public static class Sampler
{
    /// <summary>Chooses a token id from one row of logits (V).</summary>
    public static int Sample(ReadOnlySpan<float> logits, SamplingOptions options, Rng rng)
    {
        if (logits.Length == 0) throw new ArgumentException("no logits");
        if (options.Temperature == 0f) return ArgMax(logits);
        int vocab = logits.Length;
        // Candidates sorted by logit, descending (ties by id for determinism).
        var ids = new int[vocab];
        for (int i = 0; i < vocab; i++) ids[i] = i;
        var keys = logits.ToArray();
        Array.Sort(ids, (x, y) => keys[y] != keys[x] ? keys[y].CompareTo(keys[x]) : x.CompareTo(y));
        int keep = options.TopK > 0 ? Math.Min(options.TopK, vocab) : vocab;
        var probs = new double[keep];
        double max = keys[ids[0]] / options.Temperature, sum = 0;
        for (int i = 0; i < keep; i++) { probs[i] = Math.Exp(keys[ids[i]] / options.Temperature - max); sum += probs[i]; }
        if (options.TopP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probs[i] / sum;
                if (cumulative >= options.TopP) { keep = i + 1; break; }
            }
            sum = 0;
            for (int i = 0; i < keep; i++) sum += probs[i];
        }
        double u = rng.NextDouble() * sum;
        for (int i = 0; i < keep; i++)
        {
            u -= probs[i];
            if (u < 0) return ids[i];
        }
        return ids[keep - 1];
    }

    /// <summary>The index of the largest logit (the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
