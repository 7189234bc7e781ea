using Microsoft.Extensions.Options;

namespace Pipeline.Trainer.Worker;

/// <summary>A consumer of one queue that handles at most one message per call.</summary>
public interface IQueueConsumer
{
    /// <summary>Receives and processes at most one message; false when the queue was empty.</summary>
    Task<bool> ProcessOneAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Polls the worker's queue (<c>train-requests</c>, or <c>score-jobs</c> in score mode) until stopped, or handles one
/// message and stops the host (<see cref="WorkerOptions.Once"/>).
/// </summary>
public sealed partial class QueueWorker(
    IQueueConsumer consumer,
    IOptions<WorkerOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<QueueWorker> logger) : BackgroundService
{
    /// <summary>Process exit code when stopped in the middle of a job.</summary>
    public const int InterruptedExitCode = 3;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(logger, options.Value.QueueName, options.Value.Once);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                bool processed;
                try
                {
                    processed = await consumer.ProcessOneAsync(stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    // Stopped mid-job (SIGTERM): a training job checkpointed, a scoring job left nothing final. Exit non-zero so the platform sees the replica did not finish.
                    Environment.ExitCode = InterruptedExitCode;
                    throw;
                }

                if (options.Value.Once)
                {
                    break;
                }

                if (!processed)
                {
                    await Task.Delay(options.Value.PollInterval, time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (options.Value.Once)
            {
                lifetime.StopApplication();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker consuming queue {Queue} (once: {Once})")]
    private static partial void LogStarted(ILogger logger, string queue, bool once);
}
