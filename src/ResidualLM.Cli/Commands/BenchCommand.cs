// `rlm bench ...`: throughput measurements of the kernels, each checked against its scalar reference before timing.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ResidualLM.Kernels;
using ResidualLM.Tensors;

namespace ResidualLM.Cli.Commands;

/// <summary>The <c>bench</c> command and its subcommands (one method each).</summary>
public static class BenchCommand
{
    /// <summary>Builds <c>bench</c> with its subcommands.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Measure kernel throughput on this machine.");
        bench.Subcommands.Add(CreateGemm());
        bench.Subcommands.Add(BenchAttentionCommand.Create());
        bench.Subcommands.Add(BenchModelCommands.CreateTrain());
        bench.Subcommands.Add(BenchModelCommands.CreateGenerate());
        bench.Subcommands.Add(CreateMemory());
        var info = new Option<bool>("--info") { Description = "print the vector path the kernels take (avx512, avx2, vector128, scalar) and the CPU features" };
        bench.Options.Add(info);
        bench.SetAction(parse => CliErrors.Run(() =>
        {
            if (!parse.GetValue(info)) throw new InvalidInputException("name a benchmark (gemm, attention, train, generate or memory), or --info", field: "bench");
            foreach (string line in VectorPathInfo.Lines()) Console.WriteLine(line);
            return 0;
        }));
        return bench;
    }

    // rlm bench gemm --m 256 --k 768 --n 2304 --layout nt --threads 2 --json
    static Command CreateGemm()
    {
        var m = new Option<int>("--m") { Description = "rows of C", DefaultValueFactory = _ => 256 };
        var k = new Option<int>("--k") { Description = "inner dimension", DefaultValueFactory = _ => 768 };
        var n = new Option<int>("--n") { Description = "columns of C", DefaultValueFactory = _ => 2304 };
        var layout = new Option<string>("--layout") { Description = "nn, nt, tn or tt (t = operand stored transposed)", DefaultValueFactory = _ => "nn" };
        layout.AcceptOnlyFromAmong("nn", "nt", "tn", "tt");
        var threads = new Option<int>("--threads") { Description = "threads (default: RLM_THREADS or all cores)", DefaultValueFactory = _ => ComputeContext.DefaultThreadCount };
        var json = new Option<bool>("--json") { Description = "print one JSON line" };
        var batch = new Option<int>("--batch") { Description = "independent products per call (MultiplyBatched), e.g. 48 attention heads", DefaultValueFactory = _ => 1 };
        var weights = new Option<string>("--weights") { Description = "f32, or q8_0/q4_0: B (n x k) in ggml's blocks, A quantised per row on the fly (llama.cpp's products)", DefaultValueFactory = _ => "f32" };
        var cmd = new Command("gemm", "Single-precision matrix multiply GFLOP/s (median of repeated runs after warm-up).");
        foreach (Option o in new Option[] { m, k, n, layout, threads, batch, weights, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var format = BenchModelCommands.ParseWeights(parse.GetValue(weights));
            return format is { } blocks
                ? RunQuantizedGemm(parse.GetValue(m), parse.GetValue(k), parse.GetValue(n), blocks, parse.GetValue(threads), parse.GetValue(json))
                : RunGemm(parse.GetValue(m), parse.GetValue(k), parse.GetValue(n), parse.GetValue(layout)!, parse.GetValue(threads), parse.GetValue(batch), parse.GetValue(json));
        }));
        return cmd;
    }

    static int RunGemm(int m, int k, int n, string layout, int threads, int batch, bool json)
    {
        if (m < 1 || k < 1 || n < 1) throw new InvalidInputException("must be at least 1", field: "--m/--k/--n");
        if (batch < 1) throw new InvalidInputException("must be at least 1", field: "--batch");
        if (threads < 1) throw new InvalidInputException("must be at least 1", field: "--threads");
        using var parallelism = new Parallelism(threads);
        bool ta = layout[0] == 't', tb = layout[1] == 't';
        var rng = new Random(1234);
        float[] a = RandomArray(rng, batch * m * k), b = RandomArray(rng, batch * k * n), c = new float[batch * m * n];
        void Call()
        {
            if (batch == 1) Gemm.Multiply(parallelism, a, b, c, m, k, n, ta, tb);
            else Gemm.MultiplyBatched(parallelism, a, b, c, batch, m, k, n, ta, tb);
        }

        Call();
        for (int i = 0; i < batch; i += Math.Max(1, batch / 3))
            CheckSamples(a.AsSpan(i * m * k, m * k), b.AsSpan(i * k * n, k * n), c.AsSpan(i * m * n, m * n), m, k, n, ta, tb, rng);

        var rates = SortedRates(Call, 2.0 * m * n * k * batch);
        double gflops = rates[rates.Count / 2];
        var inv = CultureInfo.InvariantCulture;
        if (json)
            Console.WriteLine(string.Create(inv, $"{{\"m\":{m},\"k\":{k},\"n\":{n},\"layout\":\"{layout}\",\"threads\":{threads},\"isa\":\"{VectorIsa.Name}\",{(batch > 1 ? $"\"batch\":{batch}," : "")}\"gflops\":{gflops:F1}}}"));
        else
            Console.WriteLine(string.Create(inv, $"gemm {layout} m={m} k={k} n={n}{(batch > 1 ? $" batch={batch}" : "")} threads={threads} isa={VectorIsa.Name}: {gflops:F1} GFLOP/s (median of {rates.Count}, min {rates[0]:F1}, max {rates[^1]:F1})"));
        return 0;
    }

    // rlm bench memory --mb 512 --threads 2: how fast this machine streams memory that is not in cache, the bound of a
    // batch-1 decode step (every weight read once per token).
    static Command CreateMemory()
    {
        var megabytes = new Option<int>("--mb") { Description = "Buffer size in MB (well past the last-level cache)", DefaultValueFactory = _ => 512 };
        var threads = new Option<int>("--threads") { Description = "threads (default: RLM_THREADS or all cores)", DefaultValueFactory = _ => ComputeContext.DefaultThreadCount };
        var json = new Option<bool>("--json") { Description = "print one JSON line" };
        var cmd = new Command("memory", "Read bandwidth in GB/s: a vector sum over a buffer far larger than the caches, split between the threads");
        foreach (Option o in new Option[] { megabytes, threads, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliErrors.Run(() => RunMemory(parse.GetValue(megabytes), parse.GetValue(threads), parse.GetValue(json))));
        return cmd;
    }

    static int RunMemory(int megabytes, int threads, bool json)
    {
        if (megabytes < 16 || megabytes > 16384) throw new InvalidInputException($"must be 16 to 16384, got {megabytes}", field: "--mb");
        if (threads < 1) throw new InvalidInputException("must be at least 1", field: "--threads");
        using var parallelism = new Parallelism(threads);
        var buffer = new float[(long)megabytes * (1 << 20) / sizeof(float)];
        for (int i = 0; i < buffer.Length; i += 1024) buffer[i] = 1f;                    // touch every page
        const int chunk = 1 << 16;
        int chunks = (int)((buffer.LongLength + chunk - 1) / chunk);
        var partial = new float[chunks];
        void Pass() => parallelism.For(0, chunks, (from, to) =>
        {
            for (int c = from; c < to; c++)
                partial[c] = System.Numerics.Tensors.TensorPrimitives.Sum(buffer.AsSpan(c * chunk, (int)Math.Min(chunk, buffer.LongLength - (long)c * chunk)));
        }, costPerItem: chunk);
        Pass();
        var rates = new List<double>();
        for (int s = 0; s < 9; s++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Pass();
            rates.Add(buffer.LongLength * sizeof(float) / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        rates.Sort();
        double median = rates[rates.Count / 2];
        var inv = CultureInfo.InvariantCulture;
        if (json) Console.WriteLine(string.Create(inv, $"{{\"mb\":{megabytes},\"threads\":{threads},\"isa\":\"{VectorIsa.Name}\",\"read_gb_per_s\":{median:F1},\"max_gb_per_s\":{rates[^1]:F1}}}"));
        else Console.WriteLine(string.Create(inv, $"memory read {megabytes} MB, {threads} threads: {median:F1} GB/s (median of {rates.Count}, min {rates[0]:F1}, max {rates[^1]:F1})"));
        return 0;
    }

    // C (m x n) = A B^T with B quantised: what a prompt (m rows) or a decode step (m = 1) costs in a quantised Linear.
    // GOP/s counts 2 m n k operations, as GFLOP/s does for the float product.
    static int RunQuantizedGemm(int m, int k, int n, BlockFormat format, int threads, bool json)
    {
        if (m < 1 || n < 1 || k < 32 || k % 32 != 0) throw new InvalidInputException("--m and --n must be at least 1 and --k a positive multiple of 32", field: "--m/--k/--n");
        if (threads < 1) throw new InvalidInputException("must be at least 1", field: "--threads");
        using var parallelism = new Parallelism(threads);
        var rng = new Random(1234);
        float[] a = RandomArray(rng, m * k), c = new float[m * n];
        var b = QuantizedMatrix.Quantize(RandomArray(rng, n * k), n, k, format);
        using var scratch = new QuantizedActivations();
        void Call() => BlockDot.Multiply(parallelism, a, m, b, default, c, scratch);
        double ops = 2.0 * m * n * k;
        var rates = SortedRates(Call, ops);
        double gops = rates[rates.Count / 2];
        // Bytes of B per second: what bounds a decode step (m = 1).
        double bandwidth = gops * 1e9 / ops * b.ByteCount / 1e9;
        var inv = CultureInfo.InvariantCulture;
        string name = BlockQuant.Name(format);
        if (json)
            Console.WriteLine(string.Create(inv, $"{{\"m\":{m},\"k\":{k},\"n\":{n},\"weights\":\"{name}\",\"threads\":{threads},\"isa\":\"{VectorIsa.Name}\",\"int_dot\":\"{BlockDot.Path}\",\"gops\":{gops:F1},\"weight_gb_per_s\":{bandwidth:F1}}}"));
        else
            Console.WriteLine(string.Create(inv, $"gemm {name} m={m} k={k} n={n} threads={threads} isa={VectorIsa.Name} int={BlockDot.Path}: {gops:F1} GOP/s, B read at {bandwidth:F1} GB/s (median of {rates.Count}, min {rates[0]:F1}, max {rates[^1]:F1} GOP/s)"));
        return 0;
    }

    /// <summary>
    /// Warms up (tiered JIT, caches, worker threads) for half a second, then times 15 samples of calls lasting ~10 ms each
    /// at 400 G operations/s; returns the samples' rates in G operations/s, sorted.
    /// </summary>
    static List<double> SortedRates(Action call, double operations)
    {
        int calls = Math.Max(1, (int)(0.01 * 400e9 / operations));
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 500) call();
        var rates = new List<double>();
        for (int s = 0; s < 15; s++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++) call();
            rates.Add(operations * calls / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        rates.Sort();
        return rates;
    }

    static float[] RandomArray(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    // Compares 64 sampled entries with double-precision dot products; bound ~ sqrt(k) eps sum |a b| with margin.
    static void CheckSamples(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, int m, int k, int n, bool ta, bool tb, Random rng)
    {
        for (int s = 0; s < 64; s++)
        {
            int i = rng.Next(m), j = rng.Next(n);
            double sum = 0, abs = 0;
            for (int p = 0; p < k; p++)
            {
                double prod = (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                sum += prod;
                abs += Math.Abs(prod);
            }
            double tolerance = 4 * Math.Sqrt(k) * 1.2e-7 * abs + 1e-30;
            if (Math.Abs(c[i * n + j] - sum) > tolerance)
                throw new InvalidOperationException($"gemm result wrong at ({i}, {j}): {c[i * n + j]} vs reference {sum}");
        }
    }
}
