// Chat prompts for models whose tokenizer_config.json holds a ChatML chat_template (Qwen2/2.5, SmolLM2):
// "<|im_start|>role\ncontent<|im_end|>\n" per message, then "<|im_start|>assistant\n". There is no Jinja engine:
// a template is recognised by its ChatML tokens, and a default system prompt written as one literal in it is kept.
// Limits: other templates (Llama 3's headers, Mistral's [INST]) are refused; tools and reasoning branches are ignored.
using System.Text;
using System.Text.RegularExpressions;

namespace ResidualLM.Text;

/// <summary>One message of a conversation: a role ("system", "user", "assistant") and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>The ChatML chat format, recognised from a tokenizer's chat_template.</summary>
public sealed partial class ChatTemplate
{
    /// <summary>The tokens that open and close each ChatML message.</summary>
    public const string StartToken = "<|im_start|>", EndToken = "<|im_end|>";

    ChatTemplate(string? defaultSystemPrompt) => DefaultSystemPrompt = defaultSystemPrompt;

    /// <summary>
    /// The system message the template inserts when a conversation does not start with one (Qwen2's "You are a
    /// helpful assistant."), or null when it inserts none.
    /// </summary>
    public string? DefaultSystemPrompt { get; }

    /// <summary>Reads the chat template of a model folder's tokenizer (tokenizer.json + tokenizer_config.json).</summary>
    /// <exception cref="InvalidInputException">A file is missing or malformed, or the template is not ChatML.</exception>
    public static ChatTemplate FromDirectory(string directory) =>
        FromTokenizer(HuggingFaceTokenizer.FromDirectory(directory), Path.Combine(directory, HuggingFaceTokenizer.ConfigFileName));

    /// <summary>
    /// Recognises the tokenizer's chat_template (<see cref="HuggingFaceTokenizer.ChatTemplateSource"/>) as ChatML.
    /// <paramref name="configPath"/> names tokenizer_config.json in messages.
    /// </summary>
    /// <exception cref="InvalidInputException">There is no template, or it is not ChatML, or the tokenizer lacks the ChatML tokens.</exception>
    public static ChatTemplate FromTokenizer(HuggingFaceTokenizer tokenizer, string configPath = HuggingFaceTokenizer.ConfigFileName)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        string source = tokenizer.ChatTemplateSource
            ?? throw new InvalidInputException("has no chat_template (or the file is absent); a chat prompt needs one", configPath, "chat_template");
        if (!source.Contains(StartToken, StringComparison.Ordinal) || !source.Contains(EndToken, StringComparison.Ordinal))
            throw new InvalidInputException(
                $"only ChatML templates ({StartToken}role\\ncontent{EndToken}) are supported; there is no Jinja engine, and this template does not use {StartToken}/{EndToken}",
                configPath, "chat_template");
        foreach (string token in new[] { StartToken, EndToken })
            if (tokenizer.TokenToId(token) is null)
                throw new InvalidInputException($"the template is ChatML but the tokenizer has no {token} token", configPath, "chat_template");
        return new ChatTemplate(DefaultSystemPromptOf(source));
    }

    /// <summary>
    /// The system prompt written in the template as one Jinja string literal
    /// <c>'&lt;|im_start|&gt;system\n...&lt;|im_end|&gt;\n'</c> (single or double quotes), unescaped; null if none.
    /// </summary>
    static string? DefaultSystemPromptOf(string source)
    {
        Match match = SystemLiteral().Match(source);
        if (!match.Success) return null;
        return Regex.Replace(match.Groups["text"].Value, @"\\(.)", escape => escape.Groups[1].Value switch
        {
            "n" => "\n",
            "t" => "\t",
            "r" => "\r",
            var other => other,
        });
    }

    [GeneratedRegex("""(?<quote>['"])<\|im_start\|>system\\n(?<text>(?:(?!\k<quote>)[^\\]|\\.)*?)<\|im_end\|>\\n\k<quote>""")]
    private static partial Regex SystemLiteral();

    /// <summary>The conversation with the default system prompt first, when the template has one and none is given.</summary>
    IEnumerable<ChatMessage> WithSystem(IReadOnlyList<ChatMessage> messages)
    {
        if (DefaultSystemPrompt is not null && messages.Count > 0 && messages[0].Role != "system")
            yield return new ChatMessage("system", DefaultSystemPrompt);
        foreach (ChatMessage message in messages) yield return message;
    }

    /// <summary>
    /// The prompt text: <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message, then
    /// <c>&lt;|im_start|&gt;assistant\n</c> when <paramref name="addGenerationPrompt"/>.
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        var builder = new StringBuilder();
        foreach (var (text, isToken) in Parts(messages, addGenerationPrompt)) builder.Append(text);
        return builder.ToString();
    }

    /// <summary>
    /// The prompt's token ids. The ChatML tokens are the template's own; message text is encoded with special
    /// tokens off, so a message that contains "&lt;|im_end|&gt;" cannot end its turn early. For ordinary messages
    /// the ids equal tokenizers' encoding of <see cref="Render"/>'s text.
    /// </summary>
    public int[] Encode(HuggingFaceTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int>();
        foreach (var (text, isToken) in Parts(messages, addGenerationPrompt))
            if (isToken) ids.Add(tokenizer.TokenToId(text)!.Value);
            else ids.AddRange(tokenizer.Encode(text, allowSpecialTokens: false));
        return [.. ids];
    }

    /// <summary>The prompt as a list of ChatML tokens and the text between them.</summary>
    IEnumerable<(string Text, bool IsToken)> Parts(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (ChatMessage message in WithSystem(messages))
        {
            yield return (StartToken, true);
            yield return (message.Role + "\n" + message.Content, false);
            yield return (EndToken, true);
            yield return ("\n", false);
        }
        if (addGenerationPrompt)
        {
            yield return (StartToken, true);
            yield return ("assistant\n", false);
        }
    }
}
