// Scalar twins of the embedding gather and scatter-add kernels. Glossary: V = vocabulary rows, C = channels, N = ids.
namespace ResidualLM.Kernels.Reference;

/// <summary>Obviously-correct versions of <see cref="Embedding"/>.</summary>
public static class EmbeddingReference
{
    /// <summary>output[i, c] = table[ids[i], c]. table: (V, C); ids: (N); output: (N, C). Ids outside [0, V) throw.</summary>
    public static void Forward(ReadOnlySpan<float> table, ReadOnlySpan<int> ids, Span<float> output, int vocab, int cols)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0 || ids[i] >= vocab) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[i]} is outside [0, {vocab})");
            for (int c = 0; c < cols; c++) output[i * cols + c] = table[ids[i] * cols + c];
        }
    }

    /// <summary>dTable[ids[i], c] += dOutput[i, c], one element at a time (repeated ids accumulate).</summary>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> ids, Span<float> dTable, int vocab, int cols)
    {
        for (int i = 0; i < ids.Length; i++)
            for (int c = 0; c < cols; c++) dTable[ids[i] * cols + c] += dOutput[i * cols + c];
    }
}
