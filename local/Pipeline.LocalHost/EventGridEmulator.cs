using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.LocalHost;

public sealed class EventGridOptions
{
    public const string Section = "EventGrid";

    /// <summary>How often the containers are listed for new or changed blobs.</summary>
    public TimeSpan ScanInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Where the ETags already announced are remembered, so a restart does not announce every blob again.</summary>
    public string StateContainer { get; set; } = "local-eventgrid";

    /// <summary>Only blobs whose name starts with this are announced, like an Event Grid subscription's subject filter; empty announces all.</summary>
    public string BlobPrefix { get; set; } = "";
}

/// <summary>An Event Grid subscription the stand-in plays: BlobCreated events of one container to one queue.</summary>
public sealed record EventRoute(string Container, string Queue)
{
    /// <summary>The subscriptions infra/app/events.bicep creates: uploads to preprocessing, files to score to batch scoring.</summary>
    public static readonly IReadOnlyList<EventRoute> All =
    [
        new(StorageNames.RawContainer, StorageNames.BlobCreatedQueue),
        new(StorageNames.ScoreContainer, StorageNames.ScoreRequestsQueue),
    ];
}

/// <summary>
/// Stands in for the Event Grid system topic and its subscriptions (<see cref="EventRoute.All"/>): notices new or changed
/// blobs in <c>raw</c> and <c>score</c> and writes a <c>Microsoft.Storage.BlobCreated</c> event (Event Grid schema,
/// unencoded JSON) to queue <c>blob-created</c> or <c>score-requests</c>, as the subscriptions' storage-queue
/// destinations do in Azure.
/// </summary>
public sealed partial class EventGridEmulator(
    BlobServiceClient blobs,
    QueueServiceClient queues,
    IOptions<EventGridOptions> options,
    TimeProvider time,
    ILogger<EventGridEmulator> logger) : BackgroundService
{
    private const string StateBlob = "announced.json";
    private readonly ConcurrentDictionary<string, string> _announced = new(StringComparer.Ordinal);
    private long _sequencer;

    /// <summary>Lists every routed container once and announces what is new or changed; returns how many events were written.</summary>
    public async Task<int> ScanAsync(CancellationToken cancellationToken)
    {
        var written = 0;
        foreach (var route in EventRoute.All)
        {
            written += await ScanAsync(route, cancellationToken);
        }

        if (written > 0)
        {
            await SaveStateAsync(cancellationToken);
        }

        return written;
    }

    private async Task<int> ScanAsync(EventRoute route, CancellationToken cancellationToken)
    {
        try
        {
            return await AnnounceAsync(route, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return 0; // the container does not exist yet: nothing was uploaded to it
        }
    }

    private async Task<int> AnnounceAsync(EventRoute route, CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(route.Container);
        var queue = queues.GetQueueClient(route.Queue);
        var written = 0;
        var listing = new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = string.IsNullOrEmpty(options.Value.BlobPrefix) ? null : options.Value.BlobPrefix };
        await foreach (var item in container.GetBlobsAsync(listing, cancellationToken))
        {
            // Keys of raw blobs are their names (as before score was routed); others are prefixed with their container.
            var key = route.Container == StorageNames.RawContainer ? item.Name : $"{route.Container}/{item.Name}";
            var etag = item.Properties.ETag?.ToString() ?? "";
            if (_announced.TryGetValue(key, out var known) && known == etag)
            {
                continue;
            }

            var blobEvent = BlobCreatedEvent.ForBlob(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
                route.Container, item.Name, container.GetBlobClient(item.Name).Uri, etag, item.Properties.ContentType, item.Properties.ContentLength ?? 0,
                item.Properties.LastModified ?? time.GetUtcNow(), Interlocked.Increment(ref _sequencer).ToString("x32", CultureInfo.InvariantCulture));
            await queue.SendMessageAsync(JsonSerializer.Serialize(blobEvent, PipelineJson.Default.BlobCreatedEvent), cancellationToken);
            _announced[key] = etag;
            written++;
            LogAnnounced(logger, route.Container, item.Name);
        }

        return written;
    }
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var route in EventRoute.All)
        {
            await blobs.GetBlobContainerClient(route.Container).CreateIfNotExistsAsync(cancellationToken: stoppingToken);
            await queues.GetQueueClient(route.Queue).CreateIfNotExistsAsync(cancellationToken: stoppingToken);
        }

        await LoadStateAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ScanAsync(stoppingToken);
            }
            catch (RequestFailedException e)
            {
                LogScanFailed(logger, e);
            }

            await Task.Delay(options.Value.ScanInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private BlobClient State => blobs.GetBlobContainerClient(options.Value.StateContainer).GetBlobClient(StateBlob);

    private async Task LoadStateAsync(CancellationToken cancellationToken)
    {
        await blobs.GetBlobContainerClient(options.Value.StateContainer).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        try
        {
            var content = await State.DownloadContentAsync(cancellationToken);
            foreach (var (name, etag) in content.Value.Content.ToObjectFromJson<Dictionary<string, string>>() ?? [])
            {
                _announced[name] = etag;
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
        }
    }

    private async Task SaveStateAsync(CancellationToken cancellationToken)
    {
        await blobs.GetBlobContainerClient(options.Value.StateContainer).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await State.UploadAsync(BinaryData.FromObjectAsJson(new Dictionary<string, string>(_announced)), overwrite: true, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Event Grid stand-in: BlobCreated {Container}/{Blob}")]
    private static partial void LogAnnounced(ILogger logger, string container, string blob);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event Grid stand-in: listing a container failed")]
    private static partial void LogScanFailed(ILogger logger, Exception exception);
}
