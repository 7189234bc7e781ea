using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Telemetry;

namespace Pipeline.Preprocessing;

/// <summary>What one BlobCreated event led to.</summary>
public enum PreprocessResult
{
    /// <summary>A new dataset version was written; a training request is returned.</summary>
    Accepted,

    /// <summary>The same files were processed before: no new version, no training.</summary>
    Duplicate,

    /// <summary>The dataset cannot become a version; a rejection report was written.</summary>
    Rejected,

    /// <summary>The event is not about a data file in <c>raw</c> (or the blob is gone); nothing to do.</summary>
    Ignored,

    /// <summary>Files of the dataset changed moments ago: the build waits for the burst to end (a delayed copy of the event is queued).</summary>
    Deferred,
}

public sealed record PreprocessOutcome(PreprocessResult Result, TrainRequest? TrainRequest = null, string? ReportPath = null, string? Detail = null);

/// <summary>
/// The <c>Preprocess</c> function: on a change under <c>raw/{dataset}/</c> it waits for the dataset's files to settle
/// (<see cref="DatasetDebouncer"/>), downloads every current file, builds a dataset version from all of them
/// (<see cref="DatasetBuilder"/>), writes it with its validation report, or a rejection report, and returns the training
/// request for the queue output binding.
/// </summary>
public sealed partial class PreprocessHandler(
    BlobServiceClient blobs,
    DatasetStore store,
    DatasetDebouncer debouncer,
    IOptions<PreprocessOptions> options,
    TimeProvider time,
    ILogger<PreprocessHandler> logger)
{
    /// <summary>At most this many data files make a dataset version.</summary>
    public const int MaxFiles = 1000;

    public async Task<PreprocessOutcome> HandleAsync(BlobCreatedEvent blobEvent, CancellationToken cancellationToken)
    {
        using var activity = PreprocessingTelemetry.StartHandling(blobEvent);
        var started = time.GetTimestamp();
        try
        {
            var outcome = await HandleAsync(blobEvent, activity, cancellationToken).ConfigureAwait(false);
            PreprocessingTelemetry.Finished(activity, outcome, time.GetElapsedTime(started).TotalSeconds);
            return outcome;
        }
        catch (Exception e)
        {
            PreprocessingTelemetry.Failed(activity, e);
            throw;
        }
    }

    private async Task<PreprocessOutcome> HandleAsync(BlobCreatedEvent blobEvent, Activity? activity, CancellationToken cancellationToken)
    {
        if (blobEvent.EventType != BlobCreatedEvent.EventTypeName || blobEvent.TryGetBlob() is not var (container, blobName) ||
            container != StorageNames.RawContainer)
        {
            LogIgnored(logger, blobEvent.EventType, blobEvent.Subject);
            return new PreprocessOutcome(PreprocessResult.Ignored, Detail: "not a BlobCreated event for container raw");
        }

        var (dataset, fileName) = SplitPath(blobName);
        if (!StorageNames.IsValidName(dataset))
        {
            return await RejectAsync(SanitizeName(dataset), blobName, new DatasetRejectedException("invalid-dataset-name",
                $"'{dataset}' is not a valid dataset name: use 1-63 lower-case letters, digits, '-' or '_' (raw/{{dataset}}/{{file}})."), cancellationToken).ConfigureAwait(false);
        }

        if (IsHidden(fileName))
        {
            return new PreprocessOutcome(PreprocessResult.Ignored, Detail: "hidden file");
        }

        var raw = blobs.GetBlobContainerClient(StorageNames.RawContainer);
        var rooted = !blobName.Contains('/', StringComparison.Ordinal);
        var listing = await ListFilesAsync(raw, dataset, rooted, cancellationToken).ConfigureAwait(false);
        if (listing.Files.Count == 0)
        {
            LogBlobGone(logger, blobName);
            return new PreprocessOutcome(PreprocessResult.Ignored, Detail: "no data file in the dataset");
        }

        activity?.SetTag("pipeline.dataset", dataset);
        // A delayed copy of this event continues this trace.
        blobEvent.TraceParent = TraceContext.TraceParent(activity);
        var wait = await debouncer.DeferAsync(blobEvent, dataset, listing.LastModified, cancellationToken).ConfigureAwait(false);
        if (wait is { } delay)
        {
            LogDeferred(logger, blobName, dataset, delay);
            return new PreprocessOutcome(PreprocessResult.Deferred, Detail: $"files changed moments ago; building in {delay.TotalSeconds:F0} s");
        }

        if (listing.Files.Count > MaxFiles)
        {
            return await RejectAsync(dataset, blobName, new DatasetRejectedException("too-many-files",
                $"raw/{dataset}/ holds {listing.Files.Count} data files; at most {MaxFiles} make a dataset. Combine them into fewer files."), cancellationToken).ConfigureAwait(false);
        }

        DatasetSpec? spec;
        byte[] specBytes;
        try
        {
            (spec, specBytes) = await ReadSpecAsync(raw, dataset, rooted, cancellationToken).ConfigureAwait(false);
        }
        catch (DatasetRejectedException e)
        {
            return await RejectAsync(dataset, blobName, e, cancellationToken).ConfigureAwait(false);
        }

        var work = Path.Combine(options.Value.WorkDirectory ?? Path.GetTempPath(), "pipeline-preprocess", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            List<DataFile> files;
            using (PreprocessingTelemetry.StartStage("preprocess download", dataset))
            {
                files = await DownloadAsync(raw, listing.Files, work, cancellationToken).ConfigureAwait(false);
            }

            if (files.Count == 0)
            {
                return new PreprocessOutcome(PreprocessResult.Ignored, Detail: "the dataset's files no longer exist");
            }

            // Every file usable (the usual case): the version is known before building, so a re-upload of the same bytes costs no build.
            var candidate = DatasetVersion(files, specBytes);
            if (await store.VersionExistsAsync(dataset, candidate, cancellationToken).ConfigureAwait(false))
            {
                LogDuplicate(logger, blobName, dataset, candidate);
                return new PreprocessOutcome(PreprocessResult.Duplicate, Detail: $"dataset version {candidate} exists");
            }

            PreparedDataset prepared;
            using var build = PreprocessingTelemetry.StartStage("preprocess build", dataset);
            try
            {
                prepared = await new DatasetBuilder(options.Value).BuildAsync(files, spec, Path.Combine(work, "out"), cancellationToken).ConfigureAwait(false);
            }
            catch (DatasetRejectedException e)
            {
                e.Report!.Dataset = dataset;
                e.Report.CreatedAt = time.GetUtcNow();
                return await RejectAsync(dataset, e.Blob ?? (files.Count == 1 ? files[0].Blob : $"{StorageNames.RawContainer}/{blobName}"), e, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (Failures.Exhausted(e) is { } resource)
            {
                // The same files would exhaust the same instance again: a report at once, not five retries that hold up
                // the queue behind them and end in the poison queue with nothing for the data team.
                LogBuildFailed(logger, e, blobName, dataset);
                return await RejectAsync(dataset, files.Count == 1 ? files[0].Blob : $"{StorageNames.RawContainer}/{blobName}", new DatasetRejectedException("resource-limit",
                    $"Building this dataset ran out of {resource} on the preprocessing instance. Its limits (Preprocess:MaxColumns {options.Value.MaxColumns}, MaxFeatures {options.Value.MaxFeatures}) let it start; make the files smaller or narrower, or ask the operators to raise the instance size."),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!Retryable(e))
            {
                // A fault of the build itself (a bug): it works on the downloaded files only, so building them again fails
                // the same way. A report says so, instead of five retries ending in the poison queue with nothing for the
                // data team. Other I/O trouble (storage, a transient local error) may pass: it is retried.
                LogBuildFailed(logger, e, blobName, dataset);
                return await RejectAsync(dataset, files.Count == 1 ? files[0].Blob : $"{StorageNames.RawContainer}/{blobName}", new DatasetRejectedException("internal-error",
                    $"Preprocessing failed unexpectedly ({e.GetType().Name}: {e.Message}). This is a fault in the pipeline, not a finding about the data; it is logged for the operators. Upload the file again once it is fixed."),
                    cancellationToken).ConfigureAwait(false);
            }

            build?.SetTag("pipeline.rows", prepared.Rows.Used);
            build?.Dispose();
            foreach (var skipped in prepared.Files.Where(f => !f.Used))
            {
                await RejectAsync(dataset, skipped.Blob, new DatasetRejectedException(skipped.Reason ?? "unusable-file", skipped.Message ?? "", (int?)skipped.Line), cancellationToken).ConfigureAwait(false);
            }

            var used = files.Where(f => prepared.Files.Any(r => r.Used && r.Blob == f.Blob)).ToList();
            var version = DatasetVersion(used, specBytes);
            if (version != candidate && await store.VersionExistsAsync(dataset, version, cancellationToken).ConfigureAwait(false))
            {
                LogDuplicate(logger, blobName, dataset, version);
                return new PreprocessOutcome(PreprocessResult.Duplicate, Detail: $"dataset version {version} exists (files not used: {string.Join(", ", prepared.Files.Where(f => !f.Used).Select(f => f.Blob))})");
            }

            // A dataset publishes to its own model unless an operator maps it elsewhere (Preprocess:ModelNames).
            var model = options.Value.ModelNames.GetValueOrDefault(dataset) ?? dataset;
            prepared.Report.Dataset = dataset;
            prepared.Report.CreatedAt = time.GetUtcNow();
            var manifest = new DatasetManifest
            {
                Dataset = dataset,
                Version = version,
                CreatedAt = time.GetUtcNow(),
                UploadedAt = listing.LastModified,
                Sources = used.Select(f => new SourceFile { Blob = f.Blob, Sha256 = f.Sha256, Bytes = f.Bytes }).ToList(),
                Task = prepared.Task,
                Target = prepared.Target,
                Model = model,
                Features = prepared.Features,
                Labels = prepared.Labels,
                TargetStats = prepared.TargetStats,
                ExcludedColumns = prepared.ExcludedColumns,
                Rows = prepared.Rows,
                Warnings = prepared.Warnings,
                Encodings = prepared.Encodings,
                TraceId = TraceContext.TraceId(activity),
            };
            using (PreprocessingTelemetry.StartStage("preprocess write", dataset))
            {
                await store.WriteVersionAsync(manifest, prepared, cancellationToken).ConfigureAwait(false);
            }

            PreprocessingTelemetry.Accepted(prepared.Rows.Used);
            LogAccepted(logger, blobName, dataset, version, used.Count, prepared.Rows.Used, prepared.Features.Count, prepared.Task);
            using var send = PreprocessingTelemetry.StartTrainRequest(dataset, version, model);
            return new PreprocessOutcome(PreprocessResult.Accepted, new TrainRequest
            {
                Dataset = dataset,
                DatasetVersion = version,
                Model = model,
                RequestedAt = time.GetUtcNow(),
                TraceParent = TraceContext.TraceParent(send ?? activity),
                TraceState = TraceContext.TraceState(send ?? activity),
            });
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException e)
            {
                LogCleanupFailed(logger, work, e.Message);
            }
        }
    }

    /// <summary>
    /// Cancellation and I/O trouble, which another attempt may not meet; the column tasks run in parallel and wrap what
    /// they throw, so the wrapped exceptions are looked at too.
    /// </summary>
    private static bool Retryable(Exception e) =>
        e is OperationCanceledException or IOException ||
        (e is AggregateException aggregate && aggregate.Flatten().InnerExceptions.Any(Retryable));

    /// <summary>Version = hash of the used files' names and contents and of the spec: the same files never make a second version.</summary>
    public static string DatasetVersion(IEnumerable<DataFile> files, byte[] specBytes)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files.OrderBy(f => f.Blob, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{file.Blob}\n{file.Sha256}\n"));
        }

        hash.AppendData(SHA256.HashData(specBytes));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private sealed record Listing(List<BlobItem> Files, DateTimeOffset LastModified);

    /// <summary>
    /// The dataset's data files, oldest first (the first readable one defines the columns), and the newest change including
    /// dataset.json: every file under <c>raw/{dataset}/</c>, or for a <paramref name="rooted"/> dataset every file directly
    /// under <c>raw/</c> whose name makes that dataset (<see cref="StorageNames.DatasetOfRootFile"/>).
    /// </summary>
    private static async Task<Listing> ListFilesAsync(BlobContainerClient raw, string dataset, bool rooted, CancellationToken cancellationToken)
    {
        var files = new List<BlobItem>();
        var newest = DateTimeOffset.MinValue;
        var items = rooted
            ? raw.GetBlobsByHierarchyAsync(new GetBlobsByHierarchyOptions { Delimiter = "/" }, cancellationToken)
                .Where(i => i.IsBlob && StorageNames.DatasetOfRootFile(i.Blob.Name) == dataset).Select(i => i.Blob)
            : raw.GetBlobsAsync(new GetBlobsOptions { Prefix = dataset + "/" }, cancellationToken);
        await foreach (var item in items.ConfigureAwait(false))
        {
            var modified = item.Properties.LastModified ?? DateTimeOffset.MinValue;
            newest = modified > newest ? modified : newest;
            var name = Path.GetFileName(item.Name);
            if (!name.Equals(StorageNames.DatasetSpecFile, StringComparison.OrdinalIgnoreCase) && !IsHidden(name))
            {
                files.Add(item);
            }
        }

        files.Sort((a, b) => (a.Properties.LastModified ?? default).CompareTo(b.Properties.LastModified ?? default) is var byTime and not 0
            ? byTime
            : string.CompareOrdinal(a.Name, b.Name));
        return new Listing(files, newest);
    }

    private static bool IsHidden(string fileName) => fileName.StartsWith('.') || fileName.StartsWith('_');

    /// <summary>Downloads the files to <paramref name="work"/>, hashing as they stream; files deleted meanwhile are skipped.</summary>
    private static async Task<List<DataFile>> DownloadAsync(BlobContainerClient raw, List<BlobItem> items, string work, CancellationToken cancellationToken)
    {
        var files = new List<DataFile>();
        foreach (var item in items)
        {
            var path = Path.Combine(work, $"{files.Count:D4}-{SanitizeName(Path.GetFileName(item.Name))}");
            try
            {
                var source = await raw.GetBlobClient(item.Name).OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = 4 << 20 }, cancellationToken).ConfigureAwait(false);
                await using var content = new HashingReadStream(source);
                await using (var target = LocalFile.Create(path, FileAccess.Write))
                {
                    await content.CopyToAsync(target, 1 << 20, cancellationToken).ConfigureAwait(false);
                }

                var sha = await content.FinishAsync(cancellationToken).ConfigureAwait(false);
                files.Add(new DataFile($"{StorageNames.RawContainer}/{item.Name}", path, sha, content.BytesRead));
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412)
            {
                // Deleted or replaced while being read: the event for the replacement builds the next version.
            }
        }

        return files;
    }

    private async Task<PreprocessOutcome> RejectAsync(string dataset, string blob, DatasetRejectedException reason, CancellationToken cancellationToken)
    {
        if (!blob.StartsWith(StorageNames.RawContainer + "/", StringComparison.Ordinal))
        {
            blob = $"{StorageNames.RawContainer}/{blob}";
        }

        var report = new RejectionReport
        {
            Dataset = dataset,
            Blob = blob,
            Sha256 = reason.Report?.Files.FirstOrDefault(f => f.Blob == blob)?.Sha256,
            RejectedAt = time.GetUtcNow(),
            Reason = reason.Reason,
            Message = reason.Message,
            Line = reason.Line,
            Validation = reason.Report,
        };
        PreprocessingTelemetry.Rejected(reason.Reason);
        var path = await store.WriteRejectionAsync(report, cancellationToken).ConfigureAwait(false);
        LogRejected(logger, blob, reason.Reason, reason.Message, path);
        return new PreprocessOutcome(PreprocessResult.Rejected, ReportPath: path, Detail: reason.Message);
    }

    private static (string Dataset, string File) SplitPath(string blobName)
    {
        var slash = blobName.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return (StorageNames.DatasetOfRootFile(blobName), blobName);
        }

        return (blobName[..slash], blobName[(blobName.LastIndexOf('/') + 1)..]);
    }

    private static string SanitizeName(string name)
    {
        var clean = new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray()).Trim('-');
        return clean.Length == 0 ? "invalid" : clean[..Math.Min(clean.Length, 63)];
    }

    private static async Task<(DatasetSpec? Spec, byte[] Bytes)> ReadSpecAsync(BlobContainerClient raw, string dataset, bool rooted, CancellationToken cancellationToken)
    {
        if (rooted)
        {
            return (null, []);
        }

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Ignored event {EventType} for {Subject}")]
    private static partial void LogIgnored(ILogger logger, string eventType, string subject);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Blob {Blob}: its dataset has no data file any more; nothing to preprocess")]
    private static partial void LogBlobGone(ILogger logger, string blob);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Blob}: dataset {Dataset} changed moments ago; building in {Delay}")]
    private static partial void LogDeferred(ILogger logger, string blob, string dataset, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Blob}: dataset {Dataset} version {Version} was processed before; no training requested")]
    private static partial void LogDuplicate(ILogger logger, string blob, string dataset, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Blob}: dataset {Dataset} version {Version} accepted from {Files} files: {Rows} rows, {Features} features, {Task}")]
    private static partial void LogAccepted(ILogger logger, string blob, string dataset, string version, int files, int rows, int features, string task);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Blob {Blob} rejected ({Reason}): {Detail}. Report: {ReportPath}")]
    private static partial void LogRejected(ILogger logger, string blob, string reason, string detail, string reportPath);

    [LoggerMessage(Level = LogLevel.Error, Message = "Blob {Blob}: building dataset {Dataset} failed unexpectedly; rejected as internal-error")]
    private static partial void LogBuildFailed(ILogger logger, Exception exception, string blob, string dataset);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete the work folder {Folder}: {Error}")]
    private static partial void LogCleanupFailed(ILogger logger, string folder, string error);
}
