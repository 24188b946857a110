// The post_processor of tokenizer.json for one sequence: TemplateProcessing (Llama's "<s> $A" or Llama 3's
// "<|begin_of_text|> $A"), ByteLevel (which changes only offsets, so no ids) and Sequence. Limits: pairs of
// sequences are not encoded; BertProcessing, RobertaProcessing and others are refused by name.
namespace ResidualLM.Text.HuggingFace;

internal abstract class PostProcessor
{
    /// <summary>The ids of one encoded sequence with the special tokens the template adds around it.</summary>
    public abstract List<int> Apply(List<int> ids);

    const string Supported = "TemplateProcessing, ByteLevel, Sequence";

    public static PostProcessor Read(HuggingFaceJson json) => json.Type switch
    {
        "ByteLevel" => new Identity(),
        "TemplateProcessing" => Template.FromJson(json),
        "Sequence" => new SequenceOf([.. json.Items("processors").Select(Read)]),
        _ => throw json.Unsupported("post-processor", Supported),
    };

    sealed class Identity : PostProcessor
    {
        public override List<int> Apply(List<int> ids) => ids;
    }

    /// <summary>
    /// The "single" template: a list of {"SpecialToken": {"id": name}} (replaced by that special token's ids from
    /// "special_tokens") and {"Sequence": {"id": "A"}} (the encoded text).
    /// </summary>
    sealed class Template(List<int[]?> pieces) : PostProcessor
    {
        public static Template FromJson(HuggingFaceJson json)
        {
            HuggingFaceJson? specials = json.Optional("special_tokens");
            var pieces = new List<int[]?>();
            foreach (HuggingFaceJson item in json.Items("single"))
            {
                if (item.Optional("Sequence") is { } sequence)
                {
                    string name = sequence.String("id");
                    if (name != "A") throw sequence.Required("id").Error($"a single-sequence template can only use sequence \"A\", found \"{IO.MessageText.Printable(name)}\"");
                    pieces.Add(null);
                }
                else if (item.Optional("SpecialToken") is { } special)
                {
                    string name = special.String("id");
                    HuggingFaceJson entry = specials?.Optional(name)
                        ?? throw special.Required("id").Error($"special token \"{IO.MessageText.Printable(name)}\" is not in special_tokens");
                    pieces.Add([.. entry.Items("ids").Select(id => id.AsInt())]);
                }
                else throw item.Error("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }
            return new Template(pieces);
        }

        public override List<int> Apply(List<int> ids)
        {
            var output = new List<int>(ids.Count + 4);
            foreach (int[]? piece in pieces) output.AddRange(piece ?? (IEnumerable<int>)ids);
            return output;
        }
    }

    sealed class SequenceOf(PostProcessor[] steps) : PostProcessor
    {
        public override List<int> Apply(List<int> ids)
        {
            foreach (PostProcessor step in steps) ids = step.Apply(ids);
            return ids;
        }
    }
}
