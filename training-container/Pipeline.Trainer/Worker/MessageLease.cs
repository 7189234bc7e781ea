using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Pipeline.Trainer.Worker;

/// <summary>Renews the message's invisibility while work goes on; signals <see cref="Lost"/> if it can no longer do so.</summary>
public sealed partial class MessageLease : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly Task _loop;
    private readonly QueueClient _queue;
    private readonly string _messageId;
    private readonly ILogger _logger;
    private string _popReceipt;

    public MessageLease(QueueClient queue, QueueMessage message, WorkerOptions options, TimeProvider time, ILogger logger)
    {
        (_queue, _messageId, _logger) = (queue, message.MessageId, logger);
        _popReceipt = message.PopReceipt;
        _loop = RunAsync(queue, message.MessageId, options, time, logger);
    }

    public CancellationToken Lost => _lost.Token;

    public async Task<string> StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        return _popReceipt;
    }

    /// <summary>
    /// Stops renewing and makes the message visible now (shutting down: the next execution takes it at once instead of
    /// after the visibility timeout). A release that fails within 5 s is logged; the message then reappears on its own.
    /// </summary>
    public async Task ReleaseAsync()
    {
        var popReceipt = await StopAsync().ConfigureAwait(false);
        try
        {
            using var release = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _queue.UpdateMessageAsync(_messageId, popReceipt, visibilityTimeout: TimeSpan.Zero, cancellationToken: release.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RequestFailedException or OperationCanceledException)
        {
            LogReleaseFailed(_logger, e, _messageId);
        }
    }

    private async Task RunAsync(QueueClient queue, string messageId, WorkerOptions options, TimeProvider time, ILogger logger)
    {
        var failures = 0;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.HeartbeatInterval, time, _stop.Token).ConfigureAwait(false);
                var receipt = await queue.UpdateMessageAsync(messageId, _popReceipt, visibilityTimeout: options.VisibilityTimeout, cancellationToken: _stop.Token).ConfigureAwait(false);
                _popReceipt = receipt.Value.PopReceipt;
                failures = 0;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                // The message was taken by someone else (its visibility lapsed): stop working on it.
                LogHeartbeatFailed(logger, e, messageId);
                await _lost.CancelAsync().ConfigureAwait(false);
                return;
            }
            catch (RequestFailedException e) when (++failures < 3)
            {
                LogHeartbeatFailed(logger, e, messageId);
            }
            catch (RequestFailedException e)
            {
                LogHeartbeatFailed(logger, e, messageId);
                await _lost.CancelAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        _lost.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release message {MessageId} on shutdown; it reappears after its visibility timeout")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat for message {MessageId} failed")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception exception, string messageId);
}
