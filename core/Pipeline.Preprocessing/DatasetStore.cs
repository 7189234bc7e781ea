using Azure.Storage.Blobs;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Preprocessing;

/// <summary>
/// Writes accepted dataset versions (Parquet splits, <c>report.json</c> and <c>report.md</c>, then <c>manifest.json</c> last)
/// and rejection reports (<c>rejections/{time}-{file}.json</c> with a <c>.md</c> summary beside it).
/// </summary>
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
        foreach (var (split, path) in data.SplitFiles)
        {
            var file = $"{split}.parquet";
            await Datasets.GetBlobClient(StorageNames.VersionFilePath(manifest.Dataset, manifest.Version, file)).UploadAsync(path, overwrite: true, cancellationToken).ConfigureAwait(false);
            manifest.Splits[split] = file;
        }

        data.Report.Version = manifest.Version;
        await BlobJson.WriteAsync(Datasets.GetBlobClient(StorageNames.VersionFilePath(manifest.Dataset, manifest.Version, StorageNames.ValidationReportFile)), data.Report, PipelineJson.Default.ValidationReport, null, cancellationToken).ConfigureAwait(false);
        await Datasets.GetBlobClient(StorageNames.VersionFilePath(manifest.Dataset, manifest.Version, StorageNames.ValidationSummaryFile)).UploadAsync(BinaryData.FromString(ReportSummary.ToMarkdown(data.Report)), overwrite: true, cancellationToken).ConfigureAwait(false);
        manifest.Report = StorageNames.ValidationReportFile;
        manifest.Summary = StorageNames.ValidationSummaryFile;

        // The manifest goes last: a version folder with a manifest is complete.
        await BlobJson.WriteAsync(Datasets.GetBlobClient(StorageNames.DatasetManifestPath(manifest.Dataset, manifest.Version)),
            manifest, PipelineJson.Default.DatasetManifest, conditions: null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> WriteRejectionAsync(RejectionReport report, CancellationToken cancellationToken)
    {
        await Datasets.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var path = StorageNames.RejectionPath(report.Dataset, report.RejectedAt, report.Blob);
        report.Summary = report.Validation is { } validation ? ReportSummary.ToMarkdown(validation, report) : $"Rejected ({report.Reason}): {report.Message}";
        await BlobJson.WriteAsync(Datasets.GetBlobClient(path + ".json"), report, PipelineJson.Default.RejectionReport, null, cancellationToken).ConfigureAwait(false);
        await Datasets.GetBlobClient(path + ".md").UploadAsync(BinaryData.FromString(report.Summary), overwrite: true, cancellationToken).ConfigureAwait(false);
        return path + ".json";
    }
}
