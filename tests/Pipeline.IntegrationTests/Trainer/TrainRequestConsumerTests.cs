using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Trainer;
using Pipeline.Trainer.Worker;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Trainer;

/// <summary>The queue side of the trainer, on a queue of its own in Azurite.</summary>
public class TrainRequestConsumerTests
{
    private static (TrainRequestConsumer Consumer, ServiceProvider Services) CreateSut(string queue, int maxAttempts = 5, string? connectionString = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = connectionString ?? Azurite.ConnectionString,
            ["Worker:QueueName"] = queue,
            ["Worker:MaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Worker:RetryDelay"] = "00:00:00",
        }).Build();
        var services = new ServiceCollection().AddLogging().AddTrainer(configuration).BuildServiceProvider();
        return (services.GetRequiredService<TrainRequestConsumer>(), services);
    }

    [Fact]
    public async Task ProcessOne_DatasetThatDoesNotExist_MovesToPoisonWithTheReason()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var queueName = Azurite.UniqueName("train-test");
        var queue = Azurite.Queues().GetQueueClient(queueName);
        await queue.CreateAsync(cancellationToken: cancellation);
        await queue.SendMessageAsync("""{"dataset":"gone","datasetVersion":"0123456789abcdef","model":"gone"}""", cancellation);
        var (consumer, services) = CreateSut(queueName);
        await using var _ = services;

        Assert.True(await consumer.ProcessOneAsync(cancellation));

        Assert.Equal(0, (await queue.GetPropertiesAsync(cancellation)).Value.ApproximateMessagesCount);
        var poisoned = (await Azurite.Queues().GetQueueClient(queueName + "-poison").ReceiveMessagesAsync(1, cancellationToken: cancellation)).Value.Single();
        var body = JsonNode.Parse(poisoned.Body.ToString())!;
        Assert.Contains("does not exist", body["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("gone", body["message"]!["dataset"]!.GetValue<string>());
    }

    [Fact]
    public async Task ProcessOne_MessageThatIsNotARequest_IsPoisoned_AndAnEmptyQueueReturnsFalse()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var queueName = Azurite.UniqueName("train-test");
        var queue = Azurite.Queues().GetQueueClient(queueName);
        await queue.CreateAsync(cancellationToken: cancellation);
        await queue.SendMessageAsync("not json", cancellation);
        var (consumer, services) = CreateSut(queueName);
        await using var _ = services;

        Assert.True(await consumer.ProcessOneAsync(cancellation));
        Assert.False(await consumer.ProcessOneAsync(cancellation));

        var poisoned = (await Azurite.Queues().GetQueueClient(queueName + "-poison").ReceiveMessagesAsync(1, cancellationToken: cancellation)).Value.Single();
        Assert.Contains("not a training request", poisoned.Body.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A split holding a class index its manifest's labels do not have (a corrupt dataset): the job crashes on this input
    /// every time, so the message goes to the poison queue at its first attempt with the reason, and the run says failed.
    /// </summary>
    [Fact]
    public async Task ProcessOne_JobThatCrashesOnItsInput_IsPoisonedAtTheFirstAttempt()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var queueName = Azurite.UniqueName("train-test");
        var queue = Azurite.Queues().GetQueueClient(queueName);
        await queue.CreateAsync(cancellationToken: cancellation);
        var data = TabularDataset.BinaryLinear(300, seed: 3);
        for (var r = 0; r < data.Y.Length; r += 5)
        {
            data.Y[r] = 7;
        }

        var request = await data.Split(Azurite.UniqueName("crash"), seed: 1).UploadAsync(cancellation);
        await queue.SendMessageAsync(JsonSerializer.Serialize(request, PipelineJson.Default.TrainRequest), cancellation);
        var (consumer, services) = CreateSut(queueName);
        await using var _ = services;

        Assert.True(await consumer.ProcessOneAsync(cancellation));

        Assert.Equal(0, (await queue.GetPropertiesAsync(cancellation)).Value.ApproximateMessagesCount);
        var poisoned = JsonNode.Parse((await Azurite.Queues().GetQueueClient(queueName + "-poison").ReceiveMessagesAsync(1, cancellationToken: cancellation)).Value.Single().Body.ToString())!;
        Assert.Equal(1, poisoned["attempts"]!.GetValue<int>());
        Assert.StartsWith("cannot succeed on this input (", poisoned["error"]!.GetValue<string>(), StringComparison.Ordinal);
        var run = await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.RunsContainer).GetBlobClient(StorageNames.LatestRunPath(request.Model!)), PipelineJson.Default.RunStatus, cancellation);
        Assert.Equal(RunStates.Failed, run!.Value.Value.State);
    }

    /// <summary>Blob storage unreachable (a closed port) while the queue answers: transient, so the message is retried, not poisoned.</summary>
    [Fact]
    public async Task ProcessOne_StorageUnreachable_IsRetried_NotPoisoned()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var queueName = Azurite.UniqueName("train-test");
        var queue = Azurite.Queues().GetQueueClient(queueName);
        await queue.CreateAsync(cancellationToken: cancellation);
        await queue.SendMessageAsync("""{"dataset":"unreachable","datasetVersion":"0123456789abcdef"}""", cancellation);
        var port = Ports.Free();
        var connection = $"DefaultEndpointsProtocol=http;AccountName={Azurite.AccountName};AccountKey={Azurite.AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{port}/{Azurite.AccountName};QueueEndpoint={queue.Uri.GetLeftPart(UriPartial.Authority)}/{Azurite.AccountName};";
        var (consumer, services) = CreateSut(queueName, connectionString: connection);
        await using var _ = services;

        Assert.True(await consumer.ProcessOneAsync(cancellation));

        Assert.Equal(1, (await queue.GetPropertiesAsync(cancellation)).Value.ApproximateMessagesCount);
        Assert.False((await Azurite.Queues().GetQueueClient(queueName + "-poison").ExistsAsync(cancellation)).Value);
    }
}
