// Batch-1 incremental decoding with every buffer allocated once per generation. The prompt (T rows) and then each new
// token (one row) run through the blocks with the kernels the general model code uses for those rows, in the same order
// (Gemm for every projection, the norm row kernels, the same activation calls, AttentionKernel over the cache), so
// logits and tokens are bit for bit those of
// LanguageModel.Forward with a KV cache. Only the last prompt position goes through the head, with the arithmetic the
// full head would use for it; greedy decoding picks tokens with a ScreenedHead. C width, NH heads, HS head size,
// H hidden width, V vocabulary, T rows fed at once.
// Limits: Gpt and Llama modules (LayerNorm or RmsNorm, the five residual policies, GELU MLP or SwiGLU, learned or rotary
// positions), evaluation mode, no skipped blocks, no head bias; TryCreate returns null for anything else.
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
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
    readonly int width, heads, headSize, hidden, vocab;
    readonly float[] normed, logits;            // the head input (C) and the full logits when needed (V)
    readonly Rows step;                         // buffers for one row
    Rows? prompt;                               // buffers for a prompt, sized on first use

    /// <summary>Activations of T rows, row-major.</summary>
    sealed class Rows(int rows, int width, int hidden, int heads, int capacity)
    {
        public readonly int Count = rows;
        public readonly float[] X = new float[rows * width], Normed = new float[rows * width], Sublayer = new float[rows * width];
        public readonly float[] Sum = new float[rows * width], Qkv = new float[rows * 3 * width], Attention = new float[rows * width];
        public readonly float[] HiddenA = new float[rows * hidden], HiddenB = new float[rows * hidden];
        // q and the attention output split by head (NH, T, HS) (one row: the qkv row and the output themselves), and the
        // probabilities AttentionKernel writes (NH, T, capacity at most).
        public readonly float[] Scores = new float[heads * rows * capacity];
        public readonly float[] Queries = rows == 1 ? [] : new float[rows * width], HeadOutputs = rows == 1 ? [] : new float[rows * width];
    }

    DecodeSession(LanguageModel model, int capacity, ScreenedHead? screen, int hidden)
    {
        this.model = model;
        this.screen = screen;
        this.hidden = hidden;
        cache = new KvCache(model.Blocks.Count, capacity);
        headWeight = model.Head?.Weight ?? model.TokenEmbedding.Weight;
        var first = model.Blocks[0].Attention;
        width = first.Width; heads = first.HeadCount; headSize = first.HeadSize; vocab = headWeight.Dim(0);
        for (int i = 0; i < model.Blocks.Count; i++) cache.Layer(i).Reserve(1, heads, headSize);
        normed = new float[width];
        logits = new float[vocab];
        step = new Rows(1, width, hidden, heads, capacity);
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
        var screen = greedy && screenHead ? ScreenedHead.Rent(head, model.Context.Threads) : null;
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
        int rows = ids.Length, start = cache.Length;
        if (rows < 1 || start + rows > cache.Capacity) throw new InvalidInputException($"positions {start}..{start + rows - 1} exceed the context length {cache.Capacity}", field: "time");
        foreach (int id in ids)
            if ((uint)id >= (uint)model.VocabSize) throw new InvalidInputException($"id {id} is outside [0, {model.VocabSize})", field: "ids");
        var buffers = rows == 1 ? step : prompt is { } p && p.Count == rows ? p : prompt = new Rows(rows, width, hidden, heads, cache.Capacity);
        Forward(ids, buffers);
        if (sampling.Temperature == 0f && screen is not null) return screen.ArgMax(normed, rows, rows - 1, logits);
        GemmElements.Row(model.Context.Threads, normed, headWeight.Data, logits, rows, vocab, rows - 1);
        return Sampler.Sample(logits, sampling, rng);
    }

    /// <summary>
    /// The rows at the next positions through every block, x = Residual1(x, Attention); x = Residual2(x, FeedForward),
    /// then the final norm of the last row into <c>normed</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Forward(int[] ids, Rows b)
    {
        for (int t = 0; t < b.Count; t++) model.TryEmbedOne(ids[t], cache.Length + t, b.X.AsSpan(t * width, width));
        for (int i = 0; i < model.Blocks.Count; i++)
        {
            var block = model.Blocks[i];
            Residual(block.Residual1, i, attentionSublayer: true, b);
            Residual(block.Residual2, i, attentionSublayer: false, b);
        }
        cache.Advance(b.Count);
        Norm(model.FinalNorm, b.X.AsSpan((b.Count - 1) * width, width), normed, 1);
    }

    /// <summary>x = policy(x, f) in place, the element-wise ops of each policy's Apply (dropout is off in evaluation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Residual(Residual policy, int layer, bool attentionSublayer, Rows b)
    {
        Span<float> x = b.X, sublayer = b.Sublayer, sum = b.Sum;
        switch (policy)
        {
            case PreNormResidual p:                                              // x + f(norm(x))
                Norm(p.Norm, x, b.Normed, b.Count);
                Sublayer(layer, attentionSublayer, b.Normed, b);
                TensorPrimitives.Add(x, sublayer, x);
                break;
            case PostNormResidual p:                                             // norm(x + f(x))
                Sublayer(layer, attentionSublayer, b.X, b);
                TensorPrimitives.Add(x, sublayer, sum);
                Norm(p.Norm, sum, x, b.Count);
                break;
            case ReZeroResidual r:                                               // x + a f(x)
                Sublayer(layer, attentionSublayer, b.X, b);
                TensorPrimitives.Multiply(sublayer, r.Gain.Data[0], sublayer);
                TensorPrimitives.Add(x, sublayer, x);
                break;
            case DeepNormResidual d:                                             // norm(alpha x + f(x))
                Sublayer(layer, attentionSublayer, b.X, b);
                TensorPrimitives.Multiply(x, d.Alpha, sum);
                TensorPrimitives.Add(sum, sublayer, sum);
                Norm(d.Norm, sum, x, b.Count);
                break;
            default:                                                             // f(x)
                Sublayer(layer, attentionSublayer, b.X, b);
                sublayer.CopyTo(x);
                break;
        }
    }

    /// <summary>The attention or feed-forward sublayer of a block on h (T, C), into <c>Sublayer</c> (T, C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Sublayer(int layer, bool attentionSublayer, float[] h, Rows b)
    {
        var block = model.Blocks[layer];
        if (attentionSublayer)
        {
            Attend(block.Attention, layer, h, b);
            return;
        }
        if (block.FeedForward is FeedForward f)                                  // Proj(GELU(Fc(h)))
        {
            int size = b.Count * f.Fc.OutFeatures;
            Span<float> a = b.HiddenA.AsSpan(0, size), g = b.HiddenB.AsSpan(0, size);
            Linear(f.Fc, h, a, b.Count);
            if (f.ExactGelu) Activations.GeluErfForward(a, g);
            else
                // NOTE: the general op runs the kernel on 4096-element chunks of the whole tensor (its parallel split);
                // the vector/scalar tail boundaries follow the chunks, so do the same.
                for (int i = 0; i < size; i += 4096) Activations.GeluTanhForward(a[i..Math.Min(size, i + 4096)], g[i..Math.Min(size, i + 4096)]);
            Linear(f.Proj, g, b.Sublayer, b.Count);
        }
        else
        {
            var s = (SwiGlu)block.FeedForward;                                   // W2(silu(W1 h) * W3 h)
            int size = b.Count * s.W1.OutFeatures;
            Span<float> a = b.HiddenA.AsSpan(0, size), g = b.HiddenB.AsSpan(0, size);
            Linear(s.W1, h, a, b.Count);
            Activations.SiluForward(a, g);
            Linear(s.W3, h, a, b.Count);
            TensorPrimitives.Multiply(g, a, g);
            Linear(s.W2, g, b.Sublayer, b.Count);
        }
    }

    /// <summary>
    /// Causal self-attention of the new positions: qkv, rotary q and k, append k and v to the cache, attend over every
    /// cached position with AttentionKernel (as the general path does), project.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Attend(Attention attn, int layer, float[] h, Rows b)
    {
        int start = cache.Length, rows = b.Count, capacity = cache.Capacity, keyLength = start + rows;
        var layerCache = cache.Layer(layer);
        float[] keys = layerCache.Keys, values = layerCache.Values;
        if (rows == 1) Prefetch(keys, values, start, capacity);                 // arrives while the qkv product streams its weights
        Linear(attn.Qkv, h, b.Qkv, rows);                                        // (T, [q | k | v])
        for (int t = 0; t < rows; t++)
        {
            int pos = start + t;
            Span<float> q = b.Qkv.AsSpan(t * 3 * width, width), k = b.Qkv.AsSpan(t * 3 * width + width, width), v = b.Qkv.AsSpan(t * 3 * width + 2 * width, width);
            if (attn.Rope is { } rope)
            {
                rope.ApplyInPlace(q, pos);
                rope.ApplyInPlace(k, pos);
            }
            for (int head = 0; head < heads; head++)
            {
                k.Slice(head * headSize, headSize).CopyTo(keys.AsSpan((head * capacity + pos) * headSize, headSize));
                v.Slice(head * headSize, headSize).CopyTo(values.AsSpan((head * capacity + pos) * headSize, headSize));
                if (rows > 1) q.Slice(head * headSize, headSize).CopyTo(b.Queries.AsSpan((head * rows + t) * headSize, headSize)); // (NH, T, HS)
            }
        }
        float scale = 1f / MathF.Sqrt(headSize);
        // One row: q (NH, 1, HS) is the qkv row's first C floats and the output (NH, 1, HS) is the merged row itself.
        Span<float> queries = rows == 1 ? b.Qkv.AsSpan(0, width) : b.Queries, outputs = rows == 1 ? b.Attention : b.HeadOutputs;
        AttentionKernel.ForwardCached(model.Context.Threads, queries, keys, values, capacity, outputs, b.Scores.AsSpan(0, heads * rows * keyLength),
            heads, heads, rows, keyLength, headSize, scale, causal: true);
        if (rows > 1) Layout.MergeHeads(b.HeadOutputs, b.Attention, 1, rows, heads, headSize);               // (NH, T, HS) -> (T, C)
        Linear(attn.Proj, b.Attention, b.Sublayer, rows);
    }

    /// <summary>y = x W^T + b for T rows, as Ops.Linear computes it: each row starts as the bias and the product adds into it.</summary>
    void Linear(Linear linear, ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        int outFeatures = linear.OutFeatures;
        bool bias = linear.Bias is not null;
        if (bias)
            for (int r = 0; r < rows; r++) linear.Bias!.Data.CopyTo(output.Slice(r * outFeatures, outFeatures));
        Gemm.Multiply(model.Context.Threads, input[..(rows * linear.InFeatures)], linear.Weight.Data, output[..(rows * outFeatures)], rows, linear.InFeatures, outFeatures,
            transposeB: true, accumulate: bias);
    }

    /// <summary>The norm of each of T rows, as the batched kernels compute each row.</summary>
    void Norm(Layer norm, ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = input.Slice(r * width, width);
            Span<float> y = output.Slice(r * width, width);
            if (norm is LayerNorm ln) Normalization.LayerNormRow(x, ln.Weight.Data, ln.Bias.Data, y, ln.Eps, out _, out _);
            else
            {
                var rms = (RmsNorm)norm;
                Normalization.RmsNormRow(x, rms.Weight.Data, y, rms.Eps, out _);
            }
        }
    }

    /// <summary>
    /// Asks for the cache lines of a layer's cached keys and values (NH, capacity, HS), positions below
    /// <paramref name="length"/>, without waiting for them: issued before the layer's qkv product, they arrive from memory
    /// while the weights stream (the weights read since the last token pushed them out of every cache).
    /// </summary>
    void Prefetch(float[] keys, float[] values, int length, int capacity)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        unsafe
        {
            fixed (float* k = keys, v = values)
                for (int h = 0; h < heads; h++)
                    for (long i = (long)h * capacity * headSize, end = i + (long)length * headSize; i < end; i += 16)
                    {
                        System.Runtime.Intrinsics.X86.Sse.Prefetch1(k + i);
                        System.Runtime.Intrinsics.X86.Sse.Prefetch1(v + i);
                    }
        }
    }

    /// <summary>Hands the screened head's buffers back for the next generation.</summary>
    public void Dispose() => screen?.Return();
}
