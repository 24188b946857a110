// Shared checks for model configs: each throws InvalidInputException naming the field at fault.
namespace ResidualLM.Models;

internal static class ConfigChecks
{
    public static void Positive(int value, string field)
    {
        if (value <= 0) throw new InvalidInputException($"must be positive, got {value}", field: field);
    }

    public static void Probability(float value, string field)
    {
        if (!(value >= 0f && value < 1f)) throw new InvalidInputException($"must be in [0, 1), got {value}", field: field);
    }

    public static void HeadsDivideWidth(int width, int heads)
    {
        Positive(heads, "HeadCount");
        if (width % heads != 0) throw new InvalidInputException($"{heads} heads do not divide width {width}", field: "HeadCount");
    }

    public static void Defined(ResidualMode mode)
    {
        if (!Enum.IsDefined(mode)) throw new InvalidInputException($"unknown residual mode {(int)mode}", field: "Residual");
    }

    public static T Preset<T>(IReadOnlyDictionary<string, T> presets, string name, string family)
    {
        if (presets.TryGetValue(name, out var config)) return config;
        throw new InvalidInputException($"unknown {family} preset '{name}'; known: {string.Join(", ", presets.Keys)}", field: "preset");
    }
}
