// Models in GGUF files. Two layouts: llama.cpp's "gpt2" architecture (its tensor and metadata names, so a file moves
// between ResidualLM and llama.cpp, Ollama or LLamaSharp), and ResidualLM's own (general.architecture "residuallm":
// the state-dict names of any model here, the config in config.json beside it; what `rlm quantize` writes). Matrices
// may be F32, F16, BF16, Q8_0 or Q4_0; quantised ones become the layers' QuantizedMatrix as stored (no requantising).
// Every problem is an InvalidInputException naming the file and the tensor or key. Shapes: GGUF lists ne innermost
// first, so a (out, in) weight is ne = [in, out].
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Nn;
using ResidualLM.Tensors;
using ResidualLM.Text;
using Embedding = ResidualLM.Nn.Embedding;

namespace ResidualLM.IO;

/// <summary>The weights a GGUF export stores its matrices in.</summary>
public enum GgufWeights
{
    /// <summary>float32, as trained.</summary>
    F32,
    /// <summary>IEEE float16.</summary>
    F16,
    /// <summary>ggml's Q8_0 blocks.</summary>
    Q8_0,
    /// <summary>ggml's Q4_0 blocks.</summary>
    Q4_0,
}

/// <summary>Reads and writes language models as GGUF files.</summary>
public static class GgufModels
{
    /// <summary>general.architecture of ResidualLM's own layout.</summary>
    public const string OwnArchitecture = "residuallm";

    /// <summary>A model read from a GGUF file, its tokenizer when the file has one this library reads, and why not otherwise.</summary>
    public sealed record Loaded(LanguageModel Model, ITokenizer? Tokenizer, string? TokenizerProblem);

    /// <summary>
    /// Loads a llama.cpp-layout GGUF (architecture gpt2) with its tokenizer (tokenizer.ggml.model gpt2). The model is in
    /// evaluation mode; its matrices keep the file's block format.
    /// </summary>
    /// <exception cref="InvalidInputException">Malformed file, unsupported architecture or tensor type, missing or misshapen tensor.</exception>
    public static Loaded Load(string path)
    {
        using var file = GgufFile.Open(path);
        return Load(file);
    }

    /// <summary><see cref="Load(string)"/> from an open file (a stream or memory, e.g. for fuzzing).</summary>
    public static Loaded Load(GgufFile file)
    {
        string path = file.FilePath;
        string architecture = file.GetString("general.architecture");
        if (architecture != "gpt2")
            throw new InvalidInputException(
                architecture == OwnArchitecture
                    ? "is a ResidualLM weights file: open the folder that holds it (with its config.json) instead"
                    : $"has architecture \"{MessageText.Printable(architecture)}\"; ResidualLM reads gpt2 GGUF files (llama comes with Llama-family checkpoints)",
                path, "general.architecture");
        var model = new Gpt(Gpt2Config(file));
        ReadTensors(file, model, Gpt2Names(model.Config.LayerCount, untiedHead: model.Head is not null));
        model.Eval();
        var (tokenizer, problem) = ReadTokenizer(file);
        if (tokenizer is not null && tokenizer.VocabSize > model.VocabSize)
            throw new InvalidInputException($"the tokenizer has {tokenizer.VocabSize} tokens but token_embd.weight only {model.VocabSize} rows", path, "tokenizer.ggml.tokens");
        return new Loaded(model, tokenizer, problem);
    }

    /// <summary>Fills <paramref name="model"/> (built from the folder's config.json) from a ResidualLM-layout GGUF.</summary>
    internal static void LoadOwn(string path, LanguageModel model)
    {
        using var file = GgufFile.Open(path);
        string architecture = file.GetString("general.architecture");
        if (architecture != OwnArchitecture)
            throw new InvalidInputException($"has architecture \"{MessageText.Printable(architecture)}\", expected \"{OwnArchitecture}\" beside a ResidualLM config.json", path, "general.architecture");
        var names = model.NamedParameters().Select(p => (Gguf: p.Name, Ours: p.Name)).ToList();
        var expected = names.Select(n => n.Gguf).ToHashSet(StringComparer.Ordinal);
        foreach (var tensor in file.Tensors)
            if (!expected.Contains(tensor.Name))
                throw new InvalidInputException("unexpected tensor: the model described by config.json has no parameter of this name", path, MessageText.Printable(tensor.Name));
        ReadTensors(file, model, names);
        model.Eval();
    }

    /// <summary>
    /// Writes a GPT in llama.cpp's gpt2 layout, so llama.cpp, Ollama and LLamaSharp run it: pre-norm blocks, tanh GELU
    /// and biases on every linear layer (a model without qkv bias gets a zero one). Matrices in <paramref name="weights"/>
    /// (already quantised ones are written as they are when the format matches); position table, norms and biases float32.
    /// The tokenizer must be GPT-2's byte-level BPE.
    /// </summary>
    /// <exception cref="InvalidInputException">The model or tokenizer has no gpt2 GGUF equivalent.</exception>
    public static void SaveGpt2(string path, Gpt model, ITokenizer tokenizer, GgufWeights weights)
    {
        var config = model.Config;
        if (config.Residual != ResidualMode.PreNorm)
            throw new InvalidInputException($"the model uses the {config.Residual} residual policy; llama.cpp's gpt2 has only pre-norm blocks (export it with --format rlm instead)", field: "residual");
        if (config.ExactGelu)
            throw new InvalidInputException("the model uses the exact (erf) GELU; llama.cpp's gpt2 uses the tanh approximation", field: "gelu");
        if (tokenizer is not Gpt2Tokenizer gpt2)
            throw new InvalidInputException($"the model's tokenizer is {tokenizer.Kind}; a gpt2 GGUF carries GPT-2's byte-level BPE (train with --tokenizer gpt2, or export with --format rlm)", field: "tokenizer");
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.Of("gpt2"));
        writer.Add("general.name", GgufValue.Of("residuallm-gpt"));
        writer.Add("general.file_type", GgufValue.Of(weights switch { GgufWeights.F32 => 0u, GgufWeights.F16 => 1u, GgufWeights.Q4_0 => 2u, _ => 7u }));
        writer.Add("general.quantization_version", GgufValue.Of(2u));
        writer.Add("gpt2.context_length", GgufValue.Of((uint)config.ContextLength));
        writer.Add("gpt2.embedding_length", GgufValue.Of((uint)config.Width));
        writer.Add("gpt2.feed_forward_length", GgufValue.Of((uint)config.HiddenWidth));
        writer.Add("gpt2.block_count", GgufValue.Of((uint)config.LayerCount));
        writer.Add("gpt2.attention.head_count", GgufValue.Of((uint)config.HeadCount));
        writer.Add("gpt2.attention.layer_norm_epsilon", GgufValue.Of(config.NormEps));
        writer.Add("tokenizer.ggml.model", GgufValue.Of("gpt2"));
        writer.Add("tokenizer.ggml.pre", GgufValue.Of("gpt-2"));
        string[] tokens = Enumerable.Range(0, gpt2.VocabSize).Select(gpt2.TokenString).ToArray();
        writer.Add("tokenizer.ggml.tokens", GgufValue.Of(tokens));
        writer.Add("tokenizer.ggml.token_type", GgufValue.Of(Enumerable.Range(0, tokens.Length).Select(id => id == gpt2.EndOfTextId ? 3 : 1).ToArray()));
        writer.Add("tokenizer.ggml.merges", GgufValue.Of(gpt2.MergeStrings()));
        if (gpt2.EndOfTextId is int endOfText)
        {
            writer.Add("tokenizer.ggml.bos_token_id", GgufValue.Of((uint)endOfText));
            writer.Add("tokenizer.ggml.eos_token_id", GgufValue.Of((uint)endOfText));
        }
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor, StringComparer.Ordinal);
        var modules = ModulesByPath(model);
        foreach (var (ggufName, ours, matrix) in Gpt2Names(config.LayerCount, model.Head is not null))
        {
            if (!parameters.TryGetValue(ours, out var tensor))
            {
                // A GPT without qkv bias: llama.cpp's gpt2 requires one; zeros compute the same function.
                int rows = 3 * config.Width;
                writer.AddTensor(ggufName, GgufType.F32, [rows], FloatBytes(new float[rows]));
                continue;
            }
            AddTensor(writer, ggufName, tensor, matrix ? modules.GetValueOrDefault(ModulePath(ours)) : null, matrix ? weights : GgufWeights.F32);
        }
        writer.Write(path);
    }

    /// <summary>
    /// Writes every parameter of <paramref name="model"/> under its state-dict name (general.architecture "residuallm"):
    /// matrices with a QuantizedMatrix in its block format, everything else float32. The config goes in config.json.
    /// </summary>
    public static void SaveOwn(string path, LanguageModel model)
    {
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.Of(OwnArchitecture));
        writer.Add("general.name", GgufValue.Of("residuallm-" + model.WeightFormat));
        var modules = ModulesByPath(model);
        foreach (var (name, tensor) in model.NamedParameters())
        {
            var module = modules.GetValueOrDefault(ModulePath(name));
            var quantized = Quantized(module);
            var format = quantized is null ? GgufWeights.F32 : quantized.Format == BlockFormat.Q8_0 ? GgufWeights.Q8_0 : GgufWeights.Q4_0;
            AddTensor(writer, name, tensor, module, name.EndsWith(".weight", StringComparison.Ordinal) ? format : GgufWeights.F32);
        }
        writer.Write(path);
    }

    static void AddTensor(GgufWriter writer, string name, Tensor tensor, Module? module, GgufWeights weights)
    {
        long[] ne = tensor.Shape.ToArray().Reverse().Select(d => (long)d).ToArray();
        if (weights is GgufWeights.Q8_0 or GgufWeights.Q4_0)
        {
            var format = weights == GgufWeights.Q8_0 ? BlockFormat.Q8_0 : BlockFormat.Q4_0;
            if (tensor.Rank != 2 || tensor.Dim(1) % BlockQuant.BlockSize != 0)
                throw new InvalidInputException($"{BlockQuant.Name(format)} needs rows that are a multiple of {BlockQuant.BlockSize} values; {name} is ({tensor.ShapeString})", field: "weights");
            var stored = Quantized(module);
            var blocks = stored is not null && stored.Format == format ? stored : QuantizedMatrix.Quantize(tensor.Data.AsSpan(0, tensor.Size), tensor.Dim(0), tensor.Dim(1), format);
            writer.AddTensor(name, format == BlockFormat.Q8_0 ? GgufType.Q8_0 : GgufType.Q4_0, ne, blocks.ToGgml());
        }
        else if (weights == GgufWeights.F16)
        {
            var bits = new byte[tensor.Size * 2];
            for (int i = 0; i < tensor.Size; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bits.AsSpan(2 * i), BitConverter.HalfToUInt16Bits((Half)tensor.Data[i]));
            writer.AddTensor(name, GgufType.F16, ne, bits);
        }
        else writer.AddTensor(name, GgufType.F32, ne, FloatBytes(tensor.Data.AsSpan(0, tensor.Size)));
    }

    static byte[] FloatBytes(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    static QuantizedMatrix? Quantized(Module? module) => module switch
    {
        Linear linear => linear.Quantized,
        Embedding embedding => embedding.Quantized,
        _ => null,
    };

    /// <summary>llama.cpp's gpt2 tensor names, ours, and whether each is a matrix that may be quantised.</summary>
    static IEnumerable<(string Gguf, string Ours, bool Matrix)> Gpt2Names(int layers, bool untiedHead)
    {
        // The token table is a matrix of products only as the tied head; untied, it stays float32 (as LanguageModel.Quantize leaves it).
        yield return ("token_embd.weight", "token_embedding.weight", !untiedHead);
        yield return ("position_embd.weight", "position_embedding.weight", false);
        for (int i = 0; i < layers; i++)
        {
            string blk = $"blk.{i}.", ours = $"blocks.{i}.";
            foreach (var (gguf, our, matrix) in new[] { ("attn_norm", "norm1", false), ("attn_qkv", "attn.qkv", true), ("attn_output", "attn.proj", true),
                                                        ("ffn_norm", "norm2", false), ("ffn_up", "ffn.fc", true), ("ffn_down", "ffn.proj", true) })
            {
                yield return (blk + gguf + ".weight", ours + our + ".weight", matrix);
                yield return (blk + gguf + ".bias", ours + our + ".bias", false);
            }
        }
        yield return ("output_norm.weight", "final_norm.weight", false);
        yield return ("output_norm.bias", "final_norm.bias", false);
        if (untiedHead) yield return ("output.weight", "head.weight", true);
    }

    static GptConfig Gpt2Config(GgufFile file)
    {
        string path = file.FilePath;
        var table = file.Tensor("token_embd.weight");
        if (table.Shape.Count != 2) throw new InvalidInputException($"has {table.Shape.Count} dimensions, expected 2 (n_embd, n_vocab)", path, "token_embd.weight");
        int width = Bounded(file, "gpt2.embedding_length", ModelConfigJson.MaxWidth);
        int layers = Bounded(file, "gpt2.block_count", ModelConfigJson.MaxLayers);
        int context = Bounded(file, "gpt2.context_length", ModelConfigJson.MaxContext);
        int heads = Bounded(file, "gpt2.attention.head_count", width);
        int hidden = Bounded(file, "gpt2.feed_forward_length", ModelConfigJson.MaxHidden);
        if (table.Shape[1] > ModelConfigJson.MaxVocabulary || table.Shape[0] != width)
            throw new InvalidInputException($"is [{string.Join(", ", table.Shape)}], expected [{width} (gpt2.embedding_length), n_vocab <= {ModelConfigJson.MaxVocabulary}]", path, "token_embd.weight");
        if (width % heads != 0)
            throw new InvalidInputException($"{heads} heads do not divide the width {width}", path, "gpt2.attention.head_count");
        float eps = file.HasKey("gpt2.attention.layer_norm_epsilon") ? file.GetFloat32("gpt2.attention.layer_norm_epsilon") : 1e-5f;
        if (!(eps > 0 && eps < 1)) throw new InvalidInputException($"is {eps}, expected a positive number below 1", path, "gpt2.attention.layer_norm_epsilon");
        long stored = file.Tensors.Sum(t => t.ElementCount);
        ModelFiles.RequireRoomFor((int)table.Shape[1], width, layers, stored, path);
        return new GptConfig
        {
            VocabSize = (int)table.Shape[1], ContextLength = context, Width = width, HeadCount = heads, LayerCount = layers,
            FeedForwardWidth = hidden, Dropout = 0f, QkvBias = true, TieWeights = !file.HasTensor("output.weight"), NormEps = eps,
            Residual = ResidualMode.PreNorm,
        };
    }

    static int Bounded(GgufFile file, string key, int max)
    {
        ulong value = file.GetUInt64(key);
        if (value < 1 || value > (ulong)max) throw new InvalidInputException($"is {value}, expected 1 to {max}", file.FilePath, key);
        return (int)value;
    }

    /// <summary>Reads each (gguf name, our name) pair into the model, shape-checked; quantised matrices go to their layer.</summary>
    static void ReadTensors(GgufFile file, LanguageModel model, IEnumerable<(string Gguf, string Ours)> names) =>
        ReadTensors(file, model, names.Select(n => (n.Gguf, n.Ours, true)));

    static void ReadTensors(GgufFile file, LanguageModel model, IEnumerable<(string Gguf, string Ours, bool Matrix)> names)
    {
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor, StringComparer.Ordinal);
        var modules = ModulesByPath(model);
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (ggufName, ours, _) in names)
        {
            wanted.Add(ggufName);
            var tensor = parameters[ours];
            if (!file.HasTensor(ggufName)) throw new InvalidInputException("missing tensor", file.FilePath, ggufName);
            var info = file.Tensor(ggufName);
            long[] expected = tensor.Shape.ToArray().Reverse().Select(d => (long)d).ToArray();
            if (!info.Shape.SequenceEqual(expected))
                throw new InvalidInputException($"is [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", expected)}] (ne order) for the model its metadata describes", file.FilePath, MessageText.Printable(ggufName));
            switch (info.Type)
            {
                case GgufType.F32 or GgufType.F16 or GgufType.BF16:
                    file.ReadFloat32(ggufName, tensor.Data.AsSpan(0, tensor.Size));
                    break;
                case GgufType.Q8_0 or GgufType.Q4_0:
                    var format = info.Type == GgufType.Q8_0 ? BlockFormat.Q8_0 : BlockFormat.Q4_0;
                    QuantizedMatrix blocks;
                    try { blocks = QuantizedMatrix.FromGgml(file.ReadBytes(ggufName), tensor.Dim(0), tensor.Dim(1), format); }
                    catch (ArgumentException error) { throw new InvalidInputException(error.Message, file.FilePath, MessageText.Printable(ggufName)); }
                    switch (modules.GetValueOrDefault(ModulePath(ours)))
                    {
                        case Linear linear: linear.SetQuantized(blocks); break;
                        case Embedding embedding: embedding.SetQuantized(blocks); break;
                        default: blocks.Dequantize(tensor.Data.AsSpan(0, tensor.Size)); break;   // a position table: stays float32
                    }
                    break;
                default:
                    throw new InvalidInputException($"has type {GgufTypes.Name(info.Type)}; ResidualLM reads f32, f16, bf16, q8_0 and q4_0", file.FilePath, MessageText.Printable(ggufName));
            }
            if (info.Type is GgufType.F32 or GgufType.F16 or GgufType.BF16 && !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(tensor.Data.AsSpan(0, tensor.Size)))
                throw new InvalidInputException("holds values that are not finite", file.FilePath, MessageText.Printable(ggufName));
        }
        foreach (var info in file.Tensors)
            if (!wanted.Contains(info.Name))
                throw new InvalidInputException("unexpected tensor: the model its metadata describes has no such parameter", file.FilePath, MessageText.Printable(info.Name));
    }

    static (ITokenizer? Tokenizer, string? Problem) ReadTokenizer(GgufFile file)
    {
        if (!file.HasKey("tokenizer.ggml.model")) return (null, $"{file.FilePath} has no tokenizer (no tokenizer.ggml.model)");
        string kind = file.GetString("tokenizer.ggml.model");
        if (kind != "gpt2")
            return (null, $"{file.FilePath}: tokenizer.ggml.model \"{MessageText.Printable(kind)}\" is not read yet (only gpt2's byte-level BPE)");
        string[] tokens = file.GetStringArray("tokenizer.ggml.tokens");
        string[] merges = file.HasKey("tokenizer.ggml.merges") ? file.GetStringArray("tokenizer.ggml.merges") : [];
        return (Gpt2Tokenizer.FromTokens(tokens, merges, file.FilePath, "tokenizer.ggml.tokens", "tokenizer.ggml.merges"), null);
    }

    static string ModulePath(string parameterName)
    {
        int dot = parameterName.LastIndexOf('.');
        return dot < 0 ? "" : parameterName[..dot];
    }

    static Dictionary<string, Module> ModulesByPath(Module root)
    {
        var paths = new Dictionary<string, Module>(StringComparer.Ordinal);
        Visit(root, "");
        return paths;

        void Visit(Module module, string path)
        {
            paths[path] = module;
            foreach (var (name, child) in module.Children) Visit(child, path.Length == 0 ? name : path + "." + name);
        }
    }
}
