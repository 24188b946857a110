// Autoregressive generation: feed the prompt, then sample one token at a time, with a KV cache (each new token
// costs one position of compute) or by recomputing the whole window (the reference the cache is tested against).
using ResidualLM.Autograd;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;

namespace ResidualLM.Generation;

/// <summary>Generates token ids from a language model.</summary>
public static class Generator
{
    /// <summary>
    /// Continues <paramref name="prompt"/> by up to <paramref name="maxNewTokens"/> tokens, stopping after
    /// <paramref name="stopToken"/> when given. <paramref name="onToken"/> sees each new id as it is chosen (streaming).
    /// With <paramref name="useCache"/>, generation stops at the model's context length; without it, the window slides.
    /// </summary>
    public static int[] Generate(LanguageModel model, ReadOnlySpan<int> prompt, int maxNewTokens, SamplingOptions sampling,
        Rng rng, int? stopToken = null, bool useCache = true, Action<int>? onToken = null)
    {
        sampling.Validate();
        if (prompt.Length == 0) throw new InvalidInputException("the prompt is empty (it needs at least one token)", field: "prompt");
        if (maxNewTokens < 0) throw new InvalidInputException($"must be >= 0, got {maxNewTokens}", field: "max new tokens");
        foreach (int id in prompt)
            if ((uint)id >= (uint)model.VocabSize) throw new InvalidInputException($"token id {id} is outside the model's vocabulary of {model.VocabSize}", field: "prompt");
        var tokens = new List<int>(prompt.ToArray());
        var output = new List<int>();
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var _ = Graph.NoGrad();
            if (useCache && tokens.Count > model.ContextLength)
                throw new InvalidInputException($"the prompt has {tokens.Count} tokens, more than the model's context length {model.ContextLength}", field: "prompt");
            // Sized for the positions this call can feed (prompt and all but the last new token), not the whole context.
            var cache = useCache ? new KvCache(model.Blocks.Count, Math.Min(model.ContextLength, tokens.Count + maxNewTokens)) : null;
            int[] pending = tokens.ToArray();
            for (int step = 0; step < maxNewTokens; step++)
            {
                Tensor logits;
                if (cache is not null)
                {
                    if (cache.Length + pending.Length > model.ContextLength) break;
                    logits = model.Forward(pending, 1, pending.Length, cache);
                }
                else
                {
                    int start = Math.Max(0, tokens.Count - model.ContextLength);
                    pending = tokens.GetRange(start, tokens.Count - start).ToArray();
                    logits = model.Forward(pending, 1, pending.Length);
                }
                int vocab = logits.Dim(-1);
                int next = Sampler.Sample(logits.Data.AsSpan((pending.Length - 1) * vocab, vocab), sampling, rng);
                tokens.Add(next);
                output.Add(next);
                onToken?.Invoke(next);
                if (next == stopToken) break;
                pending = [next];
            }
        }
        finally
        {
            if (wasTraining) model.Train();
        }
        return output.ToArray();
    }
}
