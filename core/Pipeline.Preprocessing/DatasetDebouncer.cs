using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Preprocessing;

/// <summary>
/// Debounces a burst of uploads into one build (and so one training). A dataset is built only once none of its files has
/// changed for <see cref="PreprocessOptions.QuietPeriod"/>. The first event of a burst creates the marker
/// <c>datasets/{dataset}/pending.json</c> (If-None-Match: *) and queues a copy of itself on <c>blob-created</c>, invisible
/// until the quiet period has passed, carrying the marker's ETag; later events of the burst see the marker and complete.
/// When the copy becomes visible it waits again if files changed meanwhile, else it deletes the marker (If-Match) and the
/// build runs from every current file. A marker whose copy was lost (poisoned) counts as stale after
/// <see cref="StaleAfter"/> and is taken over by the next event.
/// </summary>
public sealed partial class DatasetDebouncer(
    BlobServiceClient blobs,
    QueueServiceClient queues,
    IOptions<PreprocessOptions> options,
    TimeProvider time,
    ILogger<DatasetDebouncer> logger)
{
    /// <summary>Beyond the quiet period, how long a marker may stand before the next event takes it over.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(15);

    /// <summary>Returns how long the build waits (the event was deferred), or null to build now.</summary>
    public async Task<TimeSpan?> DeferAsync(BlobCreatedEvent blobEvent, string dataset, DateTimeOffset lastModified, CancellationToken cancellationToken)
    {
        var quiet = options.Value.QuietPeriod;
        if (quiet <= TimeSpan.Zero)
        {
            return null;
        }

        var now = time.GetUtcNow();
        // Last-Modified has whole seconds: count from the end of that second.
        var wait = lastModified + TimeSpan.FromSeconds(1) + quiet - now;
        var marker = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(StorageNames.PendingMarkerPath(dataset));
        if (blobEvent.DebounceToken is { } token)
        {
            // Our own delayed copy.
            if (wait > TimeSpan.Zero)
            {
                await EnqueueAsync(blobEvent, token, wait, cancellationToken).ConfigureAwait(false);
                return wait;
            }

            try
            {
                await marker.DeleteAsync(conditions: new BlobRequestConditions { IfMatch = new ETag(token) }, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412)
            {
                if (await marker.ExistsAsync(cancellationToken).ConfigureAwait(false))
                {
                    // Taken over by a newer event: its copy builds.
                    LogSuperseded(logger, dataset);
                    return wait > TimeSpan.Zero ? wait : quiet;
                }

                // No marker (a conditional delete of a missing blob may answer either status): this copy took it on an
                // earlier delivery whose build failed and the host retries the message, or a newer copy has built since.
                // Build: the first must not be lost, and the second finds its version built (Duplicate).
                LogMarkerGone(logger, dataset);
            }

            return null;
        }

        if (wait <= TimeSpan.Zero)
        {
            // The files settled before this event was delivered (a backlog): build now.
            return null;
        }

        await blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        ETag created;
        try
        {
            created = await BlobJson.WriteAsync(marker, new PendingBuild { CreatedAt = now }, PipelineJson.Default.PendingBuild,
                new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            var existing = await BlobJson.ReadAsync(marker, PipelineJson.Default.PendingBuild, cancellationToken).ConfigureAwait(false);
            if (existing is not { } pending || now - pending.Value.CreatedAt < quiet + StaleAfter)
            {
                // A build of this dataset is already scheduled; it will read every current file.
                return wait;
            }

            try
            {
                created = await BlobJson.WriteAsync(marker, new PendingBuild { CreatedAt = now }, PipelineJson.Default.PendingBuild,
                    new BlobRequestConditions { IfMatch = pending.ETag }, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException again) when (again.Status is 409 or 412)
            {
                return wait;
            }
        }

        try
        {
            await EnqueueAsync(blobEvent, created.ToString(), wait, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Without its copy the marker would hold every later event back until it is stale: remove it, let the host retry.
            await marker.DeleteIfExistsAsync(conditions: new BlobRequestConditions { IfMatch = created }, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return wait;
    }

    private async Task EnqueueAsync(BlobCreatedEvent blobEvent, string token, TimeSpan wait, CancellationToken cancellationToken)
    {
        var copy = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(blobEvent, PipelineJson.Default.BlobCreatedEvent), PipelineJson.Default.BlobCreatedEvent)!;
        copy.DebounceToken = token;
        var queue = queues.GetQueueClient(options.Value.BlobCreatedQueue);
        // A second of slack so the copy arrives after the quiet period, not at its edge.
        var delay = wait + TimeSpan.FromSeconds(1);
        await queue.SendMessageAsync(BinaryData.FromObjectAsJson(copy, PipelineJson.Default.BlobCreatedEvent), delay, timeToLive: null, cancellationToken).ConfigureAwait(false);
        LogScheduled(logger, copy.Subject, delay);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Build for {Subject} scheduled in {Delay}")]
    private static partial void LogScheduled(ILogger logger, string subject, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "The pending-build marker of dataset {Dataset} is gone (a retried or repeated build); building")]
    private static partial void LogMarkerGone(ILogger logger, string dataset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pending build of dataset {Dataset} was taken over by a newer event")]
    private static partial void LogSuperseded(ILogger logger, string dataset);
}
