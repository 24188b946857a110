// The simplest tokenizer: one id per UTF-8 byte (256 ids, no special tokens). Works for any text and any language.
using System.Text;
using System.Text.Json;

namespace ResidualLM.Text;

/// <summary>
/// One token per UTF-8 byte. A lone surrogate in the input is encoded as U+FFFD (EF BF BD), as JavaScript's
/// TextEncoder does; invalid byte sequences decode to U+FFFD, as Python's <c>errors="replace"</c> does.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    internal const string KindName = "byte";

    /// <inheritdoc/>
    public int VocabSize => 256;

    /// <inheritdoc/>
    public string Kind => KindName;

    /// <inheritdoc/>
    public int? EndOfTextId => null;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] > 255)
                throw new InvalidInputException($"token id {ids[i]} at position {i} is outside the byte vocabulary [0, 256)", field: "ids");
            bytes[i] = (byte)ids[i];
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <inheritdoc/>
    public void Save(string directory) =>
        TokenizerIO.WriteDescription(directory, KindName, writer => writer.WriteNumber("vocabSize", VocabSize));

    internal static ByteTokenizer FromDescription(JsonElement root, string path)
    {
        TokenizerIO.CheckHeader(root, path, impliedVocabSize: 256);
        return new ByteTokenizer();
    }
}
