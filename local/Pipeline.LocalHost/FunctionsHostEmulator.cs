using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Polly;
using Polly.Timeout;
using Pipeline.Storage;

namespace Pipeline.LocalHost;

/// <summary>
/// Stands in for the Azure Functions host's queue-trigger side for a custom handler: polls each trigger queue, POSTs the
/// invocation payload the host sends (<c>{"Data":{binding:message},"Metadata":{...}}</c>) to <c>/{FunctionName}</c>,
/// writes the reply's queue output bindings, and applies the host's retry rules (visibility timeout between attempts,
/// <c>maxDequeueCount</c>, then <c>{queue}-poison</c>) and its <c>functionTimeout</c>.
/// </summary>
public sealed partial class FunctionsHostEmulator(
    FunctionApp app,
    QueueServiceClient queues,
    HttpClient handler,
    TimeProvider time,
    ILogger<FunctionsHostEmulator> logger)
{
    private readonly ResiliencePipeline _timeout = new ResiliencePipelineBuilder { TimeProvider = time }
        .AddTimeout(app.FunctionTimeout)
        .Build();

    /// <summary>Polls every queue-trigger function's queue until cancelled.</summary>
    public Task RunAsync(TimeSpan pollInterval, CancellationToken cancellationToken) =>
        Task.WhenAll(app.QueueFunctions.Select(f => PollAsync(f, pollInterval, cancellationToken)));

    private async Task PollAsync(QueueFunction function, TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        var queue = queues.GetQueueClient(function.QueueName);
        await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        while (!cancellationToken.IsCancellationRequested)
        {
            int handled;
            try
            {
                handled = await DrainOnceAsync(function, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Azure.RequestFailedException e)
            {
                LogPollFailed(logger, e, function.QueueName);
                handled = 0;
            }

            if (handled == 0)
            {
                await Task.Delay(pollInterval, time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Receives one batch from the function's queue and invokes the function for each message.</summary>
    public async Task<int> DrainOnceAsync(QueueFunction function, CancellationToken cancellationToken)
    {
        var queue = queues.GetQueueClient(function.QueueName);
        // The host keeps a message invisible for the whole invocation: longer than functionTimeout.
        var lease = app.FunctionTimeout + TimeSpan.FromMinutes(1);
        QueueMessage[] messages = (await queue.ReceiveMessagesAsync(app.BatchSize, lease, cancellationToken)).Value;
        await Task.WhenAll(messages.Select(m => InvokeAsync(function, queue, m, cancellationToken)));
        return messages.Length;
    }

    private async Task InvokeAsync(QueueFunction function, QueueClient queue, QueueMessage message, CancellationToken cancellationToken)
    {
        string? failure;
        JsonObject? reply = null;
        try
        {
            reply = await _timeout.ExecuteAsync(async token =>
            {
                using var response = await handler.PostAsJsonAsync($"/{function.Name}", InvocationPayload(function, message), token);
                var text = await response.Content.ReadAsStringAsync(token);
                if (!response.IsSuccessStatusCode)
                {
                    throw new HttpRequestException($"{(int)response.StatusCode} {response.ReasonPhrase}: {text}");
                }

                return JsonNode.Parse(text) as JsonObject ?? throw new HttpRequestException("The handler's reply is not a JSON object.");
            }, cancellationToken);
            failure = null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // shutting down: the message becomes visible again when its lease lapses
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or JsonException)
        {
            failure = e.Message;
        }

        if (failure is null)
        {
            foreach (var log in reply!["Logs"]?.AsArray() ?? [])
            {
                LogHandlerLog(logger, function.Name, log?.ToString());
            }

            var outputs = reply["Outputs"] as JsonObject;
            foreach (var output in function.Outputs)
            {
                if (outputs?[output.Binding] is { } value)
                {
                    var target = queues.GetQueueClient(output.QueueName);
                    await target.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
                    var text = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value.ToJsonString();
                    await target.SendMessageAsync(text, cancellationToken);
                }
            }

            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            LogInvoked(logger, function.Name, message.MessageId);
            return;
        }

        if (message.DequeueCount >= app.MaxDequeueCount)
        {
            var poison = queues.GetQueueClient(StorageNames.Poison(function.QueueName));
            await poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await poison.SendMessageAsync(message.Body.ToString(), cancellationToken);
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            LogPoisoned(logger, function.Name, message.MessageId, message.DequeueCount, poison.Name, failure);
        }
        else
        {
            await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: app.VisibilityTimeout, cancellationToken: cancellationToken);
            LogFailed(logger, function.Name, message.MessageId, message.DequeueCount, app.MaxDequeueCount, failure);
        }
    }

    /// <summary>The host passes a queue message to a custom handler as a JSON string, with the trigger metadata beside it.</summary>
    private JsonObject InvocationPayload(QueueFunction function, QueueMessage message) => new()
    {
        ["Data"] = new JsonObject { [function.TriggerBinding] = message.Body.ToString() },
        ["Metadata"] = new JsonObject
        {
            ["DequeueCount"] = message.DequeueCount,
            ["ExpirationTime"] = message.ExpiresOn,
            ["Id"] = message.MessageId,
            ["InsertionTime"] = message.InsertedOn,
            ["NextVisibleTime"] = message.NextVisibleOn,
            ["PopReceipt"] = message.PopReceipt,
            ["sys"] = new JsonObject
            {
                ["MethodName"] = function.Name,
                ["UtcNow"] = time.GetUtcNow(),
                ["RandGuid"] = Guid.NewGuid().ToString(),
            },
        },
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Executed '{Function}' (Succeeded, Id={MessageId})")]
    private static partial void LogInvoked(ILogger logger, string function, string messageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Function}: {Log}")]
    private static partial void LogHandlerLog(ILogger logger, string function, string? log);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Executed '{Function}' (Failed, Id={MessageId}, attempt {Attempt} of {MaxAttempts}): {Failure}")]
    private static partial void LogFailed(ILogger logger, string function, string messageId, long attempt, int maxAttempts, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "'{Function}' failed for message {MessageId} {Attempts} times; moved to {PoisonQueue}: {Failure}")]
    private static partial void LogPoisoned(ILogger logger, string function, string messageId, long attempts, string poisonQueue, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling queue {Queue} failed")]
    private static partial void LogPollFailed(ILogger logger, Exception exception, string queue);
}
