// A byte-level BPE tokenizer with merges we trained ourselves (see BpeTrainer), saved in our own tokenizer.json.
// Ids: 0..255 are the bytes, 256 + i is the result of merge i, and the last id is <|endoftext|>.
using System.Text.Json;

namespace ResidualLM.Text;

/// <summary>
/// Byte-level BPE with GPT-2 pre-tokenisation, so it encodes any text. Merge i joins two earlier ids into id 256 + i;
/// encoding applies merges in that order (lowest first), as GPT-2 does.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    internal const string KindName = "bpe";

    /// <summary>Text of the end-of-text token, whose id is the last one.</summary>
    public const string EndOfTextToken = "<|endoftext|>";

    readonly (int Left, int Right)[] merges;
    readonly BytePairEncoder encoder;

    /// <summary>Creates the tokenizer from merges in rank order; merge i must join ids below 256 + i.</summary>
    /// <exception cref="ArgumentException">A merge refers to an id that does not exist yet.</exception>
    public BpeTokenizer(IReadOnlyList<(int Left, int Right)> merges)
    {
        this.merges = [.. merges];
        var tokenBytes = new byte[256 + merges.Count + 1][];
        var byteIds = new int[256];
        for (int b = 0; b < 256; b++) { tokenBytes[b] = [(byte)b]; byteIds[b] = b; }
        var ranked = new (int, int, int)[merges.Count];
        for (int i = 0; i < merges.Count; i++)
        {
            var (left, right) = merges[i];
            int id = 256 + i;
            if ((uint)left >= (uint)id || (uint)right >= (uint)id)
                throw new ArgumentException($"merge {i} ({left}, {right}) refers to an id that is not below {id}", nameof(merges));
            tokenBytes[id] = [.. tokenBytes[left], .. tokenBytes[right]];
            ranked[i] = (left, right, id);
        }
        EndOfTextId = tokenBytes.Length - 1;
        tokenBytes[EndOfTextId.Value] = System.Text.Encoding.UTF8.GetBytes(EndOfTextToken);
        encoder = new BytePairEncoder(byteIds, ranked, tokenBytes, EndOfTextToken, EndOfTextId.Value);
    }

    /// <summary>The merges in rank order; merge i produced id 256 + i.</summary>
    public IReadOnlyList<(int Left, int Right)> Merges => merges;

    /// <summary>The merge engine, for tests that compare its two merge algorithms.</summary>
    internal BytePairEncoder Engine => encoder;

    /// <inheritdoc/>
    public int VocabSize => encoder.VocabSize;

    /// <inheritdoc/>
    public string Kind => KindName;

    /// <inheritdoc/>
    public int? EndOfTextId { get; }

    /// <inheritdoc/>
    public int[] Encode(string text) => encoder.Encode(text, allowSpecial: false);

    /// <summary>
    /// Encodes text; when <paramref name="allowSpecialTokens"/> is true, each literal <c>&lt;|endoftext|&gt;</c> in
    /// the text becomes <see cref="EndOfTextId"/> (like tiktoken's <c>allowed_special</c>); otherwise it is text.
    /// </summary>
    public int[] Encode(string text, bool allowSpecialTokens) => encoder.Encode(text, allowSpecialTokens);

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids) => encoder.Decode(ids, KindName);

    /// <summary>The bytes that <paramref name="id"/> stands for.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => encoder.BytesOf(id);

    /// <inheritdoc/>
    public void Save(string directory) => TokenizerIO.WriteDescription(directory, KindName, writer =>
    {
        writer.WriteNumber("vocabSize", VocabSize);
        writer.WriteString("endOfText", EndOfTextToken);
        writer.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            // One merge per line keeps the file readable and diffable.
            writer.WriteStartArray();
            writer.WriteNumberValue(left);
            writer.WriteNumberValue(right);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
    });

    /// <summary>Longest token (in bytes) and largest sum of token lengths a tokenizer.json may define.</summary>
    internal const int MaxTokenBytes = 1 << 16, MaxTotalTokenBytes = 1 << 26;

    internal static BpeTokenizer FromDescription(JsonElement root, string path)
    {
        JsonElement list = TokenizerIO.RequireArray(root, "merges", path);
        var merges = new List<(int, int)>(list.GetArrayLength());
        var seen = new HashSet<(int, int)>();
        // Byte length of every id so far: merges can double a token's length each time, so 40 merges that join a
        // token with itself would ask for a terabyte. Lengths are checked before any token's bytes are built.
        var lengths = new List<long>(Enumerable.Repeat(1L, 256));
        long totalLength = 256;
        foreach (JsonElement item in list.EnumerateArray())
        {
            int index = merges.Count, nextId = 256 + index;
            string field = $"merges[{index}]";
            if (item.ValueKind != JsonValueKind.Array || item.GetArrayLength() != 2
                || !TokenizerIO.TryGetInt(item[0], out int left) || !TokenizerIO.TryGetInt(item[1], out int right))
                throw new InvalidInputException("expected a pair of integer ids [left, right]", path, field);
            if ((uint)left >= (uint)nextId || (uint)right >= (uint)nextId)
                throw new InvalidInputException($"ids must be in [0, {nextId}) (bytes and earlier merges), found [{left}, {right}]", path, field);
            if (!seen.Add((left, right))) throw new InvalidInputException($"merge [{left}, {right}] appears twice", path, field);
            long length = lengths[left] + lengths[right];
            totalLength += length;
            if (length > MaxTokenBytes || totalLength > MaxTotalTokenBytes)
                throw new InvalidInputException(
                    $"makes a token of {length} bytes ({totalLength} in all so far); the limits are {MaxTokenBytes} per token and {MaxTotalTokenBytes} in all", path, field);
            lengths.Add(length);
            merges.Add((left, right));
        }
        TokenizerIO.CheckHeader(root, path, 256 + merges.Count + 1);
        if (root.TryGetProperty("endOfText", out JsonElement endOfText)
            && (endOfText.ValueKind != JsonValueKind.String || endOfText.GetString() != EndOfTextToken))
            throw new InvalidInputException($"expected \"{EndOfTextToken}\"", path, "endOfText");
        return new BpeTokenizer(merges);
    }
}
