// The contract every tokenizer meets: text to ids and back, plus saving to a directory that TokenizerIO.Load reads.
namespace ResidualLM.Text;

/// <summary>
/// Turns text into token ids and ids back into text. Implementations are immutable after construction and safe to
/// use from several threads.
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of distinct ids; every id is in [0, VocabSize).</summary>
    int VocabSize { get; }

    /// <summary>
    /// The tokenizer family: "byte", "char", "bpe" or "gpt2" (written to our <c>tokenizer.json</c>), or "huggingface"
    /// (a Hugging Face tokenizer.json, saved as it was read).
    /// </summary>
    string Kind { get; }

    /// <summary>Id of the end-of-text token (<c>&lt;|endoftext|&gt;</c>), or null when the vocabulary has none.</summary>
    int? EndOfTextId { get; }

    /// <summary>
    /// Encodes text. Special tokens such as <c>&lt;|endoftext|&gt;</c> written in the text are encoded as ordinary
    /// text; tokenizers that have special tokens offer an overload that recognises them.
    /// </summary>
    int[] Encode(string text);

    /// <summary>
    /// Decodes ids to text. Byte sequences that are not valid UTF-8 (for example half of a multi-byte character)
    /// become U+FFFD, as Python's <c>bytes.decode("utf-8", errors="replace")</c> does.
    /// </summary>
    /// <exception cref="InvalidInputException">An id is outside [0, VocabSize).</exception>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>
    /// Writes the tokenizer to <paramref name="directory"/> (created if absent). Each file is written to a temporary
    /// file in the same directory and then renamed over the target, so a crash never leaves a half-written file.
    /// </summary>
    void Save(string directory);
}
