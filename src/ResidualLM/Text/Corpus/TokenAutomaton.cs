// A unifilar probabilistic automaton over text tokens: the engine under the built-in corpus. It samples text,
// parses text back (with its exact log-probability) and computes the exact entropy rate of the text it emits.
// Limits: sentence-shaped automata only, i.e. every path from the start state returns to it (checked).
namespace ResidualLM.Text.Corpus;

/// <summary>One choice a state offers: the text it emits, its probability and the state it leads to.</summary>
internal readonly record struct AutomatonOption(string Text, double Probability, int Next);

/// <summary>A state: a probability distribution over options. Word states emit letters only, separator states none.</summary>
internal sealed class AutomatonState(string name, AutomatonOption[] options)
{
    public string Name { get; } = name;
    public AutomatonOption[] Options { get; } = options;

    /// <summary>Running sums of the option probabilities, for sampling by binary search.</summary>
    public double[] Cumulative { get; } = CumulativeOf(options);

    /// <summary>Text of each option to its index, for parsing.</summary>
    public Dictionary<string, int> IndexByText { get; } = options.Select((o, i) => (o.Text, i)).ToDictionary(p => p.Text, p => p.i);

    public bool IsWordState => char.IsLetter(Options[0].Text[0]);

    /// <summary>Shannon entropy of the option distribution, in nats.</summary>
    public double Entropy => -Options.Sum(o => o.Probability * Math.Log(o.Probability));

    /// <summary>Expected number of characters emitted by this state.</summary>
    public double ExpectedLength => Options.Sum(o => o.Probability * o.Text.Length);

    static double[] CumulativeOf(AutomatonOption[] options)
    {
        var cumulative = new double[options.Length];
        double sum = 0;
        for (int i = 0; i < options.Length; i++) cumulative[i] = sum += options[i].Probability;
        return cumulative;
    }
}

/// <summary>
/// A finite automaton whose states alternate between word states (options are runs of letters) and separator
/// states (options are runs of non-letters), with the option texts of a state all distinct. Text therefore splits
/// into maximal letter / non-letter runs, and each run names exactly one option of the current state: the state
/// path and the choices are recoverable from the text (the automaton is unifilar and the code uniquely decodable).
/// </summary>
internal sealed class TokenAutomaton
{
    public IReadOnlyList<AutomatonState> States { get; }
    public int StartState { get; }

    /// <summary>Expected visits to each state during one cycle from the start state back to it (one sentence).</summary>
    public double[] VisitsPerCycle { get; }

    public TokenAutomaton(IReadOnlyList<AutomatonState> states, int startState)
    {
        States = states;
        StartState = startState;
        Validate();
        VisitsPerCycle = ComputeVisitsPerCycle();
    }

    void Validate()
    {
        foreach (var state in States)
        {
            if (state.Options.Length == 0) throw new InvalidOperationException($"state {state.Name} has no options");
            double total = state.Options.Sum(o => o.Probability);
            if (Math.Abs(total - 1) > 1e-12) throw new InvalidOperationException($"state {state.Name}: probabilities sum to {total}");
            if (state.IndexByText.Count != state.Options.Length) throw new InvalidOperationException($"state {state.Name}: duplicate option text");
            foreach (var option in state.Options)
            {
                bool letters = option.Text.Length > 0 && option.Text.All(char.IsLetter);
                bool separators = option.Text.Length > 0 && !option.Text.Any(char.IsLetter);
                if (state.IsWordState ? !letters : !separators)
                    throw new InvalidOperationException($"state {state.Name}: option '{option.Text}' mixes letters and separators");
                // Alternation is what makes the maximal-run split of the text line up with the options.
                if (States[option.Next].IsWordState == state.IsWordState)
                    throw new InvalidOperationException($"state {state.Name}: option '{option.Text}' leads to a state of the same kind");
            }
        }
    }

    /// <summary>
    /// Solves v = e_start + v Q, where Q is the transition matrix with the edges back into the start state removed:
    /// v(s) is the expected number of visits to s per sentence. By the renewal-reward theorem the stationary
    /// distribution of the chain is v / sum(v). Within a sentence the graph is acyclic (checked), so visiting the
    /// states in topological order gives v exactly.
    /// </summary>
    double[] ComputeVisitsPerCycle()
    {
        int count = States.Count;
        var incoming = new int[count];
        foreach (var state in States)
            foreach (var option in state.Options)
                if (option.Next != StartState) incoming[option.Next]++;
        var visits = new double[count];
        visits[StartState] = 1;
        var ready = new Queue<int>();
        ready.Enqueue(StartState);
        int processed = 0;
        while (ready.Count > 0)
        {
            int s = ready.Dequeue();
            processed++;
            foreach (var option in States[s].Options)
            {
                if (option.Next == StartState) continue;
                visits[option.Next] += visits[s] * option.Probability;
                if (--incoming[option.Next] == 0) ready.Enqueue(option.Next);
            }
        }
        if (processed != count) throw new InvalidOperationException("automaton has a cycle that avoids the start state, or an unreachable state");
        return visits;
    }

    /// <summary>Exact entropy of one sentence in nats: sum over states of visits times the state's choice entropy.</summary>
    public double EntropyPerCycle => Enumerable.Range(0, States.Count).Sum(s => VisitsPerCycle[s] * States[s].Entropy);

    /// <summary>Exact expected characters of one sentence.</summary>
    public double LengthPerCycle => Enumerable.Range(0, States.Count).Sum(s => VisitsPerCycle[s] * States[s].ExpectedLength);

    /// <summary>Entropy rate of the character stream in nats per character (see <see cref="BuiltinCorpus"/> for the derivation).</summary>
    public double EntropyRatePerCharacter => EntropyPerCycle / LengthPerCycle;

    /// <summary>Exact long-run frequency of each character (expected count per sentence over expected length).</summary>
    public SortedDictionary<char, double> CharacterFrequencies()
    {
        var counts = new SortedDictionary<char, double>();
        for (int s = 0; s < States.Count; s++)
            foreach (var option in States[s].Options)
                foreach (char c in option.Text)
                    counts[c] = counts.GetValueOrDefault(c) + VisitsPerCycle[s] * option.Probability;
        double length = LengthPerCycle;
        foreach (char c in counts.Keys.ToArray()) counts[c] /= length;
        return counts;
    }

    /// <summary>Samples one option of <paramref name="state"/>.</summary>
    public int SampleOption(int state, double uniform)
    {
        double[] cumulative = States[state].Cumulative;
        int index = Array.BinarySearch(cumulative, uniform);
        if (index < 0) index = ~index;
        // Rounding can leave the last running sum a hair below 1; a draw above it takes the last option.
        return Math.Min(index, cumulative.Length - 1);
    }
}
