using System.Text.Json.Nodes;
using Pipeline.Cli.Target;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Cli.Following;

/// <summary>A file the tool uploaded: <c>raw/{dataset}/{file}</c> as preprocessing names it, and its SHA-256 (lower-case hex).</summary>
public sealed record UploadedFile(string Blob, string Sha256, long Bytes);

/// <summary>How following an upload ended.</summary>
public enum FollowOutcome
{
    /// <summary>The model version trained from the upload answers predictions.</summary>
    Served,
    Rejected,
    TrainingFailed,
    NotPromoted,
    TimedOut,
}

/// <summary>What following found: the outcome, and as far as it got, the dataset version, model and model version.</summary>
public sealed class FollowResult
{
    public FollowOutcome Outcome { get; set; }

    public string Dataset { get; set; } = "";

    public string? DatasetVersion { get; set; }

    public string? Model { get; set; }

    public string? ModelVersion { get; set; }

    /// <summary>Why it did not end served, in a sentence.</summary>
    public string? Reason { get; set; }

    /// <summary>The rejection, when rejected.</summary>
    public RejectionReport? Rejection { get; set; }

    /// <summary>The last run status seen of the training.</summary>
    public RunStatus? Run { get; set; }

    public ModelManifest? Manifest { get; set; }
}

/// <summary>What the follower reports as it goes; the upload command prints it.</summary>
public interface IFollowObserver
{
    void Pending(DateTimeOffset since);

    /// <summary>One of the uploaded files was left out of the dataset (the others may still make a version).</summary>
    void FileRejected(RejectionReport report);

    void Accepted(DatasetManifest manifest, ValidationReport? report);

    void Queued(string model);

    void Training(RunStatus run);

    void Published(ModelManifest manifest);

    void WaitingForServing(string model, string version, string? servedVersion);
}

/// <summary>
/// Follows uploaded files through the pipeline by reading what each stage writes (README, "Storage contract"):
/// <c>datasets/{dataset}/pending.json</c> while a burst settles; a rejection report naming one of the files, or the
/// dataset version whose manifest lists every file with the same SHA-256 (a re-upload of the same bytes finds the version
/// it made before); <c>runs/latest/{model}.json</c> while that version trains; the model version's manifest for the gate
/// and promotion; then a smoke prediction through the serving app until it answers with the new version.
/// </summary>
public sealed class DatasetFollower(PipelineStore store, Func<ServingClient> serving, TimeProvider time, TimeSpan pollInterval)
{
    /// <summary>How far back a rejection report may be dated and still be about this upload (clock skew between this machine and storage).</summary>
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(30);

    private enum Phase
    {
        Preprocessing,
        Training,
        Published,
        Serving,
    }

    public async Task<FollowResult> FollowAsync(string dataset, IReadOnlyList<UploadedFile> files, DateTimeOffset uploadedAt, TimeSpan timeout, IFollowObserver observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(observer);
        var result = new FollowResult { Dataset = dataset };
        var deadline = time.GetUtcNow() + timeout;
        var manifests = new Dictionary<string, DatasetManifest>(StringComparer.Ordinal);
        var rejected = new Dictionary<string, RejectionReport>(StringComparer.Ordinal);
        var phase = Phase.Preprocessing;
        var pendingShown = false;
        var queuedShown = false;
        DatasetManifest? accepted = null;
        while (true)
        {
            switch (phase)
            {
                case Phase.Preprocessing:
                    foreach (var entry in await store.ListRejectionsAsync(dataset, uploadedAt - Skew, cancellationToken).ConfigureAwait(false))
                    {
                        var report = entry.Report;
                        if (files.FirstOrDefault(f => f.Blob == report.Blob && (report.Sha256 is null || report.Sha256 == f.Sha256)) is { } file && !rejected.ContainsKey(file.Blob))
                        {
                            rejected[file.Blob] = report;
                            // A report with the validation so far is the build failing; without, one file left out of it.
                            if (report.Validation is not null || rejected.Count == files.Count)
                            {
                                result.Outcome = FollowOutcome.Rejected;
                                result.Rejection = report;
                                result.Reason = $"{report.Reason}: {report.Message}" + (report.Line is { } line ? $" (line {line})" : "");
                                return result;
                            }

                            observer.FileRejected(report);
                        }
                    }

                    var versions = await store.ListDatasetVersionsAsync(dataset, manifests, cancellationToken).ConfigureAwait(false);
                    accepted = versions.Select(v => v.Manifest).FirstOrDefault(m => files.All(f =>
                        rejected.ContainsKey(f.Blob) || m.Sources.Any(s => s.Blob == f.Blob && s.Sha256 == f.Sha256)));
                    if (accepted is not null)
                    {
                        result.DatasetVersion = accepted.Version;
                        result.Model = accepted.Model;
                        observer.Accepted(accepted, await store.ReadValidationReportAsync(dataset, accepted.Version, cancellationToken).ConfigureAwait(false));
                        phase = Phase.Training;
                        continue;
                    }

                    if (!pendingShown && await store.PendingSinceAsync(dataset, cancellationToken).ConfigureAwait(false) is { } since)
                    {
                        pendingShown = true;
                        observer.Pending(since);
                    }

                    break;

                case Phase.Training:
                    var model = accepted!.Model;
                    var run = await store.ReadLatestRunAsync(model, cancellationToken).ConfigureAwait(false);
                    if (run is not null && run.DatasetVersion == accepted.Version)
                    {
                        result.Run = run;
                        observer.Training(run);
                        if (run.State == RunStates.Failed)
                        {
                            result.Outcome = FollowOutcome.TrainingFailed;
                            result.Reason = run.Error ?? "the training run failed";
                            return result;
                        }

                        if (run is { State: RunStates.Succeeded, ModelVersion: { } trained })
                        {
                            result.ModelVersion = trained;
                            phase = Phase.Published;
                            continue;
                        }
                    }
                    else if (await store.ReadCurrentVersionAsync(model, cancellationToken).ConfigureAwait(false) is { } current
                        && (await store.ReadModelManifestAsync(model, current, cancellationToken).ConfigureAwait(false))?.DatasetVersion == accepted.Version)
                    {
                        // Trained before (the same bytes uploaded again): the served version already comes from this dataset version.
                        result.ModelVersion = current;
                        phase = Phase.Published;
                        continue;
                    }
                    else if (!queuedShown)
                    {
                        queuedShown = true;
                        observer.Queued(model);
                    }

                    break;

                case Phase.Published:
                    var manifest = await store.ReadModelManifestAsync(result.Model!, result.ModelVersion!, cancellationToken).ConfigureAwait(false);
                    if (manifest is null)
                    {
                        break;
                    }

                    result.Manifest = manifest;
                    observer.Published(manifest);
                    if (manifest.Promotion is { Promoted: false } promotion
                        && await store.ReadCurrentVersionAsync(result.Model!, cancellationToken).ConfigureAwait(false) != manifest.Version)
                    {
                        result.Outcome = FollowOutcome.NotPromoted;
                        result.Reason = $"version {manifest.Version} was not promoted: {promotion.Reason}";
                        return result;
                    }

                    phase = Phase.Serving;
                    continue;

                case Phase.Serving:
                    var served = await SmokePredictAsync(result.Manifest!, cancellationToken).ConfigureAwait(false);
                    if (served == result.ModelVersion)
                    {
                        result.Outcome = FollowOutcome.Served;
                        return result;
                    }

                    observer.WaitingForServing(result.Model!, result.ModelVersion!, served);
                    break;
            }

            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                result.Outcome = FollowOutcome.TimedOut;
                result.Reason = $"still {Describe(phase, result)} after {timeout.TotalSeconds:0} s";
                return result;
            }

            await Task.Delay(left < pollInterval ? left : pollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Predicts one row of missing values (each imputed as in training) without naming a version: the version in the answer
    /// is the one the serving app serves by default. Null while the app does not know the model or cannot serve it yet.
    /// </summary>
    private async Task<string?> SmokePredictAsync(ModelManifest manifest, CancellationToken cancellationToken)
    {
        var row = new JsonObject();
        if (manifest.Encodings.Count > 0)
        {
            foreach (var encoding in manifest.Encodings)
            {
                row[encoding.Column] = null;
            }
        }
        else
        {
            foreach (var feature in manifest.Features)
            {
                row[feature] = 0;
            }
        }

        try
        {
            var answer = await serving().PostAsync($"api/models/{manifest.Model}/predict", new JsonObject { ["rows"] = new JsonArray(row) }, admin: false, cancellationToken).ConfigureAwait(false);
            return (string?)answer["version"];
        }
        catch (CliException e) when (e.Code is ExitCode.NotFound or ExitCode.Failed)
        {
            // Not known to the serving app yet (404), or not servable yet (503 after its Retry-After): ask again.
            return null;
        }
    }

    private static string Describe(Phase phase, FollowResult result) => phase switch
    {
        Phase.Preprocessing => $"waiting for dataset '{result.Dataset}' to be preprocessed",
        Phase.Training => result.Run is { } run ? $"training model '{result.Model}' ({run.State} {run.Stage})" : $"waiting for model '{result.Model}' to start training",
        Phase.Published => $"waiting for model '{result.Model}' version {result.ModelVersion} to be published",
        _ => $"waiting for the serving app to serve model '{result.Model}' version {result.ModelVersion}",
    };
}
