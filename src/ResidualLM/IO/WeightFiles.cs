// The weights of a Hugging Face model folder: one model.safetensors, or shards listed by model.safetensors.index.json
// ({"weight_map": {tensor: file}}). Every tensor is looked up by name across the shards; each shard is validated as a
// safetensors file on its own, and the index must agree with what the shards hold.
namespace ResidualLM.IO;

/// <summary>One or several safetensors files seen as one set of named tensors.</summary>
internal sealed class WeightFiles : IDisposable
{
    /// <summary>Name of the shard index of a sharded checkpoint.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    readonly List<SafeTensorsFile> files = [];
    readonly Dictionary<string, SafeTensorsFile> byName = new(StringComparer.Ordinal);

    /// <summary>Tensor names, shard by shard in file order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>What messages name: the single file, or the index of a sharded checkpoint.</summary>
    public string DisplayPath { get; }

    WeightFiles(string displayPath, List<string> names)
    {
        DisplayPath = displayPath;
        Names = names;
    }

    /// <summary>
    /// Opens folder/model.safetensors, or the shards named by folder/model.safetensors.index.json when there is no
    /// single file. Explains the layouts that are not read (pickle).
    /// </summary>
    public static WeightFiles Open(string folder)
    {
        string single = Path.Combine(folder, ModelFiles.WeightsFileName), index = Path.Combine(folder, IndexFileName);
        if (File.Exists(single)) return FromFiles(single, [single]);
        if (!File.Exists(index))
        {
            string hint = File.Exists(Path.Combine(folder, "pytorch_model.bin"))
                ? "; pytorch_model.bin (pickle) is not read, for safety: convert it to safetensors"
                : $" (nor {IndexFileName} for a sharded checkpoint)";
            throw new InvalidInputException($"weights file not found{hint}", single);
        }
        JsonInputObject root = JsonInput.Parse(index);
        JsonInputObject map = JsonInput.GetObject(root, "weight_map");
        var shardOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var shards = new List<string>();
        foreach (string tensor in map.FieldNames)
        {
            string shard = JsonInput.GetString(map, tensor);
            if (shard.Length == 0 || Path.GetFileName(shard) != shard || !shard.EndsWith(".safetensors", StringComparison.Ordinal))
                throw new InvalidInputException($"names \"{MessageText.Printable(shard)}\"; expected a .safetensors file name in the same folder", index,
                    $"weight_map.{MessageText.Printable(tensor)}");
            shardOf[tensor] = shard;
            if (!shards.Contains(shard)) shards.Add(shard);
        }
        if (shards.Count == 0) throw new InvalidInputException("is empty; expected tensor names mapped to shard files", index, "weight_map");
        WeightFiles weights = FromFiles(index, shards.Select(shard => Path.Combine(folder, shard)).ToList());
        try
        {
            foreach ((string tensor, string shard) in shardOf)
                if (!weights.byName.TryGetValue(tensor, out SafeTensorsFile? file) || Path.GetFileName(file.FilePath) != shard)
                    throw new InvalidInputException($"maps the tensor to {shard}, which does not hold it", index, $"weight_map.{MessageText.Printable(tensor)}");
            foreach (string tensor in weights.Names)
                if (!shardOf.ContainsKey(tensor))
                    throw new InvalidInputException($"holds a tensor the index does not list: {MessageText.Printable(tensor)}", weights.byName[tensor].FilePath);
            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    static WeightFiles FromFiles(string displayPath, List<string> paths)
    {
        var names = new List<string>();
        var weights = new WeightFiles(displayPath, names);
        try
        {
            foreach (string path in paths)
            {
                if (!File.Exists(path)) throw new InvalidInputException("shard not found (named by the index)", path);
                SafeTensorsFile file = SafeTensors.Read(path);
                weights.files.Add(file);
                foreach (string name in file.Names)
                {
                    if (!weights.byName.TryAdd(name, file))
                        throw new InvalidInputException($"is stored twice, in {Path.GetFileName(weights.byName[name].FilePath)} and {Path.GetFileName(path)}",
                            displayPath, MessageText.Printable(name));
                    names.Add(name);
                }
            }
            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The file that holds <paramref name="name"/> (for messages and reads).</summary>
    public SafeTensorsFile FileOf(string name) =>
        byName.TryGetValue(name, out SafeTensorsFile? file) ? file : throw new InvalidInputException("missing tensor", DisplayPath, MessageText.Printable(name));

    /// <summary>Values stored in all the files.</summary>
    public long StoredValues => files.Sum(ModelFiles.StoredValues);

    /// <summary>Whether two tensors hold the same dtype, shape and values (across shards too).</summary>
    public bool HaveEqualData(string first, string second)
    {
        SafeTensorsFile a = FileOf(first), b = FileOf(second);
        if (ReferenceEquals(a, b)) return a.HaveEqualData(first, second);
        TensorInfo left = a.Info(first), right = b.Info(second);
        if (left.DType != right.DType || !left.Shape.SequenceEqual(right.Shape)) return false;
        float[] x = a.ReadFloat32(first), y = b.ReadFloat32(second);
        return x.AsSpan().SequenceEqual(y);
    }

    public void Dispose()
    {
        foreach (SafeTensorsFile file in files) file.Dispose();
    }
}
