// Tests that check what the lab's experiments mean, not only that they run: on small, seeded settings, a deep plain
// stack learns nothing beyond character frequencies while pre-norm does; one lesion hurts a trained residual network
// less than a trained plain one; a lesion of block i is the network built without block i; a fresh ReZero network is
// the identity in every block. References (unigram entropy, the smaller network) are computed here, not by the lab.
using ResidualLM.Lab;
using ResidualLM.Lab.Experiments;
using ResidualLM.Models;
using ResidualLM.Tensors;
using Xunit;

namespace ResidualLM.Tests.Lab;

public class MeaningTests
{
    /// <summary>−Σ p ln p of the token frequencies of <paramref name="tokens"/>: the loss of the best context-free model.</summary>
    static double UnigramEntropy(int[] tokens) =>
        -tokens.GroupBy(t => t).Select(g => (double)g.Count() / tokens.Length).Sum(p => p * Math.Log(p));

    [Fact]
    public void DepthSweep_SixteenPlainBlocksStallAtTheUnigramLoss_PreNormLearnsBelowIt()
    {
        var options = new DepthSweepOptions
        {
            Width = 16, Heads = 2, CorpusCharacters = 60_000, EvalWindows = 32,
            Training = new LabTraining { Steps = 150, BatchSize = 8, Context = 32, LearningRate = 3e-3, WarmupSteps = 15 },
        };
        var corpus = LabCorpus.Builtin(options.CorpusCharacters, options.Seed);
        double unigram = UnigramEntropy(corpus.Train);
        var plain = DepthSweepExperiment.TrainOne(16, ResidualMode.None, options, corpus);
        var preNorm = DepthSweepExperiment.TrainOne(16, ResidualMode.PreNorm, options, corpus);
        Assert.True(Math.Abs(plain.ValidationLoss - unigram) < 0.1, $"plain: val {plain.ValidationLoss:F3}, unigram entropy {unigram:F3}");
        Assert.True(preNorm.ValidationLoss < unigram - 0.25, $"pre-norm: val {preNorm.ValidationLoss:F3}, unigram entropy {unigram:F3}");
    }

    [Fact]
    public void Lesion_OneDeletionCostsATrainedResidualNetLessThanATrainedPlainNet()
    {
        var experiment = new LesionExperiment(new LesionOptions
        {
            Source = new LabModelSource
            {
                Depth = 4, Width = 32, Heads = 2, CorpusCharacters = 60_000,
                Training = new LabTraining { Steps = 300, BatchSize = 8, Context = 32, WarmupSteps = 30 },
            },
            PlainDepth = 2, Windows = 16, Subsets = 1,
        });
        var groups = experiment.MeasureAll(out var corpus);
        double unigram = UnigramEntropy(corpus.Train);
        var residual = Assert.Single(groups[0].Seeds);
        var plain = Assert.Single(groups[1].Seeds);
        // Both learned something, so their lesions are of trained networks.
        Assert.True(residual.Baseline < unigram - 0.3, $"residual: {residual.Baseline:F3}, unigram {unigram:F3}");
        Assert.True(plain.Baseline < unigram - 0.1, $"plain: {plain.Baseline:F3}, unigram {unigram:F3}");
        var residualDamage = residual.WithoutBlock.Select(v => v - residual.Baseline).ToArray();
        var plainDamage = plain.WithoutBlock.Select(v => v - plain.Baseline).ToArray();
        Assert.True(residualDamage.Max() < plainDamage.Min(),
            $"residual Δ {string.Join(", ", residualDamage.Select(v => v.ToString("F3")))}; plain Δ {string.Join(", ", plainDamage.Select(v => v.ToString("F3")))}");
    }

    [Fact]
    public void Lesion_DeletingBlockI_IsTheNetworkBuiltWithoutBlockI()
    {
        var source = new LabModelSource
        {
            Depth = 3, Width = 16, Heads = 2, CorpusCharacters = 4000,
            Training = new LabTraining { Steps = 20, BatchSize = 2, Context = 16, WarmupSteps = 2 },
        };
        var model = LabModels.Obtain(source);
        var profile = LesionExperiment.Measure("residual", model, windows: 4, subsets: 1, seed: 1);
        var state = model.Model.StateDict();
        for (int deleted = 0; deleted < 3; deleted++)
        {
            // A 2-block GPT holding every weight except block `deleted`'s, blocks renumbered: no SkippedBlocks involved.
            var smaller = new Gpt(new GptConfig
            {
                VocabSize = model.Model.VocabSize, ContextLength = 16, Width = 16, HeadCount = 2, LayerCount = 2, Dropout = 0f,
                Residual = ResidualMode.PreNorm, TieWeights = true,
            });
            var kept = Enumerable.Range(0, 3).Where(b => b != deleted).ToArray();
            var renamed = new Dictionary<string, Tensor>();
            foreach (var (name, tensor) in state)
            {
                if (!name.StartsWith("blocks.", StringComparison.Ordinal)) { renamed[name] = tensor; continue; }
                int dot = name.IndexOf('.', 7), block = int.Parse(name[7..dot], System.Globalization.CultureInfo.InvariantCulture);
                if (block != deleted) renamed[$"blocks.{Array.IndexOf(kept, block)}{name[dot..]}"] = tensor;
            }
            smaller.LoadStateDict(renamed);
            double expected = LabModels.Loss(smaller, model.Corpus.Validation, model.Context, 4);
            Assert.Equal(expected, profile.WithoutBlock[deleted], 1e-5);
        }
    }

    [Fact]
    public void ReZero_FreshNetwork_IsTheIdentityInEveryBlock()
    {
        // a = 0 at init: deleting every block changes nothing, to the last bit of the loss.
        var corpus = LabCorpus.Builtin(4000, 3);
        var model = new Gpt(new GptConfig
        {
            VocabSize = corpus.Tokenizer.VocabSize, ContextLength = 16, Width = 16, HeadCount = 2, LayerCount = 4, Dropout = 0f,
            Residual = ResidualMode.ReZero, TieWeights = true,
        });
        double whole = LabModels.Loss(model, corpus.Validation, 16, 4);
        foreach (int i in Enumerable.Range(0, 4)) model.SkippedBlocks.Add(i);
        double none = LabModels.Loss(model, corpus.Validation, 16, 4);
        Assert.Equal(none, whole, 1e-6);
    }
}
