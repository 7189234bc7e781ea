using System.Diagnostics;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Telemetry;

namespace Pipeline.Scoring;

/// <summary>
/// Scores a file of container <c>score/{model}[@{version}]/{file}</c> into <c>predictions/{model}[@{version}]/{file}</c>
/// (the same path under <c>predictions</c>) and its report <c>….report.json</c> beside it — for the functions app's
/// <c>Score</c> (a BlobCreated event) and for the scoring job (a <see cref="ScoreJobRequest"/>), the same code. The
/// functions app scores files up to <see cref="ScoringOptions.MaxFileBytes"/> itself and hands larger ones to the job on
/// queue <c>score-jobs</c> (a <c>handed-to-job</c> report until the job replaces it). A file that cannot be scored as a
/// whole gets a failed report and no output (an older output of the same name is removed); storage failures throw, so
/// the host (or the job's consumer) retries the message.
/// </summary>
public sealed partial class ScoreHandler(BlobServiceClient blobs, QueueServiceClient queues, IOptions<ScoringOptions> options, TimeProvider time, ILogger<ScoreHandler> logger)
{
    private static readonly ActivitySource Source = new(PipelineTelemetry.Scoring);

    /// <summary>The functions app's entry: the report written, or null when the event is not about a file of container <c>score</c> (or the file is gone).</summary>
    public async Task<ScoringReport?> HandleAsync(BlobCreatedEvent blobEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobEvent);
        if (blobEvent.EventType != BlobCreatedEvent.EventTypeName || blobEvent.TryGetBlob() is not var (container, blobName) ||
            container != StorageNames.ScoreContainer || IsHidden(blobName))
        {
            LogIgnored(logger, blobEvent.Subject);
            return null;
        }

        return await RunAsync(blobName, ScoringHost.FunctionsApp, handedETag: null, parent: default, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The scoring job's entry: the report written, or null when the file is gone or was replaced by a newer upload since
    /// it was handed over (that upload has its own event).
    /// </summary>
    public async Task<ScoringReport?> HandleAsync(ScoreJobRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await RunAsync(request.Blob, ScoringHost.Job, request.ETag, TraceContext.Parse(request.TraceParent, request.TraceState), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records that the scoring job gave up on <paramref name="request"/> (its attempts crashed or ran out of memory, disk
    /// or time): a failed <c>job-failed</c> report replaces the <c>handed-to-job</c> one, and no output is left.
    /// </summary>
    public async Task WriteJobFailedAsync(ScoreJobRequest request, string error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!StorageNames.TryParseScoreBlob(request.Blob, out var model, out var version, out _) || !StorageNames.IsValidName(model) || IsHidden(request.Blob))
        {
            return;
        }

        var predictions = blobs.GetBlobContainerClient(StorageNames.PredictionsContainer);
        await predictions.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await RemoveStaleOutputAsync(predictions, request.Blob, cancellationToken).ConfigureAwait(false);
        var report = new ScoringReport
        {
            Status = ScoringStatus.Failed,
            Reason = ScoringFailure.JobFailed,
            Message = $"The scoring job could not score the file: {error} Split it into smaller files under score/{model}/ or upload it again to retry.",
            Model = model,
            Version = version,
            Input = $"{StorageNames.ScoreContainer}/{request.Blob}",
            ScoredBy = ScoringHost.Job,
            Bytes = request.Bytes,
            StartedAt = time.GetUtcNow(),
        };
        await BlobJson.WriteAsync(predictions.GetBlobClient(request.Blob + StorageNames.ScoringReportSuffix), report, PipelineJson.Default.ScoringReport, null, cancellationToken).ConfigureAwait(false);
        LogFailed(logger, request.Blob, ScoringFailure.JobFailed, error);
    }

    private async Task<ScoringReport?> RunAsync(string blobName, ScoringHost host, string? handedETag, ActivityContext parent, CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity("score", ActivityKind.Internal, parent);
        activity?.SetTag("pipeline.blob", blobName);
        activity?.SetTag("pipeline.scoring.host", host.ToString());
        var settings = options.Value;
        var started = time.GetTimestamp();
        var report = new ScoringReport { Input = $"{StorageNames.ScoreContainer}/{blobName}", StartedAt = time.GetUtcNow(), ScoredBy = host };
        var valid = StorageNames.TryParseScoreBlob(blobName, out var model, out var version, out _);
        report.Model = model;
        report.Version = version;
        var predictions = blobs.GetBlobContainerClient(StorageNames.PredictionsContainer);
        await predictions.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var work = Path.Combine(settings.WorkDirectory ?? Path.GetTempPath(), "pipeline-score", Guid.NewGuid().ToString("N"));
        try
        {
            if (!valid || !StorageNames.IsValidName(model) || (version is not null && !StorageNames.IsValidVersion(version)))
            {
                throw new ScoringException(ScoringFailure.InvalidPath,
                    $"'{blobName}' is not score/{{model}}/{{file}} or score/{{model}}@{{version}}/{{file}} with a model name of 1-63 lower-case letters, digits, '-' or '_' and a version of letters, digits, '.', '-' or '_'.");
            }

            var input = blobs.GetBlobContainerClient(StorageNames.ScoreContainer).GetBlobClient(blobName);
            BlobProperties properties;
            try
            {
                properties = (await input.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                LogGone(logger, blobName);
                return null;
            }

            if (handedETag is not null && properties.ETag.ToString() != handedETag)
            {
                LogSuperseded(logger, blobName);
                return null;
            }

            report.Bytes = properties.ContentLength;
            switch (settings.RouteOf(properties.ContentLength))
            {
                case ScoringRoute.TooLarge:
                    throw new ScoringException(ScoringFailure.TooLarge,
                        $"The file is {properties.ContentLength} bytes; batch scoring takes files up to {settings.MaxJobFileBytes} bytes (Scoring:MaxJobFileBytes). Split it into smaller files under score/{model}/.");
                case ScoringRoute.Job when host == ScoringHost.FunctionsApp:
                    await HandToJobAsync(predictions, blobName, properties, report, activity, cancellationToken).ConfigureAwait(false);
                    return report;
            }

            using var scoringModel = await ScoringModel.LoadAsync(blobs.GetBlobContainerClient(StorageNames.ModelsContainer), model, version, settings, cancellationToken).ConfigureAwait(false);
            report.Version = scoringModel.Version;
            Directory.CreateDirectory(work);
            var local = Path.Combine(work, "input");
            try
            {
                await input.DownloadToAsync(local, new BlobDownloadToOptions { Conditions = new BlobRequestConditions { IfMatch = properties.ETag } }, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (e.Status == 412 && host == ScoringHost.Job)
            {
                // Replaced while the job downloaded it: the newer upload is scored on its own event.
                LogSuperseded(logger, blobName);
                return null;
            }

            var outputPath = Path.Combine(work, "output");
            var fileName = blobName[OutputFolder(blobName).Length..];
            var scored = await new BatchScorer(settings).ScoreAsync(local, fileName, scoringModel, outputPath, report, cancellationToken).ConfigureAwait(false);
            var outputBlob = OutputFolder(blobName) + scored.OutputName;
            // One commit of the uploaded blocks: a crash before it leaves no partial output, and the report is written after it.
            await predictions.GetBlobClient(outputBlob).UploadAsync(outputPath, new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = ContentType(scored.OutputFormat) } }, cancellationToken).ConfigureAwait(false);
            report.Output = $"{StorageNames.PredictionsContainer}/{outputBlob}";
            report.Status = ScoringStatus.Succeeded;
            report.Message = report.Failed == 0
                ? $"Scored all {report.Scored} rows with model '{model}' version '{report.Version}'."
                : $"Scored {report.Scored} of {report.Rows} rows with model '{model}' version '{report.Version}'; {report.Failed} could not be scored and are left out of the output (see badRows).";
            LogScored(logger, blobName, report.Version!, report.Scored, report.Failed, host);
        }
        catch (ScoringException e)
        {
            report.Status = ScoringStatus.Failed;
            report.Reason = e.Reason;
            report.Message = e.Message;
            report.Output = null;
            await RemoveStaleOutputAsync(predictions, blobName, cancellationToken).ConfigureAwait(false);
            LogFailed(logger, blobName, e.Reason, e.Message);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }

        report.Seconds = Math.Round(time.GetElapsedTime(started).TotalSeconds, 3);
        await BlobJson.WriteAsync(predictions.GetBlobClient(blobName + StorageNames.ScoringReportSuffix), report, PipelineJson.Default.ScoringReport, null, cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>
    /// Hands a file too large for the functions app to the scoring job: the <c>handed-to-job</c> report is written first
    /// (so it can never overwrite the job's final report), an older output of the same name is removed, then the request
    /// is queued. A failure in between throws and the host retries the event; the job scores a request twice the same way.
    /// </summary>
    private async Task HandToJobAsync(BlobContainerClient predictions, string blobName, BlobProperties properties, ScoringReport report, Activity? activity, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        report.Status = ScoringStatus.HandedToJob;
        report.ScoredBy = ScoringHost.Job;
        report.Message = $"The file is {properties.ContentLength} bytes, more than the functions app scores ({settings.MaxFileBytes} bytes, Scoring:MaxFileBytes): it was handed to the scoring job (queue {settings.JobQueue}), which replaces this report when it is done.";
        await RemoveStaleOutputAsync(predictions, blobName, cancellationToken).ConfigureAwait(false);
        await BlobJson.WriteAsync(predictions.GetBlobClient(blobName + StorageNames.ScoringReportSuffix), report, PipelineJson.Default.ScoringReport, null, cancellationToken).ConfigureAwait(false);
        var context = activity ?? Activity.Current;
        var request = new ScoreJobRequest
        {
            Blob = blobName,
            Model = report.Model,
            Version = report.Version,
            ETag = properties.ETag.ToString(),
            Bytes = properties.ContentLength,
            RequestedAt = time.GetUtcNow(),
            TraceParent = TraceContext.TraceParent(context),
            TraceState = TraceContext.TraceState(context),
        };
        var body = JsonSerializer.Serialize(request, PipelineJson.Default.ScoreJobRequest);
        var queue = queues.GetQueueClient(settings.JobQueue);
        try
        {
            await queue.SendMessageAsync(body, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.ErrorCode == QueueErrorCode.QueueNotFound)
        {
            // Infra creates the queue in Azure; a fresh local storage account may not have it yet.
            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await queue.SendMessageAsync(body, cancellationToken).ConfigureAwait(false);
        }

        LogHandedToJob(logger, blobName, properties.ContentLength, settings.MaxFileBytes);
    }

    /// <summary>An output left by an earlier upload of the same name would be read as this file's: removed when this one fails.</summary>
    private static async Task RemoveStaleOutputAsync(BlobContainerClient predictions, string blobName, CancellationToken cancellationToken)
    {
        var folder = OutputFolder(blobName);
        var file = blobName[folder.Length..];
        // The output keeps the input's name, or takes a .parquet one (Scoring:OutputFormat, Parquet inputs).
        foreach (var name in new[] { file, BatchScorer.OutputOf(file, "csv", PredictionFormat.Parquet).Name })
        {
            await predictions.GetBlobClient(folder + name).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    private static string OutputFolder(string blobName) => blobName[..(blobName.LastIndexOf('/') + 1)];

    private static bool IsHidden(string blobName)
    {
        var name = blobName[(blobName.LastIndexOf('/') + 1)..];
        return name.StartsWith('.') || name.StartsWith('_');
    }

    private static string ContentType(string format) => format switch
    {
        "csv" => "text/csv",
        "jsonl" => "application/x-ndjson",
        "parquet" => "application/vnd.apache.parquet",
        _ => "application/gzip",
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Score ignored {Subject}: not a file of container score")]
    private static partial void LogIgnored(ILogger logger, string? subject);

    [LoggerMessage(Level = LogLevel.Information, Message = "Score: {Blob} no longer exists")]
    private static partial void LogGone(ILogger logger, string blob);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scored {Blob} with version {Version}: {Scored} rows, {Failed} not scored (in the {Host})")]
    private static partial void LogScored(ILogger logger, string blob, string version, long scored, long failed, ScoringHost host);

    [LoggerMessage(Level = LogLevel.Information, Message = "Score: {Blob} was replaced by a newer upload after it was handed to the job; that upload is scored on its own event")]
    private static partial void LogSuperseded(ILogger logger, string blob);

    [LoggerMessage(Level = LogLevel.Information, Message = "Score: {Blob} ({Bytes} bytes, above {MaxFileBytes}) handed to the scoring job")]
    private static partial void LogHandedToJob(ILogger logger, string blob, long bytes, long maxFileBytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Score failed for {Blob}: {Reason}: {Detail}")]
    private static partial void LogFailed(ILogger logger, string blob, ScoringFailure reason, string detail);
}
