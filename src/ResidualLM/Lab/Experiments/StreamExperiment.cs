// The residual stream of a trained model, block by block: how large the stream is, how large each block's two edits
// are against it, which way they point, and what the stream would predict if decoding stopped there (logit lens).
// Limits: statistics are averages over the positions of a few validation windows; edits are net changes of the
// stream (Middle − Input, Output − Middle), which for pre-norm are exactly the sublayer outputs.
using System.Globalization;
using ResidualLM.Autograd;
using ResidualLM.Models;
using ResidualLM.Tensors;

namespace ResidualLM.Lab.Experiments;

/// <summary>Settings of <see cref="StreamExperiment"/>.</summary>
public sealed record StreamOptions
{
    /// <summary>The model to probe (loaded, or trained on the fly).</summary>
    public LabModelSource Source { get; init; } = new();

    /// <summary>Validation windows the statistics average over.</summary>
    public int Windows { get; init; } = 16;

    /// <summary>Called with progress lines (training on the fly).</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>Rejects settings the experiment cannot run with.</summary>
    public void Validate()
    {
        Source.Validate();
        if (Windows is < 1 or > 4096) throw new InvalidInputException($"must be between 1 and 4096, got {Windows}", field: nameof(Windows));
    }
}

/// <summary>Statistics of one block of the stream.</summary>
/// <param name="Block">Index (0-based).</param>
/// <param name="InputNorm">Mean over positions of |x| entering the block.</param>
/// <param name="AttentionEdit">Mean |Middle − Input|.</param>
/// <param name="FeedForwardEdit">Mean |Output − Middle|.</param>
/// <param name="AttentionCosine">Mean cosine between the attention edit and the stream it is added to.</param>
/// <param name="FeedForwardCosine">Mean cosine between the feed-forward edit and the stream it is added to.</param>
public sealed record BlockStream(int Block, double InputNorm, double AttentionEdit, double FeedForwardEdit, double AttentionCosine, double FeedForwardCosine);

/// <summary>The logit lens at one depth: the stream decoded through the final norm and head.</summary>
/// <param name="Layer">0 = the embeddings, l = after block l.</param>
/// <param name="Loss">Mean cross-entropy against the next tokens (nats).</param>
/// <param name="Accuracy">Share of positions whose top token is the next token.</param>
/// <param name="TopToken">The most likely next token at the sample position.</param>
public sealed record LensLayer(int Layer, double Loss, double Accuracy, string TopToken);

/// <summary>What each block writes into the residual stream, and what the stream says at every depth.</summary>
public sealed class StreamExperiment(StreamOptions options) : ILabExperiment
{
    public string Name => "stream";

    /// <summary>Per-block statistics and the logit lens of <paramref name="model"/> on windows (count, context).</summary>
    public static (List<BlockStream> Blocks, List<LensLayer> Lens) Measure(LabModel model, int windows)
    {
        var lm = model.Model;
        lm.Eval();
        int context = model.Context;
        var (inputs, targets) = LabModels.Windows(model.Corpus.Validation, context, windows);
        var blocks = new List<BlockStream>();
        var lens = new List<LensLayer>();
        using (Graph.NoGrad())
        {
            var trace = lm.ForwardTrace(inputs, windows, context);
            for (int b = 0; b < trace.Blocks.Count; b++)
            {
                var t = trace.Blocks[b];
                var attention = t.Middle - t.Input;
                var feedForward = t.Output - t.Middle;
                blocks.Add(new BlockStream(b, MeanRowNorm(t.Input), MeanRowNorm(attention), MeanRowNorm(feedForward),
                    MeanRowCosine(attention, t.Input), MeanRowCosine(feedForward, t.Middle)));
            }
            var streams = trace.Blocks.Select(t => t.Input).Append(trace.Blocks[^1].Output).ToList();
            int sample = context - 1; // the last position of the first window: the most context
            for (int l = 0; l < streams.Count; l++)
            {
                var logits = lm.Unembed(streams[l]).Reshape(windows * context, -1);
                double loss = LanguageModel.Loss(lm.Context.Threads, logits, targets).Item();
                var (accuracy, top) = TopTokens(logits, targets, sample);
                lens.Add(new LensLayer(l, loss, accuracy, model.Corpus.Tokenizer.Decode([top])));
            }
        }
        return (blocks, lens);
    }

    public ExperimentResult Run()
    {
        options.Validate();
        var model = LabModels.Obtain(options.Source, options.Progress);
        var (blocks, lens) = Measure(model, options.Windows);
        int context = model.Context;
        var (inputs, _) = LabModels.Windows(model.Corpus.Validation, context, 1);
        string sampleText = model.Corpus.Tokenizer.Decode(inputs);
        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = "The residual stream, block by block",
            Description =
                "Every block reads the stream and adds two edits to it: attention's, then the feed-forward's. For each block this " +
                "shows the size of the stream entering it (mean |x| per position), the size of each edit, its ratio to the stream, " +
                "and the cosine between the edit and the stream it is added to (near 0: the edit writes in a new direction; " +
                "negative: it erases part of what is there). Edits are the net change of the stream (for pre-norm exactly the " +
                "sublayer's output).\n\n" +
                "The logit lens (nostalgebraist 2020) decodes the stream after each block through the final norm and the output " +
                "head, as if the model stopped there: the loss against the next characters and the share predicted correctly " +
                "show how the prediction is assembled step by step in the stream.",
            Parameters =
            [
                new("model", model.Description), new("context", Text(context)), new("windows", Text(options.Windows), "validation windows averaged over"),
                new("sample", Quote(sampleText), "first window; the lens's top token is predicted after its last character"),
            ],
        };
        var table = new ResultTable
        {
            Id = "blocks", Title = "Stream and edits per block (means over positions)",
            Columns = [new("block"), new("|x| in", Format: "G4"), new("|attn edit|", Format: "G4"), new("|ffn edit|", Format: "G4"),
                       new("attn / |x|", Format: "F3"), new("ffn / |x|", Format: "F3"), new("cos(attn, x)", Format: "F3"), new("cos(ffn, x)", Format: "F3")],
        };
        foreach (var b in blocks)
            table.AddRow(b.Block + 1, b.InputNorm, b.AttentionEdit, b.FeedForwardEdit, b.AttentionEdit / b.InputNorm,
                b.FeedForwardEdit / b.InputNorm, b.AttentionCosine, b.FeedForwardCosine);
        result.Tables.Add(table);
        var lensTable = new ResultTable
        {
            Id = "logit-lens", Title = "Logit lens: the stream decoded after each block",
            Note = "Layer 0 is the embeddings, before any block. The last layer is the model's own prediction.",
            Columns = [new("after block"), new("loss", "nats", "F4"), new("top-1 accuracy", Format: "P1"), new("top token at the sample")],
        };
        foreach (var l in lens) lensTable.AddRow(l.Layer, l.Loss, l.Accuracy, Quote(l.TopToken));
        result.Tables.Add(lensTable);
        AddCharts(result, blocks, lens, model.Corpus);
        AddFindings(result, blocks, lens, model.Corpus);
        return result;
    }

    static void AddCharts(ExperimentResult result, List<BlockStream> blocks, List<LensLayer> lens, LabCorpus corpus)
    {
        result.Charts.Add(new ChartSpec
        {
            Id = "edits", Kind = ChartKind.Line, Title = "Stream size and edit sizes by block",
            Caption = "Log scale. The stream grows as edits accumulate; each edit is usually a fraction of it.",
            X = new AxisSpec("block"), Y = new AxisSpec("mean norm per position", Scale: AxisScale.Log),
            Series = [new SeriesSpec { Name = "|x| entering the block", Points = blocks.Select(b => new ChartPoint(b.Block + 1, b.InputNorm)).ToList() },
                      new SeriesSpec { Name = "attention edit", Points = blocks.Select(b => new ChartPoint(b.Block + 1, b.AttentionEdit)).ToList() },
                      new SeriesSpec { Name = "feed-forward edit", Points = blocks.Select(b => new ChartPoint(b.Block + 1, b.FeedForwardEdit)).ToList() }],
        });
        var series = new List<SeriesSpec> { new() { Name = "logit-lens loss", Points = lens.Select(l => new ChartPoint(l.Layer, l.Loss)).ToList() } };
        if (corpus.UnigramEntropy is double unigram && corpus.EntropyFloor is double floor)
        {
            series.Add(new SeriesSpec { Name = "unigram entropy", Points = [new(0, unigram), new(lens.Count - 1, unigram)] });
            series.Add(new SeriesSpec { Name = "entropy floor", Points = [new(0, floor), new(lens.Count - 1, floor)] });
        }
        result.Charts.Add(new ChartSpec
        {
            Id = "logit-lens", Kind = ChartKind.Line, Title = "Logit lens: loss of the stream decoded after each block",
            X = new AxisSpec("after block"), Y = new AxisSpec("loss", "nats per token"), Series = series,
        });
    }

    static void AddFindings(ExperimentResult result, List<BlockStream> blocks, List<LensLayer> lens, LabCorpus corpus)
    {
        var ratios = blocks.SelectMany(b => new[] { b.AttentionEdit / b.InputNorm, b.FeedForwardEdit / b.InputNorm }).ToList();
        result.Findings.Add($"The stream grows from |x| = {blocks[0].InputNorm:G3} entering block 1 to {blocks[^1].InputNorm:G3} entering block " +
            $"{blocks.Count}; edits are {ratios.Min():G2}–{ratios.Max():G2} of the stream they are added to (median {Median(ratios):G2}).");
        var cosines = blocks.SelectMany(b => new[] { b.AttentionCosine, b.FeedForwardCosine }).ToList();
        result.Findings.Add($"Cosines between edits and the stream range {cosines.Min():F2} to {cosines.Max():F2}: " +
            (cosines.All(c => Math.Abs(c) < 0.5) ? "edits mostly write in directions other than the stream's current one." :
                "some edits largely reinforce (positive) or erase (negative) what is already there."));
        int best = lens.MinBy(l => l.Loss)!.Layer;
        string reference = corpus.UnigramEntropy is double u ? $" (unigram entropy {u:F3}, floor {corpus.EntropyFloor:F3})" : "";
        result.Findings.Add($"Logit lens: the embeddings alone give loss {lens[0].Loss:F3}, the final stream {lens[^1].Loss:F3}{reference}; " +
            $"the lowest loss is after block {best}. The largest drop is across block {BiggestDrop(lens)}.");
    }

    static int BiggestDrop(List<LensLayer> lens) =>
        Enumerable.Range(1, lens.Count - 1).MaxBy(l => lens[l - 1].Loss - lens[l].Loss);

    /// <summary>Mean over rows (positions) of the L2 norm of the last dimension.</summary>
    static double MeanRowNorm(Tensor x)
    {
        int c = x.Dim(-1), rows = x.Size / c;
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += Math.Sqrt(Dot(x.Data, r * c, x.Data, r * c, c));
        return sum / rows;
    }

    /// <summary>Mean over rows of cos(a_r, b_r); rows where either is zero count as 0.</summary>
    static double MeanRowCosine(Tensor a, Tensor b)
    {
        int c = a.Dim(-1), rows = a.Size / c;
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            double denominator = Math.Sqrt(Dot(a.Data, r * c, a.Data, r * c, c) * Dot(b.Data, r * c, b.Data, r * c, c));
            if (denominator > 0) sum += Dot(a.Data, r * c, b.Data, r * c, c) / denominator;
        }
        return sum / rows;
    }

    static double Dot(float[] a, int aStart, float[] b, int bStart, int length)
    {
        double sum = 0;
        for (int i = 0; i < length; i++) sum += (double)a[aStart + i] * b[bStart + i];
        return sum;
    }

    /// <summary>Top-1 accuracy over all rows, and the top token of row <paramref name="sampleRow"/>.</summary>
    static (double Accuracy, int Top) TopTokens(Tensor logits, int[] targets, int sampleRow)
    {
        int v = logits.Dim(-1), rows = logits.Size / v, correct = 0, sampleTop = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = logits.Data.AsSpan(r * v, v);
            int top = 0;
            for (int i = 1; i < v; i++) if (row[i] > row[top]) top = i;
            if (top == targets[r]) correct++;
            if (r == sampleRow) sampleTop = top;
        }
        return ((double)correct / rows, sampleTop);
    }

    static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    static string Quote(string text) => "\"" + text.Replace("\n", "\\n") + "\"";
    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
