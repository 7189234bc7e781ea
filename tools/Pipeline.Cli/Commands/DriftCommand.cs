using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Identity;
using Azure.Storage.Queues;
using Pipeline.Cli.Output;
using Pipeline.Contracts;
using Pipeline.Storage;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipeline drift MODEL [--timeout T]</c>: asks the functions app for a drift report of the model's current version
/// now (a message on queue <c>drift-requests</c>), waits for <c>monitoring/{model}/drift/{today}.json</c> to be
/// rewritten, and shows it. Exit 0 whatever the status; <c>--json</c> prints the report.
/// </summary>
public static class DriftCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    public static Command Create(CliHost host)
    {
        var model = new Argument<string>("model") { Description = "Model name." };
        var timeout = new Option<TimeSpan>("--timeout")
        {
            Description = "How long to wait for the report: 90s, 15m or hh:mm:ss (default 5m).",
            DefaultValueFactory = _ => DefaultTimeout,
            CustomParser = r => Durations.Parse(r),
        };
        var json = CliApp.JsonOption();
        var command = new Command("drift", "Write a drift report of a model's current version now and show it (docs/monitoring.md).") { model, timeout, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), async (context, token) =>
        {
            var name = Names.Require(parse.GetRequiredValue(model), "model");
            var store = context.Target.Store;
            var version = await store.ReadCurrentVersionAsync(name, token).ConfigureAwait(false)
                ?? throw ((await store.ListModelsAsync(token).ConfigureAwait(false)).Contains(name)
                    ? new CliException(ExitCode.NotFound, $"Model '{name}' has no current version: there is nothing to compare.")
                    : Names.NoModel(name));
            var asked = context.Host.Time.GetUtcNow();
            var queue = Queue(context.Target.Options);
            try
            {
                await queue.SendMessageAsync(new JsonObject { ["model"] = name }.ToJsonString(), token).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                throw new CliException(ExitCode.NotFound, $"Queue {StorageNames.DriftRequestsQueue} does not exist: is the functions app deployed (or ./run-local.sh running)?", e);
            }

            var report = await WaitAsync(context, context.Target.Blobs, name, asked, parse.GetValue(timeout), token).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(JsonNode.Parse(JsonSerializer.Serialize(report, PipelineJson.Default.DriftReport))!);
                return ExitCode.Success;
            }

            var console = context.Output.Console;
            console.MarkupLine($"model [bold]{CliOutput.E(name)}[/] version [bold]{CliOutput.E(report.Version)}[/]: [bold]{CliOutput.E(Status(report.Status))}[/] over {report.Rows} rows — {CliOutput.E(report.Message)}");
            if (report.Sources.Truncated)
            {
                console.MarkupLine($"  cut short by {CliOutput.E(report.Sources.TruncatedBy ?? "")}");
            }

            var table = new Table().AddColumns("column", "status", "PSI", "missing", "why");
            foreach (var column in report.Columns.Append(report.Predictions).OfType<ColumnDrift>())
            {
                table.AddRow(CliOutput.E(column.Column), CliOutput.E(Status(column.Status)), column.Psi?.ToString("0.###", CultureInfo.InvariantCulture) ?? "n/a",
                    CliOutput.E(string.Create(CultureInfo.InvariantCulture, $"{column.TrainMissingRate:P1} → {column.MissingRate:P1}")), CliOutput.E(string.Join("; ", column.Reasons)));
            }

            console.Write(table);
            if (report.Outcomes is { } outcomes)
            {
                static string Figure(double? value) => value?.ToString("0.####", CultureInfo.InvariantCulture) ?? "n/a";
                console.MarkupLine(CliOutput.E(string.Create(CultureInfo.InvariantCulture,
                    $"live {outcomes.Metric} {Figure(outcomes.Live)} over {outcomes.Matched} labelled row(s) (test split {Figure(outcomes.Test)}); {outcomes.UnmatchedOutcomes} outcome id(s) matched no scored row")));
                foreach (var problem in outcomes.Problems)
                {
                    console.MarkupLine($"  [yellow]{CliOutput.E(problem)}[/]");
                }
            }

            if (report.Retrain is { } retrain)
            {
                console.MarkupLine($"retrain: {CliOutput.E(JsonSerializer.Serialize(retrain.Outcome, PipelineJson.Default.RetrainOutcome).Trim('"'))} — {CliOutput.E(retrain.Message)}");
            }

            console.MarkupLine($"report: monitoring/{CliOutput.E(StorageNames.DriftReportPath(name, DateOnly.FromDateTime(report.CreatedAt.UtcDateTime), ".md"))}");
            return ExitCode.Success;
        }, cancellationToken));
        return command;
    }

    /// <summary>The <c>drift-requests</c> queue of the target's storage account (the blob endpoint's account).</summary>
    private static QueueClient Queue(Target.TargetOptions options)
    {
        var clientOptions = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None };
        if (options.IsAzure)
        {
            var endpoint = new UriBuilder(options.BlobEndpoint!) { Host = options.BlobEndpoint!.Host.Replace(".blob.", ".queue.", StringComparison.Ordinal) }.Uri;
            return new QueueServiceClient(endpoint, new DefaultAzureCredential(), clientOptions).GetQueueClient(StorageNames.DriftRequestsQueue);
        }

        return new QueueServiceClient(options.ConnectionString, clientOptions).GetQueueClient(StorageNames.DriftRequestsQueue);
    }

    /// <summary>Polls today's report until one created after <paramref name="asked"/> appears.</summary>
    private static async Task<DriftReport> WaitAsync(CommandContext context, Azure.Storage.Blobs.BlobServiceClient blobs, string model, DateTimeOffset asked, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var monitoring = blobs.GetBlobContainerClient(StorageNames.MonitoringContainer);
        var time = context.Host.Time;
        var deadline = time.GetUtcNow() + timeout;
        while (true)
        {
            // The report is named by the day it was written: around midnight it may be tomorrow's.
            foreach (var day in new[] { DateOnly.FromDateTime(asked.UtcDateTime), DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime) }.Distinct())
            {
                var read = await BlobJson.ReadAsync(monitoring.GetBlobClient(StorageNames.DriftReportPath(model, day, ".json")), PipelineJson.Default.DriftReport, cancellationToken).ConfigureAwait(false);
                if (read?.Value is { } report && report.CreatedAt >= asked)
                {
                    return report;
                }
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new CliException(ExitCode.TimedOut,
                    $"No drift report of '{model}' within {timeout}: the request waits in queue {StorageNames.DriftRequestsQueue} for the functions app (is it running?).");
            }

            await Task.Delay(context.Host.PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string Status(DriftStatus status) => status switch
    {
        DriftStatus.Ok => "ok",
        DriftStatus.Warning => "warning",
        DriftStatus.Drifted => "drifted",
        _ => "insufficient data",
    };
}
