using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Cli.Target;

/// <summary>A dataset version's manifest and when its blob was written.</summary>
public sealed record DatasetVersionEntry(DatasetManifest Manifest, DateTimeOffset WrittenAt);

/// <summary>A rejection report and where it is stored.</summary>
public sealed record RejectionEntry(string Path, RejectionReport Report);

/// <summary>
/// Reads the storage contract (README, "Storage contract") for the tool: datasets, their versions, pending builds and
/// rejections, run status, model manifests and current pointers. Paths come from <see cref="StorageNames"/>; a missing
/// container reads as empty.
/// </summary>
public sealed class PipelineStore(BlobServiceClient blobs)
{
    /// <summary>Rejection reports read by one call, newest first: a dataset that keeps failing is not read back in full.</summary>
    public const int MaxRejections = 1000;

    public BlobContainerClient Raw => blobs.GetBlobContainerClient(StorageNames.RawContainer);

    public BlobContainerClient Datasets => blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);

    public BlobContainerClient Models => blobs.GetBlobContainerClient(StorageNames.ModelsContainer);

    public BlobContainerClient Runs => blobs.GetBlobContainerClient(StorageNames.RunsContainer);

    public BlobContainerClient Predictions => blobs.GetBlobContainerClient(StorageNames.PredictionsContainer);

    /// <summary>Dataset names: folders of <c>raw/</c> and of <c>datasets/</c>.</summary>
    public async Task<IReadOnlyList<string>> ListDatasetsAsync(CancellationToken cancellationToken)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var container in new[] { Raw, Datasets })
        {
            await foreach (var name in FoldersAsync(container, cancellationToken).ConfigureAwait(false))
            {
                names.Add(name);
            }
        }

        return [.. names];
    }

    /// <summary>Model names: folders of <c>models/</c>.</summary>
    public async Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken)
    {
        var names = new List<string>();
        await foreach (var name in FoldersAsync(Models, cancellationToken).ConfigureAwait(false))
        {
            names.Add(name);
        }

        return names;
    }

    /// <summary>Whether anything of the dataset exists: files in <c>raw/{dataset}/</c> or anything under <c>datasets/{dataset}/</c>.</summary>
    public async Task<bool> DatasetExistsAsync(string dataset, CancellationToken cancellationToken) =>
        await AnyAsync(Raw, StorageNames.FolderPrefix(dataset), cancellationToken).ConfigureAwait(false)
        || await AnyAsync(Datasets, StorageNames.FolderPrefix(dataset), cancellationToken).ConfigureAwait(false);

    /// <summary>The files uploaded to <c>raw/{dataset}/</c>.</summary>
    public async Task<IReadOnlyList<BlobItem>> ListRawFilesAsync(string dataset, CancellationToken cancellationToken)
    {
        var files = new List<BlobItem>();
        await foreach (var item in ListAsync(Raw, StorageNames.FolderPrefix(dataset), cancellationToken).ConfigureAwait(false))
        {
            files.Add(item);
        }

        return files;
    }

    /// <summary>
    /// The complete versions of the dataset (those with a manifest), newest first, at most <paramref name="limit"/> of them
    /// read. <paramref name="cache"/> keeps manifests already read (a version's manifest is written once, last).
    /// </summary>
    public async Task<IReadOnlyList<DatasetVersionEntry>> ListDatasetVersionsAsync(string dataset, IDictionary<string, DatasetManifest>? cache, CancellationToken cancellationToken, int limit = int.MaxValue)
    {
        var versions = new List<DatasetVersionEntry>();
        foreach (var item in (await ManifestBlobsAsync(dataset, cancellationToken).ConfigureAwait(false)).OrderByDescending(i => i.Properties.LastModified).Take(limit))
        {
            if (cache is null || !cache.TryGetValue(item.Name, out var manifest))
            {
                manifest = (await BlobJson.ReadAsync(Datasets.GetBlobClient(item.Name), PipelineJson.Default.DatasetManifest, cancellationToken).ConfigureAwait(false))?.Value;
                if (manifest is null)
                {
                    continue;
                }

                cache?.Add(item.Name, manifest);
            }

            versions.Add(new DatasetVersionEntry(manifest, item.Properties.LastModified ?? manifest.CreatedAt));
        }

        return versions;
    }

    /// <summary>How many complete versions the dataset has (manifests listed, not read).</summary>
    public async Task<int> CountDatasetVersionsAsync(string dataset, CancellationToken cancellationToken) =>
        (await ManifestBlobsAsync(dataset, cancellationToken).ConfigureAwait(false)).Count;

    /// <summary>The <c>datasets/{dataset}/{version}/manifest.json</c> blobs.</summary>
    private async Task<List<BlobItem>> ManifestBlobsAsync(string dataset, CancellationToken cancellationToken)
    {
        var manifests = new List<BlobItem>();
        await foreach (var item in ListAsync(Datasets, StorageNames.FolderPrefix(dataset), cancellationToken).ConfigureAwait(false))
        {
            var parts = item.Name.Split('/');
            if (parts.Length == 3 && parts[2] == StorageNames.ManifestFile && parts[1] != StorageNames.RejectionsFolder)
            {
                manifests.Add(item);
            }
        }

        return manifests;
    }

    public async Task<ValidationReport?> ReadValidationReportAsync(string dataset, string version, CancellationToken cancellationToken) =>
        (await BlobJson.ReadAsync(Datasets.GetBlobClient(StorageNames.VersionFilePath(dataset, version, StorageNames.ValidationReportFile)),
            PipelineJson.Default.ValidationReport, cancellationToken).ConfigureAwait(false))?.Value;

    /// <summary>When the pending build of the dataset was scheduled, or null when none is.</summary>
    public async Task<DateTimeOffset?> PendingSinceAsync(string dataset, CancellationToken cancellationToken)
    {
        try
        {
            var properties = await Datasets.GetBlobClient(StorageNames.PendingMarkerPath(dataset)).GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return properties.Value.LastModified;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The dataset's rejection reports, newest first; <paramref name="since"/> skips older ones without reading them.</summary>
    public async Task<IReadOnlyList<RejectionEntry>> ListRejectionsAsync(string dataset, DateTimeOffset? since, CancellationToken cancellationToken, int limit = MaxRejections)
    {
        var paths = new List<(string Name, DateTimeOffset Written)>();
        await foreach (var item in ListAsync(Datasets, StorageNames.RejectionsPrefix(dataset), cancellationToken).ConfigureAwait(false))
        {
            var written = item.Properties.LastModified ?? DateTimeOffset.MinValue;
            if (item.Name.EndsWith(".json", StringComparison.Ordinal) && (since is null || written >= since))
            {
                paths.Add((item.Name, written));
            }
        }

        var reports = new List<RejectionEntry>();
        foreach (var (name, _) in paths.OrderByDescending(p => p.Written).ThenByDescending(p => p.Name, StringComparer.Ordinal).Take(Math.Clamp(limit, 0, MaxRejections)))
        {
            if (await BlobJson.ReadAsync(Datasets.GetBlobClient(name), PipelineJson.Default.RejectionReport, cancellationToken).ConfigureAwait(false) is { } report)
            {
                reports.Add(new RejectionEntry($"{StorageNames.DatasetsContainer}/{name}", report.Value));
            }
        }

        return reports;
    }

    /// <summary>
    /// Batch-scoring reports (<c>predictions/…/{file}.report.json</c>) of every model, or of <paramref name="model"/>'s
    /// folders (<c>{model}/</c> and <c>{model}@{version}/</c>), newest first; a report that cannot be read is an entry with its problem.
    /// </summary>
    public async Task<IReadOnlyList<ScoringReportEntry>> ListScoringReportsAsync(string? model, CancellationToken cancellationToken, int limit = ScoringReports.MaxListed) =>
        (await ScoringReports.ListAsync(Predictions, model, limit, cancellationToken).ConfigureAwait(false)).Entries;

    /// <summary><c>runs/latest/{model}.json</c>.</summary>
    public async Task<RunStatus?> ReadLatestRunAsync(string model, CancellationToken cancellationToken) =>
        (await BlobJson.ReadAsync(Runs.GetBlobClient(StorageNames.LatestRunPath(model)), PipelineJson.Default.RunStatus, cancellationToken).ConfigureAwait(false))?.Value;

    /// <summary>The latest run of every model (<c>runs/latest/*.json</c>).</summary>
    public async Task<IReadOnlyList<RunStatus>> ListLatestRunsAsync(CancellationToken cancellationToken)
    {
        var runs = new List<RunStatus>();
        await foreach (var item in ListAsync(Runs, StorageNames.LatestRunsFolder + "/", cancellationToken).ConfigureAwait(false))
        {
            if (await BlobJson.ReadAsync(Runs.GetBlobClient(item.Name), PipelineJson.Default.RunStatus, cancellationToken).ConfigureAwait(false) is { } run)
            {
                runs.Add(run.Value);
            }
        }

        return [.. runs.OrderByDescending(r => r.UpdatedAt)];
    }

    public async Task<ModelManifest?> ReadModelManifestAsync(string model, string version, CancellationToken cancellationToken) =>
        (await BlobJson.ReadAsync(Models.GetBlobClient(StorageNames.ModelManifestPath(model, version)), PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false))?.Value;

    /// <summary>The version <c>models/{model}/current.json</c> names, or null.</summary>
    public async Task<string?> ReadCurrentVersionAsync(string model, CancellationToken cancellationToken) =>
        (await ModelPointer.ReadAsync(Models, model, cancellationToken).ConfigureAwait(false)).Current?.Version;

    private static async IAsyncEnumerable<string> FoldersAsync(BlobContainerClient container, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = container.GetBlobsByHierarchyAsync(new GetBlobsByHierarchyOptions { Delimiter = "/" }, cancellationToken).AsPages().GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                Page<BlobHierarchyItem> page;
                try
                {
                    if (!await pages.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }

                    page = pages.Current;
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    yield break;
                }

                foreach (var item in page.Values.Where(i => i.IsPrefix))
                {
                    yield return item.Prefix.TrimEnd('/');
                }
            }
        }
        finally
        {
            await pages.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async IAsyncEnumerable<BlobItem> ListAsync(BlobContainerClient container, string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var items = container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await items.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    // The container does not exist (yet): nothing was uploaded or built.
                    yield break;
                }

                yield return items.Current;
            }
        }
        finally
        {
            await items.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<bool> AnyAsync(BlobContainerClient container, string prefix, CancellationToken cancellationToken)
    {
        await foreach (var _ in ListAsync(container, prefix, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        return false;
    }
}
