// `rlm bench attention`: forward and backward GFLOP/s of the fused attention kernel alone, checked against the scalar
// twin before timing. Flops count only the (query, key) pairs a query sees: T(T+1)/2 per head when causal, so the
// masked half of the score matrix is never credited. Exp, max and sums are not counted.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ResidualLM.Kernels;
using ResidualLM.Kernels.Reference;

namespace ResidualLM.Cli.Commands;

/// <summary>The <c>bench attention</c> subcommand.</summary>
public static class BenchAttentionCommand
{
    // rlm bench attention --batch-heads 16 --time 64 --head-size 16 --threads 1 --json; --queries 1 --time 512: one decoding step
    public static Command Create()
    {
        var batchHeads = new Option<int>("--batch-heads") { Description = "(batch, head) pairs per call", DefaultValueFactory = _ => 16 };
        var time = new Option<int>("--time") { Description = "key length (and query length unless --queries)", DefaultValueFactory = _ => 64 };
        var queries = new Option<int>("--queries") { Description = "queries, the last of the keys' positions (KV-cache decoding); 0: --time", DefaultValueFactory = _ => 0 };
        var headSize = new Option<int>("--head-size") { Description = "head size", DefaultValueFactory = _ => 16 };
        var bidirectional = new Option<bool>("--bidirectional") { Description = "no causal mask" };
        var packed = new Option<int>("--packed-heads")
        {
            Description = "time the packed (B, T, 3C) layout of self-attention with this many heads per sequence (0: split layout)",
            DefaultValueFactory = _ => 0,
        };
        var threads = new Option<int>("--threads") { Description = "threads (default: RLM_THREADS or all cores)", DefaultValueFactory = _ => ComputeContext.DefaultThreadCount };
        var json = new Option<bool>("--json") { Description = "print one JSON line" };
        var cmd = new Command("attention", "Fused attention forward and backward GFLOP/s (median of repeated runs after warm-up).");
        foreach (Option o in new Option[] { batchHeads, time, queries, headSize, bidirectional, packed, threads, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(batchHeads), parse.GetValue(queries), parse.GetValue(time), parse.GetValue(headSize),
            !parse.GetValue(bidirectional), parse.GetValue(packed), parse.GetValue(threads), parse.GetValue(json))));
        return cmd;
    }

    static int Run(int batchHeads, int tq, int time, int headSize, bool causal, int packedHeads, int threads, bool json)
    {
        if (batchHeads < 1 || time < 1 || headSize < 1) throw new InvalidInputException("must be at least 1", field: "--batch-heads/--time/--head-size");
        if (threads < 1) throw new InvalidInputException("must be at least 1", field: "--threads");
        if (packedHeads < 0 || (packedHeads > 0 && batchHeads % packedHeads != 0))
            throw new InvalidInputException($"must divide --batch-heads {batchHeads}", field: "--packed-heads");
        if (tq == 0) tq = time;
        if (tq < 0 || tq > time || (packedHeads > 0 && tq != time))
            throw new InvalidInputException($"must be between 1 and --time {time} (equal to it with --packed-heads)", field: "--queries");
        using var parallelism = new Parallelism(threads);
        var rng = new Random(1234);
        int n = batchHeads * tq * headSize, nk = batchHeads * time * headSize;
        float scale = 1f / MathF.Sqrt(headSize);
        float[] q = RandomArray(rng, n), k = RandomArray(rng, nk), v = RandomArray(rng, nk), dOutput = RandomArray(rng, n);
        float[] output = new float[n], probabilities = new float[batchHeads * tq * time];
        float[] dq = new float[n], dk = new float[nk], dv = new float[nk];
        // Packed layout: the same heads interleaved into (B, T, 3C) and (B, T, C).
        int batch = packedHeads == 0 ? 0 : batchHeads / packedHeads;
        float[] qkv = packedHeads == 0 ? [] : Pack([q, k, v], batch, packedHeads, time, headSize);
        float[] dOutputPacked = packedHeads == 0 ? [] : Pack([dOutput], batch, packedHeads, time, headSize);
        float[] dqkv = new float[qkv.Length], outputPacked = new float[dOutputPacked.Length];

        void Forward()
        {
            if (packedHeads == 0) AttentionKernel.Forward(parallelism, q, k, v, output, probabilities, batchHeads, 1, tq, time, headSize, scale, causal, []);
            else AttentionKernel.ForwardPacked(parallelism, qkv, outputPacked, probabilities, batch, packedHeads, time, headSize, scale, causal, []);
        }
        void Backward()
        {
            if (packedHeads == 0) AttentionKernel.Backward(parallelism, q, k, v, probabilities, [], dOutput, dq, dk, dv, batchHeads, tq, time, headSize, scale);
            else AttentionKernel.BackwardPacked(parallelism, qkv, probabilities, [], dOutputPacked, dqkv, batch, packedHeads, time, headSize, scale);
        }

        Forward();
        Backward();
        Check(parallelism, q, k, v, dOutput, probabilities, packedHeads == 0 ? [output, dq, dk, dv] : Unpack(outputPacked, dqkv, batch, packedHeads, time, headSize),
            batchHeads, tq, time, headSize, scale, causal);

        long pairs = 0;
        for (int i = 0; i < tq; i++) pairs += causal ? time - tq + i + 1 : time;
        double forwardFlops = 4.0 * pairs * headSize * batchHeads, backwardFlops = 8.0 * pairs * headSize * batchHeads;
        double forward = Rate(Forward, forwardFlops), backward = Rate(Backward, backwardFlops);
        var inv = CultureInfo.InvariantCulture;
        string layout = packedHeads == 0 ? "split" : $"packed/{packedHeads}";
        if (json)
            Console.WriteLine(string.Create(inv, $"{{\"batch_heads\":{batchHeads},\"queries\":{tq},\"time\":{time},\"head_size\":{headSize},\"causal\":{(causal ? "true" : "false")},\"layout\":\"{layout}\",\"threads\":{threads},\"isa\":\"{VectorIsa.Name}\",\"forward_gflops\":{forward:F1},\"backward_gflops\":{backward:F1},\"forward_us\":{forwardFlops / forward / 1e3:F1},\"backward_us\":{backwardFlops / backward / 1e3:F1}}}"));
        else
            Console.WriteLine(string.Create(inv, $"attention {(causal ? "causal" : "bidirectional")} {layout} BH={batchHeads} TQ={tq} TK={time} HS={headSize} threads={threads} isa={VectorIsa.Name}: forward {forward:F1} GFLOP/s ({forwardFlops / forward / 1e3:F1} us), backward {backward:F1} GFLOP/s ({backwardFlops / backward / 1e3:F1} us)"));
        return 0;
    }

    /// <summary>Median GFLOP/s of 15 samples of ~5 ms each, after 300 ms of warm-up (tiered JIT, caches, worker threads).</summary>
    static double Rate(Action call, double flops)
    {
        var clock = Stopwatch.StartNew();
        int calls = 0;
        while (clock.ElapsedMilliseconds < 300) { call(); calls++; }
        int perSample = Math.Max(1, calls * 5 / 300);
        var rates = new List<double>();
        for (int s = 0; s < 15; s++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < perSample; i++) call();
            rates.Add(flops * perSample / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        rates.Sort();
        return rates[rates.Count / 2];
    }

    // Compares output, dq, dk and dv with the scalar twin (split layout); bound ~ float32 round-off of the terms.
    static void Check(Parallelism parallelism, float[] q, float[] k, float[] v, float[] dOutput, float[] probabilities, float[][] actual, int batchHeads, int tq, int time,
        int headSize, float scale, bool causal)
    {
        float[] output = new float[q.Length], p = new float[probabilities.Length], dq = new float[q.Length], dk = new float[k.Length], dv = new float[v.Length];
        AttentionReference.Forward(parallelism, q, k, v, output, p, batchHeads, 1, tq, time, headSize, scale, causal, []);
        AttentionReference.Backward(parallelism, q, k, v, p, [], dOutput, dq, dk, dv, batchHeads, tq, time, headSize, scale);
        string[] names = ["output", "dq", "dk", "dv"];
        float[][] expected = [output, dq, dk, dv];
        double tolerance = 1e-4 * Math.Sqrt(headSize) * Math.Sqrt(time);
        for (int t = 0; t < expected.Length; t++)
            for (int i = 0; i < expected[t].Length; i++)
                if (!(Math.Abs(actual[t][i] - expected[t][i]) <= tolerance * (1 + Math.Abs(expected[t][i]))))
                    throw new InvalidOperationException($"attention {names[t]} wrong at {i}: {actual[t][i]} vs reference {expected[t][i]}");
        for (int i = 0; i < p.Length; i++)
            if (!(Math.Abs(probabilities[i] - p[i]) <= 1e-5))
                throw new InvalidOperationException($"attention probabilities wrong at {i}: {probabilities[i]} vs reference {p[i]}");
    }

    /// <summary>Interleaves split (B*NH, T, HS) tensors into one packed (B, T, parts * NH * HS) array.</summary>
    static float[] Pack(float[][] parts, int batch, int heads, int time, int headSize)
    {
        int width = heads * headSize, row = parts.Length * width;
        var packed = new float[batch * time * row];
        for (int part = 0; part < parts.Length; part++)
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < heads; h++)
                    for (int t = 0; t < time; t++)
                        Array.Copy(parts[part], ((b * heads + h) * time + t) * headSize, packed, (b * time + t) * row + part * width + h * headSize, headSize);
        return packed;
    }

    /// <summary>The packed output (B, T, C) and gradient (B, T, 3C) back in split layout: [output, dq, dk, dv].</summary>
    static float[][] Unpack(float[] output, float[] dqkv, int batch, int heads, int time, int headSize)
    {
        int width = heads * headSize, n = batch * heads * time * headSize;
        float[][] split = [new float[n], new float[n], new float[n], new float[n]];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < time; t++)
                {
                    int at = ((b * heads + h) * time + t) * headSize;
                    Array.Copy(output, (b * time + t) * width + h * headSize, split[0], at, headSize);
                    for (int part = 0; part < 3; part++)
                        Array.Copy(dqkv, (b * time + t) * 3 * width + part * width + h * headSize, split[1 + part], at, headSize);
                }
        return split;
    }

    static float[] RandomArray(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
