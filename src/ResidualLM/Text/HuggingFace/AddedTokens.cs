// The added_tokens of tokenizer.json (special tokens such as <|im_start|>, and plain added words such as Qwen3's
// <think>): found in the input before the model runs, as tokenizers' AddedVocabulary does, and encoded to their ids.
// Matching is leftmost-longest; lstrip/rstrip absorb whitespace beside the token; single_word refuses a match inside
// a word. Tokens marked normalized are looked for in the normalized text, the others in the raw text.
namespace ResidualLM.Text.HuggingFace;

/// <summary>One entry of added_tokens.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord, bool LeftStrip, bool RightStrip, bool Normalized);

/// <summary>A span of the input: either an added token's id, or text still to be normalized and tokenized.</summary>
internal readonly record struct Segment(int Start, string Text, int? TokenId);

internal sealed class AddedTokens
{
    readonly AddedToken[] tokens;

    AddedTokens(AddedToken[] tokens) => this.tokens = tokens;

    public IReadOnlyList<AddedToken> All => tokens;

    public static AddedTokens Read(HuggingFaceJson root)
    {
        if (root.Optional("added_tokens") is not { } list) return new AddedTokens([]);
        var tokens = new List<AddedToken>();
        var ids = new HashSet<int>();
        foreach (HuggingFaceJson item in list.AsItems())
        {
            int id = item.Required("id").AsInt();
            string content = item.String("content");
            if (id < 0 || id >= BpeModel.MaxId) throw item.Required("id").Error($"expected an id in [0, {BpeModel.MaxId}), found {id}");
            if (content.Length == 0) throw item.Required("content").Error("an added token cannot be empty");
            if (!ids.Add(id)) throw item.Required("id").Error($"id {id} is given to two added tokens");
            bool special = item.Bool("special", false);
            tokens.Add(new AddedToken(id, content, special, item.Bool("single_word", false), item.Bool("lstrip", false),
                item.Bool("rstrip", false), item.Bool("normalized", !special)));
        }
        return new AddedTokens([.. tokens]);
    }

    /// <summary>
    /// Cuts <paramref name="text"/> (which starts at <paramref name="offset"/> of the input) around the added tokens
    /// whose Normalized flag is <paramref name="normalized"/>; special tokens only when <paramref name="allowSpecial"/>.
    /// </summary>
    public void Split(string text, int offset, bool normalized, bool allowSpecial, List<Segment> output)
    {
        int position = 0;
        foreach (var (matchStart, matchEnd, token) in Matches(text, normalized, allowSpecial))
        {
            int start = matchStart, stop = matchEnd;
            if (token.LeftStrip)
            {
                while (start > 0 && IsWhiteSpace(text, start - 1)) start--;
                start = Math.Max(start, position);
            }
            if (token.RightStrip)
                while (stop < text.Length && IsWhiteSpace(text, stop)) stop++;
            if (position < start) output.Add(new Segment(offset + position, text[position..start], null));
            output.Add(new Segment(offset + start, "", token.Id));
            position = stop;
        }
        if (position < text.Length || text.Length == 0) output.Add(new Segment(offset + position, text[position..], null));
    }

    /// <summary>Non-overlapping leftmost-longest matches, skipping single-word tokens found inside a word.</summary>
    IEnumerable<(int Start, int End, AddedToken Token)> Matches(string text, bool normalized, bool allowSpecial)
    {
        // Where each token next occurs at or after the current position (int.MaxValue: nowhere), so the text is
        // scanned once per token however many matches there are (Llama 3 has 256 added tokens).
        var candidates = tokens.Where(token => token.Normalized == normalized && (allowSpecial || !token.Special)).ToArray();
        var nextFound = new int[candidates.Length];
        Array.Fill(nextFound, -1);
        for (int position = 0; position < text.Length;)
        {
            int best = -1, bestStart = int.MaxValue;
            for (int i = 0; i < candidates.Length; i++)
            {
                if (nextFound[i] < position)
                {
                    int found = text.IndexOf(candidates[i].Content, position, StringComparison.Ordinal);
                    nextFound[i] = found < 0 ? int.MaxValue : found;
                }
                if (nextFound[i] < bestStart || (nextFound[i] == bestStart && bestStart != int.MaxValue
                    && candidates[i].Content.Length > candidates[best].Content.Length))
                    (best, bestStart) = (i, nextFound[i]);
            }
            if (bestStart == int.MaxValue) yield break;
            AddedToken token = candidates[best];
            int end = bestStart + token.Content.Length;
            // tokenizers skips a single_word match that touches a word character and carries on after it.
            if (!token.SingleWord || (!EndsWithWord(text, bestStart) && !StartsWithWord(text, end)))
                yield return (bestStart, end, token);
            position = end;
        }
    }

    static bool IsWhiteSpace(string text, int index) => char.IsWhiteSpace(text[index]);

    static bool IsWordCharacter(string text, int index) => char.IsLetterOrDigit(text, index) || text[index] == '_'
        || System.Globalization.CharUnicodeInfo.GetUnicodeCategory(text, index) is System.Globalization.UnicodeCategory.NonSpacingMark
            or System.Globalization.UnicodeCategory.SpacingCombiningMark or System.Globalization.UnicodeCategory.ConnectorPunctuation;

    static bool EndsWithWord(string text, int end) =>
        end > 0 && IsWordCharacter(text, char.IsLowSurrogate(text[end - 1]) && end >= 2 ? end - 2 : end - 1);

    static bool StartsWithWord(string text, int start) => start < text.Length && IsWordCharacter(text, start);
}
