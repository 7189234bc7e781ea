using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Preprocessing;
using Pipeline.Preprocessing.Formats;
using Pipeline.Storage;

namespace Pipeline.Monitoring;

/// <summary>
/// Writes drift reports: for a model's current version, the observed data of the last <see cref="DriftOptions.WindowDays"/>
/// — prediction logs <c>monitoring/{model}/{version}/{date}/*.jsonl.gz</c> and the batch-scoring outputs under
/// <c>predictions/{model}[@{version}]/</c> whose report names that version — newest first, until
/// <see cref="DriftOptions.MaxRows"/> rows or <see cref="DriftOptions.MaxBytes"/> bytes, compared with the training
/// baseline of its manifest; written to <c>monitoring/{model}/drift/{yyyy-MM-dd}.json</c> and <c>.md</c> (one a day,
/// the latest run of the day replacing the earlier one).
/// </summary>
public sealed partial class DriftJob(BlobServiceClient blobs, IOptions<DriftOptions> options, TimeProvider time, ILogger<DriftJob> logger)
{
    /// <summary>
    /// A report for every model with a current version. A model that fails (its storage, or its data) is logged and the
    /// others still get theirs; then the failures are thrown (the host logs the invocation as failed). A model whose manifest or baseline
    /// cannot be used gets a report saying so.
    /// </summary>
    public async Task<IReadOnlyList<DriftReport>> RunAllAsync(CancellationToken cancellationToken)
    {
        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        List<DriftReport> reports = [];
        List<Exception> failures = [];
        await foreach (var item in models.GetBlobsByHierarchyAsync(new GetBlobsByHierarchyOptions { Delimiter = "/" }, cancellationToken).ConfigureAwait(false))
        {
            if (!item.IsPrefix || item.Prefix.TrimEnd('/') is not { } model || !StorageNames.IsValidName(model))
            {
                continue;
            }

            try
            {
                if (await RunAsync(model, cancellationToken).ConfigureAwait(false) is { } report)
                {
                    reports.Add(report);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Storage trouble or anything unexpected in one model's data: the other models still get their reports.
                LogModelFailed(logger, e, model);
                failures.Add(e);
            }
        }

        if (failures.Count > 0)
        {
            throw new AggregateException($"Drift reports failed for {failures.Count} model(s); the others were written.", failures);
        }

        return reports;
    }

    /// <summary>The report of <paramref name="model"/>'s current version, written to storage; null when the model has no current version.</summary>
    public async Task<DriftReport?> RunAsync(string model, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(model))
        {
            throw new ArgumentException($"'{model}' is not a model name.", nameof(model));
        }

        var o = options.Value;
        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        var pointer = await ModelPointer.ReadAsync(models, model, cancellationToken).ConfigureAwait(false);
        if (pointer.Current is not { } current || !StorageNames.IsValidVersion(current.Version))
        {
            LogNoCurrentVersion(logger, model);
            return null;
        }

        var now = time.GetUtcNow();
        var windowStart = now.AddDays(-o.WindowDays);
        DriftReport Unusable(string message) => new()
        {
            Model = model, Version = current.Version, Status = DriftStatus.InsufficientData, CreatedAt = now, WindowStart = windowStart, WindowEnd = now, Message = message,
        };

        ModelManifest? manifest;
        try
        {
            manifest = (await BlobJson.ReadAsync(models.GetBlobClient(StorageNames.ModelManifestPath(model, current.Version)), PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false))?.Value;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            manifest = null;
            LogManifestUnreadable(logger, e, model, current.Version);
        }

        DriftReport report;
        if (manifest?.Baseline is null)
        {
            report = Unusable(manifest is null
                ? $"Version {current.Version} has no readable manifest: there is no training baseline to compare with."
                : $"Version {current.Version} has no training baseline in its manifest (trained before baselines were recorded, or not by the trainer): retrain to monitor it.");
        }
        else
        {
            manifest.Model = model;
            manifest.Version = current.Version;
            try
            {
                var accumulator = new DriftAccumulator(manifest);
                var sources = new DriftSources();
                await ReadObservedAsync(manifest, accumulator, sources, windowStart, now, o, cancellationToken).ConfigureAwait(false);
                report = accumulator.Report(o, now, windowStart, sources);
            }
            catch (ArgumentException e)
            {
                report = Unusable($"The training baseline of version {current.Version} does not fit its encodings: {e.Message}");
            }
        }

        await WriteAsync(report, cancellationToken).ConfigureAwait(false);
        LogReported(logger, model, report.Version, report.Status, report.Rows, report.DriftedColumns.Count);
        return report;
    }

    private async Task ReadObservedAsync(ModelManifest manifest, DriftAccumulator accumulator, DriftSources sources, DateTimeOffset windowStart, DateTimeOffset now,
        DriftOptions o, CancellationToken cancellationToken)
    {
        var monitoring = blobs.GetBlobContainerClient(StorageNames.MonitoringContainer);
        var predictions = blobs.GetBlobContainerClient(StorageNames.PredictionsContainer);
        List<Observed> files = [];
        for (var day = DateOnly.FromDateTime(windowStart.UtcDateTime); day <= DateOnly.FromDateTime(now.UtcDateTime); day = day.AddDays(1))
        {
            await foreach (var blob in ListAsync(monitoring, StorageNames.PredictionLogPrefix(manifest.Model, manifest.Version, day), cancellationToken).ConfigureAwait(false))
            {
                if (blob.Name.EndsWith(".jsonl.gz", StringComparison.Ordinal) && blob.Properties.LastModified >= windowStart)
                {
                    files.Add(new Observed(blob.Properties.LastModified!.Value, monitoring.GetBlobClient(blob.Name), blob.Properties.ContentLength ?? 0, Batch: false));
                }
            }
        }

        // Batch outputs: each output's report says which version scored it and when.
        await foreach (var blob in ListAsync(predictions, manifest.Model, cancellationToken).ConfigureAwait(false))
        {
            if (!blob.Name.EndsWith(StorageNames.ScoringReportSuffix, StringComparison.Ordinal) || blob.Properties.LastModified < windowStart ||
                !(blob.Name.StartsWith(manifest.Model + "/", StringComparison.Ordinal) || blob.Name.StartsWith(manifest.Model + "@", StringComparison.Ordinal)))
            {
                continue;
            }

            sources.Bytes += blob.Properties.ContentLength ?? 0;
            ScoringReport? scoring;
            try
            {
                scoring = (await BlobJson.ReadAsync(predictions.GetBlobClient(blob.Name), PipelineJson.Default.ScoringReport, cancellationToken).ConfigureAwait(false))?.Value;
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException)
            {
                sources.UnreadableFiles++;
                continue;
            }

            var prefix = StorageNames.PredictionsContainer + "/";
            if (scoring is { Status: ScoringStatus.Succeeded, Output: { } output } && scoring.Version == manifest.Version && scoring.StartedAt >= windowStart &&
                output.StartsWith(prefix, StringComparison.Ordinal))
            {
                var outputBlob = predictions.GetBlobClient(output[prefix.Length..]);
                try
                {
                    var properties = (await outputBlob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
                    files.Add(new Observed(scoring.StartedAt, outputBlob, properties.ContentLength, Batch: true));
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    // The output was removed after its report was written: nothing to read.
                }
            }
        }

        var work = Path.Combine(Path.GetTempPath(), "pipeline-drift", Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var (index, file) in files.OrderByDescending(f => f.Time).ThenByDescending(f => f.Blob.Name, StringComparer.Ordinal).Index())
            {
                if (accumulator.Rows >= o.MaxRows)
                {
                    Truncate(sources, string.Create(CultureInfo.InvariantCulture, $"Drift:MaxRows ({o.MaxRows}): {files.Count - index} older file(s) not read"));
                    break;
                }

                if (sources.Bytes + file.Bytes > o.MaxBytes)
                {
                    Truncate(sources, string.Create(CultureInfo.InvariantCulture, $"Drift:MaxBytes ({o.MaxBytes}): {files.Count - index} older file(s) not read, the next of {file.Bytes} bytes"));
                    break;
                }

                sources.Bytes += file.Bytes;
                var before = accumulator.Rows;
                bool cut;
                try
                {
                    if (file.Batch)
                    {
                        Directory.CreateDirectory(work);
                        cut = await ReadBatchOutputAsync(manifest, accumulator, file.Blob, Path.Combine(work, "output"), o.MaxRows, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        cut = await ReadPredictionLogAsync(manifest, accumulator, file.Blob, o.MaxRows, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is InvalidDataException or JsonException or DatasetRejectedException or FormatException or InvalidOperationException)
                {
                    // A corrupt file counts what it held before the damage; the rest of it is left out, and the report says how many files were.
                    LogFileUnreadable(logger, e, file.Blob.BlobContainerName, file.Blob.Name);
                    sources.UnreadableFiles++;
                    cut = false;
                }

                if (file.Batch)
                {
                    sources.BatchFiles++;
                    sources.BatchRows += accumulator.Rows - before;
                }
                else
                {
                    sources.PredictionLogFiles++;
                    sources.PredictionLogRows += accumulator.Rows - before;
                }

                if (cut)
                {
                    Truncate(sources, string.Create(CultureInfo.InvariantCulture,
                        $"Drift:MaxRows ({o.MaxRows}): reading stopped in {file.Blob.BlobContainerName}/{file.Blob.Name}; {files.Count - index - 1} older file(s) not read"));
                    break;
                }
            }
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static void Truncate(DriftSources sources, string by)
    {
        sources.Truncated = true;
        sources.TruncatedBy = by;
    }

    /// <summary>Counts the rows and outputs of one gzip JSON Lines prediction log: <c>{"time","rows":[{…}],"outputs":[[…]]}</c> per line.</summary>
    /// <returns>Whether the row limit stopped the reading before the file's end.</returns>
    private static async Task<bool> ReadPredictionLogAsync(ModelManifest manifest, DriftAccumulator accumulator, BlobClient blob, long maxRows, CancellationToken cancellationToken)
    {
        using var download = (await blob.DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
        await using var gzip = new GZipStream(download.Content, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var output = new float[Math.Max(1, manifest.Labels.Count)];
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            using var document = JsonDocument.Parse(line);
            if (!document.RootElement.TryGetProperty("rows", out var rows) || rows.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            document.RootElement.TryGetProperty("outputs", out var outputs);
            var r = 0;
            foreach (var row in rows.EnumerateArray())
            {
                if (accumulator.Rows >= maxRows)
                {
                    return true;
                }

                accumulator.AddJsonRow(row);
                if (outputs.ValueKind == JsonValueKind.Array && r < outputs.GetArrayLength() && outputs[r].ValueKind == JsonValueKind.Array)
                {
                    var values = outputs[r];
                    var width = Math.Min(values.GetArrayLength(), output.Length);
                    for (var k = 0; k < width; k++)
                    {
                        output[k] = values[k].GetSingle();
                    }

                    accumulator.AddOutput(output.AsSpan(0, width));
                }

                r++;
            }
        }

        return false;
    }

    /// <summary>Counts the rows of one batch-scoring output (the input's columns as read, then the prediction columns).</summary>
    /// <returns>Whether the row limit stopped the reading before the file's end.</returns>
    private async Task<bool> ReadBatchOutputAsync(ModelManifest manifest, DriftAccumulator accumulator, BlobClient blob, string local, long maxRows, CancellationToken cancellationToken)
    {
        await blob.DownloadToAsync(local, cancellationToken).ConfigureAwait(false);
        using var reader = await TabularReader.OpenAsync(local, Path.GetFileName(blob.Name), cancellationToken).ConfigureAwait(false);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < reader.Columns.Count; i++)
        {
            index.TryAdd(reader.Columns[i], i);
        }

        var map = accumulator.Columns.Select(c => index.GetValueOrDefault(c, -1)).ToArray();
        // The prediction column follows the input's columns, before one probability per class.
        var prediction = reader.Columns.Count - 1 - manifest.Labels.Count;
        if (map.Any(m => m < 0) || prediction < 0)
        {
            LogBatchOutputSkipped(logger, blob.Name);
            return false;
        }

        var block = new RowBlock();
        while (reader.ReadBlock(block, cancellationToken))
        {
            for (var r = 0; r < block.Count; r++)
            {
                if (block.IsBlank(r) || block.FieldCount(r) != reader.Columns.Count)
                {
                    continue;
                }

                if (accumulator.Rows >= maxRows)
                {
                    return true;
                }

                for (var c = 0; c < map.Length; c++)
                {
                    accumulator.AddCell(c, block.Field(r, map[c]));
                }

                accumulator.EndRow();
                accumulator.AddPrediction(block.Field(r, prediction));
            }
        }

        return false;
    }

    private async Task WriteAsync(DriftReport report, CancellationToken cancellationToken)
    {
        var monitoring = blobs.GetBlobContainerClient(StorageNames.MonitoringContainer);
        await monitoring.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var day = DateOnly.FromDateTime(report.CreatedAt.UtcDateTime);
        await monitoring.GetBlobClient(StorageNames.DriftReportPath(report.Model, day, ".md")).UploadAsync(
            new BinaryData(Encoding.UTF8.GetBytes(DriftMarkdown.Write(report))),
            new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/markdown; charset=utf-8" } }, cancellationToken).ConfigureAwait(false);
        await BlobJson.WriteAsync(monitoring.GetBlobClient(StorageNames.DriftReportPath(report.Model, day, ".json")), report, PipelineJson.Default.DriftReport, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The blobs under <paramref name="prefix"/>; none when the container does not exist yet (nothing was observed).</summary>
    private static async IAsyncEnumerable<BlobItem> ListAsync(BlobContainerClient container, string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken).AsPages().GetAsyncEnumerator(cancellationToken);
        await using (pages.ConfigureAwait(false))
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await pages.MoveNextAsync().ConfigureAwait(false);
                }
                catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
                {
                    more = false;
                }

                if (!more)
                {
                    yield break;
                }

                foreach (var item in pages.Current.Values)
                {
                    yield return item;
                }
            }
        }
    }

    private sealed record Observed(DateTimeOffset Time, BlobClient Blob, long Bytes, bool Batch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift: model {Model} has no current version; no report")]
    private static partial void LogNoCurrentVersion(ILogger logger, string model);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift: model {Model} version {Version} is {Status} over {Rows} observed rows ({Drifted} column(s) drifted)")]
    private static partial void LogReported(ILogger logger, string model, string version, DriftStatus status, long rows, int drifted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift: batch output predictions/{Blob} lacks the model's columns or its prediction column; skipped")]
    private static partial void LogBatchOutputSkipped(ILogger logger, string blob);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift: the manifest of model {Model} version {Version} cannot be read")]
    private static partial void LogManifestUnreadable(ILogger logger, Exception exception, string model, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift: {Container}/{Blob} cannot be read to its end; the rest of it is left out")]
    private static partial void LogFileUnreadable(ILogger logger, Exception exception, string container, string blob);

    [LoggerMessage(Level = LogLevel.Error, Message = "Drift: the report of model {Model} failed")]
    private static partial void LogModelFailed(ILogger logger, Exception exception, string model);
}
