using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing;
using Pipeline.Preprocessing.Formats;
using Pipeline.Storage;

namespace Pipeline.Monitoring;

/// <summary>
/// Writes drift reports: for a model's current version, the observed data of the last <see cref="DriftOptions.WindowDays"/>
/// — prediction logs <c>monitoring/{model}/{version}/{date}/*.jsonl.gz</c> and the batch-scoring outputs under
/// <c>predictions/{model}[@{version}]/</c> whose report names that version — newest first, until
/// <see cref="DriftOptions.MaxRows"/> rows or <see cref="DriftOptions.MaxBytes"/> bytes, compared with the training
/// baseline of its manifest; labelled outcomes under <c>outcomes/{model}/</c> joined to those rows by id (live accuracy or
/// R²); a retrain requested when the model drifted and its dataset asks for it (<c>retrainOnDrift</c>); written to
/// <c>monitoring/{model}/drift/{yyyy-MM-dd}.json</c> and <c>.md</c> (one a day, the latest run of the day replacing the
/// earlier one).
/// </summary>
public sealed partial class DriftJob(
    BlobServiceClient blobs,
    QueueServiceClient queues,
    IOptions<DriftOptions> options,
    IOptions<PreprocessOptions> preprocess,
    TimeProvider time,
    ILogger<DriftJob> logger)
{
    /// <summary>New files named at most in a report's retrain decision (all are counted).</summary>
    private const int MaxNamedFiles = 20;

    /// <summary>
    /// Puts one <c>{"model":"…"}</c> message on queue <c>drift-requests</c> per model folder of container <c>models</c>:
    /// each model's report is then written by its own invocation of the queue function, so one slow or failing model
    /// neither delays nor fails the others (the host retries it alone). Returns the models requested.
    /// </summary>
    public async Task<IReadOnlyList<string>> RequestAllAsync(CancellationToken cancellationToken)
    {
        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        var queue = queues.GetQueueClient(StorageNames.DriftRequestsQueue);
        List<string> requested = [];
        var items = models.GetBlobsByHierarchyAsync(new GetBlobsByHierarchyOptions { Delimiter = "/" }, cancellationToken).AsPages().GetAsyncEnumerator(cancellationToken);
        await using (items.ConfigureAwait(false))
        {
            while (true)
            {
                try
                {
                    if (!await items.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
                {
                    break;
                }

                foreach (var item in items.Current.Values)
                {
                    if (item.IsPrefix && item.Prefix.TrimEnd('/') is { } model && StorageNames.IsValidName(model))
                    {
                        var message = JsonSerializer.Serialize(new DriftRequest { Model = model }, PipelineJson.Default.DriftRequest);
                        try
                        {
                            await queue.SendMessageAsync(message, cancellationToken).ConfigureAwait(false);
                        }
                        catch (RequestFailedException e) when (e.ErrorCode == QueueErrorCode.QueueNotFound)
                        {
                            // Deployed, the queue exists (infra); locally the first run may come before anything created it.
                            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                            await queue.SendMessageAsync(message, cancellationToken).ConfigureAwait(false);
                        }

                        requested.Add(model);
                    }
                }
            }
        }

        LogRequested(logger, requested.Count);
        return requested;
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
        DatasetManifest? dataset = null;
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
            dataset = await ReadDatasetManifestAsync(manifest, cancellationToken).ConfigureAwait(false);
            var work = Path.Combine(Path.GetTempPath(), "pipeline-drift", Guid.NewGuid().ToString("N"));
            try
            {
                var accumulator = new DriftAccumulator(manifest);
                var sources = new DriftSources();
                var outcomes = await ReadOutcomesAsync(manifest, dataset, windowStart, o, work, cancellationToken).ConfigureAwait(false);
                await ReadObservedAsync(manifest, accumulator, outcomes, sources, windowStart, now, o, work, cancellationToken).ConfigureAwait(false);
                report = accumulator.Report(o, now, windowStart, sources);
                report.Outcomes = outcomes?.Finish();
            }
            catch (ArgumentException e)
            {
                report = Unusable($"The training baseline of version {current.Version} does not fit its encodings: {e.Message}");
            }
            finally
            {
                if (Directory.Exists(work))
                {
                    Directory.Delete(work, recursive: true);
                }
            }
        }

        if (manifest is not null)
        {
            report.Retrain = await DecideRetrainAsync(manifest, dataset, report, cancellationToken).ConfigureAwait(false);
        }

        await WriteAsync(report, cancellationToken).ConfigureAwait(false);
        LogReported(logger, model, report.Version, report.Status, report.Rows, report.DriftedColumns.Count);
        return report;
    }

    private async Task ReadObservedAsync(ModelManifest manifest, DriftAccumulator accumulator, OutcomeJoin? outcomes, DriftSources sources, DateTimeOffset windowStart,
        DateTimeOffset now, DriftOptions o, string work, CancellationToken cancellationToken)
    {
        var monitoring = blobs.GetBlobContainerClient(StorageNames.MonitoringContainer);
        var predictions = blobs.GetBlobContainerClient(StorageNames.PredictionsContainer);

        // Batch outputs: their reports are listed (names, times and sizes only) and each is read only when its turn comes,
        // newest first together with the prediction logs, so nothing is read once a limit is reached.
        List<Observed> reports = [];
        await foreach (var blob in ListAsync(predictions, manifest.Model, cancellationToken).ConfigureAwait(false))
        {
            if (blob.Name.EndsWith(StorageNames.ScoringReportSuffix, StringComparison.Ordinal) && blob.Properties.LastModified >= windowStart &&
                (blob.Name.StartsWith(manifest.Model + "/", StringComparison.Ordinal) || blob.Name.StartsWith(manifest.Model + "@", StringComparison.Ordinal)))
            {
                reports.Add(new Observed(blob.Properties.LastModified!.Value, predictions.GetBlobClient(blob.Name), blob.Properties.ContentLength ?? 0, Batch: true));
            }
        }

        reports.Sort(NewestFirst);
        var nextReport = 0;
        var firstDay = DateOnly.FromDateTime(windowStart.UtcDateTime);
        // Prediction logs: one day's folder is listed at a time, newest day first; older days are not listed once a limit is reached.
        for (var day = DateOnly.FromDateTime(now.UtcDateTime); day >= firstDay; day = day.AddDays(-1))
        {
            List<Observed> files = [];
            await foreach (var blob in ListAsync(monitoring, StorageNames.PredictionLogPrefix(manifest.Model, manifest.Version, day), cancellationToken).ConfigureAwait(false))
            {
                if (blob.Name.EndsWith(".jsonl.gz", StringComparison.Ordinal) && blob.Properties.LastModified >= windowStart)
                {
                    files.Add(new Observed(blob.Properties.LastModified!.Value, monitoring.GetBlobClient(blob.Name), blob.Properties.ContentLength ?? 0, Batch: false));
                }
            }

            var dayStart = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            while (nextReport < reports.Count && reports[nextReport].Time >= dayStart)
            {
                files.Add(reports[nextReport++]);
            }

            files.Sort(NewestFirst);
            var earlierDays = day.DayNumber - firstDay.DayNumber;
            for (var index = 0; index < files.Count; index++)
            {
                // What a stop here leaves unread: the rest of this day's files (with this one unless it was read), the older batch reports, the older days.
                string Unread(int read, string next = "") => F($"{files.Count - index - read + reports.Count - nextReport} older file(s) not read{next}") +
                    (earlierDays > 0 ? F($"; prediction logs of {earlierDays} earlier day(s) not listed") : "");
                var file = files[index];
                if (accumulator.Rows >= o.MaxRows)
                {
                    Truncate(sources, F($"Drift:MaxRows ({o.MaxRows}): {Unread(0)}"));
                    return;
                }

                if (file.Batch)
                {
                    if (sources.Bytes + file.Bytes > o.MaxBytes)
                    {
                        Truncate(sources, F($"Drift:MaxBytes ({o.MaxBytes}): {Unread(0, F($", the next a scoring report of {file.Bytes} bytes"))}"));
                        return;
                    }

                    sources.Bytes += file.Bytes;
                    file = await BatchOutputAsync(manifest, file.Blob, windowStart, sources, cancellationToken).ConfigureAwait(false);
                    if (file is null)
                    {
                        continue;
                    }
                }

                if (sources.Bytes + file.Bytes > o.MaxBytes)
                {
                    Truncate(sources, F($"Drift:MaxBytes ({o.MaxBytes}): {Unread(0, F($", the next of {file.Bytes} bytes"))}"));
                    return;
                }

                sources.Bytes += file.Bytes;
                var before = accumulator.Rows;
                bool cut;
                try
                {
                    if (file.Batch)
                    {
                        Directory.CreateDirectory(work);
                        cut = await ReadBatchOutputAsync(manifest, accumulator, outcomes, file.Blob, Path.Combine(work, "output"), o.MaxRows, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        cut = await ReadPredictionLogAsync(manifest, accumulator, outcomes, file.Blob, o.MaxRows, cancellationToken).ConfigureAwait(false);
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
                    Truncate(sources, F($"Drift:MaxRows ({o.MaxRows}): reading stopped in {file.Blob.BlobContainerName}/{file.Blob.Name}; {Unread(1)}"));
                    return;
                }
            }
        }
    }

    /// <summary>Newest first; within the same second (Last-Modified has whole seconds) by name, descending.</summary>
    private static int NewestFirst(Observed a, Observed b) =>
        b.Time.CompareTo(a.Time) is var byTime and not 0 ? byTime : string.CompareOrdinal(b.Blob.Name, a.Blob.Name);

    /// <summary>The output a scoring report names, when the report is of the version and started within the window; else null.</summary>
    private async Task<Observed?> BatchOutputAsync(ModelManifest manifest, BlobClient reportBlob, DateTimeOffset windowStart, DriftSources sources, CancellationToken cancellationToken)
    {
        ScoringReport? scoring;
        try
        {
            scoring = (await BlobJson.ReadAsync(reportBlob, PipelineJson.Default.ScoringReport, cancellationToken).ConfigureAwait(false))?.Value;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            sources.UnreadableFiles++;
            return null;
        }

        var prefix = StorageNames.PredictionsContainer + "/";
        if (scoring is not { Status: ScoringStatus.Succeeded, Output: { } output } || scoring.Version != manifest.Version || scoring.StartedAt < windowStart ||
            !output.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var outputBlob = blobs.GetBlobContainerClient(StorageNames.PredictionsContainer).GetBlobClient(output[prefix.Length..]);
        try
        {
            var properties = (await outputBlob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            return new Observed(scoring.StartedAt, outputBlob, properties.ContentLength, Batch: true);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // The output was removed after its report was written: nothing to read.
            return null;
        }
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static void Truncate(DriftSources sources, string by)
    {
        sources.Truncated = true;
        sources.TruncatedBy = by;
    }

    /// <summary>Counts the rows and outputs of one gzip JSON Lines prediction log: <c>{"time","rows":[{…}],"outputs":[[…]]}</c> per line.</summary>
    /// <returns>Whether the row limit stopped the reading before the file's end.</returns>
    private static async Task<bool> ReadPredictionLogAsync(ModelManifest manifest, DriftAccumulator accumulator, OutcomeJoin? outcomes, BlobClient blob, long maxRows,
        CancellationToken cancellationToken)
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
                    if (outcomes is { Waiting: true } && width > 0 && row.ValueKind == JsonValueKind.Object && row.TryGetProperty(outcomes.IdColumn, out var id) &&
                        id.ValueKind is JsonValueKind.String or JsonValueKind.Number)
                    {
                        var key = id.ValueKind == JsonValueKind.String ? id.GetString() : id.GetRawText();
                        if (manifest.Labels.Count > 0)
                        {
                            outcomes.MatchLabel(key, manifest.Labels[Math.Min(TrainingBaselines.ArgMax(output.AsSpan(0, width)), manifest.Labels.Count - 1)]);
                        }
                        else
                        {
                            outcomes.MatchValue(key, output[0]);
                        }
                    }
                }

                r++;
            }
        }

        return false;
    }

    /// <summary>Counts the rows of one batch-scoring output (the input's columns as read, then the prediction columns).</summary>
    /// <returns>Whether the row limit stopped the reading before the file's end.</returns>
    private async Task<bool> ReadBatchOutputAsync(ModelManifest manifest, DriftAccumulator accumulator, OutcomeJoin? outcomes, BlobClient blob, string local, long maxRows,
        CancellationToken cancellationToken)
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

        var id = outcomes is null ? -1 : index.GetValueOrDefault(outcomes.IdColumn, -1);
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
                var predicted = block.Field(r, prediction);
                accumulator.AddPrediction(predicted);
                if (id >= 0 && outcomes!.Waiting)
                {
                    if (manifest.Labels.Count > 0)
                    {
                        outcomes.MatchLabel(block.Field(r, id), predicted);
                    }
                    else if (RawValues.TryParseNumber(predicted, out var value))
                    {
                        outcomes.MatchValue(block.Field(r, id), value);
                    }
                }
            }
        }

        return false;
    }

    /// <summary>The manifest of the dataset version the model version was trained from; null when it names none or it cannot be read.</summary>
    private async Task<DatasetManifest?> ReadDatasetManifestAsync(ModelManifest manifest, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(manifest.Dataset) || !StorageNames.IsValidVersion(manifest.DatasetVersion))
        {
            return null;
        }

        try
        {
            return (await BlobJson.ReadAsync(blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(StorageNames.DatasetManifestPath(manifest.Dataset, manifest.DatasetVersion)),
                PipelineJson.Default.DatasetManifest, cancellationToken).ConfigureAwait(false))?.Value;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            LogDatasetManifestUnreadable(logger, e, manifest.Dataset, manifest.DatasetVersion);
            return null;
        }
    }

    /// <summary>
    /// The labelled outcomes of <c>outcomes/{model}/</c> uploaded within the window, newest file first, up to
    /// <see cref="DriftOptions.MaxOutcomeRows"/> rows; null when there are none. A file without the id or the label column,
    /// or that cannot be read, is a problem named in the report, never a failure of the report.
    /// </summary>
    private async Task<OutcomeJoin?> ReadOutcomesAsync(ModelManifest manifest, DatasetManifest? dataset, DateTimeOffset windowStart, DriftOptions o, string work,
        CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(StorageNames.OutcomesContainer);
        List<BlobItem> files = [];
        await foreach (var blob in ListAsync(container, StorageNames.FolderPrefix(manifest.Model), cancellationToken).ConfigureAwait(false))
        {
            var name = Path.GetFileName(blob.Name);
            if (blob.Properties.LastModified >= windowStart && !name.StartsWith('.') && !name.StartsWith('_'))
            {
                files.Add(blob);
            }
        }

        if (files.Count == 0)
        {
            return null;
        }

        files.Sort((a, b) => b.Properties.LastModified!.Value.CompareTo(a.Properties.LastModified!.Value) is var byTime and not 0 ? byTime : string.CompareOrdinal(b.Name, a.Name));
        var idColumn = dataset?.ExcludedColumns.FirstOrDefault(c => c.Reason.StartsWith(ColumnKinds.Identifier, StringComparison.OrdinalIgnoreCase))?.Name ?? DefaultIdColumn;
        var classification = manifest.Task == TaskKind.Classification;
        var join = new OutcomeJoin(idColumn, manifest.Target, classification, manifest.TestMetrics.TryGetValue(classification ? "accuracy" : "r2", out var test) ? test : null);
        var result = join.Result;
        Directory.CreateDirectory(work);
        var local = Path.Combine(work, "outcomes");
        for (var index = 0; index < files.Count; index++)
        {
            if (result.Rows >= o.MaxOutcomeRows)
            {
                (result.Truncated, result.TruncatedBy) = (true, F($"Drift:MaxOutcomeRows ({o.MaxOutcomeRows}): {files.Count - index} older outcome file(s) not read"));
                break;
            }

            var file = files[index];
            var path = $"{StorageNames.OutcomesContainer}/{file.Name}";
            result.Files++;
            try
            {
                await container.GetBlobClient(file.Name).DownloadToAsync(local, cancellationToken).ConfigureAwait(false);
                using var reader = await TabularReader.OpenAsync(local, Path.GetFileName(file.Name), cancellationToken).ConfigureAwait(false);
                var id = ColumnIndex(reader.Columns, idColumn);
                var label = ColumnIndex(reader.Columns, manifest.Target);
                if (id < 0 || label < 0)
                {
                    result.Problems.Add(F($"{path} has no column '{(id < 0 ? idColumn : manifest.Target)}' ({(id < 0 ? "the id column: the dataset's identifier column, else \"id\"" : "the label column: the model's target")}); its columns: {string.Join(", ", reader.Columns)}. Not used."));
                    continue;
                }

                var block = new RowBlock();
                while (reader.ReadBlock(block, cancellationToken))
                {
                    for (var r = 0; r < block.Count; r++)
                    {
                        if (block.IsBlank(r))
                        {
                            continue;
                        }

                        if (result.Rows >= o.MaxOutcomeRows)
                        {
                            (result.Truncated, result.TruncatedBy) = (true, F($"Drift:MaxOutcomeRows ({o.MaxOutcomeRows}): reading stopped in {path}; {files.Count - index - 1} older outcome file(s) not read"));
                            return join;
                        }

                        if (block.FieldCount(r) != reader.Columns.Count)
                        {
                            result.UnreadableRows++;
                            continue;
                        }

                        join.Add(block.Field(r, id), block.Field(r, label));
                    }
                }
            }
            catch (Exception e) when (e is InvalidDataException or JsonException or DatasetRejectedException or FormatException or InvalidOperationException)
            {
                LogFileUnreadable(logger, e, StorageNames.OutcomesContainer, file.Name);
                result.Problems.Add($"{path} cannot be read ({e.Message}); the rows before the damage are used.");
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                result.Problems.Add($"{path} was deleted while the report read the outcomes.");
            }
            finally
            {
                File.Delete(local);
            }
        }

        return join;
    }

    /// <summary>The id column when the dataset had no identifier column: the user includes it in the rows they score and in the outcomes.</summary>
    public const string DefaultIdColumn = "id";

    /// <summary>The column named exactly, else the only one named so case-insensitively (as <c>dataset.json</c> names columns); −1 when none.</summary>
    private static int ColumnIndex(IReadOnlyList<string> columns, string name)
    {
        var exact = -1;
        var folded = -1;
        var foldedCount = 0;
        for (var i = 0; i < columns.Count; i++)
        {
            if (columns[i] == name && exact < 0)
            {
                exact = i;
            }
            else if (string.Equals(columns[i], name, StringComparison.OrdinalIgnoreCase))
            {
                (folded, foldedCount) = (i, foldedCount + 1);
            }
        }

        return exact >= 0 ? exact : foldedCount == 1 ? folded : -1;
    }

    /// <summary>
    /// Retrain on drift: when the report judged the version drifted, its dataset's <c>raw/{dataset}/dataset.json</c> asks for
    /// <c>retrainOnDrift</c>, and files were added to or changed in <c>raw/{dataset}/</c> since the dataset version the model
    /// was trained on, the upload path is asked to rebuild the dataset: one BlobCreated event for the newest new file on
    /// <c>blob-created</c>, as Event Grid sends for an upload. Preprocessing then builds a version from every current file
    /// and requests its training, and the champion/challenger gate decides whether it is served. A marker per set of new
    /// files, created with If-None-Match: *, makes the request once however often the report runs.
    /// </summary>
    private async Task<RetrainDecision> DecideRetrainAsync(ModelManifest manifest, DatasetManifest? dataset, DriftReport report, CancellationToken cancellationToken)
    {
        var decision = new RetrainDecision { Dataset = NullIfEmpty(manifest.Dataset), DatasetVersion = NullIfEmpty(manifest.DatasetVersion) };
        RetrainDecision Decide(RetrainOutcome outcome, string message)
        {
            (decision.Outcome, decision.Message) = (outcome, message);
            LogRetrain(logger, manifest.Model, outcome, message);
            return decision;
        }

        if (report.Status != DriftStatus.Drifted)
        {
            return Decide(RetrainOutcome.NotDrifted, "The model is not judged drifted: no retrain is wanted.");
        }

        if (!StorageNames.IsValidName(manifest.Dataset))
        {
            return Decide(RetrainOutcome.Unavailable, $"Version {manifest.Version}'s manifest names no dataset: retrain on drift cannot apply.");
        }

        var raw = blobs.GetBlobContainerClient(StorageNames.RawContainer);
        var specPath = $"{StorageNames.RawContainer}/{StorageNames.RawFilePath(manifest.Dataset, StorageNames.DatasetSpecFile)}";
        DatasetSpec? spec;
        try
        {
            var content = (await raw.GetBlobClient(StorageNames.RawFilePath(manifest.Dataset, StorageNames.DatasetSpecFile)).DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content;
            spec = JsonSerializer.Deserialize(content.ToMemory().Span, PipelineJson.Default.DatasetSpec);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            spec = null;
        }
        catch (JsonException e)
        {
            return Decide(RetrainOutcome.Unavailable, $"{specPath} cannot be read ({e.Message}): nothing sent.");
        }

        if (spec?.RetrainOnDrift != true)
        {
            return Decide(RetrainOutcome.Off, $"{specPath} does not ask for retrainOnDrift: nothing sent.");
        }

        if (dataset is null)
        {
            return Decide(RetrainOutcome.Unavailable, $"The manifest of dataset {manifest.Dataset} version {manifest.DatasetVersion}, which trained version {manifest.Version}, cannot be read: nothing sent.");
        }

        // New: a data file that is not among the version's sources, or was written after the version's newest upload.
        var sources = dataset.Sources.Select(f => f.Blob).ToHashSet(StringComparer.Ordinal);
        var since = dataset.UploadedAt ?? dataset.CreatedAt;
        List<BlobItem> added = [];
        await foreach (var blob in ListAsync(raw, StorageNames.FolderPrefix(manifest.Dataset), cancellationToken).ConfigureAwait(false))
        {
            var name = Path.GetFileName(blob.Name);
            if (!name.Equals(StorageNames.DatasetSpecFile, StringComparison.OrdinalIgnoreCase) && !name.StartsWith('.') && !name.StartsWith('_') &&
                (!sources.Contains($"{StorageNames.RawContainer}/{blob.Name}") || blob.Properties.LastModified > since))
            {
                added.Add(blob);
            }
        }

        added.Sort((a, b) => a.Properties.LastModified!.Value.CompareTo(b.Properties.LastModified!.Value) is var byTime and not 0 ? byTime : string.CompareOrdinal(a.Name, b.Name));
        decision.NewFileCount = added.Count;
        decision.NewFiles = [.. added.Take(MaxNamedFiles).Select(b => $"{StorageNames.RawContainer}/{b.Name}")];
        if (added.Count == 0)
        {
            return Decide(RetrainOutcome.NoNewData, F($"Retraining is wanted, but no file of raw/{manifest.Dataset}/ was added or changed since dataset version {manifest.DatasetVersion} (uploaded {since:yyyy-MM-dd HH:mm} UTC): nothing sent. Upload new labelled data to retrain."));
        }

        if (await BuiltSinceAsync(manifest, added, cancellationToken).ConfigureAwait(false) is { } built)
        {
            return Decide(RetrainOutcome.AlreadyBuilt, F($"The {added.Count} file(s) of raw/{manifest.Dataset}/ added or changed since dataset version {manifest.DatasetVersion} are already in dataset version {built.Version} (built {built.CreatedAt:yyyy-MM-dd HH:mm} UTC): its upload requested its training, and the champion/challenger gate judged its model against version {manifest.Version}. A rebuild would train the same data again: nothing sent. Upload new labelled data to retrain."));
        }

        var fingerprint = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            Encoding.UTF8.GetBytes(string.Concat(added.OrderBy(b => b.Name, StringComparer.Ordinal).Select(b => $"{b.Name}\n{b.Properties.ETag}\n")))))[..16];
        var monitoring = blobs.GetBlobContainerClient(StorageNames.MonitoringContainer);
        await monitoring.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var marker = monitoring.GetBlobClient(StorageNames.RetrainMarkerPath(manifest.Model, fingerprint));
        decision.Marker = $"{StorageNames.MonitoringContainer}/{marker.Name}";
        var newest = added[^1];
        var request = new RetrainMarker
        {
            Model = manifest.Model, Dataset = manifest.Dataset, RequestedAt = time.GetUtcNow(), Event = $"{StorageNames.RawContainer}/{newest.Name}",
            Files = [.. added.Select(b => $"{StorageNames.RawContainer}/{b.Name}")],
        };
        ETag created;
        try
        {
            created = await BlobJson.WriteAsync(marker, request, PipelineJson.Default.RetrainMarker, new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            var earlier = (await BlobJson.ReadAsync(marker, PipelineJson.Default.RetrainMarker, cancellationToken).ConfigureAwait(false))?.Value;
            decision.RequestedAt = earlier?.RequestedAt;
            return Decide(RetrainOutcome.AlreadyRequested, F($"A retrain on these {added.Count} new file(s) was requested at {earlier?.RequestedAt:yyyy-MM-dd HH:mm} UTC by an earlier run ({decision.Marker}): not sent again."));
        }

        var blobEvent = BlobCreatedEvent.ForBlob(blobs.Uri.ToString(), StorageNames.RawContainer, newest.Name, raw.GetBlobClient(newest.Name).Uri,
            newest.Properties.ETag?.ToString() ?? "", newest.Properties.ContentType, newest.Properties.ContentLength ?? 0, request.RequestedAt,
            fingerprint);
        try
        {
            await queues.GetQueueClient(preprocess.Value.BlobCreatedQueue).SendMessageAsync(JsonSerializer.Serialize(blobEvent, PipelineJson.Default.BlobCreatedEvent), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Not sent: without the marker the next run requests it again.
            await marker.DeleteIfExistsAsync(conditions: new BlobRequestConditions { IfMatch = created }, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        decision.RequestedAt = request.RequestedAt;
        return Decide(RetrainOutcome.Requested, F($"{added.Count} file(s) of raw/{manifest.Dataset}/ were added or changed since dataset version {manifest.DatasetVersion}: a rebuild was requested (the upload event for {request.Event} on queue {preprocess.Value.BlobCreatedQueue}). Preprocessing builds a version from every current file and requests its training; the champion/challenger gate decides whether it is served."));
    }

    /// <summary>Newer dataset versions read to find the added files in (the newest by their manifest's time).</summary>
    private const int MaxDatasetVersionsRead = 20;

    /// <summary>
    /// The newest dataset version other than the model's whose sources include every file of <paramref name="added"/> as it
    /// is now (listed, and uploaded no later than the version's newest upload); null when there is none.
    /// </summary>
    private async Task<DatasetManifest?> BuiltSinceAsync(ModelManifest manifest, List<BlobItem> added, CancellationToken cancellationToken)
    {
        var datasets = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);
        List<BlobItem> manifests = [];
        await foreach (var blob in ListAsync(datasets, StorageNames.FolderPrefix(manifest.Dataset), cancellationToken).ConfigureAwait(false))
        {
            if (blob.Name.EndsWith("/" + StorageNames.ManifestFile, StringComparison.Ordinal) &&
                blob.Name != StorageNames.DatasetManifestPath(manifest.Dataset, manifest.DatasetVersion))
            {
                manifests.Add(blob);
            }
        }

        foreach (var blob in manifests.OrderByDescending(b => b.Properties.LastModified).Take(MaxDatasetVersionsRead))
        {
            DatasetManifest? version;
            try
            {
                version = (await BlobJson.ReadAsync(datasets.GetBlobClient(blob.Name), PipelineJson.Default.DatasetManifest, cancellationToken).ConfigureAwait(false))?.Value;
            }
            catch (JsonException)
            {
                continue; // an unreadable manifest covers nothing
            }

            if (version is null)
            {
                continue;
            }

            var sources = version.Sources.Select(f => f.Blob).ToHashSet(StringComparer.Ordinal);
            var uploaded = version.UploadedAt ?? version.CreatedAt;
            if (added.All(b => sources.Contains($"{StorageNames.RawContainer}/{b.Name}") && b.Properties.LastModified <= uploaded))
            {
                return version;
            }
        }

        return null;
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift: requested the reports of {Count} model(s) on queue drift-requests")]
    private static partial void LogRequested(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift: retrain of model {Model}: {Outcome}. {Detail}")]
    private static partial void LogRetrain(ILogger logger, string model, RetrainOutcome outcome, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift: the manifest of dataset {Dataset} version {Version} cannot be read")]
    private static partial void LogDatasetManifestUnreadable(ILogger logger, Exception exception, string dataset, string version);
}
