using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Training.Publishing;

/// <summary>
/// Publishes a model version: every ONNX artifact (fp32 and int8 candidates), then its manifest, and only then moves <c>current.json</c> with If-Match,
/// so no reader ever follows the pointer to a half-written version.
/// </summary>
public sealed partial class ModelPublisher(BlobServiceClient blobs, TimeProvider time, ILogger<ModelPublisher> logger)
{
    private const int MaxPointerAttempts = 10;

    /// <param name="manifest">The version's manifest; <see cref="ModelManifest.Artifact"/> must be one of <paramref name="artifacts"/>.</param>
    /// <param name="artifacts">File name in the version folder → bytes.</param>
    /// <param name="cancellationToken">Cancels the uploads.</param>
    /// <param name="makeCurrent">Move <c>current.json</c> to this version (false: publish it as a candidate only).</param>
    public async Task PublishAsync(ModelManifest manifest, IReadOnlyDictionary<string, byte[]> artifacts, CancellationToken cancellationToken, bool makeCurrent = true)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(artifacts);
        if (!artifacts.ContainsKey(manifest.Artifact))
        {
            throw new ArgumentException($"The served artifact {manifest.Artifact} is not among the artifacts to publish.", nameof(artifacts));
        }

        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var folder = $"{manifest.Model}/{manifest.Version}";
        foreach (var (file, bytes) in artifacts)
        {
            await models.GetBlobClient($"{folder}/{file}").UploadAsync(new BinaryData(bytes),
                new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = ContentType(file) } }, cancellationToken).ConfigureAwait(false);
        }

        await BlobJson.WriteAsync(models.GetBlobClient(StorageNames.ModelManifestPath(manifest.Model, manifest.Version)), manifest,
            PipelineJson.Default.ModelManifest, null, cancellationToken).ConfigureAwait(false);
        if (!makeCurrent)
        {
            LogCandidate(logger, manifest.Model, manifest.Version);
            return;
        }

        await MovePointerAsync(models.GetBlobClient(StorageNames.CurrentPointerPath(manifest.Model)), manifest.Version, cancellationToken).ConfigureAwait(false);
        LogPublished(logger, manifest.Model, manifest.Version);
    }

    private static string ContentType(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".md" => "text/markdown; charset=utf-8",
        ".png" => "image/png",
        ".svg" => "image/svg+xml",
        ".json" => "application/json",
        _ => "application/octet-stream",
    };

    /// <summary>Replaces the pointer only if nobody changed it since it was read (If-Match / If-None-Match: *).</summary>
    private async Task MovePointerAsync(BlobClient pointerBlob, string version, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var existing = await BlobJson.ReadAsync(pointerBlob, PipelineJson.Default.CurrentPointer, cancellationToken).ConfigureAwait(false);
            var conditions = existing is { } e ? new BlobRequestConditions { IfMatch = e.ETag } : new BlobRequestConditions { IfNoneMatch = ETag.All };
            try
            {
                await BlobJson.WriteAsync(pointerBlob, new CurrentPointer { Version = version, UpdatedAt = time.GetUtcNow() },
                    PipelineJson.Default.CurrentPointer, conditions, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < MaxPointerAttempts)
            {
                LogPointerRace(logger, pointerBlob.Name, attempt);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Published model {Model} version {Version} and moved current.json to it")]
    private static partial void LogPublished(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Published model {Model} version {Version} as a candidate; current.json unchanged")]
    private static partial void LogCandidate(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Pointer} changed while being moved (attempt {Attempt}); reading it again")]
    private static partial void LogPointerRace(ILogger logger, string pointer, int attempt);
}
