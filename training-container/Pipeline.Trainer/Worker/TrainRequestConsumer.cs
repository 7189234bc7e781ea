using System.Text.Json;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Training;

namespace Pipeline.Trainer.Worker;

/// <summary>
/// Consumes <c>train-requests</c> the way a Container Apps event-job replica must: receive one message, keep it invisible
/// with a heartbeat while training, delete it on success; on failure let it reappear after a delay; after
/// <see cref="WorkerOptions.MaxAttempts"/> attempts move it to the poison queue with the error. Only transient failures
/// (<see cref="Failures.Classify"/>) are retried: a job that cannot succeed — a refused request, a crash on its input,
/// exhausted memory or disk — goes to the poison queue at once, so the requests queued behind it do not wait.
/// </summary>
public sealed partial class TrainRequestConsumer(
    QueueServiceClient queues,
    Azure.Storage.Blobs.BlobServiceClient blobs,
    TrainingJob job,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<TrainRequestConsumer> logger) : IQueueConsumer
{
    /// <summary>Receives and processes at most one message; false when the queue was empty.</summary>
    public async Task<bool> ProcessOneAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var queue = queues.GetQueueClient(o.QueueName);
        await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        QueueMessage[] received = (await queue.ReceiveMessagesAsync(1, o.VisibilityTimeout, cancellationToken).ConfigureAwait(false)).Value;
        if (received.Length == 0)
        {
            return false;
        }

        var message = received[0];
        LogReceived(logger, message.MessageId, message.DequeueCount);
        await ObserveDepthAsync(queue, cancellationToken).ConfigureAwait(false);
        if (message.DequeueCount > o.MaxAttempts)
        {
            // Earlier attempts died without recording a failure (the process was killed).
            await PoisonAsync(queue, message, message.PopReceipt, $"Gave up after {message.DequeueCount - 1} attempts that did not finish.", cancellationToken).ConfigureAwait(false);
            return true;
        }

        TrainRequest request;
        try
        {
            request = JsonSerializer.Deserialize(message.Body.ToMemory().Span, PipelineJson.Default.TrainRequest)
                ?? throw new JsonException("The message is JSON null.");
        }
        catch (JsonException e)
        {
            await PoisonAsync(queue, message, message.PopReceipt, $"The message is not a training request: {e.Message}", cancellationToken).ConfigureAwait(false);
            return true;
        }

        using var heartbeat = new MessageLease(queue, message, o, time, logger);
        using var work = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, heartbeat.Lost);
        try
        {
            await job.RunAsync(request, work.Token).ConfigureAwait(false);
            var popReceipt = await heartbeat.StopAsync().ConfigureAwait(false);
            await queue.DeleteMessageAsync(message.MessageId, popReceipt, CancellationToken.None).ConfigureAwait(false);
            LogCompleted(logger, message.MessageId, request.Dataset, request.DatasetVersion);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down (SIGTERM): the job checkpointed; make the message visible now so the next attempt resumes it at once.
            await heartbeat.ReleaseAsync().ConfigureAwait(false);

            LogInterrupted(logger, message.MessageId);
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException || heartbeat.Lost.IsCancellationRequested)
        {
            var popReceipt = await heartbeat.StopAsync().ConfigureAwait(false);
            if (heartbeat.Lost.IsCancellationRequested)
            {
                LogLeaseLost(logger, message.MessageId);
                return true;
            }

            if (e is TrainingFailedException)
            {
                await PoisonAsync(queue, message, popReceipt, e.Message, CancellationToken.None).ConfigureAwait(false);
            }
            else if (Failures.Classify(e) != FailureKind.Transient || message.DequeueCount >= o.MaxAttempts)
            {
                // A crash on this input or exhausted memory/disk fails every attempt: end it now, not after five back-offs.
                LogAttemptFailed(logger, e, message.MessageId, message.DequeueCount, o.MaxAttempts);
                await PoisonAsync(queue, message, popReceipt, Failures.Describe(e), CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                LogAttemptFailed(logger, e, message.MessageId, message.DequeueCount, o.MaxAttempts);
                await queue.UpdateMessageAsync(message.MessageId, popReceipt, visibilityTimeout: o.RetryDelay, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
        }

        return true;
    }

    /// <summary>The queue's approximate length for the depth gauge: one read per received message, none while idle.</summary>
    private async Task ObserveDepthAsync(QueueClient queue, CancellationToken cancellationToken)
    {
        try
        {
            TrainerTelemetry.QueueDepthSeen((await queue.GetPropertiesAsync(cancellationToken).ConfigureAwait(false)).Value.ApproximateMessagesCount);
        }
        catch (RequestFailedException e)
        {
            LogDepthFailed(logger, e.Status, e.ErrorCode);
        }
    }

    private async Task PoisonAsync(QueueClient queue, QueueMessage message, string popReceipt, string error, CancellationToken cancellationToken)
    {
        await RecordFailureAsync(message, error, cancellationToken).ConfigureAwait(false);
        var poison = await Poison.MoveAsync(queues, queue, message, popReceipt, error, time, cancellationToken).ConfigureAwait(false);
        LogPoisoned(logger, message.MessageId, poison, error);
    }

    /// <summary>Marks the run of a poisoned request failed (the job itself records failures it sees; this covers attempts that died).</summary>
    private async Task RecordFailureAsync(QueueMessage message, string error, CancellationToken cancellationToken)
    {
        TrainRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(message.Body.ToMemory().Span, PipelineJson.Default.TrainRequest);
        }
        catch (JsonException)
        {
            return;
        }

        if (request is null || !StorageNames.IsValidName(request.Dataset))
        {
            return;
        }

        var runs = blobs.GetBlobContainerClient(StorageNames.RunsContainer);
        var runId = Runs.RunIds.For(request);
        try
        {
            var existing = (await BlobJson.ReadAsync(runs.GetBlobClient(StorageNames.RunStatusPath(runId)), PipelineJson.Default.RunStatus, cancellationToken).ConfigureAwait(false))?.Value;
            var status = existing ?? new RunStatus
            {
                RunId = runId,
                Model = StorageNames.IsValidName(request.Model) ? request.Model : request.Dataset,
                Dataset = request.Dataset,
                DatasetVersion = request.DatasetVersion,
                StartedAt = time.GetUtcNow(),
            };
            status.State = RunStates.Failed;
            status.Error = error;
            status.UpdatedAt = time.GetUtcNow();
            await runs.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await BlobJson.WriteAsync(runs.GetBlobClient(StorageNames.RunStatusPath(runId)), status, PipelineJson.Default.RunStatus, null, cancellationToken).ConfigureAwait(false);
            await BlobJson.WriteAsync(runs.GetBlobClient(StorageNames.LatestRunPath(status.Model)), status, PipelineJson.Default.RunStatus, null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RequestFailedException or InvalidDataException or JsonException)
        {
            LogReleaseFailed(logger, e, message.MessageId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageId} interrupted by shutdown; checkpointed and released for the next attempt")]
    private static partial void LogInterrupted(ILogger logger, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release or record message {MessageId}")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string messageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Received message {MessageId} (attempt {Attempt})")]
    private static partial void LogReceived(ILogger logger, string messageId, long attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Message {MessageId} done: trained {Dataset} version {Version}")]
    private static partial void LogCompleted(ILogger logger, string messageId, string dataset, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attempt {Attempt} of {MaxAttempts} for message {MessageId} failed; it will be retried")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, string messageId, long attempt, int maxAttempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Message {MessageId} moved to {PoisonQueue}: {Error}")]
    private static partial void LogPoisoned(ILogger logger, string messageId, string poisonQueue, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read the queue's length ({Status} {ErrorCode})")]
    private static partial void LogDepthFailed(ILogger logger, int status, string? errorCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost message {MessageId} while working on it; abandoning this attempt")]
    private static partial void LogLeaseLost(ILogger logger, string messageId);
}
