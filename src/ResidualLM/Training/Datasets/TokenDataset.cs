// A stream of token ids for training: the train/validation split and the two ways of cutting it into batches.
// Limits: the whole stream lives in memory as int[] (fine up to hundreds of millions of tokens).
namespace ResidualLM.Training;

/// <summary>
/// An immutable sequence of token ids. <see cref="Split"/> cuts it into train and validation parts;
/// <see cref="SlidingWindows"/> and <see cref="RandomOffsets"/> make resumable batch samplers over it.
/// </summary>
public sealed class TokenDataset
{
    readonly ReadOnlyMemory<int> tokens;

    /// <summary>Wraps <paramref name="tokens"/> without copying; the caller must not change the array afterwards.</summary>
    public TokenDataset(int[] tokens) : this(new ReadOnlyMemory<int>(tokens ?? throw new ArgumentNullException(nameof(tokens)))) { }

    /// <summary>Wraps a slice of tokens without copying.</summary>
    public TokenDataset(ReadOnlyMemory<int> tokens) => this.tokens = tokens;

    /// <summary>Number of tokens.</summary>
    public int Count => tokens.Length;

    /// <summary>The token ids.</summary>
    public ReadOnlySpan<int> Tokens => tokens.Span;

    /// <summary>
    /// Splits at <c>floor(Count * trainFraction)</c>: the first part trains, the rest validates (as nanoGPT does,
    /// so validation text is never seen in training, and for generated text comes from the same distribution).
    /// Both parts share this dataset's memory.
    /// </summary>
    /// <exception cref="InvalidInputException">When the fraction is not strictly between 0 and 1, or a part would be empty.</exception>
    public (TokenDataset Train, TokenDataset Validation) Split(double trainFraction = 0.9)
    {
        if (!(trainFraction > 0 && trainFraction < 1))
            throw new InvalidInputException($"must be strictly between 0 and 1, got {trainFraction}", field: "train fraction");
        int trainCount = (int)Math.Floor(Count * trainFraction);
        if (trainCount == 0 || trainCount == Count)
            throw new InvalidInputException($"splitting {Count} tokens at {trainFraction} leaves an empty part", field: "train fraction");
        return (new TokenDataset(tokens[..trainCount]), new TokenDataset(tokens[trainCount..]));
    }

    /// <summary>
    /// Every window of <paramref name="context"/> tokens starting at 0, stride, 2*stride ... (input
    /// <c>tokens[i..i+T)</c>, target <c>tokens[i+1..i+T+1)</c>), as GPTDatasetV1 in "Build a Large Language Model
    /// (from Scratch)" ch. 2. A stride equal to the context gives non-overlapping inputs; a stride of 1, every window.
    /// Each epoch visits the windows in a fresh seeded permutation (or in order when <paramref name="shuffle"/> is
    /// false) and drops the last incomplete batch (PyTorch's drop_last=True), so every batch is full.
    /// </summary>
    /// <exception cref="InvalidInputException">For a non-positive size, or a stream too short for one batch.</exception>
    public SlidingWindowSampler SlidingWindows(int context, int stride, int batchSize, long seed, bool shuffle = true) =>
        new(tokens, context, stride, batchSize, seed, shuffle);

    /// <summary>
    /// nanoGPT's get_batch: each row starts at an independent uniform offset i in [0, Count - context), i.e. any
    /// window whose target still fits. No epochs; windows can repeat or overlap within a batch.
    /// </summary>
    /// <exception cref="InvalidInputException">For a non-positive size, or a stream shorter than context + 1.</exception>
    public RandomOffsetSampler RandomOffsets(int context, int batchSize, long seed) => new(tokens, context, batchSize, seed);

    /// <summary>Checks a size argument is positive.</summary>
    internal static void RequirePositive(int value, string field)
    {
        if (value <= 0) throw new InvalidInputException($"must be positive, got {value}", field: field);
    }

    /// <summary>Checks that a stream holds one window and its shifted target: context + 1 tokens.</summary>
    internal static void RequireOneWindow(int count, int context)
    {
        if (count < context + 1)
            throw new InvalidInputException(
                $"the token stream has {count} tokens, but a context of {context} needs at least {context + 1} (context + 1 for the shifted target)",
                field: "context");
    }

    /// <summary>Copies the window starting at <paramref name="start"/> and its shifted target into row <paramref name="row"/>.</summary>
    internal static void CopyWindow(ReadOnlySpan<int> tokens, int start, int context, int row, Span<int> inputs, Span<int> targets)
    {
        tokens.Slice(start, context).CopyTo(inputs.Slice(row * context, context));
        tokens.Slice(start + 1, context).CopyTo(targets.Slice(row * context, context));
    }

    /// <summary>Checks caller-owned batch buffers (a programming error, not user input, when wrong).</summary>
    internal static void RequireBuffers(Span<int> inputs, Span<int> targets, int batchSize, int context)
    {
        int needed = batchSize * context;
        if (inputs.Length != needed || targets.Length != needed)
            throw new ArgumentException($"batch buffers must hold batch size * context = {needed} tokens, got {inputs.Length} and {targets.Length}");
    }
}
