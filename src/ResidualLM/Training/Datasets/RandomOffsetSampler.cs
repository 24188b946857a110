// nanoGPT-style batches: every row an independent uniformly random window of the stream.
using ResidualLM.Tensors;

namespace ResidualLM.Training;

/// <summary>
/// Batches whose rows start at independent uniform offsets i in [0, Count - T): input <c>tokens[i..i+T)</c>,
/// target <c>tokens[i+1..i+T+1)</c>. There is no epoch; the state is the number of batches drawn and the generator.
/// </summary>
public sealed class RandomOffsetSampler : IBatchSampler
{
    internal const string KindName = "random-offsets";

    readonly ReadOnlyMemory<int> tokens;
    readonly Rng rng;

    /// <inheritdoc/>
    public int BatchSize { get; }

    /// <inheritdoc/>
    public int Context { get; }

    /// <summary>Batches drawn so far.</summary>
    public long Position { get; private set; }

    /// <summary>Number of distinct start offsets (Count - Context).</summary>
    public int OffsetCount => tokens.Length - Context;

    internal RandomOffsetSampler(ReadOnlyMemory<int> tokens, int context, int batchSize, long seed)
    {
        TokenDataset.RequirePositive(context, "context");
        TokenDataset.RequirePositive(batchSize, "batch size");
        TokenDataset.RequireOneWindow(tokens.Length, context);
        this.tokens = tokens;
        BatchSize = batchSize;
        Context = context;
        rng = new Rng(seed);
    }

    /// <inheritdoc/>
    public TokenBatch NextBatch()
    {
        var inputs = new int[BatchSize * Context];
        var targets = new int[BatchSize * Context];
        NextBatch(inputs, targets);
        return new TokenBatch(inputs, targets, BatchSize, Context);
    }

    /// <inheritdoc/>
    public void NextBatch(Span<int> inputs, Span<int> targets)
    {
        TokenDataset.RequireBuffers(inputs, targets, BatchSize, Context);
        ReadOnlySpan<int> span = tokens.Span;
        for (int row = 0; row < BatchSize; row++)
            TokenDataset.CopyWindow(span, rng.NextInt(OffsetCount), Context, row, inputs, targets);
        Position++;
    }

    /// <inheritdoc/>
    public SamplerState GetState() => new(KindName, 0, Position, rng.GetState());

    /// <inheritdoc/>
    /// <exception cref="InvalidInputException">When the state is for another sampler kind or is malformed.</exception>
    public void SetState(SamplerState state)
    {
        if (state.Kind != KindName)
            throw new InvalidInputException($"expected a '{KindName}' sampler state, got '{state.Kind}'", field: "sampler state");
        if (state.Position < 0)
            throw new InvalidInputException($"position must be zero or more, got {state.Position}", field: "sampler state");
        rng.SetState(state.RngState);
        Position = state.Position;
    }
}
