using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.LocalHost;
using Pipeline.Storage;
using Pipeline.Trainer;
using Pipeline.Trainer.Worker;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// The whole local pipeline against Azurite: the Event Grid stand-in scanning <c>raw</c>, the Functions-host stand-in
/// driving the functions app's real isolated worker (its build output, a child process) over gRPC, a training worker,
/// and the serving app in memory.
/// </summary>
public sealed class PipelineFixture : IAsyncLifetime
{
    /// <summary>
    /// Datasets this fixture's Event Grid stand-in announces: tests outside the collection upload to <c>raw</c> too and
    /// invoke the functions themselves, and must not be trained behind their backs.
    /// </summary>
    public const string DatasetPrefix = "e2e-";

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private ServiceProvider? _trainer;
    private IsolatedWorkerHost? _worker;

    /// <summary>The preprocessing engine in memory, for tests that run it on an event themselves.</summary>
    public PreprocessingApp Preprocessing { get; } = new();

    /// <summary>The serving app (Predict, Models): a separate function app, as in Azure.</summary>
    public ServingAppFactory Serving { get; } = new();

    /// <summary>Calls the serving app's HTTP API, with its function key.</summary>
    public HttpClient ServingClient { get; private set; } = null!;

    public BlobServiceClient Blobs { get; } = Azurite.Blobs();

    public QueueServiceClient Queues { get; } = Azurite.Queues();

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        foreach (var container in new[] { StorageNames.RawContainer, StorageNames.DatasetsContainer, StorageNames.ModelsContainer })
        {
            await Blobs.GetBlobContainerClient(container).CreateIfNotExistsAsync();
        }

        foreach (var queue in new[] { StorageNames.BlobCreatedQueue, StorageNames.TrainRequestsQueue })
        {
            // Messages left by an earlier run would be processed by this one: start from empty queues.
            await Queues.GetQueueClient(queue).CreateIfNotExistsAsync();
            await Queues.GetQueueClient(queue).ClearMessagesAsync();
        }

        ServingClient = Serving.CreateClient();
        _worker = await FunctionsWorker.StartAsync(FunctionsWorker.BuildOutput());
        var host = new QueueTriggerHost(_worker, Queues, TimeProvider.System, NullLogger<QueueTriggerHost>.Instance);
        var eventGrid = new EventGridEmulator(Blobs, Queues,
            Options.Create(new EventGridOptions { StateContainer = Azurite.UniqueName("eventgrid-state"), BlobPrefix = DatasetPrefix }),
            TimeProvider.System, NullLogger<EventGridEmulator>.Instance);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = Azurite.ConnectionString,
            ["Trainer:MaxEpochs"] = "60",
            ["Trainer:Patience"] = "10",
            ["Trainer:MaxTrials"] = "3",
            ["Worker:PollInterval"] = "00:00:00.200",
            ["Worker:RetryDelay"] = "00:00:01",
        }).Build();
        _trainer = new ServiceCollection().AddLogging().AddTrainer(configuration).BuildServiceProvider();
        var consumer = _trainer.GetRequiredService<TrainRequestConsumer>();

        // Skip what is already in raw from earlier runs: only this run's uploads become events.
        await eventGrid.ScanAsync(_stop.Token);
        await Queues.GetQueueClient(StorageNames.BlobCreatedQueue).ClearMessagesAsync();

        _loops.Add(Loop(async token => await eventGrid.ScanAsync(token) > 0));
        _loops.Add(host.RunAsync(TimeSpan.FromMilliseconds(200), _stop.Token));
        _loops.Add(Loop(consumer.ProcessOneAsync));
    }

    private Task Loop(Func<CancellationToken, Task<bool>> step) => Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (!await step(_stop.Token))
                {
                    await Task.Delay(200, _stop.Token);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Azure.RequestFailedException)
            {
                // A storage blip: the real host and worker poll again too.
                await Task.Delay(500, _stop.Token);
            }
        }
    });

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_loops);
        }
        catch (OperationCanceledException)
        {
        }

        if (_trainer is not null)
        {
            await _trainer.DisposeAsync();
        }

        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        ServingClient.Dispose();
        await Preprocessing.DisposeAsync();
        await Serving.DisposeAsync();
        _stop.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class PipelineTests : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipeline";
}
