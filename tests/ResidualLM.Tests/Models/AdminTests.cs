// Admin (Liu et al. 2020): post-norm with a per-channel shortcut weight ω, set by a profiling pass. The forward and
// backward with fixed ω are golden-checked in GoldenModelTests (gpt-admin, llama-admin); here: the profiling against
// PyTorch's, ω = 1 as post-norm itself, and --init admin through a training session.
using ResidualLM.Lab;
using ResidualLM.Lab.Experiments;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Models;

public class AdminTests
{
    static IEnumerable<AdminResidual> Residuals(LanguageModel model) =>
        model.Blocks.Items.SelectMany(b => new[] { (AdminResidual)b.Residual1, (AdminResidual)b.Residual2 });

    /// <summary>
    /// The fixture's admin_omega comes from the PyTorch module's own profiling pass on the fixture's batch (float64);
    /// ours runs in float32 from the same weights, and every channel of ω_i must get that value.
    /// </summary>
    [Theory]
    [InlineData("gpt-admin")]
    [InlineData("llama-admin")]
    public void Profile_SetsTheOmegasPyTorchsProfilingPassSets(string name)
    {
        var f = ModelFixture.Load(name);
        LanguageModel model = name.StartsWith("gpt", StringComparison.Ordinal) ? new Gpt(f.Config<GptConfig>()) : new Llama(f.Config<LlamaConfig>());
        model.LoadStateDict(f.Parameters);
        double[] expected = f.Doubles("admin_omega");
        var returned = AdminResidual.Profile(model, f.Ints("ids"), f.Int("batch"), f.Int("time"));
        Assert.Equal(expected.Length, returned.Count);
        int i = 0;
        foreach (var residual in Residuals(model))
        {
            Assert.All(residual.Omega.Data, v => Assert.Equal(returned[i], v));
            Assert.True(Math.Abs(returned[i] - expected[i]) <= 1e-5 * expected[i], $"ω_{i + 1}: expected {expected[i]:G8}, got {returned[i]:G8}");
            i++;
        }
        Assert.True(model.Training, "profiling leaves the model in the mode it found");
    }

    /// <summary>With ω = 1 (as built, before profiling) x ⊙ ω = x, so the model is post-norm: logits and gradients bit for bit.</summary>
    [Fact]
    public void OmegaAtOne_IsPostNormBitForBit()
    {
        var config = GptConfig.Preset("test") with { LayerCount = 3 };
        var admin = new Gpt(config with { Residual = ResidualMode.Admin }, seed: 7);
        var post = new Gpt(config with { Residual = ResidualMode.PostNorm }, seed: 7);
        int[] ids = [1, 4, 2, 8, 5, 7, 3, 0, 9, 6], targets = [4, 2, 8, 5, 7, 3, 0, 9, 6, 1];
        var adminLogits = admin.Forward(ids, 2, 5);
        var postLogits = post.Forward(ids, 2, 5);
        Assert.Equal(postLogits.Data, adminLogits.Data);
        LanguageModel.Loss(admin.Context.Threads, adminLogits, targets).Backward();
        LanguageModel.Loss(post.Context.Threads, postLogits, targets).Backward();
        var postGradients = post.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad!.Data);
        foreach (var (name, tensor) in admin.NamedParameters())
            if (!name.Contains("omega")) Assert.Equal(postGradients[name], tensor.Grad!.Data);
            else Assert.Contains(tensor.Grad!.Data, g => g != 0f);               // ω is learned
        Assert.Equal(post.ParameterCount() + 2 * config.LayerCount * config.Width, admin.ParameterCount());
    }

    [Fact]
    public void InitAdmin_SelectsThePolicyAndProfilesOnATrainingBatch()
    {
        var spec = new TrainingSpec
        {
            CorpusCharacters = 6000, Layers = 2, Width = 16, Heads = 2, ModelContext = 16, Init = WeightInit.Admin, DataParallel = 1,
            Options = new TrainingOptions { Steps = 2, BatchSize = 2, Context = 8, WarmupSteps = 1, EvalInterval = 0, EvalBatches = 1, Seed = 3 },
        };
        var session = TrainingSession.Create(spec);
        Assert.Equal(ResidualMode.Admin, session.Model.ResidualMode);
        var omegas = Residuals(session.Model).Select(r => r.Omega.Data[0]).ToList();
        Assert.Equal(1f, omegas[0]);                                              // r_1 = 1 by the rule
        // GPT-2's embeddings have std 0.02, so the stream pre-norm would carry into the second sublayer is about
        // sqrt(2 x 0.02^2 + Var[f_1]): far below 1, and Admin weights the normalised shortcut down to match it.
        Assert.InRange(omegas[1], 0.02f, 0.5f);
        Assert.All(omegas, w => Assert.True(float.IsFinite(w) && w > 0f));
        Assert.All(Residuals(session.Model), r => Assert.All(r.Omega.Data, v => Assert.Equal(r.Omega.Data[0], v)));
        // The same seed profiles the same batch; the profiling leaves the training batches to the seed alone.
        var again = TrainingSession.Create(spec);
        Assert.Equal(omegas, Residuals(again.Model).Select(r => r.Omega.Data[0]));
        var gpt2 = TrainingSession.Create(spec with { Init = WeightInit.Gpt2, Residual = ResidualMode.Admin });
        Assert.All(Residuals(gpt2.Model), r => Assert.All(r.Omega.Data, v => Assert.Equal(1f, v)));
    }

    /// <summary>The lab's admin models are Admin as the paper sets it up (profiled), not post-norm with ω = 1.</summary>
    [Fact]
    public void Lab_AdminModels_AreProfiled()
    {
        var experiment = new GradientProfileExperiment(new GradientProfileOptions { Model = "gpt", Depth = 3, Width = 8, Heads = 2, BatchSize = 2, Context = 8 });
        Assert.NotEqual(experiment.GptProfile(ResidualMode.PostNorm), experiment.GptProfile(ResidualMode.Admin));
        int[] tokens = [.. Enumerable.Range(0, 200).Select(i => i * 7 % 11)];
        var admin = new Gpt(GptConfig.Preset("test") with { Residual = ResidualMode.Admin }, seed: 2);
        LabModels.InitializeFromData(admin, tokens, 8, 2);
        Assert.Contains(Residuals(admin), r => r.Omega.Data[0] != 1f);
        var post = new Gpt(GptConfig.Preset("test") with { Residual = ResidualMode.PostNorm }, seed: 2);
        var before = post.NamedParameters().Select(p => p.Tensor.Data.ToArray()).ToList();
        LabModels.InitializeFromData(post, tokens, 8, 2);                      // no data-dependent init: nothing changes
        Assert.Equal(before, post.NamedParameters().Select(p => p.Tensor.Data.ToArray()));
    }

    [Fact]
    public void InitAdmin_WithAnotherPolicy_IsRefusedNamingInit()
    {
        var spec = new TrainingSpec { Init = WeightInit.Admin, Residual = ResidualMode.PreNorm };
        var error = Assert.Throws<InvalidInputException>(spec.Validate);
        Assert.Equal(nameof(TrainingSpec.Init), error.Field);
        Assert.Contains("prenorm", error.Message);
        Assert.Throws<InvalidInputException>(() => AdminResidual.Profile(new Gpt(GptConfig.Preset("test")), [1, 2], 1, 2));
    }
}
