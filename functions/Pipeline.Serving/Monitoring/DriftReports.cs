using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;
using Pipeline.Serving.Predict;
using Pipeline.Serving.Storage;
using Pipeline.Storage;

namespace Pipeline.Serving.Monitoring;

/// <summary>A model's latest drift report in brief: what <c>GET /api/models/{name}</c> and health details show.</summary>
public sealed class ModelDrift
{
    public string Model { get; set; } = "";

    /// <summary>The version the report judged.</summary>
    public string Version { get; set; } = "";

    public DriftStatus Status { get; set; }

    /// <summary>The report judged the version that is current and found it drifted.</summary>
    public bool Drifted { get; set; }

    public List<string> DriftedColumns { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public string Message { get; set; } = "";

    /// <summary>The full report: <c>monitoring/{model}/drift/{date}.json</c>, served by <c>GET /api/models/{name}/drift</c>.</summary>
    public string Report { get; set; } = "";
}

/// <summary>
/// Reads the drift reports the functions app writes (<c>monitoring/{model}/drift/{yyyy-MM-dd}.json</c>): the latest of
/// a model on request, and, every <see cref="RefreshInterval"/> in the background, the latest of every served model, so
/// health details can flag drifted models without touching storage itself. Storage failures leave the last known flags.
/// </summary>
public sealed partial class DriftReports(PipelineStorage storage, ModelRegistry registry, TimeProvider time, ILogger<DriftReports> logger) : BackgroundService
{
    /// <summary>How often the served models' latest reports are read again (reports are written daily).</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(10);

    /// <summary>A report larger than this is not read (a report lists a few dozen bins per column).</summary>
    public const int MaxReportBytes = 16 << 20;

    private readonly ConcurrentDictionary<string, ModelDrift> _known = new(StringComparer.Ordinal);

    /// <summary>The latest report of every model this instance has read one for.</summary>
    public IReadOnlyList<ModelDrift> Known => [.. _known.Values.OrderBy(d => d.Model, StringComparer.Ordinal)];

    /// <summary>The latest report of <paramref name="model"/> as stored (JSON) and in brief; null when it has none (or there is no storage).</summary>
    public async Task<(BinaryData Json, ModelDrift Summary)?> LatestAsync(string model, string? currentVersion, CancellationToken cancellationToken)
    {
        if (storage.Blobs is not { } blobs)
        {
            return null;
        }

        var monitoring = blobs.GetBlobContainerClient(StorageNames.MonitoringContainer);
        string? latest = null;
        try
        {
            await foreach (var blob in monitoring.GetBlobsAsync(new GetBlobsOptions { Prefix = $"{model}/{StorageNames.DriftFolder}/" }, cancellationToken).ConfigureAwait(false))
            {
                if (blob.Name.EndsWith(".json", StringComparison.Ordinal) && (latest is null || string.CompareOrdinal(blob.Name, latest) > 0))
                {
                    latest = blob.Name;
                }
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null; // no monitoring container yet
        }

        if (latest is null)
        {
            _known.TryRemove(model, out _);
            return null;
        }

        BinaryData content;
        var download = (await monitoring.GetBlobClient(latest).DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
        await using (download.Content.ConfigureAwait(false))
        {
            // The size is checked before anything is buffered.
            if (download.Details.ContentLength > MaxReportBytes)
            {
                throw new InvalidDataException($"The drift report monitoring/{latest} is {download.Details.ContentLength} bytes; at most {MaxReportBytes} are read.");
            }

            content = await BinaryData.FromStreamAsync(download.Content, cancellationToken).ConfigureAwait(false);
        }

        var report = content.ToObjectFromJson(PipelineJson.Default.DriftReport)
            ?? throw new InvalidDataException($"The drift report monitoring/{latest} is empty.");
        var summary = new ModelDrift
        {
            Model = model, Version = report.Version, Status = report.Status, DriftedColumns = report.DriftedColumns, CreatedAt = report.CreatedAt,
            Message = report.Message, Report = $"{StorageNames.MonitoringContainer}/{latest}",
            Drifted = report.Status == DriftStatus.Drifted && (currentVersion is null || currentVersion == report.Version),
        };
        _known[model] = summary;
        return (content, summary);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (storage.Blobs is null)
        {
            return;
        }

        using var timer = new PeriodicTimer(RefreshInterval, time);
        do
        {
            foreach (var served in registry.Snapshot())
            {
                try
                {
                    await LatestAsync(served.Name, served.TargetVersion ?? served.ServedVersion, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Whatever one model's report does, the others are read and the app keeps running.
                    LogRefreshFailed(logger, e, served.Name);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the latest drift report of model {Model} failed; its last known drift status stays")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, string model);
}
