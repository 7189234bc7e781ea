using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Storage.Blobs.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Pipeline.Contracts;
using Pipeline.Serving.Storage;
using Pipeline.Storage;

namespace Pipeline.Serving.Scoring;

/// <summary>
/// The HTTP function <c>Scoring</c>: the batch-scoring jobs, from the reports beside their outputs
/// (<c>predictions/{model}[@{version}]/…/{file}.report.json</c>, read only). <c>GET /api/scoring?model=&amp;limit=</c> lists
/// the newest reports of every model or of one, each with its status, where it was scored, rows, version, output and,
/// on failure, the reason; a report that cannot be read is listed with its problem.
/// </summary>
public static class ScoringApi
{
    /// <summary>Reports listed when <c>limit</c> is not given.</summary>
    public const int DefaultLimit = 50;

    /// <summary>Most reports one request reads (each is one storage read).</summary>
    public const int MaxLimit = 200;

    /// <summary>Bad rows kept per listed report; the report itself lists up to 1,000.</summary>
    public const int MaxBadRowsListed = 10;

    public static IEndpointRouteBuilder MapScoringApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/scoring", ListAsync);
        return app;
    }

    private static async Task<Results<JsonHttpResult<ScoringJobList>, ProblemHttpResult>> ListAsync(string? model, int? limit, PipelineStorage storage, CancellationToken cancellationToken)
    {
        if (storage.Blobs is not { } blobs)
        {
            return TypedResults.Problem(PipelineStorage.NotInFolderMode("Batch-scoring reports"), statusCode: StatusCodes.Status404NotFound, title: "No scoring jobs here");
        }

        if (limit is < 1 or > MaxLimit)
        {
            return TypedResults.Problem($"limit must be 1-{MaxLimit} (default {DefaultLimit}).", statusCode: StatusCodes.Status400BadRequest, title: "Invalid limit");
        }

        var name = string.IsNullOrEmpty(model) ? null : model;
        if (name is not null && !StorageNames.IsValidName(name))
        {
            return UnknownModel(name);
        }

        var listed = await ScoringReports.ListAsync(blobs.GetBlobContainerClient(StorageNames.PredictionsContainer), name, limit ?? DefaultLimit, cancellationToken).ConfigureAwait(false);
        if (name is not null && listed.Entries.Count == 0 && !await ModelExistsAsync(blobs.GetBlobContainerClient(StorageNames.ModelsContainer), name, cancellationToken).ConfigureAwait(false))
        {
            return UnknownModel(name);
        }

        var list = new ScoringJobList { Model = name, Omitted = listed.Omitted, ScanStopped = listed.ScanStopped };
        foreach (var entry in listed.Entries)
        {
            if (entry.Report is { BadRows.Count: > MaxBadRowsListed } report)
            {
                report.BadRows = report.BadRows[..MaxBadRowsListed];
            }

            list.Jobs.Add(new ScoringJob { Path = entry.Path, WrittenAt = entry.WrittenAt, Report = entry.Report, Problem = entry.Problem });
        }

        return TypedResults.Json(list, ScoringJson.Default.ScoringJobList);
    }

    private static async Task<bool> ModelExistsAsync(Azure.Storage.Blobs.BlobContainerClient models, string name, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var _ in models.GetBlobsAsync(new GetBlobsOptions { Prefix = StorageNames.FolderPrefix(name) }, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            // No models container: no model exists.
        }

        return false;
    }

    private static ProblemHttpResult UnknownModel(string name) =>
        TypedResults.Problem($"There is no model named '{(name.Length <= 64 ? name : name[..64] + "…")}' and nothing was scored with that name. GET /api/models lists the models.",
            statusCode: StatusCodes.Status404NotFound, title: "Model not found");
}

/// <summary><c>GET /api/scoring</c>: the newest batch-scoring jobs.</summary>
public sealed class ScoringJobList
{
    /// <summary>The model asked for; null for every model.</summary>
    public string? Model { get; set; }

    public List<ScoringJob> Jobs { get; set; } = [];

    /// <summary>Reports that exist beyond the newest ones listed.</summary>
    public int Omitted { get; set; }

    /// <summary>The listing of <c>predictions</c> stopped at <see cref="ScoringReports.MaxScannedBlobs"/> blobs: older reports may be missing.</summary>
    public bool ScanStopped { get; set; }
}

/// <summary>One file dropped under <c>score/</c>: its report, or why the report cannot be read.</summary>
public sealed class ScoringJob
{
    /// <summary>The report blob, <c>predictions/…/{file}.report.json</c>.</summary>
    public string Path { get; set; } = "";

    /// <summary>When the report was last written.</summary>
    public DateTimeOffset WrittenAt { get; set; }

    /// <summary>The report as the functions app or the scoring job wrote it (at most <see cref="ScoringApi.MaxBadRowsListed"/> bad rows).</summary>
    public ScoringReport? Report { get; set; }

    /// <summary>Why the report could not be read (too large, not a scoring report).</summary>
    public string? Problem { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ScoringJobList))]
public sealed partial class ScoringJson : JsonSerializerContext;
