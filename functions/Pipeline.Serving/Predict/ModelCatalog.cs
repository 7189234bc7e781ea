using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Serving.Predict;

/// <summary>What exists in the <c>models</c> container: model names, their version folders, current pointers and manifests.</summary>
public sealed class ModelCatalog(BlobServiceClient blobs, ModelRegistry registry, TimeProvider time)
{
    private sealed record VersionFolder(string Version, bool HasManifest, bool HasModel, DateTimeOffset LastModified);

    private BlobContainerClient Models => blobs.GetBlobContainerClient(StorageNames.ModelsContainer);

    public async Task<List<ModelSummary>> ListAsync(CancellationToken cancellationToken)
    {
        var summaries = new List<ModelSummary>();
        var byName = await ScanAsync(null, cancellationToken).ConfigureAwait(false);
        foreach (var (name, (hasPointer, versions)) in byName.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (versions.Count == 0)
            {
                continue;
            }

            var current = await CurrentVersionAsync(name, hasPointer, versions, cancellationToken).ConfigureAwait(false);
            var manifest = current is not null && versions.Any(v => v.Version == current && v.HasManifest)
                ? await ReadManifestAsync(name, current, cancellationToken).ConfigureAwait(false)
                : null;
            var served = registry.Snapshot().FirstOrDefault(s => s.Name == name);
            var loaded = served?.ServedVersion is { } sv ? registry.Peek(name, sv) : null;
            summaries.Add(new ModelSummary
            {
                Name = name,
                CurrentVersion = current,
                ServedVersion = served?.ServedVersion,
                Task = loaded?.Manifest.Task ?? NullIfEmpty(manifest?.Task),
                Features = loaded?.Manifest.Features ?? (manifest is { Features.Count: > 0 } ? manifest.Features : null),
                TestMetrics = manifest?.TestMetrics,
                Versions = versions.Count,
                Problem = served?.Problem,
            });
        }

        return summaries;
    }

    /// <summary>Null when the model does not exist.</summary>
    public async Task<ModelDetails?> GetAsync(string name, CancellationToken cancellationToken)
    {
        var scan = await ScanAsync(name, cancellationToken).ConfigureAwait(false);
        if (!scan.TryGetValue(name, out var found) || found.Versions.Count == 0)
        {
            return null;
        }

        var current = await CurrentVersionAsync(name, found.HasPointer, found.Versions, cancellationToken).ConfigureAwait(false);
        var served = registry.Snapshot().FirstOrDefault(s => s.Name == name);
        var details = new ModelDetails { Name = name, CurrentVersion = current, ServedVersion = served?.ServedVersion, Problem = served?.Problem };
        foreach (var folder in found.Versions.OrderByDescending(v => v.LastModified))
        {
            var manifest = folder.HasManifest ? await ReadManifestAsync(name, folder.Version, cancellationToken).ConfigureAwait(false) : null;
            var loaded = registry.Peek(name, folder.Version);
            details.Versions.Add(new ModelVersionInfo
            {
                Version = folder.Version,
                Source = folder.HasManifest ? "manifest" : "onnx",
                CreatedAt = manifest?.CreatedAt is { } c && c != default ? c : folder.LastModified,
                IsCurrent = folder.Version == current,
                ValidationMetrics = manifest?.ValidationMetrics,
                TestMetrics = manifest?.TestMetrics,
                Loaded = loaded is not null,
                Requests = loaded?.Requests,
                Rows = loaded?.Rows,
            });
            if (folder.Version == current)
            {
                details.Current = loaded?.Manifest ?? manifest;
            }
        }

        return details;
    }

    /// <summary>
    /// Moves <c>models/{name}/current.json</c> to <paramref name="version"/> (If-Match on the pointer read, so a
    /// concurrent move is not overwritten) after loading it and passing the smoke prediction here. Returns the
    /// previous version. Throws <see cref="ModelUnavailableException"/> for a broken version, and
    /// <see cref="RequestFailedException"/> 412 when the pointer moved meanwhile.
    /// </summary>
    public async Task<(bool Found, string? Previous)> SetCurrentAsync(string name, string version, CancellationToken cancellationToken)
    {
        if (await registry.GetOrLoadAsync(name, version, cancellationToken).ConfigureAwait(false) is null)
        {
            return (false, null);
        }

        var blob = Models.GetBlobClient(StorageNames.CurrentPointerPath(name));
        var existing = await ReadPointerAsync(blob, cancellationToken).ConfigureAwait(false);
        var conditions = existing is { } e ? new BlobRequestConditions { IfMatch = e.ETag } : new BlobRequestConditions { IfNoneMatch = ETag.All };
        await BlobJson.WriteAsync(blob, new CurrentPointer { Version = version, UpdatedAt = time.GetUtcNow() }, PipelineJson.Default.CurrentPointer, conditions, cancellationToken).ConfigureAwait(false);
        registry.Invalidate(name);
        return (true, existing?.Version);
    }

    private static async Task<(string? Version, ETag ETag)?> ReadPointerAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            var pointer = await BlobJson.ReadAsync(blob, PipelineJson.Default.CurrentPointer, cancellationToken).ConfigureAwait(false);
            return pointer is { } p ? (p.Value.Version, p.ETag) : null;
        }
        catch (JsonException)
        {
            // A corrupt pointer is replaced (still with If-Match on its ETag).
            var properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return (null, properties.Value.ETag);
        }
    }

    private async Task<string?> CurrentVersionAsync(string name, bool hasPointer, List<VersionFolder> versions, CancellationToken cancellationToken)
    {
        if (hasPointer)
        {
            try
            {
                var pointer = await BlobJson.ReadAsync(Models.GetBlobClient(StorageNames.CurrentPointerPath(name)), PipelineJson.Default.CurrentPointer, cancellationToken).ConfigureAwait(false);
                if (pointer is { } p && ModelRegistry.IsValidVersion(p.Value.Version))
                {
                    return p.Value.Version;
                }
            }
            catch (Exception e) when (e is JsonException or InvalidDataException)
            {
                return null;
            }
        }

        return versions.MaxBy(v => v.LastModified)?.Version;
    }

    private async Task<ModelManifest?> ReadManifestAsync(string name, string version, CancellationToken cancellationToken)
    {
        try
        {
            return (await BlobJson.ReadAsync(Models.GetBlobClient(StorageNames.ModelManifestPath(name, version)), PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false))?.Value;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            return null; // shown without metrics; predict reports the broken manifest
        }
    }

    /// <summary>Model name → (has current.json, version folders with a model file or manifest), from one listing.</summary>
    private async Task<Dictionary<string, (bool HasPointer, List<VersionFolder> Versions)>> ScanAsync(string? name, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, (bool HasPointer, List<VersionFolder> Versions)>(StringComparer.Ordinal);
        var folders = new Dictionary<(string, string), VersionFolder>();
        try
        {
            await foreach (var item in Models.GetBlobsAsync(new GetBlobsOptions { Prefix = name is null ? null : name + "/" }, cancellationToken).ConfigureAwait(false))
            {
                var parts = item.Name.Split('/');
                if (!StorageNames.IsValidName(parts[0]))
                {
                    continue;
                }

                if (!result.TryGetValue(parts[0], out var entry))
                {
                    entry = (false, []);
                }

                if (parts.Length == 2 && parts[1] == StorageNames.CurrentPointerFile)
                {
                    entry.HasPointer = true;
                }
                else if (parts.Length == 3 && parts[2] is StorageNames.ManifestFile or StorageNames.ModelFile && ModelRegistry.IsValidVersion(parts[1]))
                {
                    var modified = item.Properties.LastModified ?? DateTimeOffset.MinValue;
                    var key = (parts[0], parts[1]);
                    var folder = folders.TryGetValue(key, out var f) ? f : new VersionFolder(parts[1], false, false, modified);
                    folder = parts[2] == StorageNames.ManifestFile ? folder with { HasManifest = true } : folder with { HasModel = true };
                    folder = folder with { LastModified = modified > folder.LastModified ? modified : folder.LastModified };
                    folders[key] = folder;
                }

                result[parts[0]] = entry;
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return result; // no models container yet
        }

        foreach (var ((model, _), folder) in folders)
        {
            result[model].Versions.Add(folder);
        }

        return result;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
