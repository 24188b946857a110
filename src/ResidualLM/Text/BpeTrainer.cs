// Learns byte-level BPE merges from a text: the pair of adjacent tokens seen most often becomes a new token, repeat.
// Pair counts are updated incrementally (only the words that contain the merged pair are touched), so 500 merges on
// a megabyte take seconds, not a recount of the whole corpus per merge.
namespace ResidualLM.Text;

/// <summary>
/// Trains a <see cref="BpeTokenizer"/>. The text is split with GPT-2's pattern first, so merges never cross a word
/// boundary, and each distinct piece is counted once with its frequency.
/// <para>
/// Tie-breaking (deterministic): the pair with the highest count wins; among equal counts, the pair with the smaller
/// left id, then the smaller right id. So the same text and merge count always give the same merges.
/// </para>
/// </summary>
public static class BpeTrainer
{
    /// <summary>Learns up to <paramref name="mergeCount"/> merges from <paramref name="text"/>.</summary>
    /// <param name="text">Training text; any string (a lone surrogate counts as U+FFFD's bytes).</param>
    /// <param name="mergeCount">Number of merges to learn; the vocabulary has 256 + merges + 1 ids.</param>
    /// <param name="minimumPairCount">Training stops early when no pair occurs at least this often (default 2), since
    /// merging a pair seen once does not help to compress text.</param>
    public static BpeTokenizer Train(string text, int mergeCount, int minimumPairCount = 2)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(mergeCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(minimumPairCount, 1);

        var (words, frequencies) = CountWords(text);
        var pairCounts = new Dictionary<long, long>();
        var wordsWithPair = new Dictionary<long, List<int>>();
        for (int w = 0; w < words.Count; w++) AddPairs(words[w], frequencies[w], w, pairCounts, wordsWithPair, touched: null);

        var queue = new PriorityQueue<long, (long Count, long Pair)>(Comparer<(long Count, long Pair)>.Create(
            (a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : a.Pair.CompareTo(b.Pair)));
        foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (count, pair));

        var merges = new List<(int, int)>(mergeCount);
        var lastVisit = new int[words.Count];
        Array.Fill(lastVisit, -1);
        var touched = new HashSet<long>();
        while (merges.Count < mergeCount && queue.TryDequeue(out long best, out var priority))
        {
            // Entries are never updated in place: one whose count is stale is skipped (lazy deletion).
            if (!pairCounts.TryGetValue(best, out long current) || current != priority.Count) continue;
            if (current < minimumPairCount) break;

            int left = (int)(best >> 32), right = (int)best, merged = 256 + merges.Count;
            merges.Add((left, right));
            touched.Clear();
            foreach (int w in wordsWithPair[best])
            {
                if (lastVisit[w] == merged) continue;   // listed twice
                lastVisit[w] = merged;
                int[] before = words[w];
                int[] after = MergeWord(before, left, right, merged);
                if (after.Length == before.Length) continue;   // stale entry: an earlier merge consumed the pair
                RemovePairs(before, frequencies[w], pairCounts, touched);
                AddPairs(after, frequencies[w], w, pairCounts, wordsWithPair, touched);
                words[w] = after;
            }
            wordsWithPair.Remove(best);
            foreach (long pair in touched)
                if (pairCounts.TryGetValue(pair, out long count)) queue.Enqueue(pair, (count, pair));
        }
        return new BpeTokenizer(merges);
    }

    /// <summary>Distinct pre-tokenised pieces as byte ids, with how often each occurs.</summary>
    static (List<int[]> Words, List<long> Frequencies) CountWords(string text)
    {
        var indexOfPiece = new Dictionary<string, int>(StringComparer.Ordinal);
        var lookup = indexOfPiece.GetAlternateLookup<ReadOnlySpan<char>>();
        var words = new List<int[]>();
        var frequencies = new List<long>();
        ReadOnlySpan<char> span = text;
        for (int position = 0; position < span.Length;)
        {
            int length = Gpt2PreTokenizer.MatchLength(span, position);
            ReadOnlySpan<char> piece = span.Slice(position, length);
            position += length;
            if (lookup.TryGetValue(piece, out int index)) { frequencies[index]++; continue; }
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(piece.ToArray());
            lookup[piece] = words.Count;
            words.Add(Array.ConvertAll(bytes, b => (int)b));
            frequencies.Add(1);
        }
        return (words, frequencies);
    }

    static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    static void AddPairs(int[] symbols, long frequency, int word, Dictionary<long, long> pairCounts,
        Dictionary<long, List<int>> wordsWithPair, HashSet<long>? touched)
    {
        for (int i = 0; i + 1 < symbols.Length; i++)
        {
            long pair = PairKey(symbols[i], symbols[i + 1]);
            pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + frequency;
            if (!wordsWithPair.TryGetValue(pair, out List<int>? list)) wordsWithPair[pair] = list = [];
            if (list.Count == 0 || list[^1] != word) list.Add(word);
            touched?.Add(pair);
        }
    }

    static void RemovePairs(int[] symbols, long frequency, Dictionary<long, long> pairCounts, HashSet<long> touched)
    {
        for (int i = 0; i + 1 < symbols.Length; i++)
        {
            long pair = PairKey(symbols[i], symbols[i + 1]);
            long count = pairCounts[pair] - frequency;
            if (count == 0) pairCounts.Remove(pair); else pairCounts[pair] = count;
            touched.Add(pair);
        }
    }

    /// <summary>Replaces each occurrence of (left, right), scanning left to right, with <paramref name="merged"/>.</summary>
    static int[] MergeWord(int[] symbols, int left, int right, int merged)
    {
        var result = new List<int>(symbols.Length);
        for (int i = 0; i < symbols.Length;)
        {
            if (i + 1 < symbols.Length && symbols[i] == left && symbols[i + 1] == right) { result.Add(merged); i += 2; }
            else result.Add(symbols[i++]);
        }
        return result.Count == symbols.Length ? symbols : [.. result];
    }
}
