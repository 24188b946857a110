// Epoch-based batches of strided windows (the book's GPTDatasetV1 + a shuffling DataLoader with drop_last).
using ResidualLM.Tensors;

namespace ResidualLM.Training;

/// <summary>
/// Batches of windows starting at multiples of the stride, visited once per epoch in a seeded permutation.
/// Window w covers inputs <c>tokens[w*stride .. w*stride+T)</c>; there are <c>floor((Count - T - 1) / stride) + 1</c>
/// windows, and tokens after the last one are unused. With drop_last semantics the windows of the last incomplete
/// batch are skipped for that epoch (a different set each epoch when shuffling; always the last ones when not).
/// </summary>
public sealed class SlidingWindowSampler : IBatchSampler
{
    internal const string KindName = "sliding-windows";

    readonly ReadOnlyMemory<int> tokens;
    readonly int stride;
    readonly bool shuffle;
    readonly int[] order;
    readonly Rng rng;
    ulong[] epochStartRngState = [];

    /// <inheritdoc/>
    public int BatchSize { get; }

    /// <inheritdoc/>
    public int Context { get; }

    /// <summary>Number of windows in the stream.</summary>
    public int WindowCount { get; }

    /// <summary>Full batches per epoch: floor(WindowCount / BatchSize).</summary>
    public int BatchesPerEpoch => WindowCount / BatchSize;

    /// <summary>Epochs completed (the current epoch's number, from 0).</summary>
    public long Epoch { get; private set; }

    /// <summary>Windows of the current epoch already handed out.</summary>
    public long Position { get; private set; }

    internal SlidingWindowSampler(ReadOnlyMemory<int> tokens, int context, int stride, int batchSize, long seed, bool shuffle)
    {
        TokenDataset.RequirePositive(context, "context");
        TokenDataset.RequirePositive(stride, "stride");
        TokenDataset.RequirePositive(batchSize, "batch size");
        TokenDataset.RequireOneWindow(tokens.Length, context);
        WindowCount = (tokens.Length - context - 1) / stride + 1;
        if (WindowCount < batchSize)
            throw new InvalidInputException(
                $"the token stream has {tokens.Length} tokens, which make {WindowCount} windows of context {context} at stride {stride}, fewer than one batch of {batchSize}",
                field: "batch size");
        this.tokens = tokens;
        this.stride = stride;
        this.shuffle = shuffle;
        BatchSize = batchSize;
        Context = context;
        order = new int[WindowCount];
        rng = new Rng(seed);
        BeginEpoch();
    }

    /// <summary>Start offset (in tokens) of window <paramref name="window"/>.</summary>
    public int WindowStart(int window) => checked(window * stride);

    /// <summary>Lays out the epoch's window order; the generator state before the shuffle is kept so it can be redone.</summary>
    void BeginEpoch()
    {
        epochStartRngState = rng.GetState();
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (shuffle) rng.Shuffle(order.AsSpan());
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
        // drop_last: an epoch ends when fewer than a batch of windows remain.
        if (Position + BatchSize > WindowCount)
        {
            Epoch++;
            Position = 0;
            BeginEpoch();
        }
        ReadOnlySpan<int> span = tokens.Span;
        for (int row = 0; row < BatchSize; row++)
            TokenDataset.CopyWindow(span, WindowStart(order[Position + row]), Context, row, inputs, targets);
        Position += BatchSize;
    }

    /// <inheritdoc/>
    public SamplerState GetState() => new(KindName, Epoch, Position, (ulong[])epochStartRngState.Clone());

    /// <inheritdoc/>
    /// <exception cref="InvalidInputException">When the state is for another sampler kind or its position is out of range.</exception>
    public void SetState(SamplerState state)
    {
        if (state.Kind != KindName)
            throw new InvalidInputException($"expected a '{KindName}' sampler state, got '{state.Kind}'", field: "sampler state");
        if (state.Epoch < 0 || state.Position < 0 || state.Position > WindowCount)
            throw new InvalidInputException($"epoch {state.Epoch} and position {state.Position} do not fit {WindowCount} windows", field: "sampler state");
        rng.SetState(state.RngState);
        BeginEpoch();
        Epoch = state.Epoch;
        Position = state.Position;
    }
}
