using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Contracts;
using Pipeline.LocalHost;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.LocalHost;

/// <summary>
/// The drift timer through the functions app's real isolated worker, fired by the Functions-host stand-in. On an Azurite
/// of its own: the timer requests a report for every model in the account, which would race other tests' queues.
/// </summary>
public sealed class DriftTimerTests : IAsyncLifetime
{
    private readonly string _model = Azurite.UniqueName("timer-drift");
    private PrivateAzurite _azurite = null!;
    private IsolatedWorkerHost _worker = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _azurite = await PrivateAzurite.StartAsync(Cancellation);
        var models = _azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await BlobJson.WriteAsync(models.GetBlobClient(StorageNames.CurrentPointerPath(_model)), new CurrentPointer { Version = "v1" }, PipelineJson.Default.CurrentPointer, null, Cancellation);
        _worker = await FunctionsWorker.StartAsync(FunctionsWorker.BuildOutput(), new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = _azurite.ConnectionString,
            ["Storage__ConnectionString"] = _azurite.ConnectionString,
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        await _azurite.DisposeAsync();
    }

    /// <summary>The <c>drift-requests</c> messages naming this test's model.</summary>
    private async Task<int> RequestsAsync()
    {
        var queue = _azurite.Queues().GetQueueClient(StorageNames.DriftRequestsQueue);
        if (!(await queue.ExistsAsync(Cancellation)).Value)
        {
            return 0;
        }

        var messages = (await queue.PeekMessagesAsync(32, Cancellation)).Value;
        return messages.Count(m => JsonSerializer.Deserialize(m.MessageText, PipelineJson.Default.DriftRequest)?.Model == _model);
    }

    [Fact]
    public async Task Timer_DriftSchedule_RequestsEveryModelsReportOnItsQueueThroughTheWorker()
    {
        var timers = new TimerTriggerHost(_worker, TimeProvider.System, NullLogger<TimerTriggerHost>.Instance);

        var failure = await timers.InvokeAsync(Assert.Single(timers.Functions), TimerStatus.Now(TimeProvider.System), Cancellation);

        Assert.Null(failure);
        // One message per model: the DriftRequest function writes each model's report in an invocation of its own.
        Assert.Equal(1, await RequestsAsync());
        var report = _azurite.Blobs().GetBlobContainerClient(StorageNames.MonitoringContainer)
            .GetBlobClient(StorageNames.DriftReportPath(_model, DateOnly.FromDateTime(DateTime.UtcNow), ".json"));
        Assert.False((await report.ExistsAsync(Cancellation)).Value);
    }

    [Fact]
    public async Task TimerHost_OverriddenSchedule_FiresTheDriftTimerOnItsOwn()
    {
        var timers = new TimerTriggerHost(_worker, TimeProvider.System, NullLogger<TimerTriggerHost>.Instance,
            new Dictionary<string, string> { ["DriftSchedule"] = "*/2 * * * * *" });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        var running = timers.RunAsync(stop.Token);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (await RequestsAsync() == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "The stand-in did not fire DriftSchedule within 90 s on a 2 s schedule.");
                await Task.Delay(250, Cancellation);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }
}
