// The memory- and exp-bound kernels of a training step against their scalar twins (the baseline of each pair):
// LayerNorm forward/backward, GELU forward/backward, the cross-entropy gradient and the AdamW update. Shapes are the
// ones the benchmark presets run: rows x cols of a replica's activations. Every kernel is checked against its twin in
// GlobalSetup before anything is timed.
using BenchmarkDotNet.Attributes;
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;

namespace ResidualLM.Benchmarks;

[MemoryDiagnoser]
public class RowKernelBenchmarks
{
    // The kernels' threads: RLM_THREADS or every core, as a model's default context would have.
    readonly Parallelism threads = new(ComputeContext.DefaultThreadCount);

    /// <summary>rows x cols: shakespeare-char's replica (384 x 128), deep-narrow's (256 x 64), GPT-2 small (256 x 768).</summary>
    [Params("384x128", "256x64", "256x768")]
    public string Shape { get; set; } = "384x128";

    int rows, cols;
    float[] x = [], dy = [], w = [], b = [], y = [], dx = [], dw = [], db = [], mean = [], rstd = [];
    float[] hidden = [], dHidden = [], hiddenOut = [];
    float[] logits = [], lse = [], dLoss = [], dLogits = [];
    int[] targets = [];
    float[] m = [], v = [];
    const int Vocab = 4096;

    [GlobalSetup]
    public void Setup()
    {
        int[] rc = Array.ConvertAll(Shape.Split('x'), int.Parse);
        (rows, cols) = (rc[0], rc[1]);
        var rng = new Random(7);
        x = Fill(rng, rows * cols); dy = Fill(rng, rows * cols); w = Fill(rng, cols); b = Fill(rng, cols);
        y = new float[rows * cols]; dx = new float[rows * cols]; dw = new float[cols]; db = new float[cols];
        mean = new float[rows]; rstd = new float[rows];
        hidden = Fill(rng, 4 * rows * cols); dHidden = Fill(rng, 4 * rows * cols); hiddenOut = new float[hidden.Length];
        logits = Fill(rng, rows * Vocab); lse = new float[rows]; dLoss = Enumerable.Repeat(1f / rows, rows).ToArray(); dLogits = new float[logits.Length];
        targets = Enumerable.Range(0, rows).Select(i => i * 31 % Vocab).ToArray();
        m = new float[4 * rows * cols]; v = new float[4 * rows * cols];
        Softmax.CrossEntropyForward(threads, logits, targets, new float[rows], lse, rows, Vocab, -100);
        Verify();
    }

    void Verify()
    {
        var yRef = new float[y.Length]; var meanRef = new float[rows]; var rstdRef = new float[rows];
        Normalization.LayerNormForward(threads, x, w, b, y, mean, rstd, rows, cols, 1e-5f);
        NormalizationReference.LayerNormForward(x, w, b, yRef, meanRef, rstdRef, rows, cols, 1e-5f);
        Check("LayerNorm forward", yRef, y, 1e-4);
        var geluRef = new float[hidden.Length];
        Activations.GeluTanhForward(hidden, hiddenOut);
        ActivationsReference.GeluTanhForward(hidden, geluRef);
        Check("GELU forward", geluRef, hiddenOut, 1e-5);
        Activations.GeluErfForward(hidden, hiddenOut);
        ActivationsReference.GeluErfForward(hidden, geluRef);
        Check("exact GELU forward", geluRef, hiddenOut, 1e-5);
        var ceRef = new float[dLogits.Length];
        Softmax.CrossEntropyBackward(threads, logits, targets, lse, dLoss, dLogits, rows, Vocab, -100, accumulate: false);
        SoftmaxReference.CrossEntropyBackward(logits, targets, lse, dLoss, ceRef, rows, Vocab, -100);
        Check("cross-entropy backward", ceRef, dLogits, 1e-5);
    }

    static void Check(string name, float[] expected, float[] actual, double tolerance)
    {
        for (int i = 0; i < expected.Length; i++)
            if (Math.Abs(expected[i] - actual[i]) > tolerance * (1 + Math.Abs(expected[i])))
                throw new InvalidOperationException($"{name}: element {i} is {actual[i]}, reference {expected[i]}");
    }

    [Benchmark(Baseline = true)]
    public void LayerNormForwardReference() => NormalizationReference.LayerNormForward(x, w, b, y, mean, rstd, rows, cols, 1e-5f);

    [Benchmark]
    public void LayerNormForward() => Normalization.LayerNormForward(threads, x, w, b, y, mean, rstd, rows, cols, 1e-5f);

    [Benchmark]
    public void LayerNormBackwardReference() => NormalizationReference.LayerNormBackward(dy, x, w, mean, rstd, dx, dw, db, rows, cols);

    [Benchmark]
    public void LayerNormBackward() => Normalization.LayerNormBackward(threads, dy, x, w, mean, rstd, dx, dw, db, rows, cols, accumulateInput: false);

    /// <summary>The feed-forward hidden layer (rows x 4 cols).</summary>
    [Benchmark]
    public void GeluForwardReference() => ActivationsReference.GeluTanhForward(hidden, hiddenOut);

    [Benchmark]
    public void GeluForward() => Activations.GeluTanhForward(hidden, hiddenOut);

    [Benchmark]
    public void GeluBackwardReference() => ActivationsReference.GeluTanhBackward(hidden, dHidden, hiddenOut);

    [Benchmark]
    public void GeluBackward() => Activations.GeluTanhBackwardWrite(hidden, dHidden, hiddenOut);

    /// <summary>The exact (erf) GELU over the same hidden layer: BERT-style encoders and GPT-2 models imported with activation "gelu".</summary>
    [Benchmark]
    public void GeluErfForwardReference() => ActivationsReference.GeluErfForward(hidden, hiddenOut);

    [Benchmark]
    public void GeluErfForward() => Activations.GeluErfForward(hidden, hiddenOut);

    [Benchmark]
    public void GeluErfBackwardReference() => ActivationsReference.GeluErfBackward(hidden, dHidden, hiddenOut);

    [Benchmark]
    public void GeluErfBackward() => Activations.GeluErfBackward(hidden, dHidden, hiddenOut);

    /// <summary>rows x 4096 logits.</summary>
    [Benchmark]
    public void CrossEntropyBackwardReference() => SoftmaxReference.CrossEntropyBackward(logits, targets, lse, dLoss, dLogits, rows, Vocab, -100);

    [Benchmark]
    public void CrossEntropyBackward() => Softmax.CrossEntropyBackward(threads, logits, targets, lse, dLoss, dLogits, rows, Vocab, -100, accumulate: false);

    /// <summary>AdamW over rows x 4 cols parameters (in place; the values drift, the work does not).</summary>
    [Benchmark]
    public void AdamWReference() => OptimizerReference.AdamWUpdate(dHidden, hidden, m, v, 0.9f, 0.999f, 0.9999f, 1e-4f, 0.1f, 1e-8f);

    [Benchmark]
    public void AdamW() => Optimizer.AdamWUpdate(dHidden, hidden, m, v, 0.9f, 0.999f, 0.9999f, 1e-4f, 0.1f, 1e-8f);

    static float[] Fill(Random rng, int length)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
