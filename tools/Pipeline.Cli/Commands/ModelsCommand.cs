using System.CommandLine;
using System.Text.Json.Nodes;
using Pipeline.Cli.Output;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary><c>pipeline models</c>: every model as the serving app lists it (<c>GET /api/models</c>).</summary>
public static class ModelsCommand
{
    public static Command Create(CliHost host)
    {
        var json = CliApp.JsonOption();
        var command = new Command("models", "Models the serving app knows: current and served version, task, test metrics.") { json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), async (context, token) =>
        {
            var models = await context.Target.Serving.GetAsync("api/models", token).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(models);
                return ExitCode.Success;
            }

            var list = models as JsonArray ?? [];
            if (list.Count == 0)
            {
                context.Output.Console.MarkupLine("No models yet.");
                return ExitCode.Success;
            }

            var table = new Table().AddColumns("model", "current", "served", "task", "versions", "test metrics", "problem");
            foreach (var model in list.OfType<JsonObject>())
            {
                var metrics = model["testMetrics"] is JsonObject m ? m.ToDictionary(p => p.Key, p => (double?)p.Value ?? double.NaN) : null;
                table.AddRow(CliOutput.E((string?)model["name"]), CliOutput.E((string?)model["currentVersion"] ?? "-"), CliOutput.E((string?)model["servedVersion"] ?? "-"),
                    CliOutput.E((string?)model["task"] ?? "-"), CliOutput.E(model["versions"]?.ToJsonString() ?? "-"), CliOutput.E(Format.Metrics(metrics)),
                    CliOutput.E(model["problem"] is JsonNode problem ? (string?)problem["message"] ?? problem.ToJsonString() : ""));
            }

            context.Output.Console.Write(table);
            return ExitCode.Success;
        }, cancellationToken));
        return command;
    }
}
