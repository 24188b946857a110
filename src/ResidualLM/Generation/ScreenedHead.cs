// Exact greedy argmax over an output head W (V, C) for a quarter of its memory traffic. An int8 copy of W, rebuilt from
// the weights for every generation (so never stale), gives approximate logits a_j with rigorous bounds B_j on their
// distance to the logits l_j the float32 head computes; every row whose upper bound reaches the best lower bound is
// recomputed exactly with the head's own arithmetic (GemmElements) and the largest wins, the first on ties as in
// Sampler.ArgMax. A row left out has l_j <= a_j + B_j < max_i (a_i - B_i) <= max_i l_i, so it cannot be (or tie) the max.
// The bound, for x the head input (k = C), x^ = scale_x (q_x - 128) its uint8 copy and w^_j = scale_j q_j:
//   |a_j - x^.w^_j| <= 2^-50 |a_j|                        (a_j = scale_x scale_j D_j in double, D_j an exact integer)
//   |x^.w^_j - x.w^_j| <= ||x - x^|| ||w^_j||,   |x.w^_j - x.w_j| <= ||x|| ||w_j - w^_j||
//   |x.w_j - l_j| <= gamma_(k+2) ||x|| ||w_j|| + (k+2) 2^-149   (any float32 summation order, fused or not, with
//                                                               gamma_n = n u / (1 - n u), u = 2^-24; underflow last)
// every norm rounded up, and the sum inflated by 2^-20 for its own double round-off.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using ResidualLM.Kernels;

namespace ResidualLM.Generation;

/// <summary>A screened, exact argmax over x W^T for one head weight; one generation at a time (see <see cref="Rent"/>).</summary>
internal sealed unsafe class ScreenedHead
{
    /// <summary>More candidates than this and the full head is cheaper than recomputing them one by one.</summary>
    public const int MaxCandidates = 64;

    // Buffers of a head between generations, keyed by its weight array (contents are rebuilt on every Rent).
    static readonly ConditionalWeakTable<float[], ScreenedHead> idle = new();

    readonly Tensor weight;
    Parallelism threads = null!;                // of the generation that rented it
    readonly int rows, cols;
    readonly sbyte[] quantized;                 // (V, C), pinned
    readonly float[] scales, quantizedNorms, deviations, norms; // (V): scale_j, >= ||w^_j||, >= ||w_j - w^_j|| + gamma ||w_j||, >= ||w_j||
    readonly int[] rowSums, dots, refinedDots;  // (V): sum_p q_jp, and the integer products of one call (pass 1, pass 2)
    readonly double[] upper;                    // (V): a_j + B_j of one call
    readonly byte[] input, refinedInput;        // (C): the quantised head input, and its residual quantised again
    readonly List<int> candidates = new(MaxCandidates + 1);
    readonly int[] partCandidates = new int[Parts * PartCapacity];
    double maxNorm;
    bool usable;
    int calls, fallbacks, candidatePasses, fullPasses;

    const int Parts = 4;

    ScreenedHead(Tensor weight)
    {
        this.weight = weight;
        rows = weight.Dim(0); cols = weight.Dim(1);
        quantized = GC.AllocateUninitializedArray<sbyte>(rows * cols, pinned: true);
        scales = new float[rows]; quantizedNorms = new float[rows]; deviations = new float[rows]; norms = new float[rows];
        rowSums = new int[rows]; dots = new int[rows]; refinedDots = new int[rows]; upper = new double[rows];
        input = new byte[cols]; refinedInput = new byte[cols];
    }

    /// <summary>
    /// The screen for <paramref name="weight"/> (V, C), built from its current values, or null where it cannot pay off
    /// (no AVX-VNNI, rows too long). <see cref="Return"/> it when the generation ends. <paramref name="force"/>: build
    /// without VNNI too (tests; every path computes the same exact integers and bounds). Its passes run on <paramref name="threads"/>.
    /// </summary>
    public static ScreenedHead? Rent(Tensor weight, Parallelism threads, bool force = false)
    {
        if (weight.Rank != 2 || weight.Dim(1) > QuantizedRows.MaxLength || weight.Dim(1) < 1 || weight.Dim(0) < 1) return null;
        // Measured: without AVX-VNNI (AVX2 or 128-bit dots) the screen did not beat the full head on GPT-2 decoding, as
        // QuantizeRows, rerun for every generation, is vectorised at AVX-512 only so far.
        if (!AvxVnni.IsSupported && !force) return null;
        ScreenedHead? head;
        lock (idle)
        {
            if (idle.TryGetValue(weight.Data, out head)) idle.Remove(weight.Data);
        }
        head ??= new ScreenedHead(weight);
        head.threads = threads;
        head.Rebuild();
        return head;
    }

    /// <summary>Keeps the buffers for the next generation with this head.</summary>
    public void Return()
    {
        lock (idle) idle.AddOrUpdate(weight.Data, this);
    }

    /// <summary>
    /// Calls to <see cref="ArgMax"/> since the last rent, how many fell back to the full head, and how many needed a
    /// second pass over the candidates' rows or over all rows.
    /// </summary>
    public (int Calls, int Fallbacks, int CandidatePasses, int FullPasses) Statistics => (calls, fallbacks, candidatePasses, fullPasses);

    /// <summary>a_j + B_j of every row as the last screening pass left them (tests check them against the header's bound).</summary>
    internal ReadOnlySpan<double> UpperBounds => upper;

    struct Job
    {
        public ScreenedHead Head;   // NOTE: a reference inside a stack struct handed to the pool by pointer; the caller keeps it alive
        public double ScaleX, Scale2, Norm, ErrorNorm;
        public bool Refined;        // pass 2: x^^ = x^ + scale_2 (q_2 - 128)
        public PartBounds PartLower;
        public PartCounts PartFound;    // rows each part found reaching its own lower bound; -1 past PartCapacity

        public readonly double Lower()
        {
            double lower = double.NegativeInfinity;
            for (int i = 0; i < Parts; i++) lower = Math.Max(lower, PartLower[i]);
            return lower;
        }
    }

    /// <summary>The largest lower bound found by each part of a pass.</summary>
    [InlineArray(Parts)]
    struct PartBounds
    {
        double element;
    }

    [InlineArray(Parts)]
    struct PartCounts
    {
        int element;
    }

    // Rows a part reaches its own lower bound with (a superset of its rows that reach the global one), kept in the
    // part, so the candidates come from a few short lists instead of a scan of every row's bound.
    const int PartCapacity = 64;

    void Rebuild()
    {
        var job = new Job { Head = this };
        if (!threads.TryRun(&BuildPart, Unsafe.AsPointer(ref job), Parts))
            for (int part = 0; part < Parts; part++) BuildPart(Unsafe.AsPointer(ref job), part, Parts, null!);
        maxNorm = 0;
        usable = true;
        for (int j = 0; j < rows; j++)
        {
            if (!float.IsFinite(scales[j]) || !float.IsFinite(norms[j]) || !float.IsFinite(deviations[j])) usable = false;
            maxNorm = Math.Max(maxNorm, norms[j]);
        }
        calls = fallbacks = candidatePasses = fullPasses = 0;
    }

    static void BuildPart(void* state, int part, int parts, KernelScratch unused)
    {
        var head = Unsafe.AsRef<Job>(state).Head;
        var (from, to) = head.Range(part, parts);
        var w = head.weight.Data.AsSpan();
        QuantizedRows.QuantizeRows(w, head.cols, from, to, head.quantized, head.scales, head.rowSums, head.norms, head.quantizedNorms, head.deviations);
        double gamma = Gamma(head.cols + 2);
        for (int j = from; j < to; j++) head.deviations[j] = Up(head.deviations[j] + gamma * head.norms[j]);
    }

    /// <summary>Rows of one part: whole blocks of eight.</summary>
    (int From, int To) Range(int part, int parts)
    {
        int blocks = (rows + 7) / 8;
        return (Math.Min(rows, (int)((long)blocks * part / parts) * 8), Math.Min(rows, (int)((long)blocks * (part + 1) / parts) * 8));
    }

    /// <summary>
    /// argmax_j of the logits l = x W^T that <see cref="GemmElements"/> computes for row <paramref name="row"/> of a
    /// product of <paramref name="productRows"/> rows (the arithmetic the full head would use there); the first index on
    /// ties. <paramref name="logits"/> (V) is scratch for the fallback to the full head.
    /// </summary>
    public int ArgMax(ReadOnlySpan<float> x, int productRows, int row, Span<float> logits)
    {
        if (x.Length != cols || logits.Length < rows) throw new ArgumentException("head input must be (C) and logits (V)");
        calls++;
        // A head that keeps falling back (a model whose logits crowd together) stops paying for the screen.
        if (usable && fallbacks >= 8 && 2 * fallbacks > calls) usable = false;
        int best = usable ? Screen(x, productRows, row) : -1;
        if (best >= 0) return best;
        fallbacks++;
        GemmElements.Row(threads, x, weight.Data, logits, productRows, rows, row);
        return Sampler.ArgMax(logits[..rows]);
    }

    /// <summary>
    /// The screened argmax, or -1 when too many candidates remain or the bound cannot be trusted. Pass 1 reads every
    /// int8 row against one uint8 copy of x. When that copy is too coarse (an input with outlier channels), the residual
    /// is quantised again, x^^ = x^ + scale_2 (q_2 - 128), which shrinks the input's share of the bound ~250-fold, and
    /// pass 2 reads again the candidates' rows, or all rows when most are still candidates. A lower bound from either
    /// pass is valid, so a row out after pass 1 stays out.
    /// </summary>
    int Screen(ReadOnlySpan<float> x, int productRows, int row)
    {
        var job = new Job { Head = this };
        job.ScaleX = QuantizedRows.QuantizeVector(x, input, out job.Norm, out job.ErrorNorm);
        // Finite inputs whose products cannot overflow float32: then every logit is finite and the bound holds.
        if (!double.IsFinite(job.Norm) || job.Norm * maxNorm > 1e37) return -1;
        RunParts(ref job);
        double lower = job.Lower();
        if (!Collect(ref job, lower, Math.Max(MaxCandidates, rows / RefineShare)))
        {
            // Pass 2 over every row.
            fullPasses++;
            QuantizeResidual(x, ref job);
            RunParts(ref job);
            lower = Math.Max(lower, job.Lower());
            if (!Collect(ref job, lower, MaxCandidates)) return -1;
        }
        else if (candidates.Count > MaxCandidates)
        {
            // Pass 2 over the candidates' rows only.
            candidatePasses++;
            QuantizeResidual(x, ref job);
            foreach (int j in candidates)
            {
                QuantizedRows.Dots(refinedInput, quantized.AsSpan(j * cols, cols), 0, 1, refinedDots.AsSpan(j, 1));
                lower = Math.Max(lower, Bound(ref job, j));
            }
            int kept = 0;
            for (int i = 0; i < candidates.Count; i++)
                if (upper[candidates[i]] >= lower) candidates[kept++] = candidates[i];
            candidates.RemoveRange(kept, candidates.Count - kept);
            if (kept > MaxCandidates) return -1;
        }
        var w = weight.Data.AsSpan();
        int best = -1;
        float bestLogit = 0f;
        foreach (int j in candidates)
        {
            float logit = GemmElements.Element(x, w.Slice(j * cols, cols), productRows, rows, row, j);
            if (best < 0 || logit > bestLogit) { best = j; bestLogit = logit; }
        }
        return best;
    }

    /// <summary>Pass 2 refines up to this share (1 / RefineShare) of the rows one by one, more in one pass over all.</summary>
    const int RefineShare = 16;

    /// <summary>
    /// The candidates: rows whose upper bound reaches <paramref name="lower"/>, from the parts' lists when none overflowed,
    /// else from every row; false past <paramref name="limit"/> of them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool Collect(ref Job job, double lower, int limit)
    {
        candidates.Clear();
        bool listed = true;
        for (int part = 0; part < Parts; part++) listed &= job.PartFound[part] >= 0;
        if (listed)
        {
            for (int part = 0; part < Parts; part++)
                for (int i = 0; i < job.PartFound[part]; i++)
                {
                    int j = partCandidates[part * PartCapacity + i];
                    if (upper[j] < lower) continue;
                    if (candidates.Count == limit) return false;
                    candidates.Add(j);
                }
            return true;
        }
        for (int j = 0; j < rows; j++)
        {
            if (upper[j] < lower) continue;
            if (candidates.Count == limit) return false;
            candidates.Add(j);
        }
        return true;
    }

    /// <summary>Quantises x - x^ into <c>refinedInput</c> and puts ||x - x^^|| (rounded up) in the job for pass 2.</summary>
    void QuantizeResidual(ReadOnlySpan<float> x, ref Job job)
    {
        Span<float> residual = cols <= 4096 ? stackalloc float[cols] : new float[cols];
        for (int p = 0; p < cols; p++) residual[p] = (float)(x[p] - job.ScaleX * (input[p] - QuantizedRows.ZeroPoint));
        job.Scale2 = QuantizedRows.QuantizeVector(residual, refinedInput, out _, out _);
        double ee = 0;
        for (int p = 0; p < cols; p++)
        {
            double e = x[p] - job.ScaleX * (input[p] - QuantizedRows.ZeroPoint) - job.Scale2 * (refinedInput[p] - QuantizedRows.ZeroPoint);
            ee += e * e;
        }
        job.ErrorNorm = Math.Sqrt(ee) * (1 + 1e-9);
        job.Refined = true;
    }

    void RunParts(ref Job job)
    {
        if (!threads.TryRun(&ScreenPart, Unsafe.AsPointer(ref job), Parts))
            for (int part = 0; part < Parts; part++) ScreenPart(Unsafe.AsPointer(ref job), part, Parts, null!);
    }

    // One part of a pass: the integer products of its rows, a_j + B_j for each, and the largest a_j - B_j.
    static void ScreenPart(void* state, int part, int parts, KernelScratch unused)
    {
        ref Job job = ref Unsafe.AsRef<Job>(state);
        var head = job.Head;
        var (from, to) = head.Range(part, parts);
        if (job.Refined) QuantizedRows.Dots(head.refinedInput, head.quantized, from, to, head.refinedDots);
        else QuantizedRows.Dots(head.input, head.quantized, from, to, head.dots);
        double lower = ScreenBounds.Bounds(head.Pass(in job), head.dots, head.refinedDots, head.rowSums, head.scales, head.quantizedNorms,
            head.deviations, from, to, head.upper);
        job.PartLower[part] = lower;
        int found = 0;
        double[] uppers = head.upper;
        for (int j = from; j < to && found >= 0; j++)
        {
            if (uppers[j] < lower) continue;
            if (found == PartCapacity) found = -1;
            else head.partCandidates[part * PartCapacity + found++] = j;
        }
        job.PartFound[part] = found;
    }

    /// <summary>Absolute slack for float32 underflow in the head's products: (k + 2) 2^-149.</summary>
    double Slack => (cols + 2) * Math.ScaleB(1.0, -149);

    /// <summary>The pass as the bounds kernel sees it.</summary>
    ScreenPass Pass(in Job job) => new(job.ScaleX, job.Scale2, job.Norm, job.ErrorNorm, Slack, job.Refined);

    /// <summary>Sets upper[j] = a_j + B_j for the job's pass (see the file header) and returns a_j - B_j.</summary>
    double Bound(ref Job job, int j) =>
        ScreenBounds.Bounds(Pass(in job), dots, refinedDots, rowSums, scales, quantizedNorms, deviations, j, j + 1, upper);

    /// <summary>gamma_n = n u / (1 - n u) with u = 2^-24: the relative error bound of an n-term float32 dot product.</summary>
    static double Gamma(int n)
    {
        double nu = n * Math.ScaleB(1.0, -24);
        return nu / (1 - nu);
    }

    static float Up(double value)
    {
        float f = (float)value;
        return f < value ? MathF.BitIncrement(f) : f;
    }
}
