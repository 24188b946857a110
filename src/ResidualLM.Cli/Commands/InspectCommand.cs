// `rlm inspect`: what a model is — its module tree with shapes, parameter counts with and without the tied head, the
// number of residual connections, and its config — for a preset or a saved model. --json prints one line.
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using ResidualLM.IO;
using ResidualLM.Models;
using ResidualLM.Nn;
using Spectre.Console;

namespace ResidualLM.Cli.Commands;

/// <summary>Builds the <c>inspect</c> command.</summary>
public static class InspectCommand
{
    /// <summary>
    /// <c>rlm inspect (--preset NAME | --model DIR) [--json]</c>. A preset name is looked up among the GPT presets first,
    /// then the Llama ones. Exit code 0, or 2 with a one-line message.
    /// </summary>
    public static Command Create()
    {
        var preset = new Option<string>("--preset")
        {
            Description = $"A GPT preset ({string.Join(", ", GptConfig.PresetNames)}) or Llama preset ({string.Join(", ", LlamaConfig.PresetNames)}); GPT wins a shared name",
        };
        var model = new Option<string>("--model") { Description = "Model folder: run folder, checkpoint or Hugging Face GPT-2 folder" };
        var json = new Option<bool>("--json") { Description = "Print a one-line JSON summary" };
        var command = new Command("inspect", "Show a model's architecture, parameter counts, residual connections and config");
        command.Options.Add(preset);
        command.Options.Add(model);
        command.Options.Add(json);
        command.SetAction(parse => CliErrors.Run(parse.InvocationConfiguration.Error, () =>
        {
            string? presetName = parse.GetValue(preset), folder = parse.GetValue(model);
            if ((presetName is null) == (folder is null))
                throw new InvalidInputException("give exactly one of --preset NAME and --model DIR", field: "--preset/--model");
            var (network, source) = folder is null ? (FromPreset(presetName!), "preset " + presetName) : FromFolder(folder);
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) output.WriteLine(Summary(network, source).ToJsonString());
            else WriteReport(output, network, source);
            return 0;
        }));
        return command;
    }

    static LanguageModel FromPreset(string name)
    {
        if (GptConfig.PresetNames.Contains(name, StringComparer.OrdinalIgnoreCase)) return new Gpt(GptConfig.Preset(name));
        if (LlamaConfig.PresetNames.Contains(name, StringComparer.OrdinalIgnoreCase)) return new Llama(LlamaConfig.Preset(name));
        throw new InvalidInputException(
            $"unknown preset '{name}'; GPT: {string.Join(", ", GptConfig.PresetNames)}; Llama: {string.Join(", ", LlamaConfig.PresetNames)}", field: "--preset");
    }

    static (LanguageModel, string) FromFolder(string folder)
    {
        string resolved = CheckpointDirectory.ResolveModelFolder(folder);
        string format = ModelFiles.DetectFormat(resolved) == ModelFileFormat.HuggingFaceGpt2 ? "Hugging Face GPT-2 folder" : "ResidualLM checkpoint";
        return (ModelFiles.Load(resolved), $"{format} {resolved}");
    }

    /// <summary>The one-line JSON: counts from <see cref="ModelInfo"/> and the config as a checkpoint would store it.</summary>
    internal static JsonObject Summary(LanguageModel model, string source)
    {
        ModelInfo info = ModelInfo.Of(model);
        return new JsonObject
        {
            ["source"] = source,
            ["architecture"] = info.Architecture,
            ["parameters"] = info.Parameters,
            ["parameters_untied"] = info.ParametersUntied,
            ["parameters_tied"] = info.ParametersTied,
            ["tied"] = info.Tied,
            ["blocks"] = info.Blocks,
            ["residual_connections"] = info.ResidualConnections,
            ["config"] = ModelConfigJson.ToJson(model),
        };
    }

    static void WriteReport(TextWriter output, LanguageModel model, string source)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(output),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 120;
        ModelInfo info = ModelInfo.Of(model);
        output.WriteLine($"{info.Architecture}  ({source})");
        output.WriteLine(info.ToString().Split('\n', 2)[1]);

        var tree = new Tree(Markup.Escape(Label(model.GetType().Name, model)));
        AddChildren(tree.AddNode, model);
        console.Write(tree);

        var table = new Table().AddColumn("config").AddColumn("value");
        foreach (var (name, value) in ModelConfigJson.ToJson(model))
            table.AddRow(Markup.Escape(name), Markup.Escape(value?.ToJsonString() ?? "null"));
        console.Write(table);
    }

    /// <summary>
    /// Adds a node per child that holds parameters. Of a list of blocks only the first is expanded: the others have the
    /// same shapes, and a 48-block tree would bury the rest.
    /// </summary>
    static void AddChildren(Func<string, TreeNode> add, Module module)
    {
        var children = module.Children.Where(child => child.Module.ParameterCount() > 0).ToList();
        bool isList = module.GetType().IsGenericType && module.GetType().GetGenericTypeDefinition() == typeof(ModuleList<>);
        foreach (var (name, child) in isList ? children.Take(1) : children)
        {
            // An unnamed child (a residual policy) shares its parent's namespace: its norm1 reads as the block's.
            TreeNode node = add(Markup.Escape(Label(name.Length == 0 ? $"({child.GetType().Name})" : $"{name}: {TypeName(child.GetType())}", child)));
            AddChildren(node.AddNode, child);
        }
        if (isList && children.Count > 1)
            add(Markup.Escape(children.Count == 2 ? "1: same shapes as 0" : $"1..{children.Count - 1}: same shapes as 0"));
    }

    /// <summary>ModuleList`1 -> ModuleList&lt;TransformerBlock&gt;.</summary>
    static string TypeName(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>"
        : type.Name;

    /// <summary>"attn.qkv: Linear  weight [72, 24], bias [72]  (1,800)": own parameters with shapes, then the subtree's count.</summary>
    static string Label(string title, Module module)
    {
        var own = module.NamedParameters().Where(parameter => !parameter.Name.Contains('.'))
            .Select(parameter => $"{parameter.Name} {parameter.Tensor.ShapeString}");
        string shapes = string.Join(", ", own);
        string count = module.ParameterCount().ToString("N0", CultureInfo.InvariantCulture);
        return shapes.Length == 0 ? $"{title}  ({count})" : $"{title}  {shapes}  ({count})";
    }
}
