// Batch-1 incremental decoding with every buffer allocated once per generation. The prompt goes through the general
// model code into the KV cache (prefill); each new token then runs the blocks on one row with the kernels the general
// path uses for one row, in the same order (Gemm for every projection, the norm row kernels, the same activation calls,
// DecodeAttention in place of AttentionKernel), so logits and tokens are bit for bit those of LanguageModel.Forward with
// a cache. Only the last prompt position goes through the head, with the arithmetic the prefill's full head would use
// for it; greedy decoding picks tokens with a ScreenedHead. C width, NH heads, HS head size, H hidden width, V vocabulary.
// Limits: Gpt and Llama modules (LayerNorm or RmsNorm, the five residual policies, GELU MLP or SwiGLU, learned or rotary
// positions), evaluation mode, no skipped blocks, no head bias; TryCreate returns null for anything else.
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using ResidualLM.Autograd;
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;

namespace ResidualLM.Generation;

/// <summary>The fast path of Generator.Generate with a KV cache, for the models it covers.</summary>
internal sealed class DecodeSession : IDisposable
{
    readonly LanguageModel model;
    readonly KvCache cache;
    readonly ScreenedHead? screen;
    readonly Tensor headWeight;                 // (V, C): the head, or the token table when tied
    readonly int width, heads, headSize, vocab;
    readonly float[][] keysTransposed;          // per layer (NH, HS, stride): the cached keys as DecodeAttention reads them
    readonly float[] x, normed, sublayer, sum, qkv, attention, hiddenA, hiddenB, scores, logits;

    DecodeSession(LanguageModel model, int capacity, ScreenedHead? screen, int hidden)
    {
        this.model = model;
        this.screen = screen;
        cache = new KvCache(model.Blocks.Count, capacity);
        headWeight = model.Head?.Weight ?? model.TokenEmbedding.Weight;
        var first = model.Blocks[0].Attention;
        width = first.Width; heads = first.HeadCount; headSize = first.HeadSize; vocab = headWeight.Dim(0);
        keysTransposed = new float[model.Blocks.Count][];
        for (int i = 0; i < keysTransposed.Length; i++) keysTransposed[i] = new float[width * DecodeAttention.Stride(capacity)];
        x = new float[width]; normed = new float[width]; sublayer = new float[width]; sum = new float[width];
        qkv = new float[3 * width]; attention = new float[width];
        hiddenA = new float[hidden]; hiddenB = new float[hidden];
        scores = new float[heads * DecodeAttention.Stride(capacity)];
        logits = new float[vocab];
    }

    /// <summary>
    /// A session for up to <paramref name="capacity"/> positions, or null when <paramref name="model"/> has a module the
    /// fast path does not cover. <paramref name="greedy"/> builds the screened head (unless <paramref name="screenHead"/> is false).
    /// </summary>
    public static DecodeSession? TryCreate(LanguageModel model, int capacity, bool greedy, bool screenHead = true)
    {
        if (model.Training || model.SkippedBlocks.Count > 0 || model.Blocks.Count == 0 || !IsNorm(model.FinalNorm)) return null;
        if (model.Head is { Bias: not null }) return null;
        var first = model.Blocks[0].Attention;
        int hidden = 0;
        foreach (var block in model.Blocks.Items)
        {
            var a = block.Attention;
            if (!a.Causal || a.Width != first.Width || a.HeadCount != first.HeadCount || (a.Rope is { } rope && rope.HeadSize != a.HeadSize)) return null;
            if (!IsPolicy(block.Residual1) || !IsPolicy(block.Residual2)) return null;
            switch (block.FeedForward)
            {
                case FeedForward f: hidden = Math.Max(hidden, f.Fc.OutFeatures); break;
                case SwiGlu g: hidden = Math.Max(hidden, g.W1.OutFeatures); break;
                default: return null;
            }
        }
        if (!model.TryEmbedOne(0, 0, new float[first.Width])) return null;
        var head = model.Head?.Weight ?? model.TokenEmbedding.Weight;
        var screen = greedy && screenHead ? ScreenedHead.Rent(head) : null;
        return new DecodeSession(model, Math.Clamp(capacity, 1, model.ContextLength), screen, hidden);
    }

    static bool IsNorm(Layer layer) => layer is LayerNorm or RmsNorm;

    static bool IsPolicy(Residual residual) => residual switch
    {
        NoResidual or ReZeroResidual => true,
        PreNormResidual p => IsNorm(p.Norm),
        PostNormResidual p => IsNorm(p.Norm),
        DeepNormResidual d => IsNorm(d.Norm),
        _ => false,
    };

    /// <summary>The logits (V) behind the last token when it was sampled from the full head (tests).</summary>
    internal ReadOnlySpan<float> Logits => logits;

    /// <summary>Positions cached so far.</summary>
    public int Length => cache.Length;

    /// <summary>Feeds <paramref name="ids"/> (the prompt, then each chosen token) and returns the next token.</summary>
    public int Next(int[] ids, SamplingOptions sampling, Rng rng)
    {
        using var _ = Graph.NoGrad();
        bool greedy = sampling.Temperature == 0f;
        int rows;
        if (ids.Length == 1 && cache.Length > 0)
        {
            Step(ids[0]);
            rows = 1;
        }
        else
        {
            Prefill(ids);
            rows = ids.Length;
        }
        if (greedy && screen is not null) return screen.ArgMax(normed, rows, rows - 1, logits);
        GemmElements.Row(normed, headWeight.Data, logits, rows, vocab, rows - 1);
        return Sampler.Sample(logits, sampling, rng);
    }

    /// <summary>The blocks over the prompt by the general path; leaves the final norm of its last position in <c>normed</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Prefill(int[] ids)
    {
        int start = cache.Length, time = ids.Length;
        var stream = model.ForwardBlocks(ids, 1, time, cache);                    // (1, T, C)
        Norm(model.FinalNorm, stream.Data.AsSpan((time - 1) * width, width), normed);
        int stride = DecodeAttention.Stride(cache.Capacity);
        for (int layer = 0; layer < keysTransposed.Length; layer++)
        {
            float[] keys = cache.Layer(layer).Keys, keysT = keysTransposed[layer];
            for (int h = 0; h < heads; h++)
                for (int t = start; t < start + time; t++)
                    for (int d = 0; d < headSize; d++)
                        keysT[(h * headSize + d) * stride + t] = keys[(h * cache.Capacity + t) * headSize + d];
        }
    }

    /// <summary>One token at the next position through every block: x = Residual1(x, Attention); x = Residual2(x, FeedForward).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Step(int id)
    {
        if (cache.Length >= cache.Capacity) throw new InvalidInputException($"position {cache.Length} exceeds the context length {cache.Capacity}", field: "time");
        if ((uint)id >= (uint)model.VocabSize) throw new InvalidInputException($"id {id} is outside [0, {model.VocabSize})", field: "ids");
        model.TryEmbedOne(id, cache.Length, x);
        for (int i = 0; i < model.Blocks.Count; i++)
        {
            var block = model.Blocks[i];
            Residual(block.Residual1, i, attentionSublayer: true);
            Residual(block.Residual2, i, attentionSublayer: false);
        }
        cache.Advance(1);
        Norm(model.FinalNorm, x, normed);
    }

    /// <summary>x = policy(x, f) in place, the element-wise ops of each policy's Apply (dropout is off in evaluation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Residual(Residual policy, int layer, bool attentionSublayer)
    {
        switch (policy)
        {
            case PreNormResidual p:                                              // x + f(norm(x))
                Norm(p.Norm, x, normed);
                Sublayer(layer, attentionSublayer, normed);
                TensorPrimitives.Add(x, sublayer, x);
                break;
            case PostNormResidual p:                                             // norm(x + f(x))
                Sublayer(layer, attentionSublayer, x);
                TensorPrimitives.Add(x, sublayer, sum);
                Norm(p.Norm, sum, x);
                break;
            case ReZeroResidual r:                                               // x + a f(x)
                Sublayer(layer, attentionSublayer, x);
                TensorPrimitives.Multiply(sublayer, r.Gain.Data[0], sublayer);
                TensorPrimitives.Add(x, sublayer, x);
                break;
            case DeepNormResidual d:                                             // norm(alpha x + f(x))
                Sublayer(layer, attentionSublayer, x);
                TensorPrimitives.Multiply(x, d.Alpha, sum);
                TensorPrimitives.Add(sum, sublayer, sum);
                Norm(d.Norm, sum, x);
                break;
            default:                                                             // f(x)
                Sublayer(layer, attentionSublayer, x);
                sublayer.CopyTo(x, 0);
                break;
        }
    }

    /// <summary>The attention or feed-forward sublayer of a block on h (C), into <c>sublayer</c> (C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Sublayer(int layer, bool attentionSublayer, float[] h)
    {
        var block = model.Blocks[layer];
        if (attentionSublayer) Attend(block.Attention, layer, h);
        else if (block.FeedForward is FeedForward f)                            // Proj(GELU(Fc(h)))
        {
            int hidden = f.Fc.OutFeatures;
            Span<float> a = hiddenA.AsSpan(0, hidden), g = hiddenB.AsSpan(0, hidden);
            Linear(f.Fc, h, a);
            if (f.ExactGelu) Activations.GeluErfForward(a, g);
            else
                // NOTE: the general op runs the kernel on 4096-element chunks (its parallel split); the vector/scalar
                // tail boundaries follow the chunks, so do the same.
                for (int i = 0; i < hidden; i += 4096) Activations.GeluTanhForward(a[i..Math.Min(hidden, i + 4096)], g[i..Math.Min(hidden, i + 4096)]);
            Linear(f.Proj, g, sublayer);
        }
        else
        {
            var s = (SwiGlu)block.FeedForward;                                   // W2(silu(W1 h) * W3 h)
            int hidden = s.W1.OutFeatures;
            Span<float> a = hiddenA.AsSpan(0, hidden), g = hiddenB.AsSpan(0, hidden);
            Linear(s.W1, h, a);
            Activations.SiluForward(a, g);
            Linear(s.W3, h, a);
            TensorPrimitives.Multiply(g, a, g);
            Linear(s.W2, g, sublayer);
        }
    }

    /// <summary>Causal self-attention of the new position: qkv, rotary q and k, append k and v to the cache, attend, project.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Attend(Attention attn, int layer, float[] h)
    {
        int pos = cache.Length, stride = DecodeAttention.Stride(cache.Capacity), capacity = cache.Capacity;
        var layerCache = cache.Layer(layer);
        float[] keys = layerCache.Keys, values = layerCache.Values, keysT = keysTransposed[layer];
        DecodeAttention.Prefetch(keysT, values, heads, headSize, pos, capacity);  // arrives during the qkv product
        Linear(attn.Qkv, h, qkv);                                                // [q | k | v], (3C)
        Span<float> q = qkv.AsSpan(0, width), k = qkv.AsSpan(width, width), v = qkv.AsSpan(2 * width, width);
        if (attn.Rope is { } rope)
        {
            rope.ApplyInPlace(q, pos);
            rope.ApplyInPlace(k, pos);
        }
        for (int head = 0; head < heads; head++)
        {
            k.Slice(head * headSize, headSize).CopyTo(keys.AsSpan((head * capacity + pos) * headSize, headSize));
            v.Slice(head * headSize, headSize).CopyTo(values.AsSpan((head * capacity + pos) * headSize, headSize));
            for (int d = 0; d < headSize; d++) keysT[(head * headSize + d) * stride + pos] = k[head * headSize + d];
        }
        DecodeAttention.Forward(q, keysT, values, attention, scores, heads, headSize, pos + 1, capacity, 1f / MathF.Sqrt(headSize));
        Linear(attn.Proj, attention, sublayer);
    }

    /// <summary>y = x W^T + b for one row, as Ops.Linear computes it: y starts as the bias and the product adds into it.</summary>
    static void Linear(Linear linear, ReadOnlySpan<float> input, Span<float> output)
    {
        bool bias = linear.Bias is not null;
        if (bias) linear.Bias!.Data.CopyTo(output);
        Gemm.Multiply(input, linear.Weight.Data, output, 1, linear.InFeatures, linear.OutFeatures, transposeB: true, accumulate: bias);
    }

    static void Norm(Layer norm, ReadOnlySpan<float> input, Span<float> output)
    {
        if (norm is LayerNorm ln) Normalization.LayerNormRow(input, ln.Weight.Data, ln.Bias.Data, output, ln.Eps, out _, out _);
        else
        {
            var rms = (RmsNorm)norm;
            Normalization.RmsNormRow(input, rms.Weight.Data, output, rms.Eps, out _);
        }
    }

    /// <summary>Hands the screened head's buffers back for the next generation.</summary>
    public void Dispose() => screen?.Return();
}
