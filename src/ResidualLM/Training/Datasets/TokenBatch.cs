// What the token samplers hand to a trainer: a batch of (input, target) rows, and a sampler state to checkpoint.
using System.Text.Json.Serialization;
using ResidualLM.Tensors;

namespace ResidualLM.Training;

/// <summary>
/// A batch of <see cref="BatchSize"/> windows of <see cref="Context"/> tokens, row-major (B, T): row b is
/// <c>Inputs[b*T .. (b+1)*T)</c>, and <c>Targets</c> is the same window shifted one token ahead.
/// </summary>
public sealed record TokenBatch(int[] Inputs, int[] Targets, int BatchSize, int Context)
{
    /// <summary>Deconstructs into the two (B*T) arrays only: <c>var (inputs, targets) = batch;</c></summary>
    public void Deconstruct(out int[] inputs, out int[] targets)
    {
        inputs = Inputs;
        targets = Targets;
    }
}

/// <summary>
/// Everything needed to resume a sampler exactly: which sampler it was, its epoch and position within the epoch,
/// and the state of its generator (for sliding windows, the state at the start of the epoch, from which the epoch's
/// permutation is rebuilt). Plain data, so a checkpoint can store it as JSON.
/// </summary>
/// <param name="Kind">"sliding-windows" or "random-offsets"; restoring into the other kind is refused.</param>
/// <param name="Epoch">Completed passes over the windows (always 0 for random offsets).</param>
/// <param name="Position">Windows consumed in the current epoch (sliding windows) or batches drawn (random offsets).</param>
/// <param name="RngState">The <see cref="Rng"/> state words (in a checkpoint: "rng", as decimal strings).</param>
public sealed record SamplerState(string Kind, long Epoch, long Position,
    [property: JsonPropertyName("rng"), JsonConverter(typeof(TrainerState.GeneratorStateJson))] ulong[] RngState);

/// <summary>A source of training batches that can save and restore its place.</summary>
public interface IBatchSampler
{
    /// <summary>Rows per batch (B).</summary>
    int BatchSize { get; }

    /// <summary>Tokens per row (T).</summary>
    int Context { get; }

    /// <summary>Returns the next batch in newly allocated arrays.</summary>
    TokenBatch NextBatch();

    /// <summary>Writes the next batch into caller-owned buffers of length B*T each (no allocation).</summary>
    void NextBatch(Span<int> inputs, Span<int> targets);

    /// <summary>The state after the batches drawn so far.</summary>
    SamplerState GetState();

    /// <summary>Restores a state from <see cref="GetState"/>; the next batches are those that followed it.</summary>
    void SetState(SamplerState state);
}
