using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Trainer;
using Pipeline.Trainer.Worker;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Trainer;

/// <summary>The queue side of the trainer, on a queue of its own in Azurite.</summary>
public class TrainRequestConsumerTests
{
    private static (TrainRequestConsumer Consumer, ServiceProvider Services) CreateSut(string queue, int maxAttempts = 5)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = Azurite.ConnectionString,
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
}
