// A tokenizer read from a Hugging Face tokenizer.json (the format of the `tokenizers` library), for the BPE models of
// GPT-2, Llama 3, Qwen2/2.5, SmolLM2, TinyLlama and Llama 2: added tokens, normalizer, pre-tokenizer, BPE (byte-level
// or SentencePiece-style with byte fallback), post-processor and decoder, each as tokenizers runs it.
// Limits: BPE models only (WordPiece, Unigram and WordLevel are refused); one sequence, no pairs; truncation and
// padding settings in the file are ignored (as transformers does unless asked); Unicode normalizers need a process
// with globalization data for text that normalization could change (see Normalizers.cs).
using System.Text;
using System.Text.Json;
using ResidualLM.Text.HuggingFace;
using Decoder = ResidualLM.Text.HuggingFace.Decoder;

namespace ResidualLM.Text;

/// <summary>
/// The tokenizer of a Hugging Face model folder, read from its <c>tokenizer.json</c> and, when present beside it,
/// <c>tokenizer_config.json</c> (for the BOS/EOS token names and the chat template).
/// <para>
/// <see cref="Encode(string)"/> follows this library's rule that user text never yields special tokens: special
/// added tokens (such as <c>&lt;|im_start|&gt;</c>) written in the text are encoded as ordinary text, and nothing is
/// added around it. <see cref="Encode(string, bool, bool)"/> with both flags true gives what tokenizers'
/// <c>encode(text, add_special_tokens=True)</c> gives.
/// </para>
/// </summary>
public sealed class HuggingFaceTokenizer : ITokenizer
{
    internal const string KindName = "huggingface";

    /// <summary>File name of the optional settings file beside tokenizer.json.</summary>
    public const string ConfigFileName = "tokenizer_config.json";

    readonly byte[] fileBytes;
    readonly byte[]? configBytes;
    readonly string? chatTemplateFile;
    readonly Normalizer? normalizer;
    readonly PreTokenizer? preTokenizer;
    readonly BpeModel model;
    readonly PostProcessor? postProcessor;
    readonly Decoder? decoder;
    readonly AddedTokens addedTokens;
    readonly string?[] tokenOfId;
    readonly bool[] isSpecial;
    readonly Dictionary<string, int> addedIds = new(StringComparer.Ordinal);

    HuggingFaceTokenizer(byte[] fileBytes, string path, byte[]? configBytes, string? configPath, string? chatTemplateFile = null)
    {
        this.fileBytes = fileBytes;
        this.configBytes = configBytes;
        this.chatTemplateFile = chatTemplateFile;
        var root = new HuggingFaceJson(TokenizerIO.ParseObject(fileBytes, path), path, "");
        model = BpeModel.Read(root.RequiredObject("model"));
        addedTokens = AddedTokens.Read(root);
        normalizer = root.Optional("normalizer") is { } n ? Normalizer.Read(n) : null;
        preTokenizer = root.Optional("pre_tokenizer") is { } p ? PreTokenizer.Read(p) : null;
        postProcessor = root.Optional("post_processor") is { } q ? PostProcessor.Read(q) : null;
        decoder = root.Optional("decoder") is { } d ? Decoder.Read(d) : null;

        int size = Math.Max(model.TokenOfId.Length, addedTokens.All.Count == 0 ? 0 : addedTokens.All.Max(t => t.Id) + 1);
        int entries = model.TokenOfId.Count(token => token is not null) + addedTokens.All.Count;
        if (size > 2 * entries + 1024)
            throw new InvalidInputException($"the ids are sparse: {entries} tokens use ids up to {size - 1}", path, "model.vocab");
        foreach (int id in postProcessor?.Apply([]) ?? [])
            if ((uint)id >= (uint)size)
                throw new InvalidInputException($"the post-processor adds token id {id}, outside the vocabulary of {size} ids", path, "post_processor");
        tokenOfId = new string?[size];
        isSpecial = new bool[size];
        model.TokenOfId.CopyTo(tokenOfId, 0);
        foreach (AddedToken token in addedTokens.All)
        {
            tokenOfId[token.Id] = token.Content;
            isSpecial[token.Id] = token.Special;
            addedIds[token.Content] = token.Id;
        }

        if (configBytes is not null) (BeginningOfSequenceToken, EndOfSequenceToken, ChatTemplateSource) = ReadConfig(configBytes, configPath!);
        // As transformers does: a chat_template.jinja beside the config takes priority over the config's chat_template.
        ChatTemplateSource = chatTemplateFile ?? ChatTemplateSource;
        EndOfTextId = (EndOfSequenceToken is { } eos ? TokenToId(eos) : null) ?? TokenToId("<|endoftext|>") ?? TokenToId("</s>");
    }

    /// <summary>Loads <c>tokenizer.json</c> and, when it exists, <c>tokenizer_config.json</c> from a model folder.</summary>
    /// <exception cref="InvalidInputException">A file is missing, malformed, or uses a component this reader does not implement.</exception>
    public static HuggingFaceTokenizer FromDirectory(string directory)
    {
        string path = Path.Combine(directory, TokenizerIO.DescriptionFileName);
        return FromBytes(TokenizerIO.ReadBytes(path), path, directory);
    }

    /// <summary>Loads a tokenizer.json, with an optional tokenizer_config.json.</summary>
    /// <exception cref="InvalidInputException">A file is missing, malformed, or uses a component this reader does not implement.</exception>
    public static HuggingFaceTokenizer FromFiles(string tokenizerPath, string? configPath = null)
    {
        byte[]? config = configPath is null ? null : TokenizerIO.ReadBytes(configPath);
        return new HuggingFaceTokenizer(TokenizerIO.ReadBytes(tokenizerPath), tokenizerPath, config, configPath);
    }

    /// <summary>File name of the chat template that newer transformers versions save beside tokenizer_config.json.</summary>
    public const string ChatTemplateFileName = "chat_template.jinja";

    /// <summary>
    /// Reads a tokenizer.json held in memory; tokenizer_config.json and chat_template.jinja are read from
    /// <paramref name="directory"/> when they are there.
    /// </summary>
    internal static HuggingFaceTokenizer FromBytes(byte[] bytes, string path, string? directory)
    {
        string? configPath = directory is null ? null : Path.Combine(directory, ConfigFileName);
        byte[]? config = configPath is not null && File.Exists(configPath) ? TokenizerIO.ReadBytes(configPath) : null;
        string? templatePath = directory is null ? null : Path.Combine(directory, ChatTemplateFileName);
        string? template = templatePath is not null && File.Exists(templatePath) ? TokenizerIO.ReadText(templatePath) : null;
        return new HuggingFaceTokenizer(bytes, path, config, config is null ? null : configPath, template);
    }

    /// <summary>True when a parsed tokenizer.json is Hugging Face's (it has a "model" object) rather than ours (a "kind").</summary>
    internal static bool IsHuggingFaceFile(JsonElement root) =>
        !root.TryGetProperty("kind", out _) && root.TryGetProperty("model", out JsonElement model) && model.ValueKind == JsonValueKind.Object;

    /// <inheritdoc/>
    public int VocabSize => tokenOfId.Length;

    /// <inheritdoc/>
    public string Kind => KindName;

    /// <summary>The end-of-sequence token's id: tokenizer_config.json's eos_token, else <c>&lt;|endoftext|&gt;</c> or <c>&lt;/s&gt;</c> when present.</summary>
    public int? EndOfTextId { get; }

    /// <summary>tokenizer_config.json's bos_token, or null.</summary>
    public string? BeginningOfSequenceToken { get; }

    /// <summary>tokenizer_config.json's eos_token (for chat models, the end-of-turn token such as <c>&lt;|im_end|&gt;</c>), or null.</summary>
    public string? EndOfSequenceToken { get; }

    /// <summary>
    /// The text of chat_template.jinja beside tokenizer_config.json when there is one (it takes priority, as in
    /// transformers), else the config's chat_template (the default one when it lists several), or null.
    /// See <see cref="ChatTemplate"/>.
    /// </summary>
    public string? ChatTemplateSource { get; }

    /// <summary>The id of a vocabulary or added token, or null.</summary>
    public int? TokenToId(string token) =>
        addedIds.TryGetValue(token, out int id) || model.TryGetId(token, out id) ? id : null;

    /// <summary>The token string of an id as the file writes it (byte-level tokens in GPT-2's alphabet), or null.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)tokenOfId.Length ? tokenOfId[id] : null;

    /// <summary>True when <paramref name="id"/> is an added token marked special (skipped by <see cref="Decode(ReadOnlySpan{int}, bool)"/> on request).</summary>
    public bool IsSpecialToken(int id) => (uint)id < (uint)isSpecial.Length && isSpecial[id];

    /// <inheritdoc/>
    public int[] Encode(string text) => Encode(text, allowSpecialTokens: false, addSpecialTokens: false);

    /// <summary>
    /// Encodes text. Non-special added tokens are always recognised. <paramref name="allowSpecialTokens"/>: special
    /// added tokens written in the text become their ids (otherwise they are encoded as text).
    /// <paramref name="addSpecialTokens"/>: the post-processor's template runs (for Llama, a BOS token first).
    /// </summary>
    public int[] Encode(string text, bool allowSpecialTokens, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = ReplaceLoneSurrogates(text);
        var ids = new List<int>(text.Length / 3 + 4);
        var segments = new List<Segment>();
        addedTokens.Split(text, 0, normalized: false, allowSpecialTokens, segments);
        var inner = new List<Segment>();
        var pieces = new List<PreToken>();
        foreach (Segment segment in segments)
        {
            if (segment.TokenId is { } id) { ids.Add(id); continue; }
            string normalized = normalizer?.Normalize(segment.Text) ?? segment.Text;
            inner.Clear();
            addedTokens.Split(normalized, segment.Start, normalized: true, allowSpecialTokens, inner);
            foreach (Segment part in inner)
            {
                if (part.TokenId is { } innerId) { ids.Add(innerId); continue; }
                var piece = new PreToken(part.Text, part.Start == 0);
                pieces.Clear();
                if (preTokenizer is null) pieces.Add(piece);
                else preTokenizer.Split(piece, pieces);
                foreach (PreToken word in pieces) model.Tokenize(word.Text, ids);
            }
        }
        if (addSpecialTokens && postProcessor is not null) ids = postProcessor.Apply(ids);
        return [.. ids];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids) => Decode(ids, skipSpecialTokens: false);

    /// <summary>Decodes ids; with <paramref name="skipSpecialTokens"/>, special added tokens are left out.</summary>
    /// <exception cref="InvalidInputException">An id is outside [0, VocabSize) or names no token.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)tokenOfId.Length)
                throw new InvalidInputException($"token id {id} is outside the vocabulary of {tokenOfId.Length} ids", field: "ids");
            if (skipSpecialTokens && isSpecial[id]) continue;
            tokens.Add(tokenOfId[id] ?? throw new InvalidInputException($"token id {id} has no token in the vocabulary", field: "ids"));
        }
        return decoder is null ? string.Join(' ', tokens) : string.Concat(decoder.Decode(tokens));
    }

    /// <summary>
    /// Writes the tokenizer.json it was read from (and its tokenizer_config.json and chat_template.jinja, if any),
    /// atomically; the JSON files byte for byte.
    /// </summary>
    public void Save(string directory)
    {
        TokenizerIO.WriteAtomically(Path.Combine(directory, TokenizerIO.DescriptionFileName), stream => stream.Write(fileBytes));
        if (configBytes is not null)
            TokenizerIO.WriteAtomically(Path.Combine(directory, ConfigFileName), stream => stream.Write(configBytes));
        if (chatTemplateFile is not null)
            TokenizerIO.WriteAtomically(Path.Combine(directory, ChatTemplateFileName), stream => stream.Write(Encoding.UTF8.GetBytes(chatTemplateFile)));
    }

    /// <summary>Lone surrogates become U+FFFD, as UTF-8 encoders (and so tokenizers' Rust strings) would have them.</summary>
    static string ReplaceLoneSurrogates(string text)
    {
        int first = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0) return text;
        var builder = new StringBuilder(text.Length);
        builder.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            if (char.IsSurrogatePair(text, i)) { builder.Append(text, i, 2); i++; }
            else builder.Append(char.IsSurrogate(text[i]) ? '\uFFFD' : text[i]);
        }
        return builder.ToString();
    }

    /// <summary>bos_token, eos_token (a string, or an object with "content") and chat_template from tokenizer_config.json.</summary>
    static (string? Bos, string? Eos, string? ChatTemplate) ReadConfig(byte[] bytes, string path)
    {
        var root = new HuggingFaceJson(TokenizerIO.ParseObject(bytes, path), path, "");
        return (TokenName(root, "bos_token"), TokenName(root, "eos_token"), ChatTemplateOf(root));

        static string? TokenName(HuggingFaceJson root, string name)
        {
            if (root.Optional(name) is not { } value) return null;
            return value.IsObject ? value.String("content") : value.AsString();
        }

        static string? ChatTemplateOf(HuggingFaceJson root)
        {
            if (root.Optional("chat_template") is not { } value) return null;
            if (value.Element.ValueKind == JsonValueKind.String) return value.AsString();
            // A list of {"name": ..., "template": ...}: the one named "default".
            foreach (HuggingFaceJson item in value.AsItems())
                if (item.String("name") == "default") return item.String("template");
            throw value.Error("expected a string, or a list of {\"name\", \"template\"} with one named \"default\"");
        }
    }
}
