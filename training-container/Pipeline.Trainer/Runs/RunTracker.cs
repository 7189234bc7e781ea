using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Training;

namespace Pipeline.Trainer.Runs;

/// <summary>
/// Keeps a run's status document (<c>runs/{runId}/status.json</c> and <c>runs/latest/{model}.json</c>) up to date: stage
/// changes are written at once, training progress at most every <see cref="TrainerOptions.StatusInterval"/>. Progress also
/// goes to the console: a progress bar on a terminal, a log line every few seconds otherwise. A failed status write is logged
/// and never fails the job.
/// </summary>
public sealed partial class RunTracker : IAsyncDisposable
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);
    private readonly BlobContainerClient _runs;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private long _lastLog;
    private int _lastTrial;
    private int _curveTrial;
    private int _curveStride = 1;
    private bool _dirty;

    private RunTracker(BlobContainerClient runs, RunStatus status, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _runs = runs;
        Status = status;
        _time = time;
        _logger = logger;
        _lastLog = time.GetTimestamp();
        _loop = FlushLoopAsync(interval);
    }

    public RunStatus Status { get; }

    public static async Task<RunTracker> StartAsync(BlobServiceClient blobs, string runId, TrainRequest request, string model, TimeSpan interval,
        TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(request);
        var runs = blobs.GetBlobContainerClient(StorageNames.RunsContainer);
        RunStatus? previous = null;
        try
        {
            await runs.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            previous = (await BlobJson.ReadAsync(runs.GetBlobClient(StorageNames.RunStatusPath(runId)), PipelineJson.Default.RunStatus, cancellationToken).ConfigureAwait(false))?.Value;
        }
        catch (Exception e) when (e is RequestFailedException or InvalidDataException or System.Text.Json.JsonException)
        {
            LogStatusWriteFailed(logger, e, runId);
        }

        var now = time.GetUtcNow();
        var status = new RunStatus
        {
            RunId = runId,
            Model = model,
            Dataset = request.Dataset,
            DatasetVersion = request.DatasetVersion,
            State = RunStates.Running,
            Stage = "loading",
            Attempt = (previous?.Attempt ?? 0) + 1,
            StartedAt = previous?.StartedAt ?? now,
            UpdatedAt = now,
            ElapsedSeconds = previous?.ElapsedSeconds ?? 0,
            // An attempt that resumes a stopped one keeps the stages already timed.
            Stages = previous?.Stages ?? [],
        };
        var tracker = new RunTracker(runs, status, interval, time, logger);
        await tracker.WriteAsync(cancellationToken).ConfigureAwait(false);
        return tracker;
    }

    /// <summary>Moves to a new stage and writes the document now.</summary>
    public Task StageAsync(string stage, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Status.Stage = stage;
            if (stage != "searching")
            {
                Status.EtaSeconds = null;
            }
        }

        LogStage(_logger, Status.RunId, stage);
        return WriteAsync(cancellationToken);
    }

    public Task UpdateAsync(Action<RunStatus> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_lock)
        {
            change(Status);
        }

        return WriteAsync(cancellationToken);
    }

    /// <summary>Records training progress (called from the training thread after every epoch); written by the flush loop.</summary>
    public void Report(SearchProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        lock (_lock)
        {
            Status.Trial = progress.Trial;
            Status.Trials = progress.Trials;
            Status.TrialParameters = progress.Parameters.ToString();
            Status.Epoch = progress.Epoch;
            Status.MaxEpochs = progress.MaxEpochs;
            Status.TrainLoss = Finite(progress.TrainLoss);
            Status.ValidationLoss = Finite(progress.ValidationLoss);
            Status.BestValidationLoss = Finite(progress.BestValidationLoss);
            RecordLoss(progress);
            Status.ElapsedSeconds = progress.ElapsedSeconds;
            Status.EtaSeconds = progress.EtaSeconds;
            _dirty = true;
        }

        if (_terminal)
        {
            DrawBar(progress);
        }
        else if (progress.Trial != _lastTrial || _time.GetElapsedTime(_lastLog) >= LogInterval)
        {
            // Plain log lines off a terminal: the first epoch of every trial, then every few seconds.
            _lastTrial = progress.Trial;
            _lastLog = _time.GetTimestamp();
            LogProgress(_logger, progress.Trial, progress.Trials, progress.Epoch, progress.TrainLoss, progress.ValidationLoss, progress.ElapsedSeconds, progress.EtaSeconds ?? double.NaN);
        }
    }

    /// <summary>Appends the epoch to the current trial's curve (a new trial starts a new one), thinned to at most <see cref="LossPoint.MaxPoints"/>.</summary>
    private void RecordLoss(SearchProgress progress)
    {
        if (Status.Losses is null || progress.Trial != _curveTrial)
        {
            Status.Losses = [];
            _curveTrial = progress.Trial;
            _curveStride = 1;
        }

        if (progress.Epoch % _curveStride != 0 && Status.Losses.Count > 0)
        {
            return;
        }

        Status.Losses.Add(new LossPoint { Epoch = progress.Epoch, Train = Finite(progress.TrainLoss), Validation = Finite(progress.ValidationLoss) });
        if (Status.Losses.Count >= LossPoint.MaxPoints)
        {
            _curveStride *= 2;
            Status.Losses = [.. Status.Losses.Where((_, i) => i % 2 == 0)];
        }
    }

    /// <summary>The final state (succeeded, failed, retrying, interrupted), written with its own short timeout so it lands even while shutting down.</summary>
    public async Task FinishAsync(string state, string? error, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            Status.State = state;
            Status.Error = error;
            Status.EtaSeconds = null;
            if (state == RunStates.Succeeded)
            {
                Status.Stage = "done";
            }
        }

        if (_terminal)
        {
            Console.Error.WriteLine();
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        await WriteAsync(timeout.Token).ConfigureAwait(false);
    }

    private async Task FlushLoopAsync(TimeSpan interval)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(interval, _time, _stop.Token).ConfigureAwait(false);
                bool dirty;
                lock (_lock)
                {
                    dirty = _dirty;
                    _dirty = false;
                }

                if (dirty)
                {
                    await WriteAsync(_stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task WriteAsync(CancellationToken cancellationToken)
    {
        RunStatus snapshot;
        lock (_lock)
        {
            Status.UpdatedAt = _time.GetUtcNow();
            if (Status.Stages.Count == 0 || Status.Stages[^1].Stage != Status.Stage)
            {
                Status.Stages.Add(new StageTime { Stage = Status.Stage, At = Status.UpdatedAt });
            }

            snapshot = System.Text.Json.JsonSerializer.Deserialize(
                System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(Status, PipelineJson.Default.RunStatus), PipelineJson.Default.RunStatus)!;
        }

        try
        {
            await BlobJson.WriteAsync(_runs.GetBlobClient(StorageNames.RunStatusPath(snapshot.RunId)), snapshot, PipelineJson.Default.RunStatus, null, cancellationToken).ConfigureAwait(false);
            await BlobJson.WriteAsync(_runs.GetBlobClient(StorageNames.LatestRunPath(snapshot.Model)), snapshot, PipelineJson.Default.RunStatus, null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RequestFailedException or OperationCanceledException && !_stop.IsCancellationRequested)
        {
            LogStatusWriteFailed(_logger, e, snapshot.RunId);
        }
    }

    private static void DrawBar(SearchProgress p)
    {
        const int Width = 24;
        var done = ((p.Trial - 1) + Math.Min(1.0, p.Epoch / (double)p.MaxEpochs)) / p.Trials;
        if (p.EtaSeconds is { } eta && p.ElapsedSeconds + eta > 0)
        {
            done = p.ElapsedSeconds / (p.ElapsedSeconds + eta);
        }

        var filled = (int)Math.Round(Math.Clamp(done, 0, 1) * Width);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"\r[{new string('#', filled)}{new string('-', Width - filled)}] trial {p.Trial}/{p.Trials} epoch {p.Epoch,4} loss {p.TrainLoss,8:F4} val {p.ValidationLoss,8:F4} {Clock(p.ElapsedSeconds)} eta {(p.EtaSeconds is { } e ? Clock(e) : "--:--")} ");
        Console.Error.Write(line);
    }

    private static string Clock(double seconds) => TimeSpan.FromSeconds(Math.Max(0, seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"mm\:ss", CultureInfo.InvariantCulture);

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: {Stage}")]
    private static partial void LogStage(ILogger logger, string runId, string stage);

    [LoggerMessage(Level = LogLevel.Information, Message = "Trial {Trial}/{Trials} epoch {Epoch}: loss {TrainLoss:F4}, validation {ValidationLoss:F4}; {ElapsedSeconds:F0} s elapsed, ~{EtaSeconds:F0} s left")]
    private static partial void LogProgress(ILogger logger, int trial, int trials, int epoch, double trainLoss, double validationLoss, double elapsedSeconds, double etaSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the status of run {RunId}")]
    private static partial void LogStatusWriteFailed(ILogger logger, Exception exception, string runId);
}
