using System.Text.Json;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Scoring;
using Pipeline.Trainer.Worker;

namespace Pipeline.Trainer.Scoring;

/// <summary>
/// The scoring job's consumer of <c>score-jobs</c>, handled like <c>train-requests</c>: receive one message, keep it
/// invisible with a heartbeat while the file is scored by the functions app's own <see cref="ScoreHandler"/>, delete it
/// when the report is written. A file that cannot be scored (unreadable, missing columns, unknown model) is a failed
/// report and a completed message, never a retry. Storage blips are retried after <see cref="WorkerOptions.RetryDelay"/>;
/// an attempt that crashes on the file or exhausts memory or disk, or the last allowed attempt, ends the message: it goes
/// to <c>score-jobs-poison</c> and a <c>job-failed</c> report replaces the <c>handed-to-job</c> one.
/// </summary>
public sealed partial class ScoreJobConsumer(
    QueueServiceClient queues,
    ScoreHandler handler,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<ScoreJobConsumer> logger) : IQueueConsumer
{
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
        ScoreJobRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(message.Body.ToMemory().Span, PipelineJson.Default.ScoreJobRequest);
        }
        catch (JsonException e)
        {
            await PoisonAsync(queue, message, message.PopReceipt, null, $"The message is not a scoring request: {e.Message}", cancellationToken).ConfigureAwait(false);
            return true;
        }

        if (request is null || string.IsNullOrEmpty(request.Blob))
        {
            await PoisonAsync(queue, message, message.PopReceipt, null, "The message is not a scoring request: it names no blob.", cancellationToken).ConfigureAwait(false);
            return true;
        }

        if (message.DequeueCount > o.MaxAttempts)
        {
            // Earlier attempts died without recording a failure (the process was killed: out of memory, replica timeout).
            await PoisonAsync(queue, message, message.PopReceipt, request, $"{message.DequeueCount - 1} attempts did not finish (killed: out of memory or past the replica timeout).", cancellationToken).ConfigureAwait(false);
            return true;
        }

        using var lease = new MessageLease(queue, message, o, time, logger);
        using var work = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost);
        try
        {
            var report = await handler.HandleAsync(request, work.Token).ConfigureAwait(false);
            var popReceipt = await lease.StopAsync().ConfigureAwait(false);
            await queue.DeleteMessageAsync(message.MessageId, popReceipt, CancellationToken.None).ConfigureAwait(false);
            LogCompleted(logger, message.MessageId, request.Blob, report?.Status);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down (SIGTERM): nothing final was written (the output is one commit, the report comes after it);
            // make the message visible now so the next execution scores the file again from the start.
            await lease.ReleaseAsync().ConfigureAwait(false);

            LogInterrupted(logger, message.MessageId);
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException || lease.Lost.IsCancellationRequested)
        {
            var popReceipt = await lease.StopAsync().ConfigureAwait(false);
            if (lease.Lost.IsCancellationRequested)
            {
                LogLeaseLost(logger, message.MessageId);
                return true;
            }

            LogAttemptFailed(logger, e, message.MessageId, message.DequeueCount, o.MaxAttempts);
            if (Failures.Classify(e) != FailureKind.Transient || message.DequeueCount >= o.MaxAttempts)
            {
                // A crash on this file or exhausted memory/disk fails every attempt: end it now with a report.
                await PoisonAsync(queue, message, popReceipt, request, Failures.Describe(e), CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await queue.UpdateMessageAsync(message.MessageId, popReceipt, visibilityTimeout: o.RetryDelay, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
        }

        return true;
    }

    private async Task PoisonAsync(QueueClient queue, QueueMessage message, string popReceipt, ScoreJobRequest? request, string error, CancellationToken cancellationToken)
    {
        if (request is not null)
        {
            try
            {
                await handler.WriteJobFailedAsync(request, error, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException e)
            {
                LogReleaseFailed(logger, e, message.MessageId);
            }
        }

        var poison = await Poison.MoveAsync(queues, queue, message, popReceipt, error, time, cancellationToken).ConfigureAwait(false);
        LogPoisoned(logger, message.MessageId, poison, error);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Received scoring request {MessageId} (attempt {Attempt})")]
    private static partial void LogReceived(ILogger logger, string messageId, long attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scoring request {MessageId} done: {Blob} ({Status})")]
    private static partial void LogCompleted(ILogger logger, string messageId, string blob, ScoringStatus? status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scoring request {MessageId} interrupted by shutdown; released for the next attempt")]
    private static partial void LogInterrupted(ILogger logger, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release or record scoring request {MessageId}")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attempt {Attempt} of {MaxAttempts} for scoring request {MessageId} failed")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, string messageId, long attempt, int maxAttempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Scoring request {MessageId} moved to {PoisonQueue}: {Error}")]
    private static partial void LogPoisoned(ILogger logger, string messageId, string poisonQueue, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost scoring request {MessageId} while working on it; abandoning this attempt")]
    private static partial void LogLeaseLost(ILogger logger, string messageId);
}
