using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Training.Publishing;

/// <summary>
/// Publishes a model version: every artifact (ONNX candidates, report), then its manifest; the version is complete once
/// its manifest exists. Moving <c>current.json</c> to it is a separate step through <see cref="ModelPointer"/>, taken only
/// after the version is complete, so no reader ever follows the pointer to a half-written version.
/// </summary>
public sealed partial class ModelPublisher(BlobServiceClient blobs, TimeProvider time, ILogger<ModelPublisher> logger)
{
    private BlobContainerClient Models => blobs.GetBlobContainerClient(StorageNames.ModelsContainer);

    /// <param name="manifest">The version's manifest; <see cref="ModelManifest.Artifact"/> must be one of <paramref name="artifacts"/>.</param>
    /// <param name="artifacts">File name in the version folder → bytes.</param>
    /// <param name="cancellationToken">Cancels the uploads.</param>
    public async Task PublishVersionAsync(ModelManifest manifest, IReadOnlyDictionary<string, byte[]> artifacts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(artifacts);
        if (!artifacts.ContainsKey(manifest.Artifact))
        {
            throw new ArgumentException($"The served artifact {manifest.Artifact} is not among the artifacts to publish.", nameof(artifacts));
        }

        await Models.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var folder = $"{manifest.Model}/{manifest.Version}";
        foreach (var (file, bytes) in artifacts)
        {
            await Models.GetBlobClient($"{folder}/{file}").UploadAsync(new BinaryData(bytes),
                new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = ContentType(file) } }, cancellationToken).ConfigureAwait(false);
        }

        await WriteManifestAsync(manifest, cancellationToken).ConfigureAwait(false);
        LogCandidate(logger, manifest.Model, manifest.Version);
    }

    /// <summary>Rewrites a published version's manifest (its promotion decision changed after a lost race for the pointer).</summary>
    public Task WriteManifestAsync(ModelManifest manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return BlobJson.WriteAsync(Models.GetBlobClient(StorageNames.ModelManifestPath(manifest.Model, manifest.Version)), manifest,
            PipelineJson.Default.ModelManifest, null, cancellationToken);
    }

    /// <summary>The pointer as it is now, for the champion/challenger decision.</summary>
    public Task<PointerState> ReadPointerAsync(string model, CancellationToken cancellationToken) =>
        ModelPointer.ReadAsync(Models, model, cancellationToken);

    /// <summary>
    /// Moves <c>current.json</c> to the published version if it is still what the decision compared against; false when
    /// someone (another run, an operator's rollback) moved it meanwhile: read it again and decide again.
    /// </summary>
    public async Task<bool> TryMakeCurrentAsync(ModelManifest manifest, PointerState compared, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (await ModelPointer.TryMoveAsync(Models, manifest.Model, manifest.Version, compared, time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is not null)
        {
            LogPublished(logger, manifest.Model, manifest.Version);
            return true;
        }

        LogPointerRace(logger, manifest.Model, manifest.Version);
        return false;
    }

    private static string ContentType(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".md" => "text/markdown; charset=utf-8",
        ".png" => "image/png",
        ".svg" => "image/svg+xml",
        ".json" => "application/json",
        _ => "application/octet-stream",
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Moved current.json of model {Model} to version {Version}")]
    private static partial void LogPublished(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Published model {Model} version {Version} (artifacts and manifest)")]
    private static partial void LogCandidate(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "current.json of model {Model} was moved while version {Version} was being compared; comparing again")]
    private static partial void LogPointerRace(ILogger logger, string model, string version);
}
