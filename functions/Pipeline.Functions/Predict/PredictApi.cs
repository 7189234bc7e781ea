using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Functions.Predict;

/// <summary>The HTTP functions <c>Predict</c> (<c>POST /api/models/{name}/predict</c>) and <c>Models</c> (<c>GET /api/models[/{name}]</c>).</summary>
public static class PredictApi
{
    public static IEndpointRouteBuilder MapPredictApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/models");
        models.MapPost("/{name}/predict", PredictAsync);
        models.MapGet("/", ListAsync);
        models.MapGet("/{name}", GetAsync);
        return app;
    }

    private static async Task<Results<JsonHttpResult<PredictResponse>, ProblemHttpResult>> PredictAsync(
        string name, HttpRequest request, ModelRegistry registry, IOptions<ModelOptions> options, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(name))
        {
            return NotFound(name);
        }

        byte[] body;
        try
        {
            body = await PredictRequestReader.ReadBodyAsync(request, options.Value.MaxBodyBytes, cancellationToken);
        }
        catch (PredictRequestException e)
        {
            return TypedResults.Problem(e.Message, statusCode: e.Status, title: e.Title);
        }

        var model = await registry.LeaseCurrentAsync(name, cancellationToken);
        if (model is null)
        {
            return NotFound(name);
        }

        try
        {
            var manifest = model.Manifest;
            var (features, rows) = PredictRequestReader.Parse(body, manifest.Features, options.Value.MaxRows, model.Encoder);
            var output = model.Run(features, rows);
            return TypedResults.Json(new PredictResponse
            {
                Model = name,
                Version = manifest.Version,
                Predictions = ToPredictions(manifest, output, rows, model.OutputWidth),
            }, PredictJson.Default.PredictResponse);
        }
        catch (PredictRequestException e)
        {
            return TypedResults.Problem(e.Message, statusCode: e.Status, title: e.Title);
        }
        finally
        {
            model.Release();
        }
    }

    private static List<Prediction> ToPredictions(ModelManifest manifest, float[] output, int rows, int width)
    {
        var predictions = new List<Prediction>(rows);
        for (var r = 0; r < rows; r++)
        {
            var row = output.AsSpan(r * width, width);
            if (manifest.Task == TaskKind.Classification)
            {
                var probabilities = new Dictionary<string, double>(width, StringComparer.Ordinal);
                var best = 0;
                for (var k = 0; k < width; k++)
                {
                    probabilities[manifest.Labels[k]] = row[k];
                    if (row[k] > row[best])
                    {
                        best = k;
                    }
                }

                predictions.Add(new Prediction { Label = manifest.Labels[best], Probabilities = probabilities });
            }
            else
            {
                predictions.Add(new Prediction { Value = row[0] });
            }
        }

        return predictions;
    }

    private static async Task<JsonHttpResult<List<ModelSummary>>> ListAsync(BlobServiceClient blobs, CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        var summaries = new List<ModelSummary>();
        if (!(await container.ExistsAsync(cancellationToken)).Value)
        {
            return TypedResults.Json(summaries, PredictJson.Default.ListModelSummary);
        }

        await foreach (var item in container.GetBlobsByHierarchyAsync(new GetBlobsByHierarchyOptions { Delimiter = "/" }, cancellationToken))
        {
            if (!item.IsPrefix)
            {
                continue;
            }

            var name = item.Prefix.TrimEnd('/');
            var manifest = await ReadCurrentManifestAsync(container, name, cancellationToken);
            if (manifest is not null)
            {
                summaries.Add(new ModelSummary
                {
                    Name = name,
                    Version = manifest.Version,
                    Task = manifest.Task,
                    Features = manifest.Features,
                    TestMetrics = manifest.TestMetrics,
                });
            }
        }

        return TypedResults.Json(summaries, PredictJson.Default.ListModelSummary);
    }

    private static async Task<Results<JsonHttpResult<ModelDetails>, ProblemHttpResult>> GetAsync(string name, BlobServiceClient blobs, CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        if (!StorageNames.IsValidName(name) || !(await container.ExistsAsync(cancellationToken)).Value)
        {
            return NotFound(name);
        }

        var manifest = await ReadCurrentManifestAsync(container, name, cancellationToken);
        if (manifest is null)
        {
            return NotFound(name);
        }

        var versions = new List<string>();
        await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Prefix = name + "/" }, cancellationToken))
        {
            // Only complete versions: the manifest is written after the model file.
            var parts = item.Name.Split('/');
            if (parts.Length == 3 && parts[2] == StorageNames.ManifestFile)
            {
                versions.Add(parts[1]);
            }
        }

        return TypedResults.Json(new ModelDetails { Name = name, CurrentVersion = manifest.Version, Current = manifest, Versions = versions },
            PredictJson.Default.ModelDetails);
    }

    private static async Task<ModelManifest?> ReadCurrentManifestAsync(BlobContainerClient container, string name, CancellationToken cancellationToken)
    {
        var pointer = await BlobJson.ReadAsync(container.GetBlobClient(StorageNames.CurrentPointerPath(name)), PipelineJson.Default.CurrentPointer, cancellationToken);
        if (pointer is null)
        {
            return null;
        }

        var manifest = await BlobJson.ReadAsync(container.GetBlobClient(StorageNames.ModelManifestPath(name, pointer.Value.Value.Version)), PipelineJson.Default.ModelManifest, cancellationToken);
        return manifest?.Value;
    }

    private static ProblemHttpResult NotFound(string name) =>
        TypedResults.Problem($"There is no model named '{name}'. GET /api/models lists the models being served.", statusCode: StatusCodes.Status404NotFound, title: "Model not found");
}
