// Finite-difference gradient checks of MatMul: 2-D, batched, and with a shared 2-D right operand, all four transpose combinations.
using ResidualLM.Tensors;
using Xunit;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Tests.Ops;

public class MatMulGradTests
{
    /// <summary>(M, K, N) with odd sizes and degenerate 1s.</summary>
    static readonly (int M, int K, int N)[] Sizes = [(3, 5, 2), (1, 7, 1), (4, 1, 3), (2, 3, 17)];

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    /// <summary>Stored shape of an operand: leading dims, then (rows, cols) or (cols, rows) when transposed.</summary>
    static int[] Stored(int[] leading, int rows, int cols, bool transpose) => [.. leading, transpose ? cols : rows, transpose ? rows : cols];

    [Theory]
    [MemberData(nameof(Transposes))]
    public void MatMul_2D_GradientsMatchFiniteDifferences(bool transposeA, bool transposeB) =>
        CheckAll([], [], transposeA, transposeB);

    [Theory]
    [MemberData(nameof(Transposes))]
    public void MatMul_Batched_GradientsMatchFiniteDifferences(bool transposeA, bool transposeB) =>
        CheckAll([2, 3], [2, 3], transposeA, transposeB);

    [Theory]
    [MemberData(nameof(Transposes))]
    public void MatMul_SharedRightOperand_GradientsMatchFiniteDifferences(bool transposeA, bool transposeB)
    {
        CheckAll([3], [], transposeA, transposeB);
        CheckAll([2, 2], [], transposeA, transposeB);
    }

    /// <summary>The product itself against the definition sum_p op(A)[i, p] op(B)[p, j], per batch.</summary>
    [Theory]
    [MemberData(nameof(Transposes))]
    public void MatMul_Values_MatchDefinition(bool transposeA, bool transposeB)
    {
        var rng = new Rng(111);
        foreach (var (m, k, n) in Sizes)
            foreach (var (leadA, leadB) in new (int[], int[])[] { ([], []), ([2], [2]), ([3], []) })
            {
                var a = Tensor.Normal(rng, 0, 1, Stored(leadA, m, k, transposeA));
                var b = Tensor.Normal(rng, 0, 1, Stored(leadB, k, n, transposeB));
                var c = O.MatMul(Kernels.KernelCheck.Threads, a, b, transposeA, transposeB);
                int batch = a.Size / (m * k);
                Assert.Equal([.. leadA, m, n], c.Shape.ToArray());
                for (int bi = 0; bi < batch; bi++)
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                        {
                            double sum = 0;
                            int ao = bi * m * k, bo = leadB.Length == 0 ? 0 : bi * k * n;
                            for (int p = 0; p < k; p++)
                                sum += (double)a.Data[ao + (transposeA ? p * m + i : i * k + p)] * b.Data[bo + (transposeB ? j * k + p : p * n + j)];
                            Assert.True(Math.Abs(c.Data[(bi * m + i) * n + j] - sum) <= 1e-5 * (1 + Math.Abs(sum)), $"C[{bi},{i},{j}] = {c.Data[(bi * m + i) * n + j]}, expected {sum}");
                        }
            }
    }

    static void CheckAll(int[] leadA, int[] leadB, bool transposeA, bool transposeB)
    {
        var rng = new Rng(112);
        foreach (var (m, k, n) in Sizes)
        {
            var a = Tensor.Normal(rng, 0, 1, Stored(leadA, m, k, transposeA));
            var b = Tensor.Normal(rng, 0, 1, Stored(leadB, k, n, transposeB));
            GradCheck.Check(t => O.MatMul(Kernels.KernelCheck.Threads, t[0], t[1], transposeA, transposeB), [a, b]);
        }
    }
}
