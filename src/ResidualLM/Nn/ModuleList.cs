// An indexed list of child modules, named 0, 1, 2 ... (blocks.3.attn.qkv.weight).
namespace ResidualLM.Nn;

/// <summary>Children registered under their index, as PyTorch's <c>nn.ModuleList</c>.</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    readonly List<T> items = [];

    public ModuleList(IEnumerable<T> modules)
    {
        foreach (var m in modules) items.Add(Child(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), m));
    }

    public int Count => items.Count;

    public T this[int index] => items[index];

    public IReadOnlyList<T> Items => items;
}
