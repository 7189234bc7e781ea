using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Pipeline.Storage;

namespace Pipeline.Trainer.Worker;

/// <summary>Moves a message that will not succeed to <c>&lt;queue&gt;-poison</c>, wrapped with the error, attempts and time.</summary>
public static class Poison
{
    /// <summary>Sends the wrapped message to the poison queue, then deletes it from <paramref name="queue"/>; returns the poison queue's name.</summary>
    public static async Task<string> MoveAsync(QueueServiceClient queues, QueueClient queue, QueueMessage message, string popReceipt, string error, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queues);
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(time);
        var poison = queues.GetQueueClient(StorageNames.Poison(queue.Name));
        JsonNode? original;
        try
        {
            original = JsonNode.Parse(message.Body.ToString());
        }
        catch (JsonException)
        {
            original = JsonValue.Create(message.Body.ToString());
        }

        var body = new JsonObject
        {
            ["message"] = original,
            ["error"] = error,
            ["attempts"] = message.DequeueCount,
            ["failedAt"] = time.GetUtcNow(),
            ["messageId"] = message.MessageId,
        };
        try
        {
            await poison.SendMessageAsync(body.ToJsonString(), cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.ErrorCode == QueueErrorCode.QueueNotFound)
        {
            // Infra creates the poison queues in Azure (where the job may only add messages to them); locally it may not exist yet.
            await poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await poison.SendMessageAsync(body.ToJsonString(), cancellationToken).ConfigureAwait(false);
        }

        await queue.DeleteMessageAsync(message.MessageId, popReceipt, cancellationToken).ConfigureAwait(false);
        return poison.Name;
    }
}
