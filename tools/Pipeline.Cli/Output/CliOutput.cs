using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Pipeline.Contracts;
using Spectre.Console;

namespace Pipeline.Cli.Output;

/// <summary>
/// Where a command writes: tables, markup and progress for people on <see cref="Console"/>, or with <c>--json</c> one JSON
/// document on standard output for scripts (camelCase, the storage contract's names).
/// </summary>
public sealed class CliOutput(CliHost host, bool json)
{
    /// <summary>Indented, and without escaping quotes or non-ASCII letters: the output is read by people and JSON parsers, never embedded in HTML.</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public bool Json { get; } = json;

    public CliHost Host { get; } = host;

    public IAnsiConsole Console { get; } = CreateConsole(host.Out, host.Interactive);

    /// <summary>Columns of text output that goes to a file or a pipe: tables are not wrapped to a terminal's width there.</summary>
    public const int RedirectedWidth = 240;

    public static IAnsiConsole CreateConsole(TextWriter writer, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!interactive)
        {
            console.Profile.Width = RedirectedWidth;
        }

        return console;
    }

    public void WriteJson(JsonNode? node) => Host.Out.WriteLine(node?.ToJsonString(Indented) ?? "null");

    public void WriteJson<T>(T value, JsonTypeInfo<T> typeInfo) => WriteJson(ToNode(value, typeInfo));

    /// <summary>A contract document as a JSON node, to compose larger outputs.</summary>
    public static JsonNode? ToNode<T>(T value, JsonTypeInfo<T> typeInfo) => JsonSerializer.SerializeToNode(value, typeInfo);

    public static JsonNode? ToNode(RunStatus? run) => run is null ? null : ToNode(run, PipelineJson.Default.RunStatus);

    /// <summary>Text for markup, escaped.</summary>
    public static string E(string? text) => Markup.Escape(text ?? "");
}
