using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Datasets;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Functions.Preprocess;

/// <summary>Writes accepted dataset versions (Parquet splits, then <c>manifest.json</c> last) and rejection reports.</summary>
public sealed class DatasetStore(BlobServiceClient blobs)
{
    private BlobContainerClient Datasets => blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);

    public async Task<bool> VersionExistsAsync(string dataset, string version, CancellationToken cancellationToken)
    {
        var response = await Datasets.GetBlobClient(StorageNames.DatasetManifestPath(dataset, version)).ExistsAsync(cancellationToken).ConfigureAwait(false);
        return response.Value;
    }

    public async Task WriteVersionAsync(DatasetManifest manifest, PreparedDataset data, CancellationToken cancellationToken)
    {
        await Datasets.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var (split, rows) in data.Splits)
        {
            var file = $"{split}.parquet";
            using var buffer = new MemoryStream();
            await DatasetParquet.WriteAsync(buffer, manifest.Features.Select(f => f.Name).ToList(), rows, cancellationToken).ConfigureAwait(false);
            buffer.Position = 0;
            await Datasets.GetBlobClient($"{manifest.Dataset}/{manifest.Version}/{file}").UploadAsync(buffer, overwrite: true, cancellationToken).ConfigureAwait(false);
            manifest.Splits[split] = file;
        }

        // The manifest goes last: a version folder with a manifest is complete.
        await BlobJson.WriteAsync(Datasets.GetBlobClient(StorageNames.DatasetManifestPath(manifest.Dataset, manifest.Version)),
            manifest, PipelineJson.Default.DatasetManifest, conditions: null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> WriteRejectionAsync(RejectionReport report, CancellationToken cancellationToken)
    {
        await Datasets.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var stamp = report.RejectedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var file = Path.GetFileName(report.Blob);
        var path = $"{report.Dataset}/{StorageNames.RejectionsFolder}/{stamp}-{file}.json";
        await BlobJson.WriteAsync(Datasets.GetBlobClient(path), report, PipelineJson.Default.RejectionReport, null, cancellationToken).ConfigureAwait(false);
        return path;
    }
}
