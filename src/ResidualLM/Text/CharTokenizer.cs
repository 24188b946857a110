// One id per Unicode code point seen in a corpus, as nanoGPT's shakespeare_char does with chars = sorted(set(text)).
// Limit: text containing a character the corpus did not have cannot be encoded (an error names it and its position).
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ResidualLM.Text;

/// <summary>
/// Character-level tokenizer over code points (<see cref="Rune"/>s): an emoji written as a surrogate pair is one
/// token. Ids follow code-point order, so building from the same text always gives the same vocabulary.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    internal const string KindName = "char";

    readonly Rune[] characters;                       // id -> character, ascending code points
    readonly Dictionary<int, int> idOfCodePoint;      // code point -> id

    CharTokenizer(Rune[] characters)
    {
        this.characters = characters;
        idOfCodePoint = new Dictionary<int, int>(characters.Length);
        for (int id = 0; id < characters.Length; id++) idOfCodePoint[characters[id].Value] = id;
    }

    /// <summary>Builds the vocabulary from the distinct code points of <paramref name="corpus"/>, sorted by value.</summary>
    /// <exception cref="InvalidInputException">The corpus contains a lone surrogate, which is not a character.</exception>
    public static CharTokenizer FromText(string corpus)
    {
        var distinct = new HashSet<int>();
        foreach (var (rune, _) in Runes(corpus, "corpus")) distinct.Add(rune.Value);
        int[] sorted = [.. distinct.Order()];
        return new CharTokenizer(Array.ConvertAll(sorted, value => new Rune(value)));
    }

    /// <summary>The characters of the vocabulary, indexed by id.</summary>
    public IReadOnlyList<Rune> Characters => characters;

    /// <inheritdoc/>
    public int VocabSize => characters.Length;

    /// <inheritdoc/>
    public string Kind => KindName;

    /// <inheritdoc/>
    public int? EndOfTextId => null;

    /// <inheritdoc/>
    /// <exception cref="InvalidInputException">The text has a character outside the vocabulary, or a lone surrogate.</exception>
    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (var (rune, index) in Runes(text, "text"))
        {
            if (!idOfCodePoint.TryGetValue(rune.Value, out int id))
                throw new InvalidInputException(
                    $"character {Describe(rune)} at position {index} is not in the vocabulary of {characters.Length} characters", field: "text");
            ids.Add(id);
        }
        return ids.ToArray();
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var builder = new StringBuilder(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)characters.Length)
                throw new InvalidInputException($"token id {ids[i]} at position {i} is outside the char vocabulary of {characters.Length} ids", field: "ids");
            builder.Append(characters[ids[i]].ToString());
        }
        return builder.ToString();
    }

    /// <inheritdoc/>
    public void Save(string directory) => TokenizerIO.WriteDescription(directory, KindName, writer =>
    {
        writer.WriteNumber("vocabSize", VocabSize);
        writer.WriteStartArray("characters");
        foreach (Rune character in characters) writer.WriteStringValue(character.ToString());
        writer.WriteEndArray();
    });

    internal static CharTokenizer FromDescription(JsonElement root, string path)
    {
        JsonElement list = TokenizerIO.RequireArray(root, "characters", path);
        var characters = new Rune[list.GetArrayLength()];
        var seen = new HashSet<int>();
        int id = 0;
        foreach (JsonElement item in list.EnumerateArray())
        {
            string field = $"characters[{id}]";
            string? text = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
            if (text is null || Rune.DecodeFromUtf16(text, out Rune rune, out int consumed) != System.Buffers.OperationStatus.Done
                || consumed != text.Length)
                throw new InvalidInputException("expected a string holding exactly one character", path, field);
            if (!seen.Add(rune.Value)) throw new InvalidInputException($"character {Describe(rune)} appears twice", path, field);
            characters[id++] = rune;
        }
        TokenizerIO.CheckHeader(root, path, characters.Length);
        return new CharTokenizer(characters);
    }

    /// <summary>The code points of <paramref name="text"/> with their UTF-16 index; a lone surrogate is an error.</summary>
    static IEnumerable<(Rune Rune, int Index)> Runes(string text, string field)
    {
        for (int index = 0; index < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(index), out Rune rune, out int consumed) != System.Buffers.OperationStatus.Done)
                throw new InvalidInputException($"lone surrogate U+{(int)text[index]:X4} at position {index} is not a character", field: field);
            yield return (rune, index);
            index += consumed;
        }
    }

    /// <summary>A readable name for a character in an error message: the character itself (when printable) and its code.</summary>
    static string Describe(Rune rune)
    {
        UnicodeCategory category = Rune.GetUnicodeCategory(rune);
        bool printable = category is not (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.SpaceSeparator
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator);
        return printable ? $"'{rune}' (U+{rune.Value:X4})" : $"U+{rune.Value:X4}";
    }
}
