using System.CommandLine;
using System.Text.Json.Nodes;
using Pipeline.Cli.Output;
using Pipeline.Cli.Target;
using Pipeline.Contracts;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipeline status [DATASET]</c>: every dataset with its newest version, pending build, last rejection and its model's
/// latest run; or one dataset in detail (its files, versions, rejections, model).
/// </summary>
public static class StatusCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = new Argument<string?>("dataset") { Description = "A dataset to show in detail; all datasets when left out.", Arity = ArgumentArity.ZeroOrOne };
        var json = CliApp.JsonOption();
        var command = new Command("status", "Datasets: versions, pending builds, rejections, and their models' training and serving.") { dataset, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), (context, token) =>
            parse.GetValue(dataset) is { } name ? OneAsync(context, Names.Require(name, "dataset"), token) : AllAsync(context, token), cancellationToken));
        return command;
    }

    private sealed record Overview(string Dataset, DatasetVersionEntry? Latest, int Versions, DateTimeOffset? Pending, RejectionReport? LastRejection, string Model, string? CurrentVersion, RunStatus? Run);

    private static async Task<Overview> OverviewAsync(PipelineStore store, string dataset, CancellationToken cancellationToken)
    {
        var newest = await store.ListDatasetVersionsAsync(dataset, null, cancellationToken, limit: 1).ConfigureAwait(false);
        var latest = newest.Count > 0 ? newest[0] : null;
        var model = latest?.Manifest.Model is { Length: > 0 } m ? m : dataset;
        var rejections = await store.ListRejectionsAsync(dataset, null, cancellationToken, limit: 1).ConfigureAwait(false);
        var rejection = rejections.Count > 0 ? rejections[0].Report : null;
        return new Overview(dataset, latest, await store.CountDatasetVersionsAsync(dataset, cancellationToken).ConfigureAwait(false), await store.PendingSinceAsync(dataset, cancellationToken).ConfigureAwait(false), rejection, model,
            await store.ReadCurrentVersionAsync(model, cancellationToken).ConfigureAwait(false), await store.ReadLatestRunAsync(model, cancellationToken).ConfigureAwait(false));
    }

    private static JsonObject ToJson(Overview o) => new()
    {
        ["dataset"] = o.Dataset,
        ["versions"] = o.Versions,
        ["latestVersion"] = o.Latest?.Manifest.Version,
        ["latestVersionAt"] = o.Latest?.WrittenAt,
        ["rows"] = o.Latest?.Manifest.Rows.Used,
        ["pendingSince"] = o.Pending,
        ["lastRejection"] = o.LastRejection is { } r ? CliOutput.ToNode(r, PipelineJson.Default.RejectionReport) : null,
        ["model"] = o.Model,
        ["currentModelVersion"] = o.CurrentVersion,
        ["latestRun"] = CliOutput.ToNode(o.Run),
    };

    private static async Task<ExitCode> AllAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var store = context.Target.Store;
        var overviews = new List<Overview>();
        foreach (var dataset in await store.ListDatasetsAsync(cancellationToken).ConfigureAwait(false))
        {
            overviews.Add(await OverviewAsync(store, dataset, cancellationToken).ConfigureAwait(false));
        }

        if (context.Output.Json)
        {
            context.Output.WriteJson(new JsonArray([.. overviews.Select(o => (JsonNode)ToJson(o))]));
            return ExitCode.Success;
        }

        if (overviews.Count == 0)
        {
            context.Output.Console.MarkupLine("No datasets yet: 'pipeline upload mydata.csv' makes one.");
            return ExitCode.Success;
        }

        var table = new Table().AddColumns("dataset", "latest version", "rows", "state", "model", "serving", "training");
        foreach (var o in overviews)
        {
            table.AddRow(CliOutput.E(o.Dataset), CliOutput.E(o.Latest is { } l ? $"{l.Manifest.Version} ({Format.Time(l.WrittenAt)})" : "-"),
                o.Latest?.Manifest.Rows.Used.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) ?? "-",
                CliOutput.E(State(o)), CliOutput.E(o.Model), CliOutput.E(o.CurrentVersion ?? "-"), CliOutput.E(o.Run is { } run ? Format.Progress(run) : "-"));
        }

        context.Output.Console.Write(table);
        return ExitCode.Success;
    }

    private static string State(Overview o) => o switch
    {
        { Pending: { } since } => $"pending since {Format.Time(since)}",
        { LastRejection: { } r } when o.Latest is null || r.RejectedAt > o.Latest.WrittenAt => $"rejected: {r.Reason}",
        { Latest: not null } => "accepted",
        _ => "uploaded",
    };

    private static async Task<ExitCode> OneAsync(CommandContext context, string dataset, CancellationToken cancellationToken)
    {
        var store = context.Target.Store;
        if (!await store.DatasetExistsAsync(dataset, cancellationToken).ConfigureAwait(false))
        {
            throw Names.NoDataset(dataset);
        }

        var overview = await OverviewAsync(store, dataset, cancellationToken).ConfigureAwait(false);
        var files = await store.ListRawFilesAsync(dataset, cancellationToken).ConfigureAwait(false);
        var versions = await store.ListDatasetVersionsAsync(dataset, null, cancellationToken).ConfigureAwait(false);
        if (context.Output.Json)
        {
            var json = ToJson(overview);
            json["files"] = new JsonArray([.. files.Select(f => (JsonNode)new JsonObject { ["name"] = f.Name, ["bytes"] = f.Properties.ContentLength, ["lastModified"] = f.Properties.LastModified })]);
            json["allVersions"] = new JsonArray([.. versions.Select(v => CliOutput.ToNode(v.Manifest, PipelineJson.Default.DatasetManifest))]);
            context.Output.WriteJson(json);
            return ExitCode.Success;
        }

        var console = context.Output.Console;
        console.MarkupLine($"dataset [bold]{CliOutput.E(dataset)}[/]: {CliOutput.E(State(overview))}; model '{CliOutput.E(overview.Model)}' serves {CliOutput.E(overview.CurrentVersion ?? "nothing yet")}");
        var fileTable = new Table().AddColumns("raw file", "size", "uploaded");
        foreach (var file in files)
        {
            fileTable.AddRow(CliOutput.E(file.Name), Format.Bytes(file.Properties.ContentLength ?? 0), Format.Time(file.Properties.LastModified));
        }

        console.Write(fileTable);
        var versionTable = new Table().AddColumns("version", "built", "task", "target", "features", "rows used", "train/val/test", "warnings");
        foreach (var v in versions)
        {
            var m = v.Manifest;
            versionTable.AddRow(CliOutput.E(m.Version), Format.Time(v.WrittenAt), CliOutput.E(m.Task), CliOutput.E(m.Target), m.Features.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                m.Rows.Used.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), $"{m.Rows.Train}/{m.Rows.Validation}/{m.Rows.Test}", m.Warnings.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        console.Write(versionTable);
        if (overview.LastRejection is { } rejection)
        {
            console.MarkupLine("last rejection ('pipeline rejections' lists them all):");
            RejectionsCommand.Write(console, rejection);
        }

        if (overview.Run is { } run)
        {
            console.MarkupLine($"latest training run {CliOutput.E(run.RunId)} (dataset version {CliOutput.E(run.DatasetVersion)}): {CliOutput.E(Format.Progress(run))}{(run.Error is { } error ? $" — {CliOutput.E(error)}" : "")}");
        }

        return ExitCode.Success;
    }
}
