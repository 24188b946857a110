// Loading a tokenizer from a directory (our tokenizer.json, or GPT-2's files) and the atomic file writes that
// every Save uses. Every problem with a file becomes an InvalidInputException that names the file.
using System.Text;
using System.Text.Json;
using ResidualLM.IO;

namespace ResidualLM.Text;

/// <summary>Reads tokenizers from directories and writes tokenizer files atomically.</summary>
public static class TokenizerIO
{
    /// <summary>Name of the small description file that every tokenizer's <c>Save</c> writes.</summary>
    public const string DescriptionFileName = "tokenizer.json";

    /// <summary>
    /// Loads the tokenizer saved in <paramref name="directory"/>. The kind comes from <c>tokenizer.json</c> when it
    /// exists (a Hugging Face tokenizer.json, with a "model" object and no "kind", loads as
    /// <see cref="HuggingFaceTokenizer"/>); otherwise the directory must hold GPT-2's files, either OpenAI's <c>encoder.json</c> + <c>vocab.bpe</c>
    /// or Hugging Face's <c>vocab.json</c> + <c>merges.txt</c>.
    /// </summary>
    /// <exception cref="InvalidInputException">The directory or a file is missing or malformed.</exception>
    public static ITokenizer Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new InvalidInputException("tokenizer directory not found", directory);
        string description = Path.Combine(directory, DescriptionFileName);
        if (File.Exists(description)) return FromDescription(ReadBytes(description), description, directory);
        if (Gpt2Tokenizer.HasFiles(directory)) return Gpt2Tokenizer.FromDirectory(directory);
        throw new InvalidInputException(
            $"no {DescriptionFileName}, encoder.json + vocab.bpe, or vocab.json + merges.txt found", directory);
    }

    /// <summary>
    /// Reads a tokenizer.json held in memory (<paramref name="path"/> names it in messages). A "gpt2" description
    /// reads the vocabulary files in <paramref name="directory"/>, or uses the built-in vocabulary when there are none.
    /// </summary>
    internal static ITokenizer FromDescription(ReadOnlyMemory<byte> bytes, string path, string? directory)
    {
        JsonElement root = ParseObject(bytes, path);
        if (HuggingFaceTokenizer.IsHuggingFaceFile(root)) return HuggingFaceTokenizer.FromBytes(bytes.ToArray(), path, directory);
        string kind = RequireString(root, "kind", path);
        return kind switch
        {
            ByteTokenizer.KindName => ByteTokenizer.FromDescription(root, path),
            CharTokenizer.KindName => CharTokenizer.FromDescription(root, path),
            BpeTokenizer.KindName => BpeTokenizer.FromDescription(root, path),
            Gpt2Tokenizer.KindName => Gpt2Tokenizer.FromDirectoryOrBuiltIn(directory),
            _ => throw new InvalidInputException(
                $"unknown tokenizer kind \"{MessageText.Printable(kind)}\"; expected \"byte\", \"char\", \"bpe\" or \"gpt2\"", path, "kind"),
        };
    }

    /// <summary>
    /// Writes a file by writing a temporary file in the same directory and renaming it over <paramref name="path"/>,
    /// so readers see either the old file or the complete new one.
    /// </summary>
    internal static void WriteAtomically(string path, Action<Stream> write)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Writes a tokenizer.json atomically; <paramref name="writeFields"/> adds fields after kind and version.</summary>
    internal static void WriteDescription(string directory, string kind, Action<Utf8JsonWriter> writeFields)
    {
        WriteAtomically(Path.Combine(directory, DescriptionFileName), stream =>
        {
            using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions
            {
                Indented = true,
                Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            });
            writer.WriteStartObject();
            writer.WriteString("kind", kind);
            writer.WriteNumber("version", 1);
            writeFields(writer);
            writer.WriteEndObject();
        });
    }

    /// <summary>Largest tokenizer file read (GPT-2's encoder.json is 1 MB); a bigger file is a mistake, not a vocabulary.</summary>
    internal const int MaxFileBytes = 64 << 20;

    /// <summary>
    /// Parses JSON bytes strictly (UTF-8, no duplicate keys or lone surrogates, 64 levels; see <see cref="JsonInput"/>)
    /// and returns the root, which must be an object.
    /// </summary>
    internal static JsonElement ParseObject(ReadOnlyMemory<byte> bytes, string path) => JsonInput.ParseBytes(bytes, path).Element;

    /// <summary>Reads a UTF-8 text file, naming the file when it is missing or unreadable.</summary>
    internal static string ReadText(string path) => DecodeText(ReadBytes(path));

    /// <summary>UTF-8 text; invalid sequences become U+FFFD (the token they spell then fails a look-up, naming its line).</summary>
    internal static string DecodeText(ReadOnlySpan<byte> bytes) => new UTF8Encoding(false, throwOnInvalidBytes: false).GetString(bytes);

    /// <summary>Reads a whole file of at most <see cref="MaxFileBytes"/>, naming it when it is missing, unreadable or too large.</summary>
    internal static byte[] ReadBytes(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxFileBytes)
                throw new InvalidInputException($"is {stream.Length} bytes, more than the limit of {MaxFileBytes} for a tokenizer file", path);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidInputException("file not found", path, inner: error);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"cannot read file ({error.Message})", path, inner: error);
        }
    }

    internal static string RequireString(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.String)
            throw new InvalidInputException("expected a string", path, name);
        return value.GetString()!;
    }

    internal static int RequireInt(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || !TryGetInt(value, out int number))
            throw new InvalidInputException("expected an integer", path, name);
        return number;
    }

    /// <summary>Reads a 32-bit integer; false (instead of an exception) when the element is not a number.</summary>
    internal static bool TryGetInt(JsonElement element, out int number)
    {
        number = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out number);
    }

    internal static JsonElement RequireArray(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException("expected an array", path, name);
        return value;
    }

    /// <summary>Checks the <c>version</c> field and that <c>vocabSize</c> equals what the file's contents imply.</summary>
    internal static void CheckHeader(JsonElement root, string path, int impliedVocabSize)
    {
        int version = RequireInt(root, "version", path);
        if (version != 1) throw new InvalidInputException($"unsupported version {version}; expected 1", path, "version");
        int vocabSize = RequireInt(root, "vocabSize", path);
        if (vocabSize != impliedVocabSize)
            throw new InvalidInputException($"vocab size mismatch: the file says {vocabSize} but its contents define {impliedVocabSize} tokens", path, "vocabSize");
    }
}
