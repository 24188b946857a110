// Incremental decoding: the prompt (T rows) and then each new token (one row) run through the model's own modules with a
// KV cache (LanguageModel.ForwardNormed), so a new architecture or residual policy decodes as soon as its forward exists,
// and the logits are bit for bit those of LanguageModel.Forward with a cache. What is the session's own is the head:
// only the last position's logits are computed, with the arithmetic the full head would use for that row, and greedy
// decoding picks the token with a ScreenedHead, which skips most of the vocabulary. Each step runs in a Graph.Inference
// scope over the session's TensorArena, so after the first token the steps reuse the same tensor buffers (what is still
// allocated is tensor objects and shapes, about 3.5 KB a block). V vocabulary, C width.
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;

namespace ResidualLM.Generation;

/// <summary>Whether greedy decoding screens the head: where it pays (AVX-VNNI), never, or always (tests: every path computes the same tokens).</summary>
internal enum HeadScreen { Auto, Off, Force }

/// <summary>The cached path of Generator.Generate with a head that computes only the row it samples from.</summary>
internal sealed class DecodeSession : IDisposable
{
    readonly LanguageModel model;
    readonly KvCache cache;
    readonly ScreenedHead? screen;
    readonly Tensor headWeight;                 // (V, C): the head, or the token table when tied
    readonly QuantizedMatrix? quantizedHead;    // the same in a block format, when the model is quantised
    readonly QuantizedActivations headScratch = new();
    readonly float[] logits;                    // the full logits of the last row when needed (V)
    readonly TensorArena arena = new();         // the buffers of one step's tensors, reused by the next

    DecodeSession(LanguageModel model, int capacity, ScreenedHead? screen)
    {
        this.model = model;
        this.screen = screen;
        cache = new KvCache(model.Blocks.Count, capacity);
        headWeight = model.Head?.Weight ?? model.TokenEmbedding.Weight;
        quantizedHead = QuantizedHead(model);
        logits = new float[headWeight.Dim(0)];
    }

    /// <summary>
    /// A session for up to <paramref name="capacity"/> positions, or null when the model is training or its head has a
    /// bias (the general path then runs). <paramref name="greedy"/> builds the screened head as <paramref name="screenHead"/> says.
    /// </summary>
    public static DecodeSession? TryCreate(LanguageModel model, int capacity, bool greedy, HeadScreen screenHead = HeadScreen.Auto)
    {
        if (model.Training || model.Head is { Bias: not null }) return null;
        var head = model.Head?.Weight ?? model.TokenEmbedding.Weight;
        // The screen bounds float32 products; a quantised head's logits are its own, computed in full.
        var screen = greedy && screenHead != HeadScreen.Off && QuantizedHead(model) is null
            ? ScreenedHead.Rent(head, model.Context.Threads, force: screenHead == HeadScreen.Force) : null;
        return new DecodeSession(model, Math.Clamp(capacity, 1, model.ContextLength), screen);
    }

    static QuantizedMatrix? QuantizedHead(LanguageModel model) => model.Head is { } head ? head.Quantized : model.TokenEmbedding.Quantized;

    /// <summary>The screened head greedy steps use, or null (tests).</summary>
    internal ScreenedHead? Screen => screen;

    /// <summary>Positions the session can hold (tests).</summary>
    internal int Capacity => cache.Capacity;

    /// <summary>The logits (V) behind the last token when it was sampled from the full head (tests).</summary>
    internal ReadOnlySpan<float> Logits => logits;

    /// <summary>Positions cached so far.</summary>
    public int Length => cache.Length;

    /// <summary>Feeds <paramref name="ids"/> (the prompt, then each chosen token) and returns the next token.</summary>
    public int Next(int[] ids, SamplingOptions sampling, Rng rng)
    {
        int rows = ids.Length, start = cache.Length;
        if (rows < 1 || start + rows > cache.Capacity) throw new InvalidInputException($"positions {start}..{start + rows - 1} exceed the context length {cache.Capacity}", field: "time");
        using var step = Graph.Inference(arena);                                 // every tensor below lives until the return
        var normed = model.ForwardNormed(ids, 1, rows, cache);                   // (1, T, C)
        int width = normed.Dim(-1);
        ReadOnlySpan<float> last = normed.Data.AsSpan((rows - 1) * width, width);
        if (sampling.Temperature == 0f && screen is not null) return screen.ArgMax(last, rows, rows - 1, logits);
        if (quantizedHead is not null) BlockDot.Multiply(model.Context.Threads, last, 1, quantizedHead, default, logits, headScratch);
        else GemmElements.Row(model.Context.Threads, last, headWeight.Data, logits, rows, logits.Length, rows - 1);
        return Sampler.Sample(logits, sampling, rng);
    }

    /// <summary>Hands the screened head's and the tensors' buffers back for the next generation.</summary>
    public void Dispose()
    {
        screen?.Return();
        arena.Release();
        headScratch.Dispose();
    }
}
