using System.Diagnostics;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Scoring;

/// <summary>
/// The <c>Score</c> function: a BlobCreated event for <c>score/{model}[@{version}]/{file}</c> becomes
/// <c>predictions/{model}[@{version}]/{file}</c> (the same path under <c>predictions</c>) and its report
/// <c>….report.json</c> beside it. A file that cannot be scored as a whole gets a failed report and no output (an older
/// output of the same name is removed); storage failures throw, so the host retries the message.
/// </summary>
public sealed partial class ScoreHandler(BlobServiceClient blobs, IOptions<ScoringOptions> options, TimeProvider time, ILogger<ScoreHandler> logger)
{
    /// <summary>The report written, or null when the event is not about a file of container <c>score</c> (or the file is gone).</summary>
    public async Task<ScoringReport?> HandleAsync(BlobCreatedEvent blobEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobEvent);
        if (blobEvent.EventType != BlobCreatedEvent.EventTypeName || blobEvent.TryGetBlob() is not var (container, blobName) ||
            container != StorageNames.ScoreContainer || IsHidden(blobName))
        {
            LogIgnored(logger, blobEvent.Subject);
            return null;
        }

        var settings = options.Value;
        var started = time.GetTimestamp();
        var report = new ScoringReport { Input = $"{StorageNames.ScoreContainer}/{blobName}", StartedAt = time.GetUtcNow() };
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

            if (properties.ContentLength > settings.MaxFileBytes)
            {
                throw new ScoringException(ScoringFailure.TooLarge,
                    $"The file is {properties.ContentLength} bytes; the functions app scores files up to {settings.MaxFileBytes} bytes (Scoring:MaxFileBytes). Split it into smaller files under score/{model}/.");
            }

            using var scoringModel = await ScoringModel.LoadAsync(blobs.GetBlobContainerClient(StorageNames.ModelsContainer), model, version, settings, cancellationToken).ConfigureAwait(false);
            report.Version = scoringModel.Version;
            Directory.CreateDirectory(work);
            var local = Path.Combine(work, "input");
            await input.DownloadToAsync(local, new BlobDownloadToOptions { Conditions = new BlobRequestConditions { IfMatch = properties.ETag } }, cancellationToken).ConfigureAwait(false);
            var outputPath = Path.Combine(work, "output");
            var fileName = blobName[OutputFolder(blobName).Length..];
            var scored = await new BatchScorer(settings).ScoreAsync(local, fileName, scoringModel, outputPath, report, cancellationToken).ConfigureAwait(false);
            var outputBlob = OutputFolder(blobName) + scored.OutputName;
            await predictions.GetBlobClient(outputBlob).UploadAsync(outputPath, new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = ContentType(scored.OutputFormat) } }, cancellationToken).ConfigureAwait(false);
            report.Output = $"{StorageNames.PredictionsContainer}/{outputBlob}";
            report.Status = ScoringStatus.Succeeded;
            report.Message = report.Failed == 0
                ? $"Scored all {report.Scored} rows with model '{model}' version '{report.Version}'."
                : $"Scored {report.Scored} of {report.Rows} rows with model '{model}' version '{report.Version}'; {report.Failed} could not be scored and are left out of the output (see badRows).";
            LogScored(logger, blobName, report.Version!, report.Scored, report.Failed);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Scored {Blob} with version {Version}: {Scored} rows, {Failed} not scored")]
    private static partial void LogScored(ILogger logger, string blob, string version, long scored, long failed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Score failed for {Blob}: {Reason}: {Detail}")]
    private static partial void LogFailed(ILogger logger, string blob, ScoringFailure reason, string detail);
}
