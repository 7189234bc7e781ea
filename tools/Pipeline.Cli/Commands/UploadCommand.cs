using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs.Models;
using Pipeline.Cli.Following;
using Pipeline.Cli.Output;
using Pipeline.Contracts;
using Pipeline.Storage;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipeline upload &lt;file|folder&gt; [--dataset NAME]</c>: uploads to <c>raw/{dataset}/</c> with a progress bar, then
/// follows the dataset to a served model (<see cref="DatasetFollower"/>); exit 0 once the new version serves.
/// </summary>
public static class UploadCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    /// <summary>Files one upload takes from a folder (preprocessing builds a dataset from at most 1,000).</summary>
    public const int MaxFiles = 1000;

    public static Command Create(CliHost host)
    {
        var path = new Argument<FileSystemInfo>("path") { Description = "A data file (CSV/TSV, JSON Lines, Parquet, optionally .gz) or a folder of them (dataset.json included)." };
        var dataset = new Option<string?>("--dataset", "-d") { Description = "Dataset (and model) name; default: the file's or folder's name, lower-cased (Sales.2024.csv → sales-2024)." };
        var noFollow = new Option<bool>("--no-follow") { Description = "Upload only; do not wait for the model." };
        var timeout = new Option<TimeSpan>("--timeout")
        {
            Description = "How long to follow before giving up: 90s, 15m, 1h or hh:mm:ss (default 30m).",
            DefaultValueFactory = _ => DefaultTimeout,
            CustomParser = r => Durations.Parse(r),
        };
        var json = CliApp.JsonOption();
        var command = new Command("upload", "Upload a file or folder to raw/{dataset}/ and follow it until its model serves.") { path, dataset, noFollow, timeout, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), (context, token) =>
            RunAsync(context, parse.GetRequiredValue(path), parse.GetValue(dataset), !parse.GetValue(noFollow), parse.GetValue(timeout), token), cancellationToken));
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext context, FileSystemInfo path, string? datasetName, bool follow, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var local = LocalFiles(path);
        var dataset = datasetName ?? StorageNames.DatasetOfRootFile(path.Name);
        if (!StorageNames.IsValidName(dataset))
        {
            throw new CliException(ExitCode.Usage, datasetName is null
                ? $"'{path.Name}' does not make a dataset name; pass --dataset NAME (1-63 lower-case letters, digits, '-', '_')."
                : $"--dataset '{datasetName}' is not a dataset name: 1-63 lower-case letters, digits, '-' and '_', starting with a letter or digit.");
        }

        var output = context.Output;
        var store = context.Target.Store;
        var startedAt = context.Host.Time.GetUtcNow();
        if (!context.Target.Options.IsAzure)
        {
            // A fresh Azurite has no containers; in Azure the Bicep creates them and uploaders hold a role on raw only.
            await store.Raw.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        var uploaded = new List<UploadedFile>();
        if (output.Console.Profile.Capabilities.Interactive && !output.Json)
        {
            await output.Console.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    foreach (var file in local)
                    {
                        var task = progress.AddTask(OutputText(file.Name), maxValue: Math.Max(1, file.Length));
                        uploaded.Add(await UploadAsync(store, dataset, file, new Progress(task), cancellationToken).ConfigureAwait(false));
                        task.Value = task.MaxValue;
                    }
                }).ConfigureAwait(false);
        }
        else
        {
            foreach (var file in local)
            {
                var done = await UploadAsync(store, dataset, file, null, cancellationToken).ConfigureAwait(false);
                uploaded.Add(done);
                if (!output.Json)
                {
                    output.Console.MarkupLine($"uploaded [bold]{CliOutput.E(done.Blob)}[/] ({Format.Bytes(done.Bytes)})");
                }
            }
        }

        if (!follow)
        {
            if (output.Json)
            {
                output.WriteJson(Result(dataset, uploaded, null));
            }

            return ExitCode.Success;
        }

        var follower = new DatasetFollower(store, () => context.Target.Serving, context.Host.Time, context.Host.PollInterval);
        FollowResult result;
        if (output.Json)
        {
            result = await follower.FollowAsync(dataset, uploaded, startedAt, timeout, new SilentObserver(), cancellationToken).ConfigureAwait(false);
        }
        else if (output.Console.Profile.Capabilities.Interactive)
        {
            result = await output.Console.Status().StartAsync($"following dataset {dataset}", status =>
                follower.FollowAsync(dataset, uploaded, startedAt, timeout, new ConsoleObserver(output.Console, status), cancellationToken)).ConfigureAwait(false);
        }
        else
        {
            result = await follower.FollowAsync(dataset, uploaded, startedAt, timeout, new ConsoleObserver(output.Console, null), cancellationToken).ConfigureAwait(false);
        }

        var code = result.Outcome switch
        {
            FollowOutcome.Served => ExitCode.Success,
            FollowOutcome.TimedOut => ExitCode.TimedOut,
            _ => ExitCode.Failed,
        };
        if (output.Json)
        {
            output.WriteJson(Result(dataset, uploaded, result));
        }
        else if (result.Outcome == FollowOutcome.Served)
        {
            output.Console.MarkupLine($"[green]served[/]: model [bold]{CliOutput.E(result.Model)}[/] version [bold]{CliOutput.E(result.ModelVersion)}[/] answers predictions");
        }
        else
        {
            if (result.Rejection is { } rejection)
            {
                RejectionsCommand.Write(output.Console, rejection);
            }

            var hint = result.Outcome == FollowOutcome.NotPromoted ? $" To serve it anyway: pipeline promote {result.Model} {result.ModelVersion}" : "";
            CliApp.WriteError(output, new CliException(code, $"{Outcome(result.Outcome)}: {result.Reason}.{hint}"));
        }

        return code;
    }

    private static string Outcome(FollowOutcome outcome) => outcome switch
    {
        FollowOutcome.Rejected => "rejected",
        FollowOutcome.TrainingFailed => "training failed",
        FollowOutcome.NotPromoted => "not promoted",
        FollowOutcome.TimedOut => "timed out",
        _ => "served",
    };

    private static JsonObject Result(string dataset, List<UploadedFile> files, FollowResult? result) => new()
    {
        ["dataset"] = dataset,
        ["files"] = new JsonArray([.. files.Select(f => (JsonNode)new JsonObject { ["blob"] = f.Blob, ["bytes"] = f.Bytes, ["sha256"] = f.Sha256 })]),
        ["outcome"] = result is null ? "uploaded" : Outcome(result.Outcome).Replace(' ', '-'),
        ["reason"] = result?.Reason,
        ["datasetVersion"] = result?.DatasetVersion,
        ["model"] = result?.Model,
        ["modelVersion"] = result?.ModelVersion,
        ["rejection"] = result?.Rejection is { } r ? CliOutput.ToNode(r, PipelineJson.Default.RejectionReport) : null,
        ["run"] = CliOutput.ToNode(result?.Run),
        ["promotion"] = result?.Manifest?.Promotion is { } p ? new JsonObject { ["promoted"] = p.Promoted, ["reason"] = p.Reason } : null,
        ["quantization"] = result?.Manifest?.Quantization is { } q ? new JsonObject { ["served"] = q.Served, ["reason"] = q.Reason } : null,
    };

    /// <summary>The files to upload: the one file, or a folder's files (not its subfolders; hidden files skipped).</summary>
    private static List<FileInfo> LocalFiles(FileSystemInfo path)
    {
        if (path is DirectoryInfo folder && folder.Exists)
        {
            var files = folder.EnumerateFiles().Where(f => !f.Name.StartsWith('.')).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            return files.Count switch
            {
                0 => throw new CliException(ExitCode.Usage, $"The folder '{folder.FullName}' has no files to upload."),
                > MaxFiles => throw new CliException(ExitCode.Usage, $"The folder '{folder.FullName}' has {files.Count} files; a dataset is made of at most {MaxFiles}. Combine them into fewer files."),
                _ => files,
            };
        }

        if (path is FileInfo file && file.Exists)
        {
            return [file];
        }

        // The argument's type is decided by the parser without looking at the disk: look again.
        if (Directory.Exists(path.FullName))
        {
            return LocalFiles(new DirectoryInfo(path.FullName));
        }

        return File.Exists(path.FullName)
            ? [new FileInfo(path.FullName)]
            : throw new CliException(ExitCode.Usage, $"No such file or folder: '{path.FullName}'.");
    }

    private static async Task<UploadedFile> UploadAsync(Target.PipelineStore store, string dataset, FileInfo file, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCode.Usage, $"Cannot read '{file.FullName}': {e.Message}", e);
        }

        await using (stream.ConfigureAwait(false))
        {
            var sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
            stream.Position = 0;
            var name = StorageNames.RawFilePath(dataset, file.Name);
            await store.Raw.GetBlobClient(name).UploadAsync(stream, new BlobUploadOptions { ProgressHandler = progress }, cancellationToken).ConfigureAwait(false);
            return new UploadedFile($"{StorageNames.RawContainer}/{name}", sha, stream.Length);
        }
    }

    private static string OutputText(string text) => CliOutput.E(text);

    private sealed class Progress(ProgressTask task) : IProgress<long>
    {
        public void Report(long value) => task.Value = value;
    }

    private sealed class SilentObserver : IFollowObserver
    {
        public void Pending(DateTimeOffset since) { }

        public void FileRejected(RejectionReport report) { }

        public void Accepted(DatasetManifest manifest, ValidationReport? report) { }

        public void Queued(string model) { }

        public void Training(RunStatus run) { }

        public void Published(ModelManifest manifest) { }

        public void WaitingForServing(string model, string version, string? servedVersion) { }
    }

    /// <summary>Milestones as lines; training progress as a line per stage or trial, and on a terminal as a live status line too.</summary>
    private sealed class ConsoleObserver(IAnsiConsole console, StatusContext? status) : IFollowObserver
    {
        private string? _lastStep;
        private bool _waitingShown;

        public void Pending(DateTimeOffset since)
        {
            console.MarkupLine($"pending: a build is scheduled (since {Format.Time(since)}); it starts once the dataset's files stop changing");
            status?.Status("waiting for the upload burst to settle");
        }

        public void FileRejected(RejectionReport report) =>
            console.MarkupLine($"[yellow]left out[/]: {CliOutput.E(report.Blob)} — {CliOutput.E(report.Reason)}: {CliOutput.E(report.Message)}{(report.Line is { } line ? $" (line {line})" : "")}");

        public void Accepted(DatasetManifest manifest, ValidationReport? report)
        {
            var rows = manifest.Rows;
            console.MarkupLine($"[green]accepted[/]: dataset [bold]{CliOutput.E(manifest.Dataset)}[/] version [bold]{CliOutput.E(manifest.Version)}[/] — {manifest.Task}, target '{CliOutput.E(manifest.Target)}', " +
                $"{manifest.Features.Count} features from {manifest.Encodings.Count} columns; rows {rows.Used:N0} used of {rows.Read:N0} read (train {rows.Train:N0}, validation {rows.Validation:N0}, test {rows.Test:N0})");
            foreach (var excluded in manifest.ExcludedColumns)
            {
                console.MarkupLine($"  column '{CliOutput.E(excluded.Name)}' left out: {CliOutput.E(excluded.Reason)}");
            }

            foreach (var dropped in report?.Dropped ?? [])
            {
                var first = dropped.Examples.FirstOrDefault();
                console.MarkupLine($"  dropped {dropped.Count:N0} rows ({CliOutput.E(dropped.Reason)}){(first is null ? "" : $", first at {CliOutput.E(first.Blob)} line {first.Line}")}");
            }

            foreach (var warning in manifest.Warnings)
            {
                console.MarkupLine($"  [yellow]warning[/]: {CliOutput.E(warning)}");
            }

            status?.Status($"waiting for model {manifest.Model} to start training");
        }

        public void Queued(string model) => console.MarkupLine($"queued: waiting for a trainer to pick up model '{CliOutput.E(model)}'");

        public void Training(RunStatus run)
        {
            var step = $"{run.State}/{run.Stage}/{run.Trial}/{run.Attempt}";
            if (step != _lastStep)
            {
                _lastStep = step;
                console.MarkupLine($"training: {CliOutput.E(Format.Progress(run))}");
            }

            status?.Status($"training {run.Model}: {CliOutput.E(Format.Progress(run))}");
        }

        public void Published(ModelManifest manifest)
        {
            var gate = manifest.Quantization is { } q ? $"; gate served {q.Served}: {q.Reason}" : "";
            console.MarkupLine($"published: model [bold]{CliOutput.E(manifest.Model)}[/] version [bold]{CliOutput.E(manifest.Version)}[/] ({CliOutput.E(manifest.Training.Family?.Name())}), test {CliOutput.E(Format.Metrics(manifest.TestMetrics))}{CliOutput.E(gate)}");
            if (manifest.Promotion is { } p)
            {
                console.MarkupLine($"{(p.Promoted ? "[green]promoted[/]" : "[yellow]not promoted[/]")}: {CliOutput.E(p.Reason)}");
            }

            status?.Status("waiting for the serving app to switch to the new version");
        }

        public void WaitingForServing(string model, string version, string? servedVersion)
        {
            if (!_waitingShown)
            {
                _waitingShown = true;
                console.MarkupLine($"serving: waiting for the serving app to switch model '{CliOutput.E(model)}' to {CliOutput.E(version)} (now {CliOutput.E(servedVersion ?? "not serving it")})");
            }
        }
    }
}
