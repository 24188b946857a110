// The built-in training text: seeded, English-like, and with an exactly known entropy rate, so a model's loss
// can be read against the best loss any model could reach. Limits: one fixed grammar of ~330 short words (~590 spellings with plurals and verb forms).
using System.Text;
using ResidualLM.Tensors;

namespace ResidualLM.Text.Corpus;

/// <summary>
/// Generates the built-in corpus: sentences such as "The shy cats licked a kite, and it rested here." from a small
/// probabilistic grammar (see <see cref="CorpusGrammar"/>), and states its entropy rate exactly.
/// </summary>
/// <remarks>
/// <para><b>Derivation of the entropy floor.</b> The grammar is compiled into a finite automaton whose states
/// alternate between word states (each option a run of letters) and separator states (each option a run of
/// non-letters: " ", ", ", ". ", ".\n"), with distinct option texts within a state. Splitting the text into maximal
/// letter and non-letter runs therefore names, run by run, the option taken and so the next state: the symbol
/// sequence X_1, X_2, ... is a function of the characters and vice versa (unique decodability, checked by
/// <see cref="NegativeLogLikelihood"/> and the tests). The automaton is unifilar (state and option fix the next
/// state), so the state S_k is a function of the past symbols and H(X_k | X_1..X_{k-1}) = H(X_k | S_k).</para>
/// <para>Every sentence starts in the start state, so sentences are independent and identically distributed
/// (a renewal process). Let v(s) be the expected number of visits to state s in one sentence (computed exactly in
/// topological order; the stationary distribution is π(s) = v(s) / Σv). Then one sentence has entropy
/// H = Σ_s v(s) H(s), with H(s) = -Σ_o p(o|s) ln p(o|s), and expected length L = Σ_s v(s) Σ_o p(o|s) |o|.
/// Because the text determines the symbols and the symbols the text, n characters carry the entropy of the
/// ≈ n / L sentences they span, up to a boundary term that vanishes as n grows; by the renewal-reward theorem the
/// entropy rate of the character process is h = H / L nats per character. No predictor of the next character,
/// however large its context, can have a lower expected cross-entropy: h is the floor of a char-level model's
/// validation loss. A model with a context of T characters pays a little more at the first positions of each
/// window, where the sentence state is still unseen.</para>
/// <para>The unigram entropy is -Σ_c f(c) ln f(c) with f(c) the exact long-run frequency of character c
/// (expected count per sentence over L): the loss of a model that ignores context.</para>
/// </remarks>
public static class BuiltinCorpus
{
    static readonly TokenAutomaton automaton = CorpusGrammar.Build();

    /// <summary>Exact entropy rate of the generated text in nats per character: the lowest achievable loss.</summary>
    public static double EntropyFloorNatsPerChar { get; } = automaton.EntropyRatePerCharacter;

    /// <summary>Exact entropy of the character frequencies in nats per character: the loss of a context-free model.</summary>
    public static double UnigramEntropyNatsPerChar { get; } =
        -automaton.CharacterFrequencies().Values.Sum(f => f * Math.Log(f));

    /// <summary>Every character the corpus can emit, in ordinal order.</summary>
    public static IReadOnlyList<char> Charset { get; } = automaton.CharacterFrequencies().Keys.ToArray();

    /// <summary>Exact expected number of characters per sentence.</summary>
    public static double CharactersPerSentence { get; } = automaton.LengthPerCycle;

    /// <summary>Exact entropy of one sentence, in nats.</summary>
    public static double EntropyPerSentenceNats { get; } = automaton.EntropyPerCycle;

    /// <summary>
    /// Generates exactly <paramref name="characters"/> characters of text starting at a sentence start
    /// (the last sentence is cut off). The same seed always gives the same text.
    /// </summary>
    /// <exception cref="InvalidInputException">When <paramref name="characters"/> is negative.</exception>
    public static string Generate(int characters, int seed)
    {
        if (characters < 0) throw new InvalidInputException($"must be zero or more, got {characters}", field: "characters");
        var builder = new StringBuilder(characters + 64);
        var rng = new Rng(seed);
        int state = automaton.StartState;
        while (builder.Length < characters)
        {
            var option = automaton.States[state].Options[automaton.SampleOption(state, rng.NextDouble())];
            builder.Append(option.Text);
            state = option.Next;
        }
        builder.Length = characters;
        return builder.ToString();
    }

    /// <summary>
    /// Samples <paramref name="symbolCount"/> symbols (word or separator runs) and returns the sum of their
    /// log-probabilities under the generator and the number of characters emitted: a Monte Carlo check of the
    /// exact floor, independent of the visit-count arithmetic.
    /// </summary>
    internal static (double LogProbability, long Characters) SampleLogProbability(int symbolCount, Rng rng)
    {
        double logProbability = 0;
        long characters = 0;
        int state = automaton.StartState;
        for (int k = 0; k < symbolCount; k++)
        {
            var option = automaton.States[state].Options[automaton.SampleOption(state, rng.NextDouble())];
            logProbability += Math.Log(option.Probability);
            characters += option.Text.Length;
            state = option.Next;
        }
        return (logProbability, characters);
    }

    /// <summary>
    /// Exact negative log-probability, in nats, that the generator emits text beginning with <paramref name="text"/>
    /// (which must begin at a sentence start, as <see cref="Generate"/> output does). Divided by the length, it is
    /// the loss of the ideal model on that text. A final run that may be incomplete counts as a prefix: its
    /// probability is that of all options it begins.
    /// </summary>
    /// <exception cref="InvalidInputException">When the text is not something the generator can emit; the message gives the offset.</exception>
    public static double NegativeLogLikelihood(string text)
    {
        double total = 0;
        int state = automaton.StartState;
        int position = 0;
        while (position < text.Length)
        {
            var current = automaton.States[state];
            int end = position;
            bool letters = char.IsLetter(text[position]);
            while (end < text.Length && char.IsLetter(text[end]) == letters) end++;
            string run = text[position..end];
            if (letters != current.IsWordState)
                throw new InvalidInputException($"at offset {position}: expected a {(current.IsWordState ? "word" : "separator")}, found '{run}'", field: "corpus text");
            if (end == text.Length)
            {
                double prefixProbability = current.Options.Where(o => o.Text.StartsWith(run, StringComparison.Ordinal)).Sum(o => o.Probability);
                if (prefixProbability == 0)
                    throw new InvalidInputException($"at offset {position}: '{run}' does not begin any option of state '{current.Name}'", field: "corpus text");
                return total - Math.Log(prefixProbability);
            }
            if (!current.IndexByText.TryGetValue(run, out int index))
                throw new InvalidInputException($"at offset {position}: '{run}' is not an option of state '{current.Name}'", field: "corpus text");
            var option = current.Options[index];
            total -= Math.Log(option.Probability);
            state = option.Next;
            position = end;
        }
        return total;
    }

    /// <summary>
    /// The loss of the ideal model at each position 0..context-1 of a window that starts at a random character,
    /// in nats: an exact Bayesian filter over the generator (see <see cref="IdealPredictor"/>), averaged over
    /// <paramref name="windowCount"/> random windows of seeded text (so a Monte Carlo estimate, with a standard
    /// error of a few thousandths for the mean over 128 positions and 500 windows). Position 0 costs the unigram
    /// entropy; later positions fall towards <see cref="EntropyFloorNatsPerChar"/>. The mean over positions is
    /// the lowest training or validation loss a model with this context can reach when, as usual, the loss
    /// averages every position of every window: compare a model with it as well as with the floor.
    /// </summary>
    /// <exception cref="InvalidInputException">For a non-positive context or window count.</exception>
    public static double[] IdealLossByPosition(int context, int windowCount = 500, int seed = 0)
    {
        if (context <= 0) throw new InvalidInputException($"must be positive, got {context}", field: "context");
        if (windowCount <= 0) throw new InvalidInputException($"must be positive, got {windowCount}", field: "window count");
        // Skip the first sentences so windows start in the stationary regime, not at the text's first sentence.
        const int warmUp = 1000;
        string text = Generate(warmUp + windowCount * (context + 1) + context, seed);
        var rng = new Rng(seed ^ 0x5EED);
        var predictor = new IdealPredictor(automaton);
        var loss = new double[context];
        for (int w = 0; w < windowCount; w++)
        {
            int start = warmUp + rng.NextInt(text.Length - warmUp - context);
            predictor.Reset();
            for (int k = 0; k < context; k++)
            {
                char next = text[start + k];
                loss[k] -= Math.Log(predictor.Probability(next));
                predictor.Observe(next);
            }
        }
        for (int k = 0; k < context; k++) loss[k] /= windowCount;
        return loss;
    }

    /// <summary>Number of states of the compiled grammar (for reports).</summary>
    internal static int StateCount => automaton.States.Count;
}
