using System.CommandLine;
using System.Text.Json.Nodes;
using Pipeline.Cli.Output;
using Pipeline.Contracts;
using Pipeline.Storage;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary><c>pipeline rejections DATASET</c>: why uploads of a dataset were rejected (<c>datasets/{dataset}/rejections/</c>), newest first.</summary>
public static class RejectionsCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = new Argument<string>("dataset") { Description = "Dataset name." };
        var limit = new Option<int>("--limit") { Description = "Show at most this many, newest first (default 20).", DefaultValueFactory = _ => 20 };
        limit.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > Target.PipelineStore.MaxRejections) { r.AddError($"--limit must be 1-{Target.PipelineStore.MaxRejections}."); } });
        var json = CliApp.JsonOption();
        var command = new Command("rejections", "Why uploads of a dataset were rejected: reason, message, line, dropped rows.") { dataset, limit, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), async (context, token) =>
        {
            var name = Names.Require(parse.GetRequiredValue(dataset), "dataset");
            var store = context.Target.Store;
            if (!await store.DatasetExistsAsync(name, token).ConfigureAwait(false))
            {
                throw Names.NoDataset(name);
            }

            var reports = await store.ListRejectionsAsync(name, null, token, parse.GetValue(limit)).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(new JsonArray([.. reports.Select(r => CliOutput.ToNode(r.Report, PipelineJson.Default.RejectionReport))]));
                return ExitCode.Success;
            }

            if (reports.Count == 0)
            {
                context.Output.Console.MarkupLine($"No rejections for dataset '{CliOutput.E(name)}'.");
                return ExitCode.Success;
            }

            foreach (var report in reports)
            {
                Write(context.Output.Console, report.Report);
                context.Output.Console.MarkupLine($"  [grey]report: {CliOutput.E(report.Path)}[/]");
            }

            return ExitCode.Success;
        }, cancellationToken));
        return command;
    }

    /// <summary>A rejection as a person reads it: what, why, where, and the rows that were dropped.</summary>
    public static void Write(IAnsiConsole console, RejectionReport report)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        console.MarkupLine($"[red]rejected[/] {Format.Time(report.RejectedAt)} {CliOutput.E(report.Blob)}: [bold]{CliOutput.E(report.Reason)}[/]{(report.Line is { } line ? $" at line {line}" : "")}");
        console.MarkupLine($"  {CliOutput.E(report.Message)}");
        foreach (var dropped in report.Validation?.Dropped ?? [])
        {
            console.MarkupLine($"  dropped {dropped.Count:N0} rows ({CliOutput.E(dropped.Reason)})");
            foreach (var example in dropped.Examples.Take(3))
            {
                console.MarkupLine($"    {CliOutput.E(example.Blob)} line {example.Line}: {CliOutput.E(example.Text)}");
            }
        }
    }
}

/// <summary>Name checks shared by the commands (the contract's rule: <see cref="StorageNames.IsValidName"/>).</summary>
public static class Names
{
    public static string Require(string name, string what) => StorageNames.IsValidName(name)
        ? name
        : throw new CliException(ExitCode.Usage, $"'{name}' is not a {what} name: 1-63 lower-case letters, digits, '-' and '_', starting with a letter or digit.");

    public static CliException NoDataset(string name) =>
        new(ExitCode.NotFound, $"There is no dataset '{name}': nothing under raw/{name}/ or datasets/{name}/. 'pipeline status' lists the datasets.");

    public static CliException NoModel(string name) =>
        new(ExitCode.NotFound, $"There is no model '{name}'. 'pipeline models' lists the models.");
}
