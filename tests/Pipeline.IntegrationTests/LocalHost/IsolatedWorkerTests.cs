using System.Text;
using System.Text.Json;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Contracts;
using Pipeline.LocalHost;
using Pipeline.LocalHost.Rpc;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.LocalHost;

/// <summary>
/// The functions app's real isolated worker (the solution's build output), started by the Functions-host stand-in the
/// way the host starts it and driven over the host's gRPC protocol: start-up handshake, worker indexing, queue-trigger
/// invocations with trigger metadata, the queue output binding, and the host's retry and poison rules from host.json.
/// </summary>
public sealed class IsolatedWorkerTests : IAsyncLifetime
{
    private IsolatedWorkerHost _worker = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).CreateIfNotExistsAsync(cancellationToken: Cancellation);
        _worker = await FunctionsWorker.StartAsync(FunctionsWorker.BuildOutput());
    }

    public async ValueTask DisposeAsync() => await _worker.DisposeAsync();

    private QueueTriggerHost Host(FunctionAppSettings? settings = null) =>
        new(_worker, Azurite.Queues(), TimeProvider.System, NullLogger<QueueTriggerHost>.Instance, settings);

    private QueueFunction Preprocess => Assert.Single(_worker.QueueFunctions, f => f.Name == "Preprocess");

    private QueueFunction Score => Assert.Single(_worker.QueueFunctions, f => f.Name == "Score");

    private static QueueMessage Message(string text, long dequeueCount = 1) =>
        QueuesModelFactory.QueueMessage(Guid.NewGuid().ToString(), "pop", text, dequeueCount, DateTimeOffset.UtcNow.AddSeconds(30), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(7));

    private static async Task<string> UploadAsync()
    {
        var name = Azurite.UniqueName("worker");
        var (csv, _) = SyntheticData.ThreeClass(120, seed: 4);
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), Cancellation);
        return $"{name}/data.csv";
    }

    [Fact]
    public void Indexing_ReportsPreprocessWithItsQueueBindings()
    {
        var function = Preprocess;

        Assert.Equal("Preprocess", function.Name);
        Assert.Equal(StorageNames.BlobCreatedQueue, function.QueueName);
        Assert.False(function.BinaryTrigger);
        var output = Assert.Single(function.Outputs);
        Assert.Equal(("$return", StorageNames.TrainRequestsQueue), (output.Binding, output.QueueName));
        Assert.False(_worker.Settings.Base64Messages); // host.json: messageEncoding none
        Assert.Equal(5, _worker.Settings.MaxDequeueCount);
    }

    [Fact]
    public void Indexing_ReportsScoreOnScoreRequestsWithoutOutputs()
    {
        Assert.Equal(3, _worker.QueueFunctions.Count);
        Assert.Equal(StorageNames.ScoreRequestsQueue, Score.QueueName);
        Assert.Empty(Score.Outputs);
    }

    [Fact]
    public async Task Drain_ScoreRequest_WritesPredictionsAndTheReportThroughTheWorker()
    {
        var model = Azurite.UniqueName("worker-score");
        await TestModels.PublishEncodedAsync(model, "v1");
        var score = Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer);
        await score.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await score.UploadBlobAsync($"{model}/day.csv", BinaryData.FromString("size,color,member\n1,red,true\n2,green,\n"), Cancellation);

        var result = await Host().InvokeAsync(Score, Message(Invocations.BlobCreatedEvent(StorageNames.ScoreContainer, $"{model}/day.csv").ToJsonString()), Cancellation);

        Assert.True(result.Succeeded, result.Failure);
        var predictions = Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer);
        var report = (await BlobJson.ReadAsync(predictions.GetBlobClient($"{model}/day.csv{StorageNames.ScoringReportSuffix}"), PipelineJson.Default.ScoringReport, Cancellation))!.Value.Value;
        Assert.Equal((ScoringStatus.Succeeded, 2L, "v1"), (report.Status, report.Scored, report.Version));
        var output = (await predictions.GetBlobClient($"{model}/day.csv").DownloadContentAsync(Cancellation)).Value.Content.ToString();
        Assert.StartsWith("size,color,member,prediction,probability_no,probability_yes\n1,red,true,", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Indexing_ReportsTheDriftTimerWithItsScheduleAndTheDriftRequestQueue()
    {
        var timers = new TimerTriggerHost(_worker, TimeProvider.System, NullLogger<TimerTriggerHost>.Instance);

        var timer = Assert.Single(timers.Functions);
        Assert.Equal(("DriftSchedule", "0 0 5 * * *"), (timer.Name, timer.Schedule));
        Assert.Equal(new DateTime(2026, 12, 8, 5, 0, 0), TimerTriggerHost.Parse(timer.Schedule).GetNextOccurrence(new DateTime(2026, 12, 7, 21, 0, 0)));
        Assert.Single(_worker.QueueFunctions, f => f.Name == "DriftRequest" && f.QueueName == StorageNames.DriftRequestsQueue);
    }

    /// <summary>A schedule override that is not NCRONTAB stops the local host at start-up, not when it shuts down.</summary>
    [Fact]
    public void TimerHost_ScheduleThatIsNotNcrontab_FailsAtStart_AndInTheOptionsCheck()
    {
        var bad = new Dictionary<string, string> { ["DriftSchedule"] = "every five minutes" };
        var timers = new TimerTriggerHost(_worker, TimeProvider.System, NullLogger<TimerTriggerHost>.Instance, bad);

        var thrown = Assert.Throws<FormatException>(() => { _ = timers.RunAsync(Cancellation); });
        Assert.Contains("every five minutes", thrown.Message, StringComparison.Ordinal);

        var options = new LocalHostOptions { FunctionsAppPath = "app", TimerSchedules = bad };
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        Assert.False(System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true));
        Assert.StartsWith("LocalHost:TimerSchedules:DriftSchedule: ", Assert.Single(results).ErrorMessage, StringComparison.Ordinal);
        options.TimerSchedules["DriftSchedule"] = "*/2 * * * * *";
        Assert.True(System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results = [], validateAllProperties: true));
    }

    [Fact]
    public async Task Drain_DriftRequest_WritesTheModelsReportThroughTheWorker_BadRequest_Fails()
    {
        var model = Azurite.UniqueName("worker-drift-request");
        await Functions.Drift.DriftData.PublishAsync(model);
        var request = Assert.Single(_worker.QueueFunctions, f => f.Name == "DriftRequest");

        var result = await Host().InvokeAsync(request, Message($"{{\"model\":\"{model}\"}}"), Cancellation);
        var bad = await Host().InvokeAsync(request, Message("{\"model\":\"../x\"}"), Cancellation);

        Assert.True(result.Succeeded, result.Failure);
        Assert.Equal(model, (await Functions.Drift.DriftData.ReadReportAsync(model)).Report.Model);
        Assert.False(bad.Succeeded);
        Assert.Contains("does not name a valid model", bad.Failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Invoke_BlobCreatedEvent_ReturnsTheTrainRequestThroughTheWorker(bool base64)
    {
        var blob = await UploadAsync();
        var text = Invocations.BlobCreatedEvent("raw", blob).ToJsonString();
        if (base64)
        {
            text = Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
        }

        var result = await Host().InvokeAsync(Preprocess, Message(text), Cancellation);

        Assert.True(result.Succeeded, result.Failure);
        var request = JsonSerializer.Deserialize(result.Outputs["$return"], PipelineJson.Default.TrainRequest)!;
        Assert.Equal(blob.Split('/')[0], request.Dataset);
    }

    /// <summary>
    /// The worker's log entries reach the host tagged with their invocation; the host writes them with the invocation's
    /// trace id, the trace the preprocess span continues and the training request carries on.
    /// </summary>
    [Fact]
    public async Task Invoke_WorkerLogEntries_CarryTheInvocationsTraceId()
    {
        using var capture = new LogCapture();
        await using var worker = await FunctionsWorker.StartAsync(FunctionsWorker.BuildOutput(), loggers: capture.Factory);
        var host = new QueueTriggerHost(worker, Azurite.Queues(), TimeProvider.System, NullLogger<QueueTriggerHost>.Instance);
        var blob = await UploadAsync();

        var result = await host.InvokeAsync(Assert.Single(worker.QueueFunctions, f => f.Name == "Preprocess"),
            Message(Invocations.BlobCreatedEvent("raw", blob).ToJsonString()), Cancellation);

        Assert.True(result.Succeeded, result.Failure);
        var traceId = JsonSerializer.Deserialize(result.Outputs["$return"], PipelineJson.Default.TrainRequest)!.TraceParent!.Split('-')[1];
        var accepted = Assert.Single(capture.Entries, e => e.Message.StartsWith("[worker]", StringComparison.Ordinal) && e.Message.Contains($"{blob}: dataset", StringComparison.Ordinal));
        Assert.Contains($"TraceId:{traceId}", accepted.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Information, accepted.Level);
    }

    [Fact]
    public async Task Invoke_NotAnEvent_FailsWithTheFunctionsException()
    {
        var result = await Host().InvokeAsync(Preprocess, Message("hello"), Cancellation);

        Assert.False(result.Succeeded);
        Assert.Contains("InvalidOperationException", result.Failure, StringComparison.Ordinal);
        Assert.Empty(result.Outputs);
    }

    [Fact]
    public async Task Drain_GoodMessage_WritesTheOutputQueueAndDeletesIt_BadMessage_IsRetriedThenPoisoned()
    {
        var queues = Azurite.Queues();
        var trigger = queues.GetQueueClient(Azurite.UniqueName("events"));
        var output = queues.GetQueueClient(Azurite.UniqueName("requests"));
        await trigger.CreateAsync(cancellationToken: Cancellation);
        var function = Preprocess with { QueueName = trigger.Name, Outputs = [new QueueOutput("$return", output.Name)] };
        var host = Host(_worker.Settings with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 3 });

        await trigger.SendMessageAsync(Invocations.BlobCreatedEvent("raw", await UploadAsync()).ToJsonString(), Cancellation);
        await trigger.SendMessageAsync("not an event", Cancellation);
        for (var round = 0; round < 20 && (await trigger.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount > 0; round++)
        {
            await host.DrainOnceAsync(function, Cancellation);
        }

        Assert.Equal(0, (await trigger.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount);
        var written = Assert.Single((await output.ReceiveMessagesAsync(32, cancellationToken: Cancellation)).Value);
        Assert.NotNull(JsonSerializer.Deserialize(written.Body.ToString(), PipelineJson.Default.TrainRequest));
        var poison = queues.GetQueueClient(StorageNames.Poison(trigger.Name));
        var poisoned = Assert.Single((await poison.ReceiveMessagesAsync(32, cancellationToken: Cancellation)).Value);
        Assert.Equal("not an event", poisoned.Body.ToString());
        await Task.WhenAll(trigger.DeleteAsync(Cancellation), output.DeleteAsync(Cancellation), poison.DeleteAsync(Cancellation));
    }

    [Fact]
    public async Task Invoke_PastFunctionTimeout_CancelsTheInvocationAndCountsAsAFailure()
    {
        // A 20 ms functionTimeout ends the invocation before the build can finish; the worker is told to cancel it.
        var host = Host(_worker.Settings with { FunctionTimeout = TimeSpan.FromMilliseconds(20) });
        var (csv, _) = SyntheticData.ThreeClass(20_000, seed: 5);
        var name = Azurite.UniqueName("timeout");
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), Cancellation);

        var result = await host.InvokeAsync(Preprocess, Message(Invocations.BlobCreatedEvent("raw", $"{name}/data.csv").ToJsonString()), Cancellation);

        Assert.False(result.Succeeded);
        Assert.Contains("Timeout", result.Failure, StringComparison.Ordinal);
        // The worker is still serving after the cancelled invocation.
        var next = await Host().InvokeAsync(Preprocess, Message(Invocations.BlobCreatedEvent("raw", await UploadAsync()).ToJsonString()), Cancellation);
        Assert.True(next.Succeeded, next.Failure);
    }
}

/// <summary>The worker validates its options at start-up: a setting out of range stops it before it serves, naming the setting.</summary>
public sealed class IsolatedWorkerStartupTests
{
    [Fact]
    public async Task Start_SettingOutOfRange_WorkerExitsBeforeConnecting()
    {
        var e = await Assert.ThrowsAsync<WorkerUnavailableException>(() =>
            FunctionsWorker.StartAsync(FunctionsWorker.BuildOutput(), new Dictionary<string, string> { ["Preprocess__MaxRaggedShare"] = "1.5" }));

        Assert.Contains("exited", e.Message, StringComparison.Ordinal);
    }
}
