// The word lists and sentence grammar of the built-in corpus, compiled into a TokenAutomaton.
// Limits: one fixed grammar; changing any list or weight changes the entropy floor (recomputed, never hard-coded).
namespace ResidualLM.Text.Corpus;

/// <summary>
/// Sentence grammar (clause 2 is optional; every optional part has a fixed probability):
/// <code>
/// sentence = clause1 [", " conj clause2] ("." " " | "." "\n")
/// clause   = subject verb [object] [adverb] [preposition noun-phrase]
/// subject  = pronoun | noun-phrase          noun-phrase = determiner [adjective] noun
/// </code>
/// Short-range agreement makes the text more than a bag of words: a determiner fixes or leaves open the noun's
/// number ("a cat", "these cats", "the cat(s)"); a present-tense verb agrees with its subject ("it jumps", "they
/// jump"); the tense chosen by the first verb carries into the second clause; sentences start with a capital.
/// All content words are short, so most of a sentence's entropy sits in a few characters.
/// </summary>
internal static class CorpusGrammar
{
    // Nouns take a plain "s" plural; none is also a verb form, so every surface string names one word.
    static readonly string[] Nouns =
    [
        "cat", "dog", "hen", "owl", "cow", "pig", "bee", "ant", "elk", "yak", "ram", "bat", "rat", "emu", "eel",
        "ape", "boat", "lamp", "cup", "hat", "pot", "pan", "jar", "key", "map", "pen", "rug", "bed", "cart", "drum",
        "bell", "coin", "kite", "ring", "rope", "sock", "shoe", "tent", "tree", "rock", "hill", "lake", "road",
        "farm", "barn", "gate", "door", "wall", "nest", "pond", "seed", "rose", "frog", "duck", "goat", "bear",
        "crab", "mole", "seal", "swan", "toad", "worm", "cap", "car", "cab", "bun", "bag", "mug", "jug", "net", "log",
        "pin", "tin", "van", "web", "wig", "yam", "fig", "pea", "bean", "corn", "plum", "pear", "lime", "nut", "egg",
        "hut", "den", "tub", "jet", "kit", "mat", "oar", "pad", "paw", "pod", "pup", "cub", "kid", "gem", "toy",
        "cot", "arm", "leg", "ear", "eye", "lip", "toe", "hand", "nose", "cake", "bowl", "fork", "sled", "ship",
        "cave", "star", "moon", "sun", "hole", "home", "room", "desk", "sofa", "vase", "bulb", "card", "book", "shed",
        "pipe",
    ];

    // Regular verbs: third person singular adds "s", past adds "ed" (or "d" after a final "e").
    static readonly string[] Verbs =
    [
        "jump", "kick", "pull", "lick", "pack", "pick", "help", "hunt", "visit", "paint", "plant", "call", "fill",
        "fold", "lift", "look", "need", "open", "play", "rest", "roll", "sort", "talk", "test", "turn", "wait",
        "walk", "want", "warn", "climb", "clean", "count", "greet", "guard", "join", "lock", "mend", "like", "love",
        "hope", "bake", "chase", "melt", "peek", "pour", "pump", "sign", "spill", "stack", "start", "stay", "thank",
        "trust", "wink", "yell", "dance", "smile", "wave", "taste", "share", "scare", "tease",
    ];

    static readonly string[] Adjectives =
    [
        "red", "big", "old", "new", "hot", "wet", "dry", "odd", "shy", "sly", "tiny", "calm", "bold", "cold", "dark",
        "fast", "slow", "soft", "warm", "wild", "kind", "tall", "loud", "brave", "happy", "lazy", "busy", "small",
        "young", "green", "blue", "brown", "pink", "grey", "glad", "neat", "rich", "poor", "sad", "fat", "thin",
        "long", "short", "deep", "flat", "pale", "rare", "ripe", "sour", "sweet", "tame", "vast", "wise", "bare",
        "dull", "fine", "firm", "fond", "free", "full", "good", "grim", "hard", "high", "keen", "lean", "mild",
        "nice", "pure", "rude", "safe", "sick", "slim", "snug", "tidy", "ugly", "weak", "cool", "cute", "damp",
        "dear", "fair", "huge", "icy", "mad", "low", "raw",
    ];

    static readonly string[] Adverbs = ["now", "often", "again", "today", "soon", "later", "twice", "slowly", "gladly", "here"];
    static readonly string[] Prepositions = ["in", "on", "at", "by", "near", "under", "over", "behind", "beside", "with", "from", "into"];
    static readonly string[] Conjunctions = ["and", "but", "so", "while", "yet"];
    static readonly string[] SingularDeterminers = ["a", "this", "that", "each", "every", "one"];
    static readonly string[] PluralDeterminers = ["these", "those", "some", "many", "two", "three", "few"];
    static readonly string[] NeutralDeterminers = ["the", "my", "your", "his", "her", "our", "their"];
    static readonly string[] SingularPronouns = ["he", "she", "it"];
    static readonly string[] PluralPronouns = ["we", "they"];

    // Grammar probabilities. With these the floor is about 0.89 nats/char and sentences average ~40 characters.
    const double PronounSubject = 0.25;      // subject is a pronoun rather than a noun phrase
    const double AdjectiveInPhrase = 0.5;   // a noun phrase has an adjective
    const double BarePlural = 0.25;         // an object noun phrase is a bare plural, without determiner
    const double PluralWhenOpen = 0.5;      // "the" etc. leave the number open: plural with this probability
    const double PastTense = 0.5;           // the first verb of a sentence is past rather than present
    const double SecondClause = 0.3;        // a clause that ends is followed by ", conj clause" (first clause only)
    const double ParagraphEnd = 0.2;        // a sentence ends its paragraph ("\n" instead of " ")

    // Probability that a clause continues after each stage (verb, object, adverb); after a prepositional phrase it ends.
    static readonly double[] ContinueAfter = [0.75, 0.5, 0.4, 0.0];

    enum Number { Singular, Plural, Open }
    enum Tense { Unknown, Present, Past }
    enum Stage { Verb, Object, Adverb, Preposition }
    enum Role { Subject, Object, PrepositionObject }

    /// <summary>Singular and plural noun forms, every verb form, and the other word lists: every surface word.</summary>
    public static IEnumerable<string> AllWords() =>
        Nouns.Concat(Nouns.Select(Plural)).Concat(Verbs).Concat(Verbs.Select(ThirdPerson)).Concat(Verbs.Select(PastForm))
            .Concat(Adjectives).Concat(Adverbs).Concat(Prepositions).Concat(Conjunctions).Concat(SingularDeterminers)
            .Concat(PluralDeterminers).Concat(NeutralDeterminers).Concat(SingularPronouns).Concat(PluralPronouns);

    static string Plural(string noun) => noun + "s";
    static string ThirdPerson(string verb) => verb + "s";
    static string PastForm(string verb) => verb.EndsWith('e') ? verb + "d" : verb + "ed";
    static string Capitalize(string word) => char.ToUpperInvariant(word[0]) + word[1..];

    /// <summary>Compiles the grammar; throws if two words share a spelling, which would make parsing ambiguous.</summary>
    public static TokenAutomaton Build()
    {
        var duplicates = AllWords().GroupBy(w => w).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (duplicates.Length > 0) throw new InvalidOperationException("corpus words spelled twice: " + string.Join(", ", duplicates));
        return new Builder().Compile();
    }

    /// <summary>Builds states on demand, one per distinct grammar situation (memoised by name).</summary>
    sealed class Builder
    {
        readonly List<AutomatonState?> states = [];
        readonly Dictionary<string, int> idByName = [];
        int start;

        public TokenAutomaton Compile()
        {
            // The start state is reserved first because sentence ends point back to it (the one cycle).
            start = Reserve("sentence start");
            Define(start, SubjectOptions(clause: 1, Tense.Unknown, capital: true));
            return new TokenAutomaton(states.Select(s => s!).ToArray(), start);
        }

        int Reserve(string name)
        {
            idByName[name] = states.Count;
            states.Add(null);
            return states.Count - 1;
        }

        void Define(int id, List<(string Text, double Weight, int Next)> options)
        {
            double total = options.Sum(o => o.Weight);
            var normalised = options.Select(o => new AutomatonOption(o.Text, o.Weight / total, o.Next)).ToArray();
            string name = idByName.First(p => p.Value == id).Key;
            states[id] = new AutomatonState(name, normalised);
        }

        int State(string name, Func<List<(string, double, int)>> options)
        {
            if (idByName.TryGetValue(name, out int id)) return id;
            id = Reserve(name);
            Define(id, options());
            return id;
        }

        /// <summary>A separator state with the single option " ".</summary>
        int Space(int next) => State($"space -> {next}", () => [(" ", 1.0, next)]);

        static List<(string, double, int)> Uniform(IEnumerable<string> words, double mass, Func<string, int> next)
        {
            var list = words.ToList();
            return list.Select(w => (w, mass / list.Count, next(w))).ToList();
        }

        List<(string, double, int)> SubjectOptions(int clause, Tense tense, bool capital)
        {
            Func<string, string> shape = capital ? Capitalize : w => w;
            var options = new List<(string, double, int)>();
            options.AddRange(Uniform(SingularPronouns.Select(shape), PronounSubject * 0.6, _ => Space(Verb(Number.Singular, tense, clause))));
            options.AddRange(Uniform(PluralPronouns.Select(shape), PronounSubject * 0.4, _ => Space(Verb(Number.Plural, tense, clause))));
            options.AddRange(Determiners(shape, 1 - PronounSubject, Role.Subject, tense, clause));
            return options;
        }

        /// <summary>
        /// A determiner, which fixes the noun's number or leaves it open; objects may also be bare plurals
        /// ("over red cats"), so their first word is a determiner, an adjective or a plural noun.
        /// </summary>
        List<(string, double, int)> Determiners(Func<string, string> shape, double mass, Role role, Tense tense, int clause)
        {
            var options = new List<(string, double, int)>();
            if (role != Role.Subject)
            {
                options.AddRange(PhraseBodyOptions(Number.Plural, role, tense, clause, adjectiveDone: false, mass * BarePlural));
                mass *= 1 - BarePlural;
            }
            options.AddRange(Uniform(SingularDeterminers.Select(shape), mass * 0.35, _ => Space(PhraseBody(Number.Singular, role, tense, clause, adjectiveDone: false))));
            options.AddRange(Uniform(PluralDeterminers.Select(shape), mass * 0.25, _ => Space(PhraseBody(Number.Plural, role, tense, clause, adjectiveDone: false))));
            options.AddRange(Uniform(NeutralDeterminers.Select(shape), mass * 0.40, _ => Space(PhraseBody(Number.Open, role, tense, clause, adjectiveDone: false))));
            return options;
        }

        /// <summary>After the determiner: an optional adjective, then the noun, whose form settles an open number.</summary>
        int PhraseBody(Number number, Role role, Tense tense, int clause, bool adjectiveDone) =>
            State($"phrase {number} {role} {tense} {clause} adjective={adjectiveDone}",
                () => PhraseBodyOptions(number, role, tense, clause, adjectiveDone, 1));

        List<(string, double, int)> PhraseBodyOptions(Number number, Role role, Tense tense, int clause, bool adjectiveDone, double mass)
        {
            var options = new List<(string, double, int)>();
            double nounMass = mass;
            if (!adjectiveDone)
            {
                options.AddRange(Uniform(Adjectives, mass * AdjectiveInPhrase, _ => Space(PhraseBody(number, role, tense, clause, adjectiveDone: true))));
                nounMass = mass * (1 - AdjectiveInPhrase);
            }
            double pluralShare = number switch { Number.Singular => 0, Number.Plural => 1, _ => PluralWhenOpen };
            if (pluralShare < 1) options.AddRange(Uniform(Nouns, nounMass * (1 - pluralShare), _ => AfterNoun(Number.Singular, role, tense, clause)));
            if (pluralShare > 0) options.AddRange(Uniform(Nouns.Select(Plural), nounMass * pluralShare, _ => AfterNoun(Number.Plural, role, tense, clause)));
            return options;
        }

        int AfterNoun(Number number, Role role, Tense tense, int clause) => role switch
        {
            Role.Subject => Space(Verb(number, tense, clause)),
            Role.Object => ClauseEnd(Stage.Object, tense, clause),
            _ => ClauseEnd(Stage.Preposition, tense, clause),
        };

        /// <summary>The verb: agrees with a singular subject in the present; its tense, once chosen, holds for the sentence.</summary>
        int Verb(Number number, Tense tense, int clause) =>
            State($"verb {number} {tense} {clause}", () =>
            {
                var options = new List<(string, double, int)>();
                double past = tense switch { Tense.Unknown => PastTense, Tense.Past => 1, _ => 0 };
                Func<string, string> present = number == Number.Singular ? ThirdPerson : v => v;
                if (past < 1) options.AddRange(Uniform(Verbs.Select(present), 1 - past, _ => ClauseEnd(Stage.Verb, Tense.Present, clause)));
                if (past > 0) options.AddRange(Uniform(Verbs.Select(PastForm), past, _ => ClauseEnd(Stage.Verb, Tense.Past, clause)));
                return options;
            });

        /// <summary>Separator after a clause part: continue the clause, join a second clause, or end the sentence.</summary>
        int ClauseEnd(Stage stage, Tense tense, int clause) =>
            State($"after {stage} {tense} {clause}", () =>
            {
                double keepGoing = ContinueAfter[(int)stage];
                double join = clause == 1 ? (1 - keepGoing) * SecondClause : 0;
                double end = 1 - keepGoing - join;
                var options = new List<(string, double, int)>();
                if (keepGoing > 0) options.Add((" ", keepGoing, ClauseContinuation(stage, tense, clause)));
                if (join > 0) options.Add((", ", join, Conjunction(tense)));
                options.Add((". ", end * (1 - ParagraphEnd), start));
                options.Add((".\n", end * ParagraphEnd, start));
                return options;
            });

        /// <summary>The next part of a clause, in the fixed order object, adverb, prepositional phrase.</summary>
        int ClauseContinuation(Stage stage, Tense tense, int clause) =>
            State($"continue {stage} {tense} {clause}", () =>
            {
                var options = new List<(string, double, int)>();
                if (stage == Stage.Verb) options.AddRange(Determiners(w => w, 0.5, Role.Object, tense, clause));
                if (stage <= Stage.Object) options.AddRange(Uniform(Adverbs, 0.2, _ => ClauseEnd(Stage.Adverb, tense, clause)));
                options.AddRange(Uniform(Prepositions, 0.3, _ => Space(PrepositionObject(tense, clause))));
                return options;
            });

        int PrepositionObject(Tense tense, int clause) =>
            State($"preposition object {tense} {clause}", () => Determiners(w => w, 1, Role.PrepositionObject, tense, clause));

        int Conjunction(Tense tense) =>
            State($"conjunction {tense}", () => Uniform(Conjunctions, 1, _ => Space(SecondSubject(tense))));

        int SecondSubject(Tense tense) =>
            State($"subject {tense} 2", () => SubjectOptions(clause: 2, tense, capital: false));
    }
}
