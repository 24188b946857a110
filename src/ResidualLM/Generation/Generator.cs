// Autoregressive generation: feed the prompt, then sample one token at a time, with a KV cache (each new token
// costs one position of compute) or by recomputing the whole window (the reference the cache is tested against).
// With the cache, a DecodeSession runs the model's own forward and computes only the sampled row of the head (screened when greedy).
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
        => Generate(model, prompt, maxNewTokens, sampling, rng, stopToken, useCache, onToken, fastPath: true);

    /// <summary>
    /// <see cref="Generate(LanguageModel, ReadOnlySpan{int}, int, SamplingOptions, Rng, int?, bool, Action{int}?)"/>;
    /// <paramref name="fastPath"/> false keeps the general model code for cached decoding (tests compare the two);
    /// <paramref name="screenHead"/> chooses the greedy head; <paramref name="onSession"/> sees the decode session when one runs (tests).
    /// </summary>
    internal static int[] Generate(LanguageModel model, ReadOnlySpan<int> prompt, int maxNewTokens, SamplingOptions sampling,
        Rng rng, int? stopToken, bool useCache, Action<int>? onToken, bool fastPath, HeadScreen screenHead = HeadScreen.Auto,
        Action<DecodeSession>? onSession = null)
    {
        sampling.Validate();
        if (prompt.Length == 0) throw new InvalidInputException("the prompt is empty (it needs at least one token)", field: "prompt");
        if (maxNewTokens < 0) throw new InvalidInputException($"must be >= 0, got {maxNewTokens}", field: "max new tokens");
        foreach (int id in prompt)
            if ((uint)id >= (uint)model.VocabSize) throw new InvalidInputException($"token id {id} is outside the model's vocabulary of {model.VocabSize}", field: "prompt");
        var tokens = new List<int>(prompt.ToArray());
        var output = new List<int>();
        DecodeSession? session = null;
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var _ = Graph.NoGrad();
            if (useCache && tokens.Count > model.ContextLength)
                throw new InvalidInputException($"the prompt has {tokens.Count} tokens, more than the model's context length {model.ContextLength}", field: "prompt");
            // Sized for the positions this call can feed (prompt and all but the last new token), not the whole context.
            int capacity = Math.Min(model.ContextLength, tokens.Count + maxNewTokens);
            // The cached forward with a head that computes only the last row (the same tokens as the general path).
            session = useCache && fastPath && maxNewTokens > 0 ? DecodeSession.TryCreate(model, capacity, sampling.Temperature == 0f, screenHead) : null;
            if (session is not null) onSession?.Invoke(session);
            var cache = useCache && session is null ? new KvCache(model.Blocks.Count, capacity) : null;
            int[] pending = tokens.ToArray();
            for (int step = 0; step < maxNewTokens; step++)
            {
                int next;
                if (session is not null)
                {
                    if (session.Length + pending.Length > model.ContextLength) break;
                    next = session.Next(pending, sampling, rng);
                }
                else next = NextByForward(model, tokens, ref pending, cache, sampling, rng);
                if (next < 0) break;
                tokens.Add(next);
                output.Add(next);
                onToken?.Invoke(next);
                if (next == stopToken) break;
                pending = [next];
            }
        }
        finally
        {
            session?.Dispose();
            if (wasTraining) model.Train();
        }
        return output.ToArray();
    }

    /// <summary>
    /// The next token by a forward pass of the general model code: over the pending ids with a cache, else over the
    /// last context-length tokens; -1 when the cache has no room left.
    /// </summary>
    static int NextByForward(LanguageModel model, List<int> tokens, ref int[] pending, KvCache? cache, SamplingOptions sampling, Rng rng)
    {
        Tensor logits;
        if (cache is not null)
        {
            if (cache.Length + pending.Length > model.ContextLength) return -1;
            logits = model.Forward(pending, 1, pending.Length, cache);
        }
        else
        {
            int start = Math.Max(0, tokens.Count - model.ContextLength);
            pending = tokens.GetRange(start, tokens.Count - start).ToArray();
            logits = model.Forward(pending, 1, pending.Length);
        }
        int vocab = logits.Dim(-1);
        return Sampler.Sample(logits.Data.AsSpan((pending.Length - 1) * vocab, vocab), sampling, rng);
    }
}
