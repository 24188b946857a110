// The best possible next-character predictor for a window of corpus text that starts at an unknown point:
// an exact Bayesian filter over the automaton's hidden position. Limits: cost grows with the ambiguity of
// the first characters (about a millisecond per 128-character window here).
namespace ResidualLM.Text.Corpus;

/// <summary>
/// Tracks every place in the automaton the text seen so far could have come from, weighted by its probability:
/// a hypothesis is (state, option, offset), the next character being <c>option.Text[offset]</c>, or option -1 for
/// "at the start of the state, about to choose". Hypotheses with the same key have the same future, so they merge.
/// Before any character the weights are the stationary ones (a window starts at a uniformly random character),
/// so the first prediction is the unigram distribution and later ones sharpen towards the entropy rate.
/// </summary>
internal sealed class IdealPredictor
{
    readonly TokenAutomaton automaton;
    readonly Dictionary<(int State, int Option, int Offset), double> prior = [];
    // Per state: probability that its chosen option starts with each character.
    readonly Dictionary<char, double>[] firstCharacter;
    // The first step from the prior is the costly one (every hypothesis), so its result is kept per character.
    readonly Dictionary<char, double> priorProbability = [];
    readonly Dictionary<char, Dictionary<(int State, int Option, int Offset), double>> afterFirstCharacter = [];
    Dictionary<(int State, int Option, int Offset), double> belief = [];

    public IdealPredictor(TokenAutomaton automaton)
    {
        this.automaton = automaton;
        firstCharacter = automaton.States.Select(state =>
            state.Options.GroupBy(o => o.Text[0]).ToDictionary(g => g.Key, g => g.Sum(o => o.Probability))).ToArray();
        // A uniformly random character of the stationary text is offset j of option o of state s with probability
        // proportional to v(s) p(o|s); all offsets 0 are summarised by the "start of state" hypothesis.
        for (int s = 0; s < automaton.States.Count; s++)
        {
            double visits = automaton.VisitsPerCycle[s];
            prior[(s, -1, 0)] = visits;
            var options = automaton.States[s].Options;
            for (int o = 0; o < options.Length; o++)
                for (int j = 1; j < options[o].Text.Length; j++)
                    prior[(s, o, j)] = visits * options[o].Probability;
        }
        Reset();
        foreach (char c in automaton.CharacterFrequencies().Keys) priorProbability[c] = Marginal(c);
    }

    /// <summary>Forgets the text seen: the next prediction is for a window's first character.</summary>
    public void Reset() => belief = prior; // never modified in place: Observe builds a new dictionary

    /// <summary>Probability that the next character is <paramref name="next"/>, given the characters observed since Reset.</summary>
    public double Probability(char next) =>
        ReferenceEquals(belief, prior) ? priorProbability.GetValueOrDefault(next) : Marginal(next);

    double Marginal(char next)
    {
        double total = 0, matching = 0;
        foreach (var ((state, option, offset), weight) in belief)
        {
            total += weight;
            if (option < 0) matching += weight * firstCharacter[state].GetValueOrDefault(next);
            else if (automaton.States[state].Options[option].Text[offset] == next) matching += weight;
        }
        return matching / total;
    }

    /// <summary>Conditions on the next character being <paramref name="next"/> (which must have non-zero probability).</summary>
    public void Observe(char next)
    {
        if (ReferenceEquals(belief, prior))
        {
            if (!afterFirstCharacter.TryGetValue(next, out var cached))
                afterFirstCharacter[next] = cached = Update(next);
            belief = cached;
            return;
        }
        belief = Update(next);
    }

    Dictionary<(int, int, int), double> Update(char next)
    {
        var updated = new Dictionary<(int, int, int), double>();
        double total = 0;
        foreach (var ((state, option, offset), weight) in belief)
        {
            var options = automaton.States[state].Options;
            if (option >= 0)
            {
                if (options[option].Text[offset] == next) total += Advance(updated, state, option, offset, weight);
                continue;
            }
            for (int o = 0; o < options.Length; o++)
                if (options[o].Text[0] == next) total += Advance(updated, state, o, 0, weight * options[o].Probability);
        }
        if (total == 0) throw new InvalidOperationException($"character '{next}' is impossible here");
        // Renormalise so weights never underflow over long windows.
        foreach (var key in updated.Keys.ToArray()) updated[key] /= total;
        return updated;
    }

    double Advance(Dictionary<(int, int, int), double> updated, int state, int option, int offset, double weight)
    {
        var chosen = automaton.States[state].Options[option];
        var key = offset + 1 < chosen.Text.Length ? (state, option, offset + 1) : (chosen.Next, -1, 0);
        updated[key] = updated.GetValueOrDefault(key) + weight;
        return weight;
    }
}
