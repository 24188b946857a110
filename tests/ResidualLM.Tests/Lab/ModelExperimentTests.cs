// The model experiments (depth-sweep, stream, lesion) on tiny configurations: their measurements agree with direct
// computations, and their verdicts follow the numbers.
using ResidualLM.Lab;
using ResidualLM.Lab.Experiments;
using ResidualLM.Models;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class ModelExperimentTests
{
    static readonly LabModelSource Tiny = new()
    {
        Depth = 3, Width = 16, Heads = 2, CorpusCharacters = 4000,
        Training = new LabTraining { Steps = 3, BatchSize = 2, Context = 16, WarmupSteps = 1 },
    };

    [Fact]
    public void Stream_LastLensLayerIsTheModelsOwnLoss_AndPreNormEditsAreTheSublayerOutputs()
    {
        var model = LabModels.Obtain(Tiny);
        var (blocks, lens) = StreamExperiment.Measure(model, windows: 3);
        Assert.Equal(3, blocks.Count);
        Assert.Equal(4, lens.Count);
        Assert.Equal(LabModels.Loss(model.Model, model.Corpus.Validation, model.Context, 3), lens[^1].Loss, 1e-5);
        // The edits are the sublayer outputs: recompute attention(norm1(x)) and ffn(norm2(middle)) from the block's own
        // modules (not through the residual policy) and compare element by element with the stream's net changes.
        var (inputs, _) = LabModels.Windows(model.Corpus.Validation, model.Context, 3);
        var context = model.Model.Context;
        using (ResidualLM.Autograd.Graph.NoGrad())
        {
            var trace = model.Model.ForwardTrace(inputs, 3, model.Context);
            for (int b = 0; b < 3; b++)
            {
                var block = model.Model.Blocks[b];
                var t = trace.Blocks[b];
                var attention = block.Attention.Forward(context, ((PreNormResidual)block.Residual1).Norm.Forward(context, t.Input)).Data;
                var feedForward = block.FeedForward.Forward(context, ((PreNormResidual)block.Residual2).Norm.Forward(context, t.Middle)).Data;
                for (int i = 0; i < attention.Length; i++)
                {
                    Assert.Equal(attention[i], t.Middle.Data[i] - t.Input.Data[i], 1e-4);
                    Assert.Equal(feedForward[i], t.Output.Data[i] - t.Middle.Data[i], 1e-4);
                }
                // The experiment's edit size is the mean over positions of |attention(norm1(x))|.
                int width = t.Input.Dim(-1), rows = attention.Length / width;
                double meanNorm = Enumerable.Range(0, rows).Average(r => Math.Sqrt(Enumerable.Range(0, width).Sum(j => (double)attention[r * width + j] * attention[r * width + j])));
                Assert.Equal(meanNorm, blocks[b].AttentionEdit, 1e-4 * meanNorm);
            }
        }
        Assert.All(blocks, b => Assert.True(b.InputNorm > 0 && b.AttentionEdit > 0 && Math.Abs(b.AttentionCosine) <= 1));
    }

    [Fact]
    public void Lesion_DeletingEveryBlockIsTheHeadOnTheEmbeddings()
    {
        var model = LabModels.Obtain(Tiny);
        var profile = LesionExperiment.Measure("residual", model, windows: 3, subsets: 2, seed: 1);
        Assert.Equal(3, profile.WithoutBlock.Length);
        Assert.Equal(profile.Baseline, profile.WithoutCount[0]);
        foreach (int i in Enumerable.Range(0, 3)) model.Model.SkippedBlocks.Add(i);
        double headOnly = LabModels.Loss(model.Model, model.Corpus.Validation, model.Context, 3);
        model.Model.SkippedBlocks.Clear();
        Assert.Equal(headOnly, profile.WithoutCount[^1], 1e-6);
        Assert.Empty(model.Model.SkippedBlocks);
    }

    [Fact]
    public void Lesion_Run_ComparesResidualWithPlain()
    {
        var result = new LesionExperiment(new LesionOptions { Source = Tiny, Windows = 2, Subsets = 1 }).Run();
        var table = result.Tables.Single(t => t.Id == "blocks");
        Assert.Equal(1 + 2 * 2, table.Columns.Count);
        Assert.Equal(4, table.Rows.Count);
        Assert.Contains(result.Findings, f => f.StartsWith("Mean damage of one deletion"));
    }

    [Fact]
    public void DepthSweep_TinyRun_FillsTheHeatmap()
    {
        var options = new DepthSweepOptions
        {
            Depths = [1, 2], Policies = [ResidualMode.None, ResidualMode.PreNorm], Width = 8, Heads = 2, CorpusCharacters = 4000, EvalWindows = 2,
            Training = new LabTraining { Steps = 2, BatchSize = 2, Context = 8, WarmupSteps = 1 },
        };
        var result = new DepthSweepExperiment(options).Run();
        Assert.Equal(4, result.Tables[0].Rows.Count);
        var heatmap = result.Charts.Single(c => c.Kind == ChartKind.Heatmap);
        Assert.Equal(2, heatmap.Cells!.Count);
        Assert.All(heatmap.Cells, row => Assert.Equal(2, row.Count));
    }

    [Fact]
    public void DepthSweep_Seeds_SummaryGivesIntervals_AndSaysWhichPoliciesAreNotDistinguishable()
    {
        var options = new DepthSweepOptions { Depths = [2], Policies = [ResidualMode.None, ResidualMode.PreNorm, ResidualMode.ReZero] };
        var corpus = new LabCorpus(ResidualLM.Text.CharTokenizer.FromText("ab"), [], [], EntropyFloor: 1.0, UnigramEntropy: 3.0);
        double[] Losses(ResidualMode policy) => policy switch
        {
            ResidualMode.None => [3.0, 3.01, 3.02], ResidualMode.PreNorm => [2.0, 2.1, 2.2], _ => [2.3, 2.35, 2.4],
        };
        // Seed s: first-block gradient 0.2 + 0.01 s and wall time 10 + s seconds, so both have mean ± 4.303 × sd / √3 too.
        var runs = options.Policies.SelectMany(p => Losses(p).Select((loss, s) => new SweepRun(2, p, loss, loss, 3.6, 0.2 + 0.01 * s, 0.2, 0, 10 + s, 1337 + s))).ToList();
        var result = new DepthSweepExperiment(options).BuildResult(runs, corpus, 1);
        var summary = result.Tables.Single(t => t.Id == "summary");
        Assert.Equal(3, summary.Rows.Count);
        // pre-norm: mean 2.1, s = 0.1, ± = t(0.975, 2) × 0.1 / √3 = 4.303 × 0.057735 = 0.24843 → [1.852, 2.348];
        // ReZero: mean 2.35, s = 0.05, ± = 0.12422 → [2.226, 2.474]: they overlap. none: 3.01 ± 0.02484, apart from both.
        var preNorm = summary.Rows[1];
        Assert.Equal(2.1, preNorm[2].Number!.Value, 1e-9);
        Assert.Equal(4.303 * 0.1 / Math.Sqrt(3), preNorm[3].Number!.Value, 0.0003);
        Assert.Equal("rezero", preNorm[6].Text);
        Assert.Equal("", summary.Rows[0][6].Text);
        Assert.Contains(result.Findings, f => f == "2 blocks: prenorm is lowest (2.100 ± 0.248); not distinguishable at 3 seeds from rezero (the 95% intervals overlap).");
        var loss = result.Charts.Single(c => c.Id == "loss");
        Assert.Equal(0.2484, loss.Series[1].Points![0].Error!.Value, 0.0003);
        var gradient = result.Charts.Single(c => c.Id == "gradient").Series[1].Points![0];
        Assert.Equal(0.21, gradient.Y!.Value, 1e-9);
        Assert.Equal(4.303 * 0.01 / Math.Sqrt(3), gradient.Error!.Value, 0.00003);
        var time = result.Charts.Single(c => c.Id == "time");
        Assert.Equal("99 s", result.Parameters.Single(p => p.Name == "run time").Value);    // 3 policies x (10 + 11 + 12) s
        Assert.Equal(options.Policies.Count, time.Series.Count);
        Assert.Equal(11, time.Series[2].Points![0].Y!.Value, 1e-9);
        Assert.Equal(4.303 / Math.Sqrt(3), time.Series[2].Points![0].Error!.Value, 0.003);
        Assert.Equal(3, result.Tables.Single(t => t.Id == "runs").Rows.Count(r => r[1].Text == "prenorm"));
    }

    [Fact]
    public void Lesion_Summary_AveragesDamagePerSeed()
    {
        // Two seeds. Damage of block 1: 0.5 and 0.7 → mean 0.6, s = 0.14142, ± = 12.706 × 0.1 = 1.2706.
        // Mean damage over blocks per seed: (0.5 + 0.1) / 2 = 0.3 and (0.7 + 0.3) / 2 = 0.5 → mean 0.4, ± 1.2706.
        var seeds = new[]
        {
            new LesionProfile("residual", 2.0, [2.5, 2.1], [2.0, 2.3, 3.0]),
            new LesionProfile("residual", 2.2, [2.9, 2.5], [2.2, 2.5, 3.2]),
        };
        var summary = LesionExperiment.Summarise("residual", seeds);
        Assert.Equal(2.1, summary.Baseline.Mean, 1e-12);
        Assert.Equal(0.6, summary.Damage[0].Mean, 1e-12);
        Assert.Equal(1.2706, summary.Damage[0].HalfWidth, 0.0005);
        Assert.Equal(0.4, summary.MeanDamage.Mean, 1e-12);
        Assert.Equal(1.2706, summary.MeanDamage.HalfWidth, 0.0005);
        Assert.Equal(3.1, summary.WithoutCount[2].Mean, 1e-12);
    }

    [Fact]
    public void DepthSweep_Verdicts_FollowTheNumbers()
    {
        var options = new DepthSweepOptions { Depths = [2, 96], Policies = [ResidualMode.None, ResidualMode.PreNorm] };
        var corpus = new LabCorpus(ResidualLM.Text.CharTokenizer.FromText("ab"), [], [], EntropyFloor: 1.0, UnigramEntropy: 3.0);
        SweepRun Run(int depth, ResidualMode policy, double loss) => new(depth, policy, loss, loss, 3.6, 0.2, 0.2, 0, 1);
        var result = new DepthSweepExperiment(options).BuildResult(
            [Run(2, ResidualMode.None, 2.9), Run(2, ResidualMode.PreNorm, 2.0), Run(96, ResidualMode.None, 3.01), Run(96, ResidualMode.PreNorm, 2.0)],
            corpus, 1);
        Assert.Contains(result.Findings, f => f.StartsWith("none: 96 blocks stalls"));
        Assert.Contains(result.Findings, f => f.StartsWith("prenorm: 96 blocks trains (50"));
    }
}
