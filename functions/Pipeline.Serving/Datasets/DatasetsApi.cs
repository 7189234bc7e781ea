using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Pipeline.Contracts;
using Pipeline.Serving.Storage;
using Pipeline.Storage;

namespace Pipeline.Serving.Datasets;

/// <summary>
/// The HTTP functions <c>Datasets</c>, <c>DatasetVersion</c> and <c>DatasetRejection</c>: what preprocessing made of the
/// uploads, read from the <c>datasets</c> container (read only). <c>GET /api/datasets</c> lists the datasets;
/// <c>GET /api/datasets/{name}</c> their newest versions and rejections; <c>…/versions/{version}</c> a version's manifest
/// and validation report; <c>…/rejections/{id}</c> a rejection report.
/// </summary>
public static partial class DatasetsApi
{
    /// <summary>Newest versions and rejections whose documents <c>GET /api/datasets/{name}</c> reads.</summary>
    public const int MaxListed = 50;

    /// <summary>Blobs one listing of the container may walk before it stops (the rest is reported as omitted).</summary>
    public const int MaxScannedBlobs = 100_000;

    /// <summary>Largest manifest or report the API reads.</summary>
    public const long MaxDocumentBytes = 8 * 1024 * 1024;

    public static IEndpointRouteBuilder MapDatasetsApi(this IEndpointRouteBuilder app)
    {
        var datasets = app.MapGroup("/api/datasets");
        datasets.MapGet("/", ListAsync);
        datasets.MapGet("/{name}", GetAsync);
        datasets.MapGet("/{name}/versions/{version}", GetVersionAsync);
        datasets.MapGet("/{name}/rejections/{id}", GetRejectionAsync);
        return app;
    }

    private sealed class Scan
    {
        public List<(string Version, DateTimeOffset At)> Versions { get; } = [];

        public List<(string Id, DateTimeOffset At)> Rejections { get; } = [];

        public bool Pending { get; set; }
    }

    private static async Task<Results<JsonHttpResult<List<DatasetSummary>>, ProblemHttpResult>> ListAsync(PipelineStorage storage, CancellationToken cancellationToken)
    {
        if (storage.Blobs is not { } blobs)
        {
            return NoStorage();
        }

        var scans = await ScanAsync(blobs, null, cancellationToken).ConfigureAwait(false);
        var list = scans.OrderBy(s => s.Key, StringComparer.Ordinal).Select(pair =>
        {
            var latest = pair.Value.Versions.Count == 0 ? default : pair.Value.Versions.MaxBy(v => v.At);
            return new DatasetSummary
            {
                Name = pair.Key,
                Versions = pair.Value.Versions.Count,
                LatestVersion = latest.Version,
                LatestVersionAt = latest.Version is null ? null : latest.At,
                Rejections = pair.Value.Rejections.Count,
                LatestRejectionAt = pair.Value.Rejections.Count == 0 ? null : pair.Value.Rejections.Max(r => r.At),
                Pending = pair.Value.Pending,
            };
        }).ToList();
        return TypedResults.Json(list, DatasetsJson.Default.ListDatasetSummary);
    }

    private static async Task<Results<JsonHttpResult<DatasetDetails>, ProblemHttpResult>> GetAsync(string name, PipelineStorage storage, CancellationToken cancellationToken)
    {
        if (storage.Blobs is not { } blobs)
        {
            return NoStorage();
        }

        if (!StorageNames.IsValidName(name) || !(await ScanAsync(blobs, name, cancellationToken).ConfigureAwait(false)).TryGetValue(name, out var scan))
        {
            return DatasetNotFound(name);
        }

        var container = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);
        var details = new DatasetDetails
        {
            Name = name,
            Pending = scan.Pending,
            OmittedVersions = Math.Max(0, scan.Versions.Count - MaxListed),
            OmittedRejections = Math.Max(0, scan.Rejections.Count - MaxListed),
        };
        foreach (var (version, _) in scan.Versions.OrderByDescending(v => v.At).Take(MaxListed))
        {
            var manifest = await TryReadAsync(container.GetBlobClient(StorageNames.DatasetManifestPath(name, version)), PipelineJson.Default.DatasetManifest, cancellationToken).ConfigureAwait(false);
            if (manifest is not null)
            {
                details.Versions.Add(new DatasetVersionSummary
                {
                    Version = version,
                    CreatedAt = manifest.CreatedAt,
                    Task = manifest.Task,
                    Target = manifest.Target,
                    Model = manifest.Model,
                    Features = manifest.Features.Count,
                    Rows = manifest.Rows,
                    Warnings = manifest.Warnings.Count,
                    Sources = [.. manifest.Sources.Select(s => s.Blob)],
                });
            }
        }

        foreach (var (id, _) in scan.Rejections.OrderByDescending(r => r.At).Take(MaxListed))
        {
            var report = await TryReadAsync(container.GetBlobClient(RejectionPath(name, id)), PipelineJson.Default.RejectionReport, cancellationToken).ConfigureAwait(false);
            if (report is not null)
            {
                details.Rejections.Add(new RejectionSummary { Id = id, Blob = report.Blob, RejectedAt = report.RejectedAt, Reason = report.Reason, Message = report.Message, Line = report.Line });
            }
        }

        return TypedResults.Json(details, DatasetsJson.Default.DatasetDetails);
    }

    private static async Task<Results<JsonHttpResult<DatasetVersionDetails>, ProblemHttpResult>> GetVersionAsync(string name, string version, PipelineStorage storage, CancellationToken cancellationToken)
    {
        if (storage.Blobs is not { } blobs)
        {
            return NoStorage();
        }

        if (!StorageNames.IsValidName(name) || !StorageNames.IsValidVersion(version))
        {
            return VersionNotFound(name, version);
        }

        var container = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);
        try
        {
            var manifest = await ReadAsync(container.GetBlobClient(StorageNames.DatasetManifestPath(name, version)), PipelineJson.Default.DatasetManifest, cancellationToken).ConfigureAwait(false);
            if (manifest is null)
            {
                return VersionNotFound(name, version);
            }

            var report = manifest.Report is { Length: > 0 } file && !file.Contains('/', StringComparison.Ordinal)
                ? await ReadAsync(container.GetBlobClient($"{name}/{version}/{file}"), PipelineJson.Default.ValidationReport, cancellationToken).ConfigureAwait(false)
                : null;
            var timeline = await TimelineAsync(blobs, manifest, cancellationToken).ConfigureAwait(false);
            return TypedResults.Json(new DatasetVersionDetails { Manifest = manifest, Report = report, Timeline = timeline }, DatasetsJson.Default.DatasetVersionDetails);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            return Unreadable(e.Message);
        }
    }

    /// <summary>
    /// Upload → preprocessed → the run's stages → promoted: from the dataset manifest, the model version's manifest (the
    /// model version is the dataset version; its training summary names the run) and the run's status document.
    /// </summary>
    private static async Task<List<TimelineEntry>> TimelineAsync(BlobServiceClient blobs, DatasetManifest dataset, CancellationToken cancellationToken)
    {
        var timeline = new List<TimelineEntry>();
        if (dataset.UploadedAt is { } uploaded)
        {
            timeline.Add(new TimelineEntry { Stage = "uploaded", At = uploaded, Detail = string.Join(", ", dataset.Sources.Select(s => s.Blob)) });
        }

        timeline.Add(new TimelineEntry { Stage = "preprocessed", At = dataset.CreatedAt, Detail = $"{dataset.Rows.Used} rows, {dataset.Features.Count} features" });
        if (!StorageNames.IsValidName(dataset.Model))
        {
            return timeline;
        }

        var model = await ReadAsync(blobs.GetBlobContainerClient(StorageNames.ModelsContainer).GetBlobClient(StorageNames.ModelManifestPath(dataset.Model, dataset.Version)),
            PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false);
        var run = model?.Training.RunId is { } runId && StorageNames.IsValidRunId(runId)
            ? await ReadAsync(blobs.GetBlobContainerClient(StorageNames.RunsContainer).GetBlobClient(StorageNames.RunStatusPath(runId)), PipelineJson.Default.RunStatus, cancellationToken).ConfigureAwait(false)
            : null;
        if (run is not null)
        {
            timeline.AddRange(run.Stages.Select(s => new TimelineEntry { Stage = s.Stage, At = s.At }));
        }

        if (model?.Promotion is { Promoted: true } promotion)
        {
            // The pointer moves at the end of the run: its last recorded time, else when the model was built.
            timeline.Add(new TimelineEntry { Stage = "promoted", At = run?.Stages.LastOrDefault()?.At ?? model.CreatedAt, Detail = promotion.Reason });
        }

        return timeline;
    }

    private static async Task<Results<JsonHttpResult<RejectionReport>, ProblemHttpResult>> GetRejectionAsync(string name, string id, PipelineStorage storage, CancellationToken cancellationToken)
    {
        if (storage.Blobs is not { } blobs)
        {
            return NoStorage();
        }

        if (!StorageNames.IsValidName(name) || !IsValidRejectionId(id))
        {
            return RejectionNotFound(name, id);
        }

        try
        {
            var report = await ReadAsync(blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(RejectionPath(name, id)), PipelineJson.Default.RejectionReport, cancellationToken).ConfigureAwait(false);
            return report is null ? RejectionNotFound(name, id) : TypedResults.Json(report, DatasetsJson.Default.RejectionReport);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            return Unreadable(e.Message);
        }
    }

    /// <summary>Rejection report names are <c>{time}-{uploaded file name}</c>: any file name, but one path segment.</summary>
    internal static bool IsValidRejectionId(string id) =>
        id.Length is > 0 and <= 300 && id[0] != '.' && !id.Contains('/', StringComparison.Ordinal) && !id.Contains('\\', StringComparison.Ordinal) && !id.Any(char.IsControl);

    private static string RejectionPath(string dataset, string id) => $"{dataset}/{StorageNames.RejectionsFolder}/{id}.json";

    /// <summary>
    /// Dataset → its version folders with a manifest, its rejection reports and whether a build is pending, from one flat
    /// listing of the container (of <paramref name="dataset"/>'s folder only when given).
    /// </summary>
    private static async Task<Dictionary<string, Scan>> ScanAsync(BlobServiceClient blobs, string? dataset, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, Scan>(StringComparer.Ordinal);
        var container = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);
        var scanned = 0;
        try
        {
            await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Prefix = dataset is null ? null : dataset + "/" }, cancellationToken).ConfigureAwait(false))
            {
                if (++scanned > MaxScannedBlobs)
                {
                    break;
                }

                var parts = item.Name.Split('/');
                if (!StorageNames.IsValidName(parts[0]))
                {
                    continue;
                }

                if (!result.TryGetValue(parts[0], out var scan))
                {
                    result[parts[0]] = scan = new Scan();
                }

                var at = item.Properties.LastModified ?? default;
                if (parts is [_, StorageNames.RejectionsFolder, var file] && file.EndsWith(".json", StringComparison.Ordinal))
                {
                    scan.Rejections.Add((file[..^5], at));
                }
                else if (parts is [_, var version, StorageNames.ManifestFile])
                {
                    scan.Versions.Add((version, at));
                }
                else if (parts is [_, "pending.json"])
                {
                    scan.Pending = true;
                }
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // No datasets container yet: nothing was uploaded.
        }

        return result;
    }

    /// <summary>A JSON document of at most <see cref="MaxDocumentBytes"/>; null when it does not exist.</summary>
    private static async Task<T?> ReadAsync<T>(BlobClient blob, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var response = await blob.DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            using var content = response.Value;
            if (content.Details.ContentLength > MaxDocumentBytes)
            {
                throw new InvalidDataException($"{blob.Name} is {content.Details.ContentLength} bytes; the console reads documents of at most {MaxDocumentBytes} bytes.");
            }

            return await JsonSerializer.DeserializeAsync(content.Content, type, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"{blob.Name} holds JSON null.");
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>As <see cref="ReadAsync{T}"/>, but a broken document is skipped (listed without it) instead of failing the list.</summary>
    private static async Task<T?> TryReadAsync<T>(BlobClient blob, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return await ReadAsync(blob, type, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            return null;
        }
    }

    private static ProblemHttpResult NoStorage() =>
        TypedResults.Problem(PipelineStorage.NotInFolderMode("Datasets"), statusCode: StatusCodes.Status404NotFound, title: "No datasets here");

    private static ProblemHttpResult DatasetNotFound(string name) =>
        TypedResults.Problem($"There is no dataset named '{Truncate(name)}'. GET /api/datasets lists the datasets that exist.", statusCode: StatusCodes.Status404NotFound, title: "Dataset not found");

    private static ProblemHttpResult VersionNotFound(string name, string version) =>
        TypedResults.Problem($"Dataset '{Truncate(name)}' has no version '{Truncate(version)}'. GET /api/datasets/{{name}} lists its versions.", statusCode: StatusCodes.Status404NotFound, title: "Dataset version not found");

    private static ProblemHttpResult RejectionNotFound(string name, string id) =>
        TypedResults.Problem($"Dataset '{Truncate(name)}' has no rejection report '{Truncate(id)}'. GET /api/datasets/{{name}} lists its rejections.", statusCode: StatusCodes.Status404NotFound, title: "Rejection not found");

    private static ProblemHttpResult Unreadable(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status502BadGateway, title: "Document unreadable");

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
