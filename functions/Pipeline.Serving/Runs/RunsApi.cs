using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Http.HttpResults;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Serving.Runs;

/// <summary>
/// Where run status documents are read: the <c>runs</c> container of the storage account. Serving from a local folder
/// (<c>Models:Path</c>) has no storage account, and so no runs: <see cref="Blobs"/> is null there.
/// </summary>
public sealed class RunStatusSource(BlobServiceClient? blobs)
{
    public BlobServiceClient? Blobs => blobs;
}

/// <summary>
/// The HTTP function <c>Runs</c>: training run status written by the trainer (<c>runs/{runId}/status.json</c>).
/// <c>GET /api/runs/{id}</c> is one run; <c>GET /api/runs?model={name}</c> the latest run of a model.
/// </summary>
public static class RunsApi
{
    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/runs");
        runs.MapGet("/{id}", GetAsync);
        runs.MapGet("/", LatestAsync);
        return app;
    }

    private static async Task<Results<JsonHttpResult<RunStatus>, ProblemHttpResult>> GetAsync(string id, RunStatusSource source, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidRunId(id))
        {
            return NotFound($"No training run '{id}'.");
        }

        return await ReadAsync(source, StorageNames.RunStatusPath(id), $"No training run '{id}'.", cancellationToken);
    }

    private static async Task<Results<JsonHttpResult<RunStatus>, ProblemHttpResult>> LatestAsync(string? model, RunStatusSource source, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(model))
        {
            return TypedResults.Problem("Name a run (/api/runs/{id}) or a model (/api/runs?model={name}).", statusCode: StatusCodes.Status400BadRequest, title: "Missing run id or model");
        }

        if (!StorageNames.IsValidName(model))
        {
            return NotFound($"No training run of model '{model}'.");
        }

        return await ReadAsync(source, StorageNames.LatestRunPath(model), $"No training run of model '{model}'.", cancellationToken);
    }

    private static async Task<Results<JsonHttpResult<RunStatus>, ProblemHttpResult>> ReadAsync(RunStatusSource source, string path, string notFound, CancellationToken cancellationToken)
    {
        if (source.Blobs is not { } blobs)
        {
            return NotFound("Training runs are kept in the storage account; this app serves models from a local folder (Models:Path).");
        }

        // A missing container or blob is a 404, which BlobJson reports as null.
        var status = await BlobJson.ReadAsync(blobs.GetBlobContainerClient(StorageNames.RunsContainer).GetBlobClient(path), PipelineJson.Default.RunStatus, cancellationToken);
        return status is { } s ? TypedResults.Json(s.Value, PipelineJson.Default.RunStatus) : NotFound(notFound);
    }

    private static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Training run not found");
}
