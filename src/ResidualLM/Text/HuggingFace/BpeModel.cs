// tokenizers' BPE model: a word's characters are looked up in the vocabulary (else their UTF-8 bytes as <0xNN>
// tokens when byte_fallback is on, else the unknown token), then merges are applied lowest rank first, leftmost
// first among equal ranks, one pair at a time. Encoded words are cached. Limits: no dropout, no
// continuing_subword_prefix / end_of_word_suffix (BERT-style BPE), which are refused when set.
using System.Collections.Concurrent;

namespace ResidualLM.Text.HuggingFace;

internal sealed class BpeModel
{
    const int CacheCapacity = 1 << 17;

    /// <summary>Longer words are not cached: without a pre-tokenizer (Llama 2) a whole text is one word.</summary>
    const int MaxCachedWordLength = 256;

    readonly Dictionary<string, int> vocabulary;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> vocabularyLookup;
    readonly Dictionary<long, long> merges;          // (left << 32 | right) -> (rank << 32 | merged id)
    readonly int[]? byteIds;                           // id of "<0xNN>" for each byte, when byte_fallback is on
    readonly int? unknownId;
    readonly bool fuseUnknown, ignoreMerges;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);

    BpeModel(Dictionary<string, int> vocabulary, Dictionary<long, long> merges, int[]? byteIds, int? unknownId, bool fuseUnknown, bool ignoreMerges)
    {
        this.vocabulary = vocabulary;
        vocabularyLookup = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        this.merges = merges;
        this.byteIds = byteIds;
        this.unknownId = unknownId;
        this.fuseUnknown = fuseUnknown;
        this.ignoreMerges = ignoreMerges;
        TokenOfId = new string?[vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1];
        foreach (var (token, id) in vocabulary) TokenOfId[id] = token;
    }

    /// <summary>The token string of each id (null for an id the vocabulary skips).</summary>
    public string?[] TokenOfId { get; }

    /// <summary>Ids must lie below this (16 M; Llama 3 has 128 K): a huge id in a hostile file would ask for a huge table.</summary>
    public const int MaxId = 1 << 24;

    public bool TryGetId(string token, out int id) => vocabulary.TryGetValue(token, out id);

    public static BpeModel Read(HuggingFaceJson json)
    {
        // Files written before tokenizers tagged its models may lack "type"; a model with merges is BPE.
        bool untaggedBpe = json.Optional("type") is null && json.Optional("merges") is not null;
        if (!untaggedBpe && json.Type != "BPE") throw json.Unsupported("model type", "BPE");
        if (json.Optional("dropout") is { } dropout && !(dropout.Element.ValueKind == System.Text.Json.JsonValueKind.Number && dropout.Element.TryGetDouble(out double p) && p == 0))
            throw dropout.Error("BPE dropout is not supported (it makes encoding random); expected null");
        foreach (string name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (json.OptionalString(name) is { Length: > 0 })
                throw json.Required(name).Error("is not supported (BERT-style subword markers); expected null or \"\"");

        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        HuggingFaceJson vocab = json.RequiredObject("vocab");
        var seenIds = new HashSet<int>();
        foreach (var property in vocab.Element.EnumerateObject())
        {
            var entry = new HuggingFaceJson(property.Value, json.FilePath, $"{vocab.Field}.{IO.MessageText.Printable(property.Name)}");
            int id = entry.AsInt();
            if (id < 0 || id >= MaxId) throw entry.Error($"expected an id in [0, {MaxId}), found {id}");
            if (!seenIds.Add(id)) throw entry.Error($"id {id} is given to two tokens");
            vocabulary[property.Name] = id;
        }

        var mergeTable = new Dictionary<long, long>();
        int rank = 0;
        foreach (HuggingFaceJson item in json.Items("merges"))
        {
            var (left, right) = ReadMerge(item);
            if (!vocabulary.TryGetValue(left, out int leftId) || !vocabulary.TryGetValue(right, out int rightId))
                throw item.Error($"merge \"{IO.MessageText.Printable(left)} {IO.MessageText.Printable(right)}\" uses a token that is not in the vocabulary");
            if (!vocabulary.TryGetValue(left + right, out int mergedId))
                throw item.Error($"the result of merge \"{IO.MessageText.Printable(left)} {IO.MessageText.Printable(right)}\" is not in the vocabulary");
            // A repeated pair keeps its last rank, as tokenizers' map does.
            mergeTable[PairKey(leftId, rightId)] = ((long)rank++ << 32) | (uint)mergedId;
        }

        int[]? byteIds = null;
        if (json.Bool("byte_fallback", false))
        {
            byteIds = new int[256];
            for (int b = 0; b < 256; b++) byteIds[b] = vocabulary.TryGetValue(ByteToken((byte)b), out int id) ? id : -1;
        }
        int? unknownId = null;
        if (json.OptionalString("unk_token") is { } unknown)
            unknownId = vocabulary.TryGetValue(unknown, out int id) ? id
                : throw json.Required("unk_token").Error($"the unknown token \"{IO.MessageText.Printable(unknown)}\" is not in the vocabulary");
        return new BpeModel(vocabulary, mergeTable, byteIds, unknownId, json.Bool("fuse_unk", false), json.Bool("ignore_merges", false));
    }

    /// <summary>A merge written as "left right" (one space) or as ["left", "right"] (tokenizers 0.20 and later).</summary>
    static (string Left, string Right) ReadMerge(HuggingFaceJson item)
    {
        if (item.Element.ValueKind == System.Text.Json.JsonValueKind.String)
        {
            string text = item.AsString();
            int space = text.IndexOf(' ');
            if (space < 0 || text.IndexOf(' ', space + 1) >= 0)
                throw item.Error($"expected \"left right\" with exactly one space, found \"{IO.MessageText.Printable(text)}\"");
            return (text[..space], text[(space + 1)..]);
        }
        var parts = item.AsItems().ToList();
        if (parts.Count != 2) throw item.Error($"expected a pair [\"left\", \"right\"], found {IO.MessageText.Describe(item.Element)}");
        return (parts[0].AsString(), parts[1].AsString());
    }

    /// <summary>The byte-fallback token of a byte: "&lt;0x0A&gt;" (upper-case hex, as tokenizers writes it).</summary>
    public static string ByteToken(byte value) => $"<0x{value:X2}>";

    static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Tokenize(string word, List<int> output)
    {
        if (word.Length == 0) return;
        if (cache.TryGetValue(word, out int[]? cached)) { output.AddRange(cached); return; }
        int[] ids = ignoreMerges && vocabulary.TryGetValue(word, out int whole) ? [whole] : Merge(Symbols(word));
        if (word.Length <= MaxCachedWordLength)
        {
            if (cache.Count >= CacheCapacity) cache.Clear();
            cache.TryAdd(word, ids);
        }
        output.AddRange(ids);
    }

    /// <summary>The starting symbols: one id per character, or its bytes, or the (fused) unknown token.</summary>
    List<int> Symbols(string word)
    {
        var symbols = new List<int>(word.Length);
        bool pendingUnknown = false;   // an unknown run not yet written (fuse_unk joins consecutive ones)
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsSurrogatePair(word, i) ? 2 : 1;
            ReadOnlySpan<char> character = word.AsSpan(i, width);
            i += width;
            if (vocabularyLookup.TryGetValue(character, out int id))
            {
                FlushUnknown();
                symbols.Add(id);
                continue;
            }
            if (byteIds is not null)
            {
                int count = System.Text.Encoding.UTF8.GetBytes(character, utf8);
                bool all = true;
                for (int b = 0; b < count; b++) all &= byteIds[utf8[b]] >= 0;
                if (all)
                {
                    // NOTE: as in tokenizers, a pending unknown token is not written before the bytes.
                    for (int b = 0; b < count; b++) symbols.Add(byteIds[utf8[b]]);
                    continue;
                }
            }
            if (unknownId is null) continue;   // no unknown token: tokenizers drops the character
            if (pendingUnknown && !fuseUnknown) symbols.Add(unknownId.Value);
            pendingUnknown = true;
        }
        FlushUnknown();
        return symbols;

        void FlushUnknown()
        {
            if (pendingUnknown) symbols.Add(unknownId!.Value);
            pendingUnknown = false;
        }
    }

    /// <summary>
    /// Applies merges as tokenizers' Word::merge_all does: a queue of (rank, position) over adjacent pairs; the lowest
    /// rank (then the leftmost position) merges first, and the pairs it creates join the queue.
    /// </summary>
    int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return [.. symbols];
        int[] id = [.. symbols];
        var next = new int[n];
        var previous = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; previous[i] = i - 1; }
        var queue = new PriorityQueue<int, long>(n);
        for (int i = 0; i + 1 < n; i++) Push(i);

        while (queue.TryDequeue(out int position, out long priority))
        {
            int right = next[position];
            // Stale entries: the symbol was absorbed, or the pair at this position has changed since it was queued.
            if (previous[position] == -2 || right < 0) continue;
            if (!merges.TryGetValue(PairKey(id[position], id[right]), out long rankAndId) || rankAndId >> 32 != priority >> 32) continue;
            id[position] = (int)rankAndId;
            next[position] = next[right];
            if (next[right] >= 0) previous[next[right]] = position;
            previous[right] = -2;
            if (previous[position] >= 0) Push(previous[position]);
            Push(position);
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(id[i]);
        return [.. result];

        void Push(int left)
        {
            int right = next[left];
            if (right >= 0 && merges.TryGetValue(PairKey(id[left], id[right]), out long rankAndId))
                queue.Enqueue(left, (rankAndId & ~0xFFFFFFFFL) | (uint)left);
        }
    }
}
