using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Pipeline.Contracts;
using Pipeline.Serving.Storage;
using Pipeline.Storage;

namespace Pipeline.Serving.Runs;

/// <summary>
/// The HTTP function <c>Runs</c>: training run status written by the trainer (<c>runs/{runId}/status.json</c>).
/// <c>GET /api/runs/{id}</c> is one run; <c>GET /api/runs?model={name}</c> the latest run of a model; <c>GET /api/runs</c>
/// the latest run of every model (newest first, at most <see cref="MaxListed"/>).
/// </summary>
public static class RunsApi
{
    public const int MaxListed = 100;

    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/runs");
        runs.MapGet("/{id}", GetAsync);
        runs.MapGet("/", LatestAsync);
        return app;
    }

    private static async Task<Results<JsonHttpResult<RunStatus>, ProblemHttpResult>> GetAsync(string id, PipelineStorage source, CancellationToken cancellationToken)
    {
        if (source.Blobs is not { } blobs)
        {
            return NotFound(PipelineStorage.NotInFolderMode("Training runs"));
        }

        var status = StorageNames.IsValidRunId(id) ? await ReadAsync(blobs, StorageNames.RunStatusPath(id), cancellationToken) : null;
        return status is null ? NotFound($"No training run '{id}'.") : TypedResults.Json(status, PipelineJson.Default.RunStatus);
    }

    private static async Task<Results<JsonHttpResult<RunStatus>, JsonHttpResult<RunList>, ProblemHttpResult>> LatestAsync(string? model, PipelineStorage source, CancellationToken cancellationToken)
    {
        if (source.Blobs is not { } blobs)
        {
            return NotFound(PipelineStorage.NotInFolderMode("Training runs"));
        }

        if (string.IsNullOrEmpty(model))
        {
            return TypedResults.Json(await ListAsync(blobs, cancellationToken), RunsJson.Default.RunList);
        }

        var status = StorageNames.IsValidName(model) ? await ReadAsync(blobs, StorageNames.LatestRunPath(model), cancellationToken) : null;
        return status is null ? NotFound($"No training run of model '{model}'.") : TypedResults.Json(status, PipelineJson.Default.RunStatus);
    }

    /// <summary>The latest run of every model: <c>runs/latest/*.json</c>, the most recently written first, without loss curves.</summary>
    private static async Task<RunList> ListAsync(BlobServiceClient blobs, CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(StorageNames.RunsContainer);
        var latest = new List<(string Name, DateTimeOffset Modified)>();
        try
        {
            await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Prefix = StorageNames.LatestRunsFolder + "/" }, cancellationToken).ConfigureAwait(false))
            {
                latest.Add((item.Name, item.Properties.LastModified ?? default));
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // No runs container yet: nothing has been trained.
        }

        var list = new RunList();
        foreach (var (name, _) in latest.OrderByDescending(l => l.Modified).Take(MaxListed))
        {
            if (await ReadAsync(blobs, name, cancellationToken).ConfigureAwait(false) is { } status)
            {
                status.Losses = null;
                list.Runs.Add(status);
            }
        }

        return list;
    }

    /// <summary>A status document of the <c>runs</c> container; null when it (or the container) does not exist.</summary>
    private static async Task<RunStatus?> ReadAsync(BlobServiceClient blobs, string path, CancellationToken cancellationToken) =>
        (await BlobJson.ReadAsync(blobs.GetBlobContainerClient(StorageNames.RunsContainer).GetBlobClient(path), PipelineJson.Default.RunStatus, cancellationToken).ConfigureAwait(false))?.Value;

    private static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Training run not found");
}

/// <summary><c>GET /api/runs</c>: the latest run of every model.</summary>
public sealed class RunList
{
    public List<RunStatus> Runs { get; set; } = [];
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunList))]
public sealed partial class RunsJson : JsonSerializerContext;
