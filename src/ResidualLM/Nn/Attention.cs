// Multi-head scaled dot-product attention with a fused qkv projection: causal (decoders) or bidirectional with a
// key padding mask (encoders), optional rotary positions (Llama), dropout on the attention weights.
// B batch, T time, C width, NH heads, HS head size = C / NH.
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Nn;

/// <summary>
/// softmax(q k^T / sqrt(HS) + mask) v per head, heads concatenated and projected: the sublayer that moves
/// information between positions.
/// </summary>
public sealed class Attention : Module
{
    readonly Dropout attentionDropout;

    /// <summary>
    /// Fused query, key and value projection: weight ((NH + 2 NKV) HS, C), rows [q; k; v] as in GPT-2's c_attn; (3C, C)
    /// without grouped heads or an explicit head size.
    /// </summary>
    public Linear Qkv { get; }

    /// <summary>Output projection (C, NH HS).</summary>
    public Linear Proj { get; }

    /// <summary>Width of the residual stream (C).</summary>
    public int Width { get; }

    /// <summary>Query heads (NH).</summary>
    public int HeadCount { get; }

    /// <summary>Key/value heads (NKV): NH for multi-head attention, fewer for grouped-query attention.</summary>
    public int KvHeadCount { get; }

    /// <summary>Size of each head (HS): C / NH unless given.</summary>
    public int HeadSize { get; }

    /// <summary>Width of the concatenated heads, NH HS (C unless the head size is given).</summary>
    public int InnerWidth => HeadCount * HeadSize;

    /// <summary>True for decoders: position t sees only positions &lt;= t.</summary>
    public bool Causal { get; }

    /// <summary>Rotary position embedding applied to q and k, or null.</summary>
    public Rope? Rope { get; }

    /// <summary>
    /// <paramref name="qkvBias"/> and <paramref name="projBias"/> are separate because the book's GPT has no qkv bias
    /// but an output-projection bias; GPT-2 has both, Llama neither, Qwen2 only the first.
    /// <paramref name="kvHeads"/> (default NH) key/value heads each serve NH / NKV query heads (grouped-query
    /// attention); <paramref name="headSize"/> (default C / NH) sets each head's size.
    /// </summary>
    public Attention(int width, int headCount, bool qkvBias, bool projBias, float dropout, Rng rng, bool causal = true, Rope? rope = null,
        int? kvHeads = null, int? headSize = null)
    {
        if (headCount <= 0 || (headSize is null && width % headCount != 0)) throw new InvalidInputException($"{headCount} heads do not divide width {width}", field: "heads");
        int kv = kvHeads ?? headCount;
        if (kv <= 0 || headCount % kv != 0) throw new InvalidInputException($"{kv} key/value heads do not divide {headCount} query heads", field: "kv-heads");
        Width = width;
        HeadCount = headCount;
        KvHeadCount = kv;
        HeadSize = headSize ?? width / headCount;
        if (HeadSize <= 0) throw new InvalidInputException($"head size must be positive, got {HeadSize}", field: "head-size");
        Causal = causal;
        Rope = rope;
        Qkv = Child("qkv", new Linear(width, (headCount + 2 * kv) * HeadSize, qkvBias, rng));
        Proj = Child("proj", new Linear(InnerWidth, width, projBias, rng));
        attentionDropout = Child("dropout", new Dropout(dropout, rng));
    }

    /// <summary>
    /// The projection (B, T, (NH + 2 NKV) HS) widened to (B, T, 3 NH HS) by repeating each key/value head for its
    /// group of query heads, so every kernel after it sees multi-head attention; unchanged without groups.
    /// </summary>
    Tensor Ungroup(Tensor packed) => KvHeadCount == HeadCount ? packed : O.RepeatKvHeads(packed, HeadCount, KvHeadCount, HeadSize);

    /// <summary>The fused projection (B, T, (NH + 2 NKV) HS) of x, its value part passed through <paramref name="values"/> when given.</summary>
    Tensor Project(ComputeContext context, Tensor x, Func<Tensor, Tensor>? values)
    {
        var packed = Qkv.Forward(context, x);
        if (values is null) return packed;
        int queriesKeys = (HeadCount + KvHeadCount) * HeadSize;
        var parts = O.Split(packed, queriesKeys, KvHeadCount * HeadSize);
        return O.Concat(parts[0], values(parts[1]));
    }

    /// <summary>
    /// x (B, T, C) -> (B, T, C). <paramref name="keyPadding"/> (B*T, row-major), true where a key is padding and must
    /// not be attended to; every row needs at least one real key. With a <paramref name="cache"/>, x holds the positions
    /// after the cached ones and attends to all of them (incremental decoding). Fused or not as
    /// <see cref="ComputeContext.FusedAttention"/> says. <paramref name="values"/>, when given, replaces the projected
    /// values (B, T, NKV HS) by what it returns for them (value residuals), before any kernel sees them.
    /// </summary>
    public Tensor Forward(ComputeContext context, Tensor x, bool[]? keyPadding = null, int startPosition = 0, KvCache.LayerCache? cache = null,
        Func<Tensor, Tensor>? values = null)
    {
        int batch = x.Dim(0), time = x.Dim(1);
        bool weightDropout = Training && attentionDropout.Training && attentionDropout.P > 0f;
        if (context.FusedAttention && Rope is null && cache is null && !weightDropout)
        {
            if (keyPadding is not null && keyPadding.Length != batch * time)
                throw new InvalidInputException($"has {keyPadding.Length} entries, expected {batch * time}", field: "keyPadding");
            // The kernel reads q, k, v and writes y in place in the (B, T, 3C) and (B, T, C) layouts: no head copies.
            return Proj.Forward(context, O.SelfAttention(context.Threads, Ungroup(Project(context, x, values)), HeadCount, Causal, keyPadding));
        }
        if (cache is not null && time == 1) cache.Prefetch();
        var packed = Ungroup(Project(context, x, values));                                  // (B, T, 3 NH HS)
        int inner = InnerWidth;
        // Causal decoding without a graph: k and v go straight from the projection into the cache and q attends to it in
        // place (rotary positions applied in place first, the same arithmetic as Rope.Apply). Anything else (a query
        // that records a graph, padding, dropout on the weights) runs the general ops, the cached keys being constants.
        if (cache is not null && Causal && keyPadding is null && !weightDropout && !packed.RequiresGrad)
        {
            if (Rope is not null)   // q and k side by side in each row: 2 NH head vectors at one position
                for (int row = 0; row < batch * time; row++) Rope.ApplyInPlace(packed.Data.AsSpan(row * 3 * inner, 2 * inner), startPosition + row % time);
            return Proj.Forward(context, O.CachedSelfAttention(context.Threads, packed, HeadCount, cache));
        }
        var qkv = O.Split(packed, inner, inner, inner);                                     // 3 x (B, T, NH HS)
        Tensor q = O.SplitHeads(qkv[0], HeadCount), k = O.SplitHeads(qkv[1], HeadCount), v = O.SplitHeads(qkv[2], HeadCount); // (B, NH, T, HS)
        if (Rope is not null)
        {
            q = Rope.Apply(q, startPosition);
            k = Rope.Apply(k, startPosition);
        }
        if (cache is not null)
        {
            cache.Append(k, v);
            (k, v) = cache.Copy(cache.Length + time);                                          // (B, NH, start+T, HS)
        }
        if (keyPadding is not null && keyPadding.Length != batch * k.Dim(2))
            throw new InvalidInputException($"has {keyPadding.Length} entries, expected {batch * k.Dim(2)}", field: "keyPadding");
        Tensor y;
        if (context.FusedAttention || cache is not null)
        {
            y = O.Attention(context.Threads, q, k, v, Causal, keyPadding, attentionDropout.P, attentionDropout.Generator(context), Training && attentionDropout.Training);
        }
        else
        {
            var scores = O.MatMul(context.Threads, q, k, transposeB: true) * (1f / MathF.Sqrt(HeadSize)); // (B, NH, T, T)
            if (Causal) scores = O.CausalMask(scores);
            if (keyPadding is not null) scores = O.MaskedFill(scores, keyPadding, [batch, 1, 1, time], float.NegativeInfinity);
            y = O.MatMul(context.Threads, attentionDropout.Forward(context, O.Softmax(context.Threads, scores)), v);
        }
        return Proj.Forward(context, O.MergeHeads(y));                                        // (B, NH, T, HS) -> (B, T, C)
    }
}

/// <summary>
/// Rotary position embedding (Su et al. 2021, as in Llama) in the half-split convention of GPT-NeoX and Hugging Face
/// <c>rotate_half</c>: dimension i is paired with i + HS/2 and the pair is rotated by angle t * base^(-2i/HS).
/// </summary>
public sealed class Rope
{
    readonly float[] cos, sin; // (maxTime, HS), each frequency repeated in both halves

    public int HeadSize { get; }
    public int MaxTime { get; }

    public Rope(int headSize, int maxTime, float theta = 10000f) : this(headSize, maxTime, InverseFrequencies(headSize, theta)) { }

    /// <summary>
    /// Rotary embedding with given <paramref name="inverseFrequencies"/> (HS / 2 of them, radians per position), for
    /// scaled variants such as Llama 3's (<c>Models.RopeScaling</c>).
    /// </summary>
    public Rope(int headSize, int maxTime, ReadOnlySpan<double> inverseFrequencies)
    {
        if (headSize % 2 != 0) throw new InvalidInputException($"rotary embedding needs an even head size, got {headSize}", field: "heads");
        if (inverseFrequencies.Length != headSize / 2) throw new ArgumentException($"{inverseFrequencies.Length} frequencies for head size {headSize}");
        HeadSize = headSize;
        MaxTime = maxTime;
        int half = headSize / 2;
        cos = new float[maxTime * headSize];
        sin = new float[maxTime * headSize];
        for (int t = 0; t < maxTime; t++)
            for (int i = 0; i < half; i++)
            {
                double angle = t * inverseFrequencies[i];
                cos[t * headSize + i] = cos[t * headSize + half + i] = (float)Math.Cos(angle);
                sin[t * headSize + i] = sin[t * headSize + half + i] = (float)Math.Sin(angle);
            }
    }

    /// <summary>base^(-2i/HS) for i in [0, HS/2): the unscaled rotary frequencies.</summary>
    public static double[] InverseFrequencies(int headSize, double theta)
    {
        var frequencies = new double[headSize / 2];
        for (int i = 0; i < frequencies.Length; i++) frequencies[i] = Math.Pow(theta, -2.0 * i / headSize);
        return frequencies;
    }

    /// <summary>x (B, NH, T, HS) at positions start .. start+T-1 -> x cos + rotate_half(x) sin, where rotate_half(x) = [-x2, x1].</summary>
    public Tensor Apply(Tensor x, int start = 0)
    {
        int time = x.Dim(-2);
        if (start < 0 || start + time > MaxTime) throw new InvalidInputException($"positions {start}..{start + time - 1} exceed the context {MaxTime}", field: "time");
        var c = Tensor.FromArray(cos.AsSpan(start * HeadSize, time * HeadSize), time, HeadSize); // (T, HS) broadcasts over (B, NH)
        var s = Tensor.FromArray(sin.AsSpan(start * HeadSize, time * HeadSize), time, HeadSize);
        var halves = O.Split(x, HeadSize / 2, HeadSize / 2);
        var rotated = O.Concat(-halves[1], halves[0]);
        return x * c + rotated * s;
    }

    /// <summary>
    /// <see cref="Apply"/> for one position, in place on consecutive head vectors x (NH * HS), element for element the
    /// same arithmetic: y = x cos + rotate_half(x) sin, each product and the sum rounded to float.
    /// </summary>
    internal void ApplyInPlace(Span<float> x, int position)
    {
        if (position < 0 || position >= MaxTime) throw new InvalidInputException($"position {position} exceeds the context {MaxTime}", field: "time");
        if (x.Length % HeadSize != 0) throw new ArgumentException($"{x.Length} floats are not whole heads of {HeadSize}");
        int half = HeadSize / 2;
        ReadOnlySpan<float> c = cos.AsSpan(position * HeadSize, HeadSize), s = sin.AsSpan(position * HeadSize, HeadSize);
        for (int h = 0; h < x.Length; h += HeadSize)
        {
            var head = x.Slice(h, HeadSize);
            for (int i = 0; i < half; i++)
            {
                float first = head[i], second = head[i + half];
                head[i] = first * c[i] + -second * s[i];
                head[i + half] = second * c[i + half] + first * s[i + half];
            }
        }
    }
}
