using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;

namespace Pipeline.Storage;

/// <summary>
/// One batch-scoring report (<c>predictions/…/{file}.report.json</c>) as listed: where it is, when it was written, and
/// the report — or, when it cannot be read (too large, not a report), why not, so a broken report is one entry of a
/// list instead of the failure of the list.
/// </summary>
public sealed record ScoringReportEntry(string Path, DateTimeOffset WrittenAt, ScoringReport? Report, string? Problem);

/// <summary>The newest reports, and how many more the listing found than it read.</summary>
public sealed record ScoringReportList(IReadOnlyList<ScoringReportEntry> Entries, int Omitted, bool ScanStopped);

/// <summary>
/// Lists the batch-scoring jobs from the reports beside their outputs, newest first, in bounded time and memory: the
/// command-line tool (<c>pipeline scoring</c>) and the serving app (<c>GET /api/scoring</c>) read them here.
/// </summary>
public static class ScoringReports
{
    /// <summary>Reports read by one call.</summary>
    public const int MaxListed = 1000;

    /// <summary>Blobs one listing of <c>predictions</c> walks before it stops (outputs are listed too).</summary>
    public const int MaxScannedBlobs = 100_000;

    /// <summary>Largest report read: the message, the counts and at most 1,000 bad rows take far less.</summary>
    public const long MaxReportBytes = 4 * 1024 * 1024;

    /// <summary>
    /// The newest <paramref name="limit"/> reports of every model, or of <paramref name="model"/>'s folders
    /// (<c>{model}/</c> and <c>{model}@{version}/</c>), newest first (by Last-Modified, ties by name). A missing container
    /// lists nothing.
    /// </summary>
    public static async Task<ScoringReportList> ListAsync(BlobContainerClient predictions, string? model, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        var found = new List<(string Name, DateTimeOffset Written)>();
        var scanned = 0;
        var stopped = false;
        try
        {
            await foreach (var item in predictions.GetBlobsAsync(new GetBlobsOptions { Prefix = model }, cancellationToken).ConfigureAwait(false))
            {
                if (++scanned > MaxScannedBlobs)
                {
                    stopped = true;
                    break;
                }

                var folder = item.Name.Split('/')[0];
                if (item.Name.EndsWith(StorageNames.ScoringReportSuffix, StringComparison.Ordinal) &&
                    (model is null || folder == model || folder.StartsWith(model + "@", StringComparison.Ordinal)))
                {
                    found.Add((item.Name, item.Properties.LastModified ?? DateTimeOffset.MinValue));
                }
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // No predictions container yet: nothing was scored.
        }

        var take = Math.Clamp(limit, 0, MaxListed);
        var entries = new List<ScoringReportEntry>();
        foreach (var (name, written) in found.OrderByDescending(p => p.Written).ThenBy(p => p.Name, StringComparer.Ordinal).Take(take))
        {
            var path = $"{StorageNames.PredictionsContainer}/{name}";
            var (report, problem) = await ReadAsync(predictions.GetBlobClient(name), cancellationToken).ConfigureAwait(false);
            if (report is not null || problem is not null)
            {
                entries.Add(new ScoringReportEntry(path, written, report, problem));
            }
        }

        return new ScoringReportList(entries, Math.Max(0, found.Count - take), stopped);
    }

    /// <summary>A report, or why it cannot be read; neither when it was deleted since the listing.</summary>
    private static async Task<(ScoringReport? Report, string? Problem)> ReadAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            var response = await blob.DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            using var content = response.Value;
            if (content.Details.ContentLength > MaxReportBytes)
            {
                return (null, $"The report is {content.Details.ContentLength} bytes; at most {MaxReportBytes} are read.");
            }

            var report = await JsonSerializer.DeserializeAsync(content.Content, PipelineJson.Default.ScoringReport, cancellationToken).ConfigureAwait(false);
            return report is null ? (null, "The report holds JSON null.") : (report, null);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return (null, null);
        }
        catch (JsonException e)
        {
            return (null, $"The report is not a scoring report: {e.Message}");
        }
    }
}
