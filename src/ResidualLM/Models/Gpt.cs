// GPT-2: token + learned position embeddings, dropout, N blocks (attention + GELU MLP), final LayerNorm, head.
// The residual policy comes from the config; with PreNorm this is GPT-2 / nanoGPT / the book's GPTModel.
using ResidualLM.Nn;
using ResidualLM.Tensors;

namespace ResidualLM.Models;

/// <summary>
/// The GPT-2 decoder. Parameter names: <c>token_embedding.weight</c>, <c>position_embedding.weight</c>,
/// <c>blocks.{i}.norm1.*</c>, <c>blocks.{i}.attn.qkv.*</c>, <c>blocks.{i}.attn.proj.*</c>, <c>blocks.{i}.norm2.*</c>,
/// <c>blocks.{i}.ffn.fc.*</c>, <c>blocks.{i}.ffn.proj.*</c> (ReZero: <c>blocks.{i}.gain1</c>, <c>gain2</c>; LayerScale adds <c>blocks.{i}.scale1</c>, <c>scale2</c>),
/// <c>final_norm.*</c>, <c>head.weight</c> (absent when tied).
/// </summary>
public sealed class Gpt : LanguageModel
{
    readonly Dropout embeddingDropout;

    public GptConfig Config { get; }
    public override int VocabSize => Config.VocabSize;
    public override int ContextLength => Config.ContextLength;
    public override ResidualMode ResidualMode => Config.Residual;
    public override Embedding TokenEmbedding { get; }
    public Embedding PositionEmbedding { get; }
    public override ModuleList<TransformerBlock> Blocks { get; }
    public override Layer FinalNorm { get; }
    public override Linear? Head { get; }

    /// <summary>Builds and initialises the model from <paramref name="seed"/> (GPT-2 init, or DeepNorm's for that policy).</summary>
    public Gpt(GptConfig config, ulong seed = 1337) : base(seed)
    {
        Config = config.Validate();
        int c = config.Width;
        TokenEmbedding = Child("token_embedding", new Embedding(config.VocabSize, c, Rng));
        PositionEmbedding = Child("position_embedding", new Embedding(config.ContextLength, c, Rng));
        embeddingDropout = Child("dropout", new Dropout(config.Dropout, Rng));
        Blocks = Child("blocks", new ModuleList<TransformerBlock>(Enumerable.Range(0, config.LayerCount).Select(i => new TransformerBlock(
            Residual.Create(config.Residual, 1, c, () => new LayerNorm(c, config.NormEps), config.Dropout, Rng, config.LayerCount, i),
            new Attention(c, config.HeadCount, config.QkvBias, projBias: true, config.Dropout, Rng, causal: true),
            Residual.Create(config.Residual, 2, c, () => new LayerNorm(c, config.NormEps), config.Dropout, Rng, config.LayerCount, i),
            new FeedForward(c, config.HiddenWidth, bias: true, Rng, config.ExactGelu)))));
        AddDepth(config.Residual, c, config.LayerCount);
        FinalNorm = Child("final_norm", new LayerNorm(c, config.NormEps));
        if (!config.TieWeights) Head = Child("head", new Linear(c, config.VocabSize, bias: false, Rng));
        if (config.TorchDefaultInit) InitializeAsTorchModules();
        else InitializeBlocks(config.Residual, c);
        NameParameters();
    }

    /// <summary>PyTorch's default module init: nn.Embedding N(0, 1); nn.Linear weight and bias U(-1/sqrt(in), 1/sqrt(in)).</summary>
    void InitializeAsTorchModules()
    {
        foreach (var embedding in new[] { TokenEmbedding, PositionEmbedding }) Redraw(embedding.Weight, 1f);
        foreach (var block in Blocks.Items)
            foreach (var linear in new[] { block.Attention.Qkv, block.Attention.Proj }.Concat(block.FeedForward is FeedForward f ? [f.Fc, f.Proj] : []))
                RedrawUniform(linear);
        if (Head is not null) RedrawUniform(Head);
    }

    void RedrawUniform(Linear linear)
    {
        float bound = 1f / MathF.Sqrt(linear.InFeatures);
        foreach (var t in linear.Bias is null ? new[] { linear.Weight } : [linear.Weight, linear.Bias])
            for (int i = 0; i < t.Size; i++) t.Data[i] = bound * (2f * Rng.NextFloat() - 1f);
    }

    protected override Tensor Embed(ComputeContext context, ReadOnlySpan<int> ids, int batch, int time, int startPosition)
    {
        var positions = Enumerable.Range(startPosition, time).ToArray();
        // x = wte[ids] + wpe[t]: (B, T, C) + (T, C), the position rows broadcast over the batch
        return embeddingDropout.Forward(context, TokenEmbedding.Forward(ids, batch, time) + PositionEmbedding.Forward(positions, time));
    }
}
