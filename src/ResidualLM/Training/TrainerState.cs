// trainer_state.json: what a checkpoint holds besides weights and optimizer moments, as one record written and read
// with System.Text.Json. The snake_case field names are the file format: checkpoints written before this record
// existed load unchanged. Reading is strict: unknown fields, wrong types and out-of-range values name the field.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using ResidualLM.IO;
using ResidualLM.Tensors;

namespace ResidualLM.Training;

/// <summary>The state of a run at a checkpoint that is not a tensor: counters, the data order, generators and the run's description.</summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps the trainer had taken.</summary>
    public required int Step { get; init; }

    /// <summary>AdamW's own step counter (its bias correction).</summary>
    public required long OptimizerStep { get; init; }

    /// <summary>Where the training batches had got to.</summary>
    public required SamplerState Sampler { get; init; }

    /// <summary>The model's dropout generator.</summary>
    [JsonConverter(typeof(GeneratorStateJson))]
    public required ulong[] ModelRng { get; init; }

    /// <summary>The generator of the evaluation samples.</summary>
    [JsonConverter(typeof(GeneratorStateJson))]
    public required ulong[] SampleRng { get; init; }

    /// <summary>The run's description (without its output folder, which is wherever the run is found).</summary>
    public required TrainingSpec Spec { get; init; }

    /// <summary>
    /// MPI ranks of a distributed run (absent in one process): its global batch is this times the spec's per-rank
    /// batch, so it resumes only on as many ranks.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Ranks { get; init; }

    /// <summary>Fields a checkpoint may leave out (written only when they apply).</summary>
    static readonly HashSet<string> Optional = ["ranks"];

    /// <summary>Options of every JSON the training writes: snake_case names, enums by name, NaN as null; strict reading.</summary>
    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false), new NonFiniteAsNull() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    static readonly JsonSerializerOptions Indented = new(Json) { WriteIndented = true };

    /// <summary>The file's text (indented, as the checkpoints have always been written).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Indented);

    /// <summary>
    /// Parses trainer_state.json (held in memory; <paramref name="path"/> names it in messages) and checks it: known
    /// fields only, counters not negative, generator states of four non-zero words, a spec that validates and a sampler
    /// of the kind the spec asks for. Nothing is loaded or allocated beyond the record.
    /// </summary>
    /// <exception cref="InvalidInputException">Malformed JSON, a missing, unknown or out-of-range field, or a spec that does not validate.</exception>
    public static TrainerState Read(ReadOnlyMemory<byte> bytes, string path)
    {
        // The strict parser first: its messages for bad JSON, duplicate keys and misspelt fields are the clearer ones.
        var root = JsonInput.ParseBytes(bytes, path);
        RequireKnownFields<TrainerState>(root);
        if (root.Element.TryGetProperty("sampler", out var sampler) && sampler.ValueKind == JsonValueKind.Object)
            RequireKnownFields<SamplerState>(JsonInput.GetObject(root, "sampler"));
        TrainerState? state;
        try
        {
            state = root.Element.Deserialize<TrainerState>(Json);
        }
        catch (JsonException error)
        {
            string field = error.Path is { Length: > 2 } jsonPath ? jsonPath[2..] : "(root)";
            string reason = field.StartsWith("spec", StringComparison.Ordinal) ? "does not describe a run" : "is not valid";
            throw new InvalidInputException($"{reason}: {FirstSentence(error.Message)}", path, MessageText.Printable(field), error);
        }
        if (state is null) throw new InvalidInputException("must be an object", path);
        state.Check(path);
        return state;
    }

    void Check(string path)
    {
        if (Step < 0) throw OutOfRange(Step, int.MaxValue, path, "step");
        if (OptimizerStep < 0) throw OutOfRange(OptimizerStep, long.MaxValue, path, "optimizer_step");
        if (Ranks is < 2 or > MaxRanks) throw new InvalidInputException($"is {Ranks}, out of range: must be between 2 and {MaxRanks} (absent for one process)", path, "ranks");
        if (Sampler.Kind is not (RandomOffsetSampler.KindName or SlidingWindowSampler.KindName))
            throw new InvalidInputException($"must be one of: {RandomOffsetSampler.KindName}, {SlidingWindowSampler.KindName}", path, "sampler.kind");
        if (Sampler.Epoch < 0) throw OutOfRange(Sampler.Epoch, long.MaxValue, path, "sampler.epoch");
        if (Sampler.Position < 0) throw OutOfRange(Sampler.Position, long.MaxValue, path, "sampler.position");
        foreach (var (words, field) in new[] { (Sampler.RngState, "sampler.rng"), (ModelRng, "model_rng"), (SampleRng, "sample_rng") })
        {
            if (words.Length != Rng.StateLength) throw new InvalidInputException($"expected {Rng.StateLength} words, found {words.Length}", path, field);
            if (words.All(word => word == 0)) throw new InvalidInputException("an all-zero generator state is invalid", path, field);
        }
        try
        {
            Spec.Validate();
        }
        catch (InvalidInputException error) when (error.FilePath is null)
        {
            throw new InvalidInputException(error.Message, path, "spec", error);
        }
        string expectedKind = Spec.Sampler == SamplerKind.Windows ? SlidingWindowSampler.KindName : RandomOffsetSampler.KindName;
        if (Sampler.Kind != expectedKind)
            throw new InvalidInputException($"is \"{Sampler.Kind}\" but the spec samples with \"{ChoiceNames.Name(Spec.Sampler)}\"", path, "sampler.kind");
    }

    const int MaxRanks = 1 << 20;

    static InvalidInputException OutOfRange(long value, long max, string path, string field) =>
        new($"is {value}, out of range: must be between 0 and {max}", path, field);

    /// <summary>Every field of <typeparamref name="T"/> present and no other, by the names the serializer writes.</summary>
    static void RequireKnownFields<T>(JsonInputObject obj)
    {
        string[] names = [.. Json.GetTypeInfo(typeof(T)).Properties.Select(p => p.Name)];
        JsonInput.RejectUnknown(obj, names);
        foreach (string name in names)
            if (!Optional.Contains(name) && !obj.Element.TryGetProperty(name, out _)) throw new InvalidInputException("is missing (required field)", obj.FilePath, obj.FieldName(name));
    }

    static string FirstSentence(string message)
    {
        int cut = message.IndexOf(". ", StringComparison.Ordinal);
        return MessageText.Printable(cut > 0 ? message[..cut] : message);
    }

    /// <summary>A generator state as decimal strings: JSON numbers lose 64-bit precision in most readers.</summary>
    internal sealed class GeneratorStateJson : JsonConverter<ulong[]>
    {
        public override ulong[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected an array of state words");
            var words = new List<ulong>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (words.Count == Rng.StateLength) throw new JsonException($"expected {Rng.StateLength} words, found more");
                if (reader.TokenType != JsonTokenType.String
                    || !ulong.TryParse(reader.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong word))
                    throw new JsonException("expected decimal strings");
                words.Add(word);
            }
            return [.. words];
        }

        public override void Write(Utf8JsonWriter writer, ulong[] value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            foreach (ulong word in value) writer.WriteStringValue(word.ToString(CultureInfo.InvariantCulture));
            writer.WriteEndArray();
        }
    }

    /// <summary>Writes a NaN or infinite number (the loss of a skipped step) as null: JSON has no such numbers.</summary>
    sealed class NonFiniteAsNull : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double value) && double.IsFinite(value)
                ? value : throw new JsonException($"expected a finite number, found {reader.TokenType}");

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }
}
