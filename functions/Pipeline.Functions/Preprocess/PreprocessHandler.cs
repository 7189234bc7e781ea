using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Functions.Preprocess;

/// <summary>What one BlobCreated event led to.</summary>
public enum PreprocessResult
{
    /// <summary>A new dataset version was written; a training request is returned.</summary>
    Accepted,

    /// <summary>The same content was processed before: no new version, no training.</summary>
    Duplicate,

    /// <summary>The upload cannot become a dataset; a rejection report was written.</summary>
    Rejected,

    /// <summary>The event is not about a data file in <c>raw</c> (or the blob is gone); nothing to do.</summary>
    Ignored,
}

public sealed record PreprocessOutcome(PreprocessResult Result, TrainRequest? TrainRequest = null, string? ReportPath = null, string? Detail = null);

/// <summary>
/// The <c>Preprocess</c> function: streams the uploaded blob, validates and cleans it, writes a dataset version
/// (or a rejection report) and returns the training request for the queue output binding.
/// </summary>
public sealed partial class PreprocessHandler(
    BlobServiceClient blobs,
    DatasetStore store,
    IOptions<PreprocessOptions> options,
    TimeProvider time,
    ILogger<PreprocessHandler> logger)
{
    public async Task<PreprocessOutcome> HandleAsync(BlobCreatedEvent blobEvent, CancellationToken cancellationToken)
    {
        if (blobEvent.EventType != BlobCreatedEvent.EventTypeName || blobEvent.TryGetBlob() is not var (container, blobName) ||
            container != StorageNames.RawContainer)
        {
            LogIgnored(logger, blobEvent.EventType, blobEvent.Subject);
            return new PreprocessOutcome(PreprocessResult.Ignored, Detail: "not a BlobCreated event for container raw");
        }

        var (dataset, fileName) = SplitPath(blobName);
        var raw = blobs.GetBlobContainerClient(StorageNames.RawContainer);
        if (fileName.Equals(StorageNames.DatasetSpecFile, StringComparison.OrdinalIgnoreCase))
        {
            // A changed spec re-processes the dataset's newest data file.
            var latest = await FindLatestDataFileAsync(raw, dataset, cancellationToken).ConfigureAwait(false);
            if (latest is null)
            {
                return new PreprocessOutcome(PreprocessResult.Ignored, Detail: "dataset.json without a data file yet");
            }

            blobName = latest;
            fileName = Path.GetFileName(latest);
        }

        if (!StorageNames.IsValidName(dataset))
        {
            return await RejectAsync(SanitizeName(dataset), blobName, null, new DatasetRejectedException("invalid-dataset-name",
                $"'{dataset}' is not a valid dataset name: use 1-63 lower-case letters, digits, '-' or '_' (raw/{{dataset}}/{{file}})."), cancellationToken).ConfigureAwait(false);
        }

        if (!fileName.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            return await RejectAsync(dataset, blobName, null, new DatasetRejectedException("unsupported-format",
                $"'{fileName}' is not a .csv file; upload CSV files with a header row."), cancellationToken).ConfigureAwait(false);
        }

        DatasetSpec? spec;
        byte[] specBytes;
        try
        {
            (spec, specBytes) = await ReadSpecAsync(raw, dataset, cancellationToken).ConfigureAwait(false);
        }
        catch (DatasetRejectedException e)
        {
            return await RejectAsync(dataset, blobName, null, e, cancellationToken).ConfigureAwait(false);
        }

        var blob = raw.GetBlobClient(blobName);
        HashingReadStream content;
        try
        {
            content = new HashingReadStream(await blob.OpenReadAsync(new Azure.Storage.Blobs.Models.BlobOpenReadOptions(allowModifications: false), cancellationToken).ConfigureAwait(false));
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            LogBlobGone(logger, blobName);
            return new PreprocessOutcome(PreprocessResult.Ignored, Detail: "blob no longer exists");
        }

        await using (content.ConfigureAwait(false))
        {
            PreparedDataset prepared;
            try
            {
                prepared = await new CsvDatasetBuilder(options.Value).BuildAsync(content, spec, cancellationToken).ConfigureAwait(false);
            }
            catch (DatasetRejectedException e)
            {
                return await RejectAsync(dataset, blobName, null, e, cancellationToken).ConfigureAwait(false);
            }

            var sha = await content.FinishAsync(cancellationToken).ConfigureAwait(false);
            var version = DatasetVersion(sha, specBytes);
            if (await store.VersionExistsAsync(dataset, version, cancellationToken).ConfigureAwait(false))
            {
                LogDuplicate(logger, blobName, dataset, version);
                return new PreprocessOutcome(PreprocessResult.Duplicate, Detail: $"dataset version {version} exists");
            }

            var model = spec?.Model is { } m && StorageNames.IsValidName(m) ? m : dataset;
            var manifest = new DatasetManifest
            {
                Dataset = dataset,
                Version = version,
                CreatedAt = time.GetUtcNow(),
                Sources = [new SourceFile { Blob = $"{StorageNames.RawContainer}/{blobName}", Sha256 = sha, Bytes = content.BytesRead }],
                Task = prepared.Task,
                Target = prepared.Target,
                Model = model,
                Features = prepared.Features,
                Labels = prepared.Labels,
                TargetStats = prepared.TargetStats,
                ExcludedColumns = prepared.ExcludedColumns,
                Rows = prepared.Rows,
                Warnings = prepared.Warnings,
                ForcePromotion = spec?.ForcePromotion ?? false,
            };
            await store.WriteVersionAsync(manifest, prepared, cancellationToken).ConfigureAwait(false);
            LogAccepted(logger, blobName, dataset, version, prepared.Rows.Used, prepared.Features.Count, prepared.Task);
            return new PreprocessOutcome(PreprocessResult.Accepted, new TrainRequest
            {
                Dataset = dataset,
                DatasetVersion = version,
                Model = model,
                RequestedAt = time.GetUtcNow(),
            });
        }
    }

    /// <summary>Version = hash of the data bytes and the spec bytes: the same upload never makes a second version.</summary>
    public static string DatasetVersion(string dataSha256, byte[] specBytes)
    {
        var combined = SHA256.HashData([.. Encoding.ASCII.GetBytes(dataSha256), .. SHA256.HashData(specBytes)]);
        return Convert.ToHexStringLower(combined)[..16];
    }

    private async Task<PreprocessOutcome> RejectAsync(string dataset, string blobName, string? sha, DatasetRejectedException reason, CancellationToken cancellationToken)
    {
        var report = new RejectionReport
        {
            Dataset = dataset,
            Blob = $"{StorageNames.RawContainer}/{blobName}",
            Sha256 = sha,
            RejectedAt = time.GetUtcNow(),
            Reason = reason.Reason,
            Message = reason.Message,
            Line = reason.Line,
        };
        var path = await store.WriteRejectionAsync(report, cancellationToken).ConfigureAwait(false);
        LogRejected(logger, blobName, reason.Reason, reason.Message, path);
        return new PreprocessOutcome(PreprocessResult.Rejected, ReportPath: path, Detail: reason.Message);
    }

    private static (string Dataset, string File) SplitPath(string blobName)
    {
        var slash = blobName.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            // raw/mydata.csv: the file name (without extension) names the dataset.
            var name = blobName.Split('.')[0];
            return (name, blobName);
        }

        return (blobName[..slash], blobName[(blobName.LastIndexOf('/') + 1)..]);
    }

    private static string SanitizeName(string name)
    {
        var clean = new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray()).Trim('-');
        return clean.Length == 0 ? "invalid" : clean[..Math.Min(clean.Length, 63)];
    }

    private static async Task<(DatasetSpec? Spec, byte[] Bytes)> ReadSpecAsync(BlobContainerClient raw, string dataset, CancellationToken cancellationToken)
    {
        try
        {
            var result = await raw.GetBlobClient($"{dataset}/{StorageNames.DatasetSpecFile}").DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            var bytes = result.Value.Content.ToArray();
            try
            {
                return (JsonSerializer.Deserialize(bytes, PipelineJson.Default.DatasetSpec), bytes);
            }
            catch (JsonException e)
            {
                throw new DatasetRejectedException("invalid-spec", $"raw/{dataset}/dataset.json is not valid JSON: {e.Message}");
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return (null, []);
        }
    }

    private static async Task<string?> FindLatestDataFileAsync(BlobContainerClient raw, string dataset, CancellationToken cancellationToken)
    {
        string? latest = null;
        DateTimeOffset latestTime = default;
        await foreach (var item in raw.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = dataset + "/" }, cancellationToken).ConfigureAwait(false))
        {
            if (item.Name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && item.Properties.LastModified is { } modified && modified >= latestTime)
            {
                latest = item.Name;
                latestTime = modified;
            }
        }

        return latest;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ignored event {EventType} for {Subject}")]
    private static partial void LogIgnored(ILogger logger, string eventType, string subject);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Blob {Blob} no longer exists; nothing to preprocess")]
    private static partial void LogBlobGone(ILogger logger, string blob);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Blob} is dataset {Dataset} version {Version}, processed before; no training requested")]
    private static partial void LogDuplicate(ILogger logger, string blob, string dataset, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Blob} accepted as dataset {Dataset} version {Version}: {Rows} rows, {Features} features, {Task}")]
    private static partial void LogAccepted(ILogger logger, string blob, string dataset, string version, int rows, int features, string task);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Blob {Blob} rejected ({Reason}): {Detail}. Report: {ReportPath}")]
    private static partial void LogRejected(ILogger logger, string blob, string reason, string detail, string reportPath);
}
