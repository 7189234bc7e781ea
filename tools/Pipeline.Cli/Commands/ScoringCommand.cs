using System.CommandLine;
using System.Text.Json.Nodes;
using Pipeline.Cli.Output;
using Pipeline.Cli.Target;
using Pipeline.Contracts;
using Pipeline.Storage;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipeline scoring [MODEL]</c>: the batch-scoring jobs — each file dropped under <c>score/</c> and what became of it,
/// newest first: scored (by the functions app or the scoring job), handed to the scoring job and not done yet, or failed.
/// </summary>
public static class ScoringCommand
{
    public static Command Create(CliHost host)
    {
        var model = new Argument<string?>("model") { Description = "Model name (default: every model).", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int>("--limit") { Description = "Show at most this many, newest first (default 20).", DefaultValueFactory = _ => 20 };
        limit.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > ScoringReports.MaxListed) { r.AddError($"--limit must be 1-{ScoringReports.MaxListed}."); } });
        var json = CliApp.JsonOption();
        var command = new Command("scoring", "Batch-scoring jobs (files dropped under score/): status, where they were scored, rows, output and report.") { model, limit, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), async (context, token) =>
        {
            var name = parse.GetValue(model) is { } given ? Names.Require(given, "model") : null;
            var reports = await context.Target.Store.ListScoringReportsAsync(name, token, parse.GetValue(limit)).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(new JsonArray([.. reports.Select(r => r.Report is { } report
                    ? CliOutput.ToNode(report, PipelineJson.Default.ScoringReport)
                    : new JsonObject { ["path"] = r.Path, ["problem"] = r.Problem })]));
                return ExitCode.Success;
            }

            if (reports.Count == 0)
            {
                context.Output.Console.MarkupLine(name is null ? "No files scored yet: drop one under score/{model}/." : $"No files scored with model '{CliOutput.E(name)}' yet.");
                return ExitCode.Success;
            }

            foreach (var entry in reports)
            {
                Write(context.Output.Console, entry);
            }

            return ExitCode.Success;
        }, cancellationToken));
        return command;
    }

    /// <summary>A scoring job as a person reads it: state, where, file, model version, rows and what to open.</summary>
    public static void Write(IAnsiConsole console, ScoringReportEntry entry)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Report is not { } report)
        {
            console.MarkupLine($"[red]unreadable report[/] {CliOutput.E(entry.Path)}: {CliOutput.E(entry.Problem ?? "")}");
            return;
        }

        var state = report.Status switch
        {
            ScoringStatus.Succeeded => "[green]scored[/]",
            ScoringStatus.HandedToJob => "[yellow]handed to job[/]",
            _ => $"[red]failed[/] ({CliOutput.E(report.Reason?.ToString() ?? "")})",
        };
        var where = report.ScoredBy switch
        {
            ScoringHost.Job => "scoring job",
            ScoringHost.FunctionsApp => "functions app",
            _ => "-",
        };
        var size = report.Bytes is { } bytes ? $", {Format.Bytes(bytes)}" : "";
        console.MarkupLine($"{state} {Format.Time(report.StartedAt)} {CliOutput.E(report.Input)}{size} [grey]({where})[/]");
        if (report.Status == ScoringStatus.Succeeded)
        {
            console.MarkupLine($"  model {CliOutput.E(report.Model)} version {CliOutput.E(report.Version ?? "-")}: {report.Scored:N0} of {report.Rows:N0} rows scored, {report.Failed:N0} not, in {Format.Duration(report.Seconds)} → {CliOutput.E(report.Output ?? "-")}");
        }
        else
        {
            console.MarkupLine($"  {CliOutput.E(report.Message)}");
        }

        console.MarkupLine($"  [grey]report: {CliOutput.E(entry.Path)}[/]");
    }
}
