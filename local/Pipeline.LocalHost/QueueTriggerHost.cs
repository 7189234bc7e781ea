using System.Diagnostics;
using System.Globalization;
using System.Text;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Google.Protobuf;
using Polly;
using Polly.Timeout;
using Pipeline.LocalHost.Rpc;
using Pipeline.Storage;

namespace Pipeline.LocalHost;

/// <summary>What one invocation of a queue-triggered function came to.</summary>
public sealed record QueueInvocationResult(bool Succeeded, IReadOnlyDictionary<string, string> Outputs, string? Failure);

/// <summary>
/// The Functions host's queue-trigger side for an isolated worker: polls each queue-trigger function's queue, invokes the
/// function over the worker's gRPC stream with the message and the trigger metadata the host sends, writes the
/// function's queue outputs, and applies the host's rules from host.json: <c>messageEncoding</c>, the message stays
/// invisible while it runs, <c>visibilityTimeout</c> between attempts, <c>maxDequeueCount</c> then <c>{queue}-poison</c>,
/// and <c>functionTimeout</c> (the invocation is cancelled and counts as a failure).
/// </summary>
public sealed partial class QueueTriggerHost(
    IsolatedWorkerHost worker,
    QueueServiceClient queues,
    TimeProvider time,
    ILogger<QueueTriggerHost> logger,
    FunctionAppSettings? settings = null)
{
    private readonly FunctionAppSettings _settings = settings ?? worker.Settings;

    private readonly ResiliencePipeline _timeout = new ResiliencePipelineBuilder { TimeProvider = time }
        .AddTimeout((settings ?? worker.Settings).FunctionTimeout)
        .Build();

    /// <summary>Polls every queue-trigger function's queue until cancelled.</summary>
    public Task RunAsync(TimeSpan pollInterval, CancellationToken cancellationToken) =>
        Task.WhenAll(worker.QueueFunctions.Select(f => PollAsync(f, pollInterval, cancellationToken)));

    private async Task PollAsync(QueueFunction function, TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        await queues.GetQueueClient(function.QueueName).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
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

    /// <summary>Receives one batch from the function's queue and invokes the function for each message, concurrently.</summary>
    public async Task<int> DrainOnceAsync(QueueFunction function, CancellationToken cancellationToken)
    {
        var queue = queues.GetQueueClient(function.QueueName);
        // The host keeps a message invisible for the whole invocation: longer than functionTimeout.
        var lease = _settings.FunctionTimeout + TimeSpan.FromMinutes(1);
        QueueMessage[] messages = (await queue.ReceiveMessagesAsync(_settings.BatchSize, lease, cancellationToken)).Value;
        await Task.WhenAll(messages.Select(m => ProcessAsync(function, queue, m, cancellationToken)));
        return messages.Length;
    }

    private async Task ProcessAsync(QueueFunction function, QueueClient queue, QueueMessage message, CancellationToken cancellationToken)
    {
        QueueInvocationResult result;
        try
        {
            result = await InvokeAsync(function, message, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // shutting down: the message becomes visible again when its lease lapses
        }

        if (result.Succeeded)
        {
            foreach (var output in function.Outputs)
            {
                if (result.Outputs.TryGetValue(output.Binding, out var text))
                {
                    var target = queues.GetQueueClient(output.QueueName);
                    await target.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
                    await target.SendMessageAsync(_settings.Base64Messages ? Convert.ToBase64String(Encoding.UTF8.GetBytes(text)) : text, cancellationToken);
                }
            }

            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            LogInvoked(logger, function.Name, message.MessageId);
            return;
        }

        if (message.DequeueCount >= _settings.MaxDequeueCount)
        {
            var poison = queues.GetQueueClient(StorageNames.Poison(function.QueueName));
            await poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await poison.SendMessageAsync(message.Body.ToString(), cancellationToken);
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            LogPoisoned(logger, function.Name, message.MessageId, message.DequeueCount, poison.Name, result.Failure);
        }
        else
        {
            await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: _settings.VisibilityTimeout, cancellationToken: cancellationToken);
            LogFailed(logger, function.Name, message.MessageId, message.DequeueCount, _settings.MaxDequeueCount, result.Failure);
        }
    }

    /// <summary>
    /// One invocation of <paramref name="function"/> for <paramref name="message"/>, as the host makes it: the message text
    /// (base64-decoded unless host.json says <c>messageEncoding: none</c>) bound to the trigger parameter, the trigger
    /// metadata beside it, a trace context and the retry context, within <c>functionTimeout</c>.
    /// </summary>
    public async Task<QueueInvocationResult> InvokeAsync(QueueFunction function, QueueMessage message, CancellationToken cancellationToken)
    {
        string text;
        if (_settings.Base64Messages)
        {
            try
            {
                text = Encoding.UTF8.GetString(Convert.FromBase64String(message.Body.ToString()));
            }
            catch (FormatException)
            {
                return new QueueInvocationResult(false, new Dictionary<string, string>(), "The message is not valid base64 (host.json extensions.queues.messageEncoding is base64).");
            }
        }
        else
        {
            text = message.Body.ToString();
        }

        var request = new InvocationRequest
        {
            InvocationId = Guid.NewGuid().ToString(),
            FunctionId = function.FunctionId,
            TraceContext = new RpcTraceContext { TraceParent = NewTraceParent(), TraceState = "" },
            RetryContext = new RetryContext { RetryCount = (int)message.DequeueCount - 1, MaxRetryCount = _settings.MaxDequeueCount },
        };
        request.InputData.Add(new ParameterBinding
        {
            Name = function.TriggerBinding,
            Data = function.BinaryTrigger ? new TypedData { Bytes = ByteString.CopyFromUtf8(text) } : new TypedData { String = text },
        });
        request.TriggerMetadata.Add("QueueTrigger", new TypedData { String = text });
        request.TriggerMetadata.Add("Id", new TypedData { String = message.MessageId });
        request.TriggerMetadata.Add("PopReceipt", new TypedData { String = message.PopReceipt });
        request.TriggerMetadata.Add("DequeueCount", new TypedData { Json = message.DequeueCount.ToString(CultureInfo.InvariantCulture) });
        request.TriggerMetadata.Add("InsertionTime", JsonTime(message.InsertedOn));
        request.TriggerMetadata.Add("ExpirationTime", JsonTime(message.ExpiresOn));
        request.TriggerMetadata.Add("NextVisibleTime", JsonTime(message.NextVisibleOn));

        InvocationResponse response;
        try
        {
            response = await _timeout.ExecuteAsync(async token => await worker.Channel.InvokeAsync(request, token), cancellationToken);
        }
        catch (TimeoutRejectedException)
        {
            return new QueueInvocationResult(false, new Dictionary<string, string>(), $"Timeout value of {_settings.FunctionTimeout} exceeded by function '{function.Name}'.");
        }
        catch (WorkerUnavailableException e)
        {
            return new QueueInvocationResult(false, new Dictionary<string, string>(), e.Message);
        }

        if (response.Result?.Status != StatusResult.Types.Status.Success)
        {
            var exception = response.Result?.Exception;
            return new QueueInvocationResult(false, new Dictionary<string, string>(),
                exception is null ? $"{response.Result?.Status}" : $"{exception.Type}: {exception.Message}");
        }

        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (MessageText(response.ReturnValue) is { } returned)
        {
            outputs["$return"] = returned;
        }

        foreach (var binding in response.OutputData)
        {
            if (MessageText(binding.Data) is { } value)
            {
                outputs[binding.Name] = value;
            }
        }

        return new QueueInvocationResult(true, outputs, null);
    }

    /// <summary>The queue message a value becomes; <c>null</c> (no message) for an unset or empty value.</summary>
    private static string? MessageText(TypedData? data) => data?.DataCase switch
    {
        TypedData.DataOneofCase.String when data.String.Length > 0 => data.String,
        TypedData.DataOneofCase.Json when data.Json.Length > 0 && data.Json != "null" => data.Json,
        TypedData.DataOneofCase.Bytes when data.Bytes.Length > 0 => data.Bytes.ToStringUtf8(),
        _ => null,
    };

    private static TypedData JsonTime(DateTimeOffset? value) =>
        new() { Json = value is { } time ? $"\"{time.ToString("O", CultureInfo.InvariantCulture)}\"" : "null" };

    private static string NewTraceParent() => $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01";

    [LoggerMessage(Level = LogLevel.Information, Message = "Executed '{Function}' (Succeeded, Id={MessageId})")]
    private static partial void LogInvoked(ILogger logger, string function, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Executed '{Function}' (Failed, Id={MessageId}, attempt {Attempt} of {MaxAttempts}): {Failure}")]
    private static partial void LogFailed(ILogger logger, string function, string messageId, long attempt, int maxAttempts, string? failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "'{Function}' failed for message {MessageId} {Attempts} times; moved to {PoisonQueue}: {Failure}")]
    private static partial void LogPoisoned(ILogger logger, string function, string messageId, long attempts, string poisonQueue, string? failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling queue {Queue} failed")]
    private static partial void LogPollFailed(ILogger logger, Exception exception, string queue);
}
