// The defaults of a training run are defined once, in TrainingSpec and TrainingOptions: `rlm train --help` and the
// README's table of them must say the same.
using System.Globalization;
using System.Text.RegularExpressions;
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Cli;

public partial class TrainDefaultsTests
{
    static readonly TrainingSpec Spec = new();
    static readonly TrainingOptions Options = new();

    /// <summary>Each flag with a default, and that default as the records hold it.</summary>
    static readonly (string Flag, object Value)[] Expected =
    [
        ("--steps", Options.Steps), ("--batch", Options.BatchSize), ("--accumulation", Options.GradientAccumulation),
        ("--lr", Options.LearningRate), ("--warmup", Options.WarmupSteps), ("--weight-decay", Options.WeightDecay),
        ("--beta2", Options.Beta2), ("--clip", Options.GradientClip), ("--eval-interval", Options.EvalInterval),
        ("--eval-batches", Options.EvalBatches), ("--checkpoint-interval", Options.CheckpointInterval), ("--seed", Options.Seed),
        ("--corpus-chars", Spec.CorpusCharacters), ("--split", Spec.TrainFraction), ("--tokenizer", ChoiceNames.Name(Spec.Tokenizer)),
        ("--bpe-merges", Spec.BpeMerges), ("--sampler", ChoiceNames.Name(Spec.Sampler)), ("--arch", ChoiceNames.Name(Spec.Architecture)),
        ("--preset", ChoiceNames.Name(Spec.Preset)), ("--init", ChoiceNames.Name(Spec.Init)), ("--sample-tokens", Spec.SampleTokens),
        ("--data-parallel", Spec.DataParallel), ("--distributed", ChoiceNames.Name(Spec.Distributed)), ("--bucket-mb", Spec.BucketMegabytes),
    ];

    [Fact]
    public void Help_ShowsTheRecordsDefaults()
    {
        var (code, stdout, stderr) = RlmProcess.Run(Path.GetTempPath(), "train", "--help");
        Assert.True(code == 0, stderr);
        // "  --lr <lr>     Peak learning rate [default: 0.002]"
        var shown = HelpDefault().Matches(stdout).ToDictionary(m => m.Groups["flag"].Value, m => m.Groups["value"].Value);
        AssertSameDefaults(shown, "rlm train --help");
    }

    [Fact]
    public void Readme_TableShowsTheRecordsDefaults()
    {
        string text = File.ReadAllText(Readme());
        int start = text.IndexOf("### `rlm train` defaults", StringComparison.Ordinal);
        Assert.True(start >= 0, "the README has no \"### `rlm train` defaults\" section");
        // "| `--lr` | 0.002 | peak learning rate ... |", up to the end of the table; rows without a plain value are left out.
        var table = text[start..].Split('\n').SkipWhile(line => !line.StartsWith('|')).TakeWhile(line => line.StartsWith('|'));
        var shown = table.Select(line => ReadmeRow().Match(line)).Where(m => m.Success)
            .ToDictionary(m => m.Groups["flag"].Value, m => m.Groups["value"].Value.Replace(",", ""));
        shown.Remove("--context");   // "the model's context length": a rule, not a value
        AssertSameDefaults(shown, "README.md");
    }

    static void AssertSameDefaults(Dictionary<string, string> shown, string where)
    {
        Assert.Equal(Expected.Select(e => e.Flag).Order(), shown.Keys.Order());
        foreach (var (flag, value) in Expected)
        {
            string text = shown[flag];
            bool same = value is string name
                ? name == text
                : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && number == Convert.ToDouble(value, CultureInfo.InvariantCulture);
            Assert.True(same, $"{where} gives {flag} the default {text}; the records say {Convert.ToString(value, CultureInfo.InvariantCulture)}");
        }
    }

    static string Readme()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ResidualLM.sln"))) return Path.Combine(dir.FullName, "README.md");
        throw new InvalidOperationException("no checkout above the test binary");
    }

    [GeneratedRegex(@"^\s+(?<flag>--[a-z0-9-]+)\b.*\[default: (?<value>[^\]]+)\]\s*$", RegexOptions.Multiline)]
    private static partial Regex HelpDefault();

    [GeneratedRegex(@"^\| `(?<flag>--[a-z0-9-]+)` \| (?<value>[^|]+?) \|")]
    private static partial Regex ReadmeRow();
}
