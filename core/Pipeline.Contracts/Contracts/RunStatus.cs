namespace Pipeline.Contracts;

/// <summary>
/// <c>runs/{runId}/status.json</c> (and a copy at <c>runs/latest/{model}.json</c>): what a training run is doing now,
/// written by the trainer while it works and served by <c>GET /api/runs/{id}</c>.
/// </summary>
public sealed class RunStatus
{
    public string RunId { get; set; } = "";

    public string Model { get; set; } = "";

    public string Dataset { get; set; } = "";

    public string DatasetVersion { get; set; } = "";

    /// <summary><c>running</c>, <c>succeeded</c>, <c>failed</c> (will not be retried), <c>retrying</c> (an attempt failed) or <c>interrupted</c> (stopped; checkpointed, resumes on the next attempt).</summary>
    public string State { get; set; } = RunStates.Running;

    /// <summary><c>loading</c>, <c>searching</c>, <c>refitting</c>, <c>exporting</c>, <c>quantizing</c>, <c>comparing</c>, <c>publishing</c>, <c>reporting</c>, <c>done</c>.</summary>
    public string Stage { get; set; } = "";

    /// <summary>How many times the run was started (resumes included).</summary>
    public int Attempt { get; set; }

    public bool Resumed { get; set; }

    public string Device { get; set; } = "";

    /// <summary>Current trial (1-based) and number of trials in the budget.</summary>
    public int Trial { get; set; }

    public int Trials { get; set; }

    /// <summary>What the current trial tries, e.g. <c>mlp 64x64, lr 0.003, wd 0.001, dropout 0.1, batch 64</c>.</summary>
    public string? TrialParameters { get; set; }

    public int Epoch { get; set; }

    public int MaxEpochs { get; set; }

    public double? TrainLoss { get; set; }

    public double? ValidationLoss { get; set; }

    public double? BestValidationLoss { get; set; }

    /// <summary>
    /// The current trial's loss per epoch, for live loss curves; at most <see cref="LossPoint.MaxPoints"/> points (a long
    /// trial keeps every second point, then every fourth, …, so the curve keeps its shape).
    /// </summary>
    public List<LossPoint>? Losses { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Seconds of training across attempts.</summary>
    public double ElapsedSeconds { get; set; }

    /// <summary>Estimated seconds left in the search (bounded by the time budget); null before the first epoch.</summary>
    public double? EtaSeconds { get; set; }

    /// <summary>Published model version, once published.</summary>
    public string? ModelVersion { get; set; }

    /// <summary>Whether the version became current (champion/challenger), and why.</summary>
    public bool? Promoted { get; set; }

    public string? PromotionReason { get; set; }

    /// <summary>Why the run failed or stopped.</summary>
    public string? Error { get; set; }

    /// <summary>When each stage of this run started, in order (empty in runs written before stages were timed).</summary>
    public List<StageTime> Stages { get; set; } = [];
}

/// <summary>A stage of a run (<see cref="RunStatus.Stage"/>) and when the run entered it.</summary>
public sealed class StageTime
{
    public string Stage { get; set; } = "";

    public DateTimeOffset At { get; set; }
}

/// <summary>One epoch of a trial's loss curve.</summary>
public sealed class LossPoint
{
    public const int MaxPoints = 256;

    public int Epoch { get; set; }

    public double? Train { get; set; }

    public double? Validation { get; set; }
}

public static class RunStates
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Retrying = "retrying";
    public const string Interrupted = "interrupted";
}
