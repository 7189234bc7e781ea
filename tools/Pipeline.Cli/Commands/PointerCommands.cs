using System.CommandLine;
using System.Text.Json.Nodes;
using Pipeline.Cli.Output;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipeline rollback MODEL VERSION</c> and <c>pipeline promote MODEL VERSION</c>: the operator actions that move
/// <c>models/{model}/current.json</c>, through the serving app's admin operation <c>POST /api/models/{name}/current</c>
/// (it loads the version and answers a smoke prediction before it moves the pointer). Rollback goes back to an older
/// version; promote serves a version the champion/challenger step did not promote.
/// </summary>
public static class PointerCommands
{
    public enum Kind
    {
        Rollback,
        Promote,
    }

    public static Command Create(CliHost host, Kind kind)
    {
        var model = new Argument<string>("model") { Description = "Model name." };
        var version = new Argument<string>("version") { Description = kind == Kind.Rollback ? "An older version to serve again." : "A version to serve (e.g. one the gate did not promote)." };
        var json = CliApp.JsonOption();
        var command = kind == Kind.Rollback
            ? new Command("rollback", "Serve an older version of a model again (admin key).") { model, version, json }
            : new Command("promote", "Serve a version that was not promoted automatically (admin key).") { model, version, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), async (context, token) =>
        {
            var name = Names.Require(parse.GetRequiredValue(model), "model");
            var target = parse.GetRequiredValue(version);
            var serving = context.Target.Serving;
            var details = await serving.GetAsync($"api/models/{name}", token).ConfigureAwait(false);
            var versions = (details["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            var wanted = versions.FirstOrDefault(v => (string?)v["version"] == target)
                ?? throw new CliException(ExitCode.NotFound, $"Model '{name}' has no version '{target}'; it has {string.Join(", ", versions.Select(v => (string?)v["version"]))}.");
            var current = (string?)details["currentVersion"];
            if (current == target)
            {
                return Done(context, name, target, current, changed: false);
            }

            var currentEntry = versions.FirstOrDefault(v => (string?)v["version"] == current);
            var older = currentEntry is not null && (DateTimeOffset?)wanted["createdAt"] < (DateTimeOffset?)currentEntry["createdAt"];
            if (kind == Kind.Rollback && currentEntry is not null && !older)
            {
                throw new CliException(ExitCode.Usage, $"Version {target} is newer than the current version {current}: use 'pipeline promote {name} {target}' to serve it.");
            }

            var moved = await serving.PostAsync($"api/models/{name}/current", new JsonObject { ["version"] = target }, admin: true, token).ConfigureAwait(false);
            return Done(context, name, (string?)moved["version"] ?? target, (string?)moved["previousVersion"], changed: true);
        }, cancellationToken));
        return command;
    }

    private static ExitCode Done(CommandContext context, string model, string version, string? previous, bool changed)
    {
        if (context.Output.Json)
        {
            context.Output.WriteJson(new JsonObject { ["model"] = model, ["version"] = version, ["previousVersion"] = previous, ["changed"] = changed });
        }
        else
        {
            context.Output.Console.MarkupLine(changed
                ? $"model [bold]{CliOutput.E(model)}[/] now serves [bold]{CliOutput.E(version)}[/] (was {CliOutput.E(previous ?? "none")})"
                : $"model [bold]{CliOutput.E(model)}[/] already serves [bold]{CliOutput.E(version)}[/]; nothing changed");
        }

        return ExitCode.Success;
    }
}
