using System.Text.Json;
using Pipeline.Contracts;
using Pipeline.Serving.Storage;
using Pipeline.Storage;

namespace Pipeline.Serving.Predict;

/// <summary>What exists in the model store: model names, their version folders, current pointers and manifests.</summary>
public sealed class ModelCatalog(IModelStore store, ModelRegistry registry, TimeProvider time)
{
    private const int MaxDocumentBytes = 1024 * 1024;

    private sealed record VersionFolder(string Version, bool HasManifest, bool HasModel, DateTimeOffset LastModified);

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

    /// <summary>How often a rollback reads the pointer again after losing a race for it before answering 409.</summary>
    public const int MaxPointerRaces = 3;

    /// <summary>
    /// Moves <c>{name}/current.json</c> to <paramref name="version"/> after loading the version and passing its smoke
    /// prediction here. The move is <see cref="ModelPointer"/>'s conditional write on the pointer as read; a rollback is
    /// the operator's explicit choice, so when another writer (a training run's promotion) moved the pointer meanwhile it
    /// reads it again and moves it from there, so the operator's choice is the last word and what it replaced is reported
    /// truthfully. Returns the previous version. Throws <see cref="ModelUnavailableException"/> for a broken version, and
    /// <see cref="Azure.RequestFailedException"/> 412 when the pointer kept moving.
    /// </summary>
    public async Task<(bool Found, string? Previous)> SetCurrentAsync(string name, string version, CancellationToken cancellationToken)
    {
        if (await registry.GetOrLoadAsync(name, version, cancellationToken).ConfigureAwait(false) is null)
        {
            return (false, null);
        }

        for (var attempt = 1; ; attempt++)
        {
            var read = await store.ReadPointerAsync(name, cancellationToken).ConfigureAwait(false);
            if (await store.TryMovePointerAsync(name, version, read, time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is { ETag: { } etag })
            {
                await registry.PromoteAsync(name, version, etag.ToString(), cancellationToken).ConfigureAwait(false);
                return (true, read.Current?.Version);
            }

            if (attempt == MaxPointerRaces)
            {
                throw new Azure.RequestFailedException(412, $"models/{name}/current.json kept changing while it was being moved.");
            }
        }
    }

    private async Task<string?> CurrentVersionAsync(string name, bool hasPointer, List<VersionFolder> versions, CancellationToken cancellationToken)
    {
        if (hasPointer && await store.ReadPointerAsync(name, cancellationToken).ConfigureAwait(false) is { ETag: not null } pointer)
        {
            return pointer.Current?.Version;
        }

        return versions.MaxBy(v => v.LastModified)?.Version;
    }

    /// <summary>A version's published manifest; null when the version has none (bring-your-own ONNX) or it cannot be read.</summary>
    public Task<ModelManifest?> GetVersionManifestAsync(string name, string version, CancellationToken cancellationToken) =>
        ReadManifestAsync(name, version, cancellationToken);

    /// <summary>A file of a version's training report (<c>report.md</c>, <c>report-*.png</c>); null when it does not exist.</summary>
    public async Task<byte[]?> GetReportFileAsync(string name, string version, string file, CancellationToken cancellationToken) =>
        (await store.ReadAsync($"{name}/{version}/{file}", null, MaxReportFileBytes, cancellationToken).ConfigureAwait(false))?.Content;

    /// <summary>Largest report file served (the trainer's plots are ~50 KB).</summary>
    public const int MaxReportFileBytes = 8 * 1024 * 1024;

    private async Task<ModelManifest?> ReadManifestAsync(string name, string version, CancellationToken cancellationToken)
    {
        try
        {
            var file = await store.ReadAsync(StorageNames.ModelManifestPath(name, version), null, MaxDocumentBytes, cancellationToken).ConfigureAwait(false);
            return file is null ? null : JsonSerializer.Deserialize(file.Content, PipelineJson.Default.ModelManifest);
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
        await foreach (var item in store.ListAsync(name is null ? null : name + "/", cancellationToken).ConfigureAwait(false))
        {
            var parts = item.Path.Split('/');
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
            else if (parts.Length == 3 && parts[2] is StorageNames.ManifestFile or StorageNames.ModelFile && StorageNames.IsValidVersion(parts[1]))
            {
                var key = (parts[0], parts[1]);
                var folder = folders.TryGetValue(key, out var f) ? f : new VersionFolder(parts[1], false, false, item.LastModified);
                folder = parts[2] == StorageNames.ManifestFile ? folder with { HasManifest = true } : folder with { HasModel = true };
                folder = folder with { LastModified = item.LastModified > folder.LastModified ? item.LastModified : folder.LastModified };
                folders[key] = folder;
            }

            result[parts[0]] = entry;
        }

        foreach (var ((model, _), folder) in folders)
        {
            result[model].Versions.Add(folder);
        }

        return result;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
