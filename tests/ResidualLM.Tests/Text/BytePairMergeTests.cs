// The heap merge (used for long pieces) must give exactly what encoder.py's scanning loop gives: on GPT-2's merges, on
// trained merges, and on merge lists in any rank order (a GPT-2 style vocab.bpe file may rank a merge of a token
// before the merge that makes it; encoder.py then merges the new pair in the next pass, never inside the current one).
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class BytePairMergeTests
{
    static IEnumerable<byte[]> Inputs(int seed)
    {
        var random = new Random(seed);
        foreach (string text in TextTestData.RandomStrings(300, seed))
            yield return System.Text.Encoding.UTF8.GetBytes(text);
        // Long runs of one class are single pieces: letters, digits, punctuation, and repeats that merge with themselves.
        string[] alphabets = ["abcdefghijklmnopqrstuvwxyz", "0123456789", "!?.,;:-'\"()", "aab", "e"];
        for (int i = 0; i < 60; i++)
        {
            string alphabet = alphabets[i % alphabets.Length];
            int length = random.Next(1, 400);
            yield return System.Text.Encoding.UTF8.GetBytes(new string(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray()));
        }
    }

    static void AssertAlgorithmsAgree(BytePairEncoder engine, int seed)
    {
        foreach (byte[] bytes in Inputs(seed))
            Assert.Equal(engine.MergeByScanning(engine.ByteSymbols(bytes)), engine.MergeWithHeap(engine.ByteSymbols(bytes)));
    }

    [Fact]
    public void MergeWithHeap_Gpt2Merges_MatchesScanning() => AssertAlgorithmsAgree(TextTestData.Gpt2.Engine, seed: 21);

    [Fact]
    public void MergeWithHeap_TrainedMerges_MatchesScanning() =>
        AssertAlgorithmsAgree(BpeTrainer.Train(TextTestData.EnglishLike(30_000, seed: 22) + "aaaaaaaaaaaaaaaa eeeeeeeeeeeee", 150).Engine, seed: 23);

    /// <summary>An engine over the 256 bytes plus the merges given in rank order, each (left, right) making the next id.</summary>
    static BytePairEncoder Engine(IReadOnlyList<(int Left, int Right)> merges)
    {
        // A merge may name an id that a later rank makes, so the bytes of each id are worked out on demand.
        var tokenBytes = new byte[256 + merges.Count][];
        byte[] BytesOf(int id) => tokenBytes[id] ??= id < 256 ? [(byte)id] : [.. BytesOf(merges[id - 256].Left), .. BytesOf(merges[id - 256].Right)];
        for (int id = 0; id < tokenBytes.Length; id++) BytesOf(id);
        var pairs = merges.Select((merge, rank) => (merge.Left, merge.Right, 256 + rank)).ToList();
        return new BytePairEncoder([.. Enumerable.Range(0, 256)], pairs, tokenBytes, null, 0);
    }

    static int[] Heap(BytePairEncoder engine, string text) => engine.MergeWithHeap(engine.ByteSymbols(System.Text.Encoding.UTF8.GetBytes(text)));

    static int[] Scan(BytePairEncoder engine, string text) => engine.MergeByScanning(engine.ByteSymbols(System.Text.Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void MergeWithHeap_APairMadeByAPass_WaitsForTheNextPass()
    {
        // Rank 0 joins "ab" (id 257, made by rank 1) with "a". On "abab...", encoder.py's first pass merges every "a b"
        // (rank 1, the only pair present); "ab" + "a" never occurs after it, so the result is all "ab". Merging "ab a"
        // inside the pass, as soon as it appears, would give "aba" + "b" instead.
        BytePairEncoder engine = Engine([(257, 'a'), ('a', 'b')]);
        string text = string.Concat(Enumerable.Repeat("ab", 30));
        int[] expected = [.. Enumerable.Repeat(257, 30)];
        Assert.Equal(expected, Scan(engine, text));
        Assert.Equal(expected, Heap(engine, text));
        // With a trailing "a" the last pair is "ab" + "a", made only by the pass: it merges in the next one.
        Assert.Equal([.. Enumerable.Repeat(257, 29), 256], Heap(engine, text + "a"));
    }

    [Fact]
    public void MergeWithHeap_RandomMergeListsInAnyRankOrder_MatchScanning()
    {
        var random = new Random(31);
        for (int trial = 0; trial < 40; trial++)
        {
            // Build merges over "abc" that join existing tokens, then list them in a shuffled rank order.
            var tokens = new List<int> { 'a', 'b', 'c' };
            var made = new List<(int Left, int Right)>();
            int next = 256;
            var seen = new HashSet<(int, int)>();
            while (made.Count < 14)
            {
                var pair = (tokens[random.Next(tokens.Count)], tokens[random.Next(tokens.Count)]);
                if (!seen.Add(pair)) continue;
                made.Add(pair);
                tokens.Add(next++);
            }
            // Ids are given in the order made; ranks are a permutation of them. Engine() numbers ids by rank, so map.
            int[] order = [.. Enumerable.Range(0, made.Count).OrderBy(_ => random.Next())];
            var idOfMade = new int[made.Count];
            for (int rank = 0; rank < order.Length; rank++) idOfMade[order[rank]] = 256 + rank;
            int Id(int token) => token < 256 ? token : idOfMade[token - 256];
            BytePairEncoder engine = Engine([.. order.Select(m => (Id(made[m].Left), Id(made[m].Right)))]);
            for (int sample = 0; sample < 8; sample++)
            {
                int length = random.Next(BytePairEncoder.HeapThreshold, 160);
                string text = new([.. Enumerable.Range(0, length).Select(_ => "abc"[random.Next(3)])]);
                Assert.Equal(Scan(engine, text), Heap(engine, text));
            }
        }
    }
}
