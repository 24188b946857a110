// A Llama-style decoder: token embedding only (positions enter through rotary q/k), RMSNorm, SwiGLU, grouped-query
// attention; biases only where the config asks (Qwen2's q/k/v). The Hugging Face Llama/Qwen2/Mistral graph.
using ResidualLM.Nn;
using ResidualLM.Tensors;

namespace ResidualLM.Models;

/// <summary>
/// Llama (Touvron et al. 2023) in miniature. Parameter names: <c>token_embedding.weight</c>, <c>blocks.{i}.norm1.weight</c>,
/// <c>blocks.{i}.attn.qkv.weight</c>, <c>blocks.{i}.attn.proj.weight</c>, <c>blocks.{i}.norm2.weight</c>,
/// <c>blocks.{i}.ffn.w1/w2/w3.weight</c>, <c>final_norm.weight</c>, <c>head.weight</c> (absent when tied).
/// </summary>
public sealed class Llama : LanguageModel
{
    public LlamaConfig Config { get; }
    public override int VocabSize => Config.VocabSize;
    public override int ContextLength => Config.ContextLength;
    public override ResidualMode ResidualMode => Config.Residual;
    public override Embedding TokenEmbedding { get; }
    public override ModuleList<TransformerBlock> Blocks { get; }
    public override Layer FinalNorm { get; }
    public override Linear? Head { get; }

    public Llama(LlamaConfig config, ulong seed = 1337) : base(seed)
    {
        Config = config.Validate();
        int c = config.Width;
        int headSize = config.HeadDim;
        double[] frequencies = Rope.InverseFrequencies(headSize, config.RopeTheta);
        var rope = new Rope(headSize, config.ContextLength, config.RopeScaling is { } scaling ? scaling.Apply(frequencies) : frequencies);
        TokenEmbedding = Child("token_embedding", new Embedding(config.VocabSize, c, Rng));
        Blocks = Child("blocks", new ModuleList<TransformerBlock>(Enumerable.Range(0, config.LayerCount).Select(i => new TransformerBlock(
            Residual.Create(config.Residual, 1, c, () => new RmsNorm(c, config.NormEps), config.Dropout, Rng, config.LayerCount, i),
            new Attention(c, config.HeadCount, config.QkvBias, config.OutputBias, config.Dropout, Rng, causal: true, rope, config.KvHeads, config.HeadSize),
            Residual.Create(config.Residual, 2, c, () => new RmsNorm(c, config.NormEps), config.Dropout, Rng, config.LayerCount, i),
            new SwiGlu(c, config.FeedForwardWidth, Rng, config.MlpBias)))));
        AddDepth(config.Residual, c, config.LayerCount);
        FinalNorm = Child("final_norm", new RmsNorm(c, config.NormEps));
        if (!config.TieWeights) Head = Child("head", new Linear(c, config.VocabSize, bias: false, Rng));
        InitializeBlocks(config.Residual, c);
        NameParameters();
    }

    protected override Tensor Embed(ComputeContext context, ReadOnlySpan<int> ids, int batch, int time, int startPosition) => TokenEmbedding.Forward(ids, batch, time);
}
