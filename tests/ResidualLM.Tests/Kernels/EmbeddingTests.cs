// Embedding gather and scatter-add kernels against their scalar twins: cols 1..257, ids at 0 and V-1, repeated ids.
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Kernels;

public class EmbeddingTests
{
    // Tolerance: none. The gather is a copy, and the scatter-add performs the same float additions in the same order
    // (id by id) as the twin, so results must be bit-identical.
    const double Exact = 0;

    [Fact]
    public void Embedding_EveryWidth_MatchesReference()
    {
        var rng = new Rng(41);
        foreach (int vocab in new[] { 1, 2, 7 })
            for (int cols = 1; cols <= KernelCheck.MaxLength; cols++)
            {
                // Both ends of the vocabulary, then random ids: with 2V + 3 ids some rows must repeat (scatter-add accumulates).
                int n = 2 * vocab + 3;
                var ids = new int[n];
                ids[0] = 0; ids[1] = vocab - 1; ids[2] = vocab - 1;
                for (int i = 3; i < n; i++) ids[i] = rng.NextInt(vocab);
                float[] table = KernelCheck.Normal(rng, vocab * cols);
                var output = new float[n * cols]; var outputRef = new float[n * cols];
                Embedding.Forward(table, ids, output, vocab, cols);
                EmbeddingReference.Forward(table, ids, outputRef, vocab, cols);
                KernelCheck.AssertClose(outputRef, output, Exact, $"embedding forward V={vocab} C={cols}");

                float[] dOutput = KernelCheck.Normal(rng, n * cols), dTableBefore = KernelCheck.Normal(rng, vocab * cols);
                float[] dTable = (float[])dTableBefore.Clone(), dTableRef = (float[])dTableBefore.Clone();
                Embedding.Backward(dOutput, ids, dTable, vocab, cols);
                EmbeddingReference.Backward(dOutput, ids, dTableRef, vocab, cols);
                KernelCheck.AssertClose(dTableRef, dTable, Exact, $"embedding backward V={vocab} C={cols}");
            }
    }

    [Fact]
    public void Embedding_IdOutOfRange_Throws()
    {
        var table = new float[3 * 4]; var output = new float[2 * 4];
        foreach (int bad in new[] { -1, 3 })
            Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(table, [0, bad], output, 3, 4));
    }
}
