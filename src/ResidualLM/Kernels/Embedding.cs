// Embedding lookup (gather rows of a table) and its backward (scatter-add into the used rows only, never a dense matmul).
// Glossary: V = vocabulary rows, C = channels, N = number of ids.
using System.Numerics.Tensors;

namespace ResidualLM.Kernels;

/// <summary>Embedding gather and scatter-add kernels.</summary>
public static class Embedding
{
    /// <summary>output[i] = table[ids[i]]. table: (V, C); ids: (N); output: (N, C). Ids outside [0, V) throw.</summary>
    public static void Forward(ReadOnlySpan<float> table, ReadOnlySpan<int> ids, Span<float> output, int vocab, int cols)
    {
        if (table.Length != vocab * cols || output.Length != ids.Length * cols) throw new ArgumentException("embedding span lengths do not match");
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} at position {i} is outside the vocabulary [0, {vocab})");
            table.Slice(id * cols, cols).CopyTo(output.Slice(i * cols, cols));
        }
    }

    /// <summary>dTable[ids[i]] += dOutput[i]: a sparse scatter-add (rows used twice accumulate).</summary>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> ids, Span<float> dTable, int vocab, int cols)
    {
        if (dTable.Length != vocab * cols || dOutput.Length != ids.Length * cols) throw new ArgumentException("embedding span lengths do not match");
        for (int i = 0; i < ids.Length; i++)
        {
            var dst = dTable.Slice(ids[i] * cols, cols);
            TensorPrimitives.Add(dst, dOutput.Slice(i * cols, cols), dst);
        }
    }
}
