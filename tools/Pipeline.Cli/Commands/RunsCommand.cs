using System.CommandLine;
using System.Text.Json.Nodes;
using Pipeline.Cli.Output;
using Pipeline.Contracts;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary><c>pipeline runs [MODEL]</c>: the latest training run of every model, or of one model in detail (<c>runs/latest/{model}.json</c>).</summary>
public static class RunsCommand
{
    public static Command Create(CliHost host)
    {
        var model = new Argument<string?>("model") { Description = "A model whose latest run to show in detail; every model's latest run when left out.", Arity = ArgumentArity.ZeroOrOne };
        var json = CliApp.JsonOption();
        var command = new Command("runs", "Training runs: state, stage, trial, epoch, loss, ETA, outcome.") { model, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), async (context, token) =>
        {
            var store = context.Target.Store;
            if (parse.GetValue(model) is { } name)
            {
                Names.Require(name, "model");
                var run = await store.ReadLatestRunAsync(name, token).ConfigureAwait(false)
                    ?? throw new CliException(ExitCode.NotFound, $"Model '{name}' has no training run (runs/latest/{name}.json). 'pipeline runs' lists the models' runs.");
                if (context.Output.Json)
                {
                    context.Output.WriteJson(run, PipelineJson.Default.RunStatus);
                    return ExitCode.Success;
                }

                var grid = new Grid().AddColumn().AddColumn();
                void Row(string label, string? value) => grid.AddRow(label, CliOutput.E(value ?? "-"));
                Row("run", run.RunId);
                Row("model", run.Model);
                Row("dataset", $"{run.Dataset} {run.DatasetVersion}");
                Row("progress", Format.Progress(run));
                Row("device", run.Device);
                Row("started", Format.Time(run.StartedAt));
                Row("updated", Format.Time(run.UpdatedAt));
                Row("model version", run.ModelVersion);
                Row("promoted", run.Promoted is { } promoted ? $"{(promoted ? "yes" : "no")}: {run.PromotionReason}" : null);
                Row("error", run.Error);
                context.Output.Console.Write(grid);
                return ExitCode.Success;
            }

            var runs = await store.ListLatestRunsAsync(token).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(new JsonArray([.. runs.Select(CliOutput.ToNode)]));
                return ExitCode.Success;
            }

            if (runs.Count == 0)
            {
                context.Output.Console.MarkupLine("No training runs yet.");
                return ExitCode.Success;
            }

            var table = new Table().AddColumns("model", "run", "dataset version", "progress", "updated", "model version", "outcome");
            foreach (var run in runs)
            {
                table.AddRow(CliOutput.E(run.Model), CliOutput.E(run.RunId), CliOutput.E(run.DatasetVersion), CliOutput.E(Format.Progress(run)), Format.Time(run.UpdatedAt),
                    CliOutput.E(run.ModelVersion ?? "-"), CliOutput.E(run.Error ?? (run.Promoted is { } p ? (p ? "promoted" : "not promoted: " + run.PromotionReason) : "")));
            }

            context.Output.Console.Write(table);
            return ExitCode.Success;
        }, cancellationToken));
        return command;
    }
}
