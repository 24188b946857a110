// The byte-level BPE engine shared by BpeTokenizer (our own merges) and Gpt2Tokenizer (OpenAI's merges): GPT-2
// pre-tokenisation, then merges applied by rank inside each piece, with a cache of encoded pieces.
// Long pieces (a megabyte of letters without a space) take O(n log n) through a heap, not encoder.py's O(n^2).
using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace ResidualLM.Text;

/// <summary>
/// Applies ranked merges to the UTF-8 bytes of each pre-tokenised piece, exactly as OpenAI's <c>encoder.py</c> does:
/// repeatedly take the adjacent pair with the lowest merge rank and merge all its occurrences left to right, until
/// no adjacent pair has a rank. Ids, not strings, are merged: a merge (left, right) yields the id of left+right.
/// </summary>
internal sealed class BytePairEncoder
{
    const int CacheCapacity = 1 << 17;

    readonly int[] byteIds;                        // id of each single byte
    readonly Dictionary<long, long> merges;        // (left << 32 | right) -> (rank << 32 | merged id)
    readonly int[] mergeLefts, mergeRights;        // the pair of each rank
    readonly byte[][] tokenBytes;                  // bytes of each id
    readonly string? specialToken;
    readonly int specialId;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cacheLookup;
    // Entries added since the last clear. NOTE: not cache.Count, which takes every one of the dictionary's locks
    // (up to 1024): on text with many new pieces it cost more than encoding them.
    int cacheEntries;

    /// <param name="byteIds">Id of each of the 256 bytes.</param>
    /// <param name="mergePairs">Merges in rank order: rank i joins (Left, Right) into Merged.</param>
    /// <param name="tokenBytes">Bytes of every id, indexed by id.</param>
    /// <param name="specialToken">Text of the end-of-text token, recognised only when the caller allows it.</param>
    /// <param name="specialId">Id of <paramref name="specialToken"/>.</param>
    public BytePairEncoder(int[] byteIds, IReadOnlyList<(int Left, int Right, int Merged)> mergePairs, byte[][] tokenBytes,
        string? specialToken, int specialId)
    {
        this.byteIds = byteIds;
        this.tokenBytes = tokenBytes;
        this.specialToken = specialToken;
        this.specialId = specialId;
        merges = new Dictionary<long, long>(mergePairs.Count);
        mergeLefts = new int[mergePairs.Count];
        mergeRights = new int[mergePairs.Count];
        for (int rank = 0; rank < mergePairs.Count; rank++)
        {
            var (left, right, merged) = mergePairs[rank];
            (mergeLefts[rank], mergeRights[rank]) = (left, right);
            merges.TryAdd(PairKey(left, right), ((long)rank << 32) | (uint)merged);
        }
        cacheLookup = cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int VocabSize => tokenBytes.Length;

    static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Encodes text; the special token is matched literally only when <paramref name="allowSpecial"/>.</summary>
    public int[] Encode(string text, bool allowSpecial)
    {
        var output = new List<int>(text.Length / 3 + 4);
        ReadOnlySpan<char> rest = text;
        if (allowSpecial && specialToken is not null)
        {
            // As tiktoken does with allowed_special: split on the special token first, pre-tokenise what lies between.
            int found;
            while ((found = rest.IndexOf(specialToken, StringComparison.Ordinal)) >= 0)
            {
                EncodeOrdinary(rest[..found], output);
                output.Add(specialId);
                rest = rest[(found + specialToken.Length)..];
            }
        }
        EncodeOrdinary(rest, output);
        return output.ToArray();
    }

    void EncodeOrdinary(ReadOnlySpan<char> text, List<int> output)
    {
        for (int position = 0; position < text.Length;)
        {
            int length = Gpt2PreTokenizer.MatchLength(text, position);
            EncodePiece(text.Slice(position, length), output);
            position += length;
        }
    }

    void EncodePiece(ReadOnlySpan<char> piece, List<int> output)
    {
        if (cacheLookup.TryGetValue(piece, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        // Encoding.UTF8 replaces a lone surrogate with U+FFFD (EF BF BD), as JavaScript's TextEncoder does.
        int maxBytes = piece.Length * 3;
        byte[]? rented = maxBytes > 256 ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        Span<byte> bytes = rented is null ? stackalloc byte[256] : rented;
        int byteCount = Encoding.UTF8.GetBytes(piece, bytes);
        int[] ids = MergeBytes(bytes[..byteCount]);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);

        if (Volatile.Read(ref cacheEntries) >= CacheCapacity)
        {
            cache.Clear();
            Volatile.Write(ref cacheEntries, 0);
        }
        if (cacheLookup.TryAdd(piece, ids)) Interlocked.Increment(ref cacheEntries);
        output.AddRange(ids);
    }

    /// <summary>Pieces at least this long (in bytes) use the O(n log n) heap merge; shorter ones the simple scan.</summary>
    internal const int HeapThreshold = 48;

    int[] MergeBytes(ReadOnlySpan<byte> bytes)
    {
        int[] symbols = ByteSymbols(bytes);
        return symbols.Length >= HeapThreshold ? MergeWithHeap(symbols) : MergeByScanning(symbols);
    }

    /// <summary>The single-byte ids of <paramref name="bytes"/>, where merging starts.</summary>
    internal int[] ByteSymbols(ReadOnlySpan<byte> bytes)
    {
        var symbols = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) symbols[i] = byteIds[bytes[i]];
        return symbols;
    }

    /// <summary>encoder.py's loop, in place: O(n) look-ups per merge, fastest for the short pieces of ordinary text.</summary>
    internal int[] MergeByScanning(int[] symbols)
    {
        int count = symbols.Length;
        while (count > 1)
        {
            // Find the adjacent pair with the lowest rank.
            long best = long.MaxValue;
            for (int i = 0; i + 1 < count; i++)
                if (merges.TryGetValue(PairKey(symbols[i], symbols[i + 1]), out long rankAndId) && rankAndId < best)
                    best = rankAndId;
            if (best == long.MaxValue) break;

            // Merge every occurrence of that pair, scanning left to right.
            int rank = (int)(best >> 32), merged = (int)best;
            int left = mergeLefts[rank], right = mergeRights[rank];
            int written = 0;
            for (int i = 0; i < count;)
            {
                if (i + 1 < count && symbols[i] == left && symbols[i + 1] == right)
                {
                    symbols[written++] = merged;
                    i += 2;
                }
                else symbols[written++] = symbols[i++];
            }
            count = written;
        }
        return count == symbols.Length ? symbols : symbols[..count];
    }

    /// <summary>
    /// The same result as <see cref="MergeByScanning"/> in O(n log n), so a long run of letters cannot stall encoding.
    /// Symbols form a linked list; a heap holds (rank, position) of adjacent pairs. All pairs of the lowest rank are
    /// merged left to right as one pass, and the pairs that pass creates enter the heap only after it, exactly as
    /// encoder.py recomputes its pairs after each pass.
    /// </summary>
    internal int[] MergeWithHeap(int[] symbols)
    {
        int n = symbols.Length;
        var next = new int[n];
        var previous = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; previous[i] = i - 1; }
        var heap = new PriorityQueue<int, long>(n);   // element: position of the pair's left symbol
        for (int i = 0; i + 1 < n; i++) Push(i);
        var mergedPositions = new List<int>();

        while (heap.TryDequeue(out int position, out long priority))
        {
            int rank = (int)(priority >> 32);
            // Stale entries: the left symbol was absorbed, or the pair at this position changed since it was pushed.
            int right = next[position];
            if (previous[position] != -2 && right >= 0
                && symbols[position] == mergeLefts[rank] && symbols[right] == mergeRights[rank])
            {
                symbols[position] = (int)merges[PairKey(mergeLefts[rank], mergeRights[rank])];
                int after = next[right];
                next[position] = after;
                if (after >= 0) previous[after] = position;
                previous[right] = -2;   // marks a removed symbol
                mergedPositions.Add(position);
            }
            bool passEnds = !heap.TryPeek(out _, out long upcoming) || (int)(upcoming >> 32) != rank;
            if (passEnds && mergedPositions.Count > 0)
            {
                foreach (int merged in mergedPositions)
                {
                    if (previous[merged] == -2) continue;
                    if (previous[merged] >= 0) Push(previous[merged]);
                    Push(merged);
                }
                mergedPositions.Clear();
            }
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(symbols[i]);
        return [.. result];

        void Push(int left)
        {
            int right = next[left];
            if (right >= 0 && merges.TryGetValue(PairKey(symbols[left], symbols[right]), out long rankAndId))
                heap.Enqueue(left, (rankAndId & ~0xFFFFFFFFL) | (uint)left);
        }
    }

    /// <summary>Bytes of one id.</summary>
    public ReadOnlySpan<byte> BytesOf(int id) => tokenBytes[id];

    /// <summary>Concatenates the bytes of <paramref name="ids"/> and decodes them as UTF-8 with replacement.</summary>
    public string Decode(ReadOnlySpan<int> ids, string kind)
    {
        int total = 0;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)tokenBytes.Length)
                throw new InvalidInputException($"token id {id} is outside the {kind} vocabulary of {tokenBytes.Length} ids", field: "ids");
            total += tokenBytes[id].Length;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        int offset = 0;
        foreach (int id in ids)
        {
            tokenBytes[id].CopyTo(buffer, offset);
            offset += tokenBytes[id].Length;
        }
        string text = Encoding.UTF8.GetString(buffer, 0, total);
        ArrayPool<byte>.Shared.Return(buffer);
        return text;
    }
}
