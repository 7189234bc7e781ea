using Azure.Storage.Queues;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Pipeline.Contracts;
using Pipeline.Preprocessing;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>The debounce's decisions against Azurite, with the clock in the test's hands.</summary>
public class DatasetDebouncerTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset LastUpload = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static async Task<(DatasetDebouncer Sut, FakeTimeProvider Time, QueueClient Queue)> CreateSutAsync()
    {
        await Azurite.EnsureRunningAsync();
        var queue = Azurite.Queues().GetQueueClient(Azurite.UniqueName("debounce"));
        await queue.CreateAsync(cancellationToken: Cancellation);
        var time = new FakeTimeProvider(LastUpload);
        var options = Options.Create(new PreprocessOptions { QuietPeriod = Quiet, BlobCreatedQueue = queue.Name });
        return (new DatasetDebouncer(Azurite.Blobs(), Azurite.Queues(), options, time, NullLogger<DatasetDebouncer>.Instance), time, queue);
    }

    private static BlobCreatedEvent Event(string dataset, string? token = null) => new()
    {
        EventType = BlobCreatedEvent.EventTypeName,
        Subject = $"/blobServices/default/containers/raw/blobs/{dataset}/day.csv",
        DebounceToken = token,
    };

    private static async Task<int> MessagesAsync(QueueClient queue) => (await queue.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount;

    private static Azure.Storage.Blobs.BlobClient Marker(string dataset) =>
        Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(StorageNames.PendingMarkerPath(dataset));

    [Fact]
    public async Task DeferAsync_Burst_QueuesOneCopy_WhichWaitsWhileFilesChange_ThenBuilds()
    {
        var (sut, time, queue) = await CreateSutAsync();
        var dataset = Azurite.UniqueName("ds");
        time.SetUtcNow(LastUpload + TimeSpan.FromSeconds(5));

        var first = await sut.DeferAsync(Event(dataset), dataset, LastUpload, Cancellation);
        var second = await sut.DeferAsync(Event(dataset), dataset, LastUpload, Cancellation);

        Assert.Equal(TimeSpan.FromSeconds(26), first);
        Assert.NotNull(second);
        Assert.Equal(1, await MessagesAsync(queue));
        var token = (await Marker(dataset).GetPropertiesAsync(cancellationToken: Cancellation)).Value.ETag.ToString();

        // The copy comes due but a file changed meanwhile: it queues itself again and keeps the marker.
        var newer = LastUpload + TimeSpan.FromSeconds(20);
        time.SetUtcNow(LastUpload + TimeSpan.FromSeconds(32));
        Assert.Equal(TimeSpan.FromSeconds(19), await sut.DeferAsync(Event(dataset, token), dataset, newer, Cancellation));
        Assert.Equal(2, await MessagesAsync(queue));
        Assert.True((await Marker(dataset).ExistsAsync(Cancellation)).Value);

        // Quiet at last: build now, marker gone, nothing more queued.
        time.SetUtcNow(newer + Quiet + TimeSpan.FromSeconds(2));
        Assert.Null(await sut.DeferAsync(Event(dataset, token), dataset, newer, Cancellation));
        Assert.False((await Marker(dataset).ExistsAsync(Cancellation)).Value);
        Assert.Equal(2, await MessagesAsync(queue));
        await queue.DeleteAsync(Cancellation);
    }

    [Fact]
    public async Task DeferAsync_CopyWhoseMarkerWasTakenOver_StandsDown()
    {
        var (sut, time, queue) = await CreateSutAsync();
        var dataset = Azurite.UniqueName("ds");
        time.SetUtcNow(LastUpload + TimeSpan.FromSeconds(5));
        await sut.DeferAsync(Event(dataset), dataset, LastUpload, Cancellation);

        time.SetUtcNow(LastUpload + TimeSpan.FromMinutes(5));
        Assert.NotNull(await sut.DeferAsync(Event(dataset, "\"0x8D000000000000\""), dataset, LastUpload, Cancellation));
        Assert.True((await Marker(dataset).ExistsAsync(Cancellation)).Value);
        await queue.DeleteAsync(Cancellation);
    }

    [Fact]
    public async Task DeferAsync_CopyDeliveredAgainAfterItTookTheMarker_BuildsAgain()
    {
        // The copy took the marker and its build failed (storage error, restart): the host delivers it again, and the
        // build must happen then, not be taken for one superseded.
        var (sut, time, queue) = await CreateSutAsync();
        var dataset = Azurite.UniqueName("ds");
        time.SetUtcNow(LastUpload + TimeSpan.FromSeconds(5));
        await sut.DeferAsync(Event(dataset), dataset, LastUpload, Cancellation);
        var token = (await Marker(dataset).GetPropertiesAsync(cancellationToken: Cancellation)).Value.ETag.ToString();
        time.SetUtcNow(LastUpload + Quiet + TimeSpan.FromSeconds(2));
        Assert.Null(await sut.DeferAsync(Event(dataset, token), dataset, LastUpload, Cancellation));

        time.SetUtcNow(LastUpload + Quiet + TimeSpan.FromSeconds(40));
        Assert.Null(await sut.DeferAsync(Event(dataset, token), dataset, LastUpload, Cancellation));
        Assert.Equal(1, await MessagesAsync(queue));
        await queue.DeleteAsync(Cancellation);
    }

    [Fact]
    public async Task DeferAsync_StaleMarker_IsTakenOverByTheNextEvent()
    {
        var (sut, time, queue) = await CreateSutAsync();
        var dataset = Azurite.UniqueName("ds");
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer).CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await BlobJson.WriteAsync(Marker(dataset), new PendingBuild { CreatedAt = LastUpload - TimeSpan.FromHours(1) }, PipelineJson.Default.PendingBuild, null, Cancellation);
        time.SetUtcNow(LastUpload + TimeSpan.FromSeconds(1));

        Assert.NotNull(await sut.DeferAsync(Event(dataset), dataset, LastUpload, Cancellation));

        Assert.Equal(1, await MessagesAsync(queue));
        var marker = (await BlobJson.ReadAsync(Marker(dataset), PipelineJson.Default.PendingBuild, Cancellation))!.Value.Value;
        Assert.Equal(time.GetUtcNow(), marker.CreatedAt);
        await queue.DeleteAsync(Cancellation);
    }

    [Fact]
    public async Task DeferAsync_NoQuietPeriod_BuildsAtOnce()
    {
        var sut = new DatasetDebouncer(Azurite.Blobs(), Azurite.Queues(), Options.Create(new PreprocessOptions { QuietPeriod = TimeSpan.Zero }),
            new FakeTimeProvider(LastUpload), NullLogger<DatasetDebouncer>.Instance);

        Assert.Null(await sut.DeferAsync(Event("any"), "any", LastUpload, Cancellation));
    }
}
