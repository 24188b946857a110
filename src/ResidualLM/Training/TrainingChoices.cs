// The named choices of a training run (tokenizer, batch sampler, architecture, preset, initialisation) and the one
// list of their names, shared by trainer_state.json, the command line and messages.
using System.Reflection;
using System.Text.Json.Serialization;

namespace ResidualLM.Training;

/// <summary>How text becomes token ids.</summary>
public enum TokenizerKind
{
    /// <summary>One token per distinct character of the training text.</summary>
    [JsonStringEnumMemberName("char")] Char,

    /// <summary>One token per UTF-8 byte (256 tokens).</summary>
    [JsonStringEnumMemberName("byte")] Byte,

    /// <summary>Byte-pair encoding learned from the training text (<see cref="TrainingSpec.BpeMerges"/> merges).</summary>
    [JsonStringEnumMemberName("bpe")] Bpe,

    /// <summary>OpenAI's GPT-2 vocabulary: built in, or read from <see cref="TrainingSpec.VocabDirectory"/>.</summary>
    [JsonStringEnumMemberName("gpt2")] Gpt2,
}

/// <summary>How training batches are drawn.</summary>
public enum SamplerKind
{
    /// <summary>Windows at random offsets, as nanoGPT.</summary>
    [JsonStringEnumMemberName("random")] Random,

    /// <summary>Sliding windows, shuffled once per epoch, as the book.</summary>
    [JsonStringEnumMemberName("windows")] Windows,
}

/// <summary>The model family.</summary>
public enum ModelArchitecture
{
    /// <summary>GPT-2: learned positions, LayerNorm, GELU feed-forward.</summary>
    [JsonStringEnumMemberName("gpt")] Gpt,

    /// <summary>Llama: rotary positions, RMSNorm, SwiGLU feed-forward.</summary>
    [JsonStringEnumMemberName("llama")] Llama,
}

/// <summary>A named model shape to start from (see <see cref="ModelFactory"/> for which family has which).</summary>
public enum ModelPreset
{
    /// <summary>The default: a 4-block, width-128 model that trains in minutes on a CPU (for Llama, llama-tiny).</summary>
    [JsonStringEnumMemberName("tiny")] Tiny,

    /// <summary>nanoGPT's CPU Shakespeare-char model (GPT).</summary>
    [JsonStringEnumMemberName("shakespeare-char")] ShakespeareChar,

    /// <summary>48 narrow blocks, for residual policies at depth (GPT).</summary>
    [JsonStringEnumMemberName("deep-narrow")] DeepNarrow,

    /// <summary>The book's GPT_CONFIG_124M: untied head, no qkv bias (GPT).</summary>
    [JsonStringEnumMemberName("gpt2-124m")] Gpt2Book124M,

    /// <summary>OpenAI's GPT-2 small: qkv bias, tied head (GPT).</summary>
    [JsonStringEnumMemberName("gpt2")] Gpt2,

    /// <summary>The small Llama (Llama).</summary>
    [JsonStringEnumMemberName("llama-tiny")] LlamaTiny,

    /// <summary>Odd small sizes for tests (both families).</summary>
    [JsonStringEnumMemberName("test")] Test,

    /// <summary>16 small blocks for tests (GPT).</summary>
    [JsonStringEnumMemberName("test-deep")] TestDeep,
}

/// <summary>How a new model's weights are drawn.</summary>
public enum WeightInit
{
    /// <summary>GPT-2's: N(0, 0.02), output projections scaled down with depth.</summary>
    [JsonStringEnumMemberName("gpt2")] Gpt2,

    /// <summary>PyTorch's module defaults, as the book's model.</summary>
    [JsonStringEnumMemberName("torch")] Torch,

    /// <summary>
    /// GPT-2's draws, then Admin's shortcut weights ω from one profiling pass over a training batch (Liu et al. 2020;
    /// <see cref="Models.AdminResidual.Profile"/>). For the admin residual policy, which it selects when none is given.
    /// </summary>
    [JsonStringEnumMemberName("admin")] Admin,
}

/// <summary>
/// The names of the choices above: each member's <see cref="JsonStringEnumMemberNameAttribute"/>, so the checkpoint
/// format, the command line and the messages use one list.
/// </summary>
public static class ChoiceNames
{
    /// <summary>The name <paramref name="value"/> is written with (e.g. "shakespeare-char").</summary>
    public static string Name<T>(T value) where T : struct, Enum =>
        typeof(T).GetField(value.ToString())?.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? value.ToString().ToLowerInvariant();

    /// <summary>Every name, in declaration order.</summary>
    public static IReadOnlyList<string> Names<T>() where T : struct, Enum => [.. Enum.GetValues<T>().Select(Name)];

    /// <summary>"a, b or c": the names for a message or a help text.</summary>
    public static string Alternatives<T>() where T : struct, Enum
    {
        var names = Names<T>();
        return names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " or " + names[^1];
    }

    /// <summary>The member named <paramref name="text"/> (case-insensitive).</summary>
    /// <exception cref="InvalidInputException">No member has that name; the message lists them and names <paramref name="field"/>.</exception>
    public static T Parse<T>(string text, string field) where T : struct, Enum
    {
        foreach (var value in Enum.GetValues<T>())
            if (string.Equals(Name(value), text.Trim(), StringComparison.OrdinalIgnoreCase)) return value;
        throw new InvalidInputException($"must be {Alternatives<T>()}, got '{IO.MessageText.Printable(text)}'", field: field);
    }
}
