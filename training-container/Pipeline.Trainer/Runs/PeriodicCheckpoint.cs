using System.Text.Json;
using Pipeline.Training;

namespace Pipeline.Trainer.Runs;

/// <summary>
/// Checkpoints a search while it runs, not only when it is stopped: a SIGTERM gives the job time to save where it is,
/// a SIGKILL or a lost node does not. Between two epochs (on the search thread, so the state is not changing) and once a
/// trial has finished since the last checkpoint and <c>Trainer:CheckpointInterval</c> has passed, the finished trials
/// are serialized — without the running one, whose weights are mid-update — and uploaded in the background. A kill then
/// loses at most the running trial and one interval of finished work. One upload at a time: a checkpoint due while the
/// previous one is still uploading waits for the next finished trial. Failures are logged; training goes on.
/// </summary>
public sealed partial class PeriodicCheckpoint(CheckpointStore store, string runId, TimeSpan interval, TimeProvider time, ILogger logger)
{
    private int _savedTrials;
    private long _savedAt = time.GetTimestamp();
    private Task _upload = Task.CompletedTask;

    /// <summary>Checkpoints taken so far.</summary>
    public int Saved { get; private set; }

    /// <summary>Call with every progress report of <paramref name="state"/>'s search, on the search thread.</summary>
    public void OnProgress(SearchState state, SearchProgress progress)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(progress);
        if (state.Completed.Count <= _savedTrials || time.GetElapsedTime(_savedAt) < interval || !_upload.IsCompleted)
        {
            return;
        }

        var current = state.Current;
        var elapsed = state.ElapsedSeconds;
        byte[] checkpoint;
        try
        {
            state.Current = null; // resumed from the start of the running trial
            state.ElapsedSeconds = progress.ElapsedSeconds; // the time spent counts against the budget, lost or not
            checkpoint = JsonSerializer.SerializeToUtf8Bytes(state, TrainerJson.Default.SearchState);
        }
        finally
        {
            state.Current = current;
            state.ElapsedSeconds = elapsed;
        }

        _savedTrials = state.Completed.Count;
        _savedAt = time.GetTimestamp();
        Saved++;
        var trials = _savedTrials;
        _upload = Task.Run(async () =>
        {
            try
            {
                await store.SaveAsync(runId, checkpoint, trials, 0, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is Azure.RequestFailedException or IOException or HttpRequestException or AggregateException)
            {
                LogFailed(logger, e, runId, trials);
            }
        });
    }

    /// <summary>Waits for the upload in flight, so a final checkpoint or the checkpoint's deletion comes after it.</summary>
    public Task DrainAsync() => _upload;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: the checkpoint after {Trials} trials could not be saved; training goes on")]
    private static partial void LogFailed(ILogger logger, Exception exception, string runId, int trials);
}
