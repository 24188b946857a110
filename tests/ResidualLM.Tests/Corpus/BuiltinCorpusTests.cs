using ResidualLM.Tensors;
using ResidualLM.Text.Corpus;
using Xunit;

namespace ResidualLM.Tests.Corpus;

public class BuiltinCorpusTests
{
    [Fact]
    public void EntropyFloor_MatchesMonteCarloOfSampledLogProbabilities()
    {
        // Independent of the visit-count arithmetic: average -ln p of the generator's own choices per character.
        var (logProbability, characters) = BuiltinCorpus.SampleLogProbability(200_000, new Rng(123));
        double estimate = -logProbability / characters;
        Assert.InRange(estimate / BuiltinCorpus.EntropyFloorNatsPerChar, 0.98, 1.02);
    }

    [Fact]
    public void EntropyFloor_MatchesIdealModelLossOnGeneratedText()
    {
        // Parsing the text back gives the loss of the generator used as a model: it converges to the entropy rate.
        string text = BuiltinCorpus.Generate(500_000, seed: 77);
        double lossPerCharacter = BuiltinCorpus.NegativeLogLikelihood(text) / text.Length;
        Assert.InRange(lossPerCharacter / BuiltinCorpus.EntropyFloorNatsPerChar, 0.98, 1.02);
    }

    [Fact]
    public void EntropyFloor_IsHighEnoughToMeasure_AndBelowUnigram()
    {
        Assert.InRange(BuiltinCorpus.EntropyFloorNatsPerChar, 0.8, 1.6);
        Assert.True(BuiltinCorpus.UnigramEntropyNatsPerChar > 2 * BuiltinCorpus.EntropyFloorNatsPerChar);
        Assert.Equal(BuiltinCorpus.EntropyPerSentenceNats / BuiltinCorpus.CharactersPerSentence, BuiltinCorpus.EntropyFloorNatsPerChar, 12);
    }

    [Fact]
    public void UnigramEntropy_MatchesCharacterFrequenciesOfGeneratedText()
    {
        string text = BuiltinCorpus.Generate(1_000_000, seed: 5);
        double entropy = -text.GroupBy(c => c).Sum(g => (double)g.Count() / text.Length * Math.Log((double)g.Count() / text.Length));
        Assert.InRange(entropy / BuiltinCorpus.UnigramEntropyNatsPerChar, 0.995, 1.005);
    }

    [Fact]
    public void IdealLoss_StartsAtUnigramEntropy_AndFallsToTheFloor()
    {
        // The filter knows nothing at position 0, so its expected loss there is the unigram entropy; with a long
        // past it is the entropy rate. Both limits are computed independently of the filter.
        // Position 0 alone over many windows: standard error ~0.2%, so a prior off by 2% is caught.
        double first = BuiltinCorpus.IdealLossByPosition(context: 1, windowCount: 20_000, seed: 4)[0];
        Assert.InRange(first / BuiltinCorpus.UnigramEntropyNatsPerChar, 0.99, 1.01);
        double[] loss = BuiltinCorpus.IdealLossByPosition(context: 64, windowCount: 1500, seed: 4);
        Assert.InRange(loss[32..].Average() / BuiltinCorpus.EntropyFloorNatsPerChar, 0.96, 1.04);
        Assert.True(loss[1..8].Average() > loss[32..].Average());
        Assert.True(loss.Average() > BuiltinCorpus.EntropyFloorNatsPerChar);
    }

    [Fact]
    public void IdealLoss_NonPositiveSizes_ThrowInvalidInput()
    {
        Assert.Throws<InvalidInputException>(() => BuiltinCorpus.IdealLossByPosition(0));
        Assert.Throws<InvalidInputException>(() => BuiltinCorpus.IdealLossByPosition(8, windowCount: 0));
    }

    [Fact]
    public void Generate_IsDeterministicPerSeed_AndSeedsDiffer()
    {
        string first = BuiltinCorpus.Generate(20_000, seed: 1);
        Assert.Equal(first, BuiltinCorpus.Generate(20_000, seed: 1));
        Assert.NotEqual(first, BuiltinCorpus.Generate(20_000, seed: 2));
        // A shorter request is a prefix of a longer one with the same seed.
        Assert.StartsWith(BuiltinCorpus.Generate(777, seed: 1), first, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1234)]
    public void Generate_ReturnsExactlyTheRequestedLength(int characters) =>
        Assert.Equal(characters, BuiltinCorpus.Generate(characters, seed: 3).Length);

    [Fact]
    public void Generate_NegativeLength_ThrowsInvalidInput() =>
        Assert.Contains("characters", Assert.Throws<InvalidInputException>(() => BuiltinCorpus.Generate(-1, 0)).Message);

    [Fact]
    public void Text_LooksLikeSentencesAndParagraphs()
    {
        string text = BuiltinCorpus.Generate(200_000, seed: 8);
        string complete = text[..(text.LastIndexOf('.') + 1)];
        string[] sentences = complete.Split(['.'], StringSplitOptions.RemoveEmptyEntries).Select(s => s.TrimStart(' ', '\n')).ToArray();
        Assert.All(sentences, s => Assert.True(char.IsUpper(s[0]), $"sentence '{s}' should start with a capital"));
        Assert.All(sentences, s => Assert.DoesNotContain(s.Skip(1), char.IsUpper));
        Assert.DoesNotContain("  ", text);
        Assert.Contains(".\n", text);
        Assert.Contains(". ", text);   // sentences also end inside a paragraph
        Assert.Contains(", ", text);
        double meanSentence = (double)complete.Length / sentences.Length;
        Assert.InRange(meanSentence / BuiltinCorpus.CharactersPerSentence, 0.97, 1.03);
    }

    [Fact]
    public void Charset_IsSmallStableAndExactlyWhatIsEmitted()
    {
        // Pinned: a change here changes every char-level vocabulary trained on the corpus.
        Assert.Equal("\n ,.AEFHIMOSTWYabcdefghijklmnoprstuvwyz", string.Concat(BuiltinCorpus.Charset));
        string text = BuiltinCorpus.Generate(1_000_000, seed: 13);
        Assert.Equal(BuiltinCorpus.Charset, text.Distinct().Order());
    }

    [Fact]
    public void Words_AreAllSpelledDifferently()
    {
        var words = CorpusGrammar.AllWords().ToArray();
        Assert.Equal(words.Length, words.Distinct().Count());
        Assert.InRange(words.Length, 200, 800);
    }

    [Fact]
    public void Words_ListEveryWordTheGeneratorWrites_WithRegularPastForms()
    {
        var words = CorpusGrammar.AllWords().ToHashSet();
        string text = BuiltinCorpus.Generate(100_000, seed: 21);
        text = text[..(text.LastIndexOf('.') + 1)];   // the last sentence may be cut inside a word
        foreach (string word in System.Text.RegularExpressions.Regex.Split(text, "[^A-Za-z]+").Where(w => w.Length > 0))
            Assert.Contains(char.ToLowerInvariant(word[0]) + word[1..], words);
        // A verb ending in "e" takes "d" in the past, any other "ed".
        Assert.Contains("baked", words);
        Assert.Contains("jumped", words);
        Assert.DoesNotContain("bakeed", words);
    }

    [Fact]
    public void Errors_GiveTheirFieldAndWords()
    {
        InputErrors.AssertRefusedExactly(() => BuiltinCorpus.Generate(-1, 0), null, "characters", "must be zero or more, got -1");
        InputErrors.AssertRefusedExactly(() => BuiltinCorpus.IdealLossByPosition(0), null, "context", "must be positive, got 0");
        InputErrors.AssertRefusedExactly(() => BuiltinCorpus.IdealLossByPosition(8, windowCount: -3), null, "window count", "must be positive, got -3");
        InputErrors.AssertRefusedExactly(() => BuiltinCorpus.NegativeLogLikelihood(" It."), null, "corpus text", "at offset 0: expected a word, found ' '");
        InputErrors.AssertRefusedExactly(() => BuiltinCorpus.NegativeLogLikelihood("Zebra"), null, "corpus text",
            "at offset 0: 'Zebra' does not begin any option of state 'sentence start'");
        InputErrors.AssertRefusedExactly(() => BuiltinCorpus.NegativeLogLikelihood("It jumpz"), null, "corpus text",
            "at offset 3: 'jumpz' does not begin any option of state 'verb Singular Unknown 1'");
        InputErrors.AssertRefusedExactly(() => BuiltinCorpus.NegativeLogLikelihood("The zebra jumps."), null, "corpus text",
            "at offset 4: 'zebra' is not an option of state 'phrase Open Subject Unknown 1 adjective=False'");
    }

    [Fact]
    public void Words_AreShortLowercaseWords()
    {
        // Every surface word is 1 to 8 lowercase ASCII letters: the charset above, the capitalized sentence starts and
        // the short-word entropy budget all rest on it (an empty or spaced entry would make words the parser splits
        // differently from how they were generated).
        Assert.All(CorpusGrammar.AllWords(), w => Assert.Matches("^[a-z]{1,8}$", w));
    }

    [Theory]
    [InlineData("It jumps.")]
    [InlineData("They jump.")]
    [InlineData("A red cat jumped, and the dogs licked those cups.\nWe rested.")]
    [InlineData("The cats jump over red hats, so they want.")]
    [InlineData("It licked a cup today.")]                  // an adverb after an object
    [InlineData("These red cats jump.")]                    // an adjective after a plural determiner
    [InlineData("The red cat jumps.")]                      // ... and after one that leaves the number open
    public void Parse_AcceptsGrammaticalText(string text) =>
        Assert.True(BuiltinCorpus.NegativeLogLikelihood(text) > 0);

    [Theory]
    [InlineData("They jumps.")]                      // verb does not agree with a plural subject
    [InlineData("A cats jump.")]                      // singular determiner, plural noun
    [InlineData("It jumped, and he jumps.")]          // tense changes inside a sentence
    [InlineData("it jumps.")]                         // no capital
    [InlineData("It jumps. they jump.")]              // no capital after a period
    [InlineData("It  jumps.")]                        // double space
    [InlineData("The zebra jumps.")]                  // unknown word
    public void Parse_RejectsTextTheGrammarCannotEmit(string text) =>
        Assert.Throws<InvalidInputException>(() => BuiltinCorpus.NegativeLogLikelihood(text));

    [Fact]
    public void Parse_OfTruncatedText_ScoresTheFinalRunAsAPrefix()
    {
        // "It jump" may continue as "jumps" or "jumped": its probability is the sum of both, so it costs less
        // than the complete word "jumps" alone.
        double prefix = BuiltinCorpus.NegativeLogLikelihood("It jump");
        double word = BuiltinCorpus.NegativeLogLikelihood("It jumps.");
        Assert.True(prefix < word);
        // A prefix costs what the text before it costs plus -ln of its own probability: more, never less.
        Assert.True(prefix > BuiltinCorpus.NegativeLogLikelihood("It "));
        Assert.Throws<InvalidInputException>(() => BuiltinCorpus.NegativeLogLikelihood("It jumpz"));
    }
}
