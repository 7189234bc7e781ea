namespace Pipeline.Trainer.Training;

/// <summary>Limits of a search: trials and wall-clock seconds (whichever ends first), and per-trial epochs and patience.</summary>
public sealed record SearchBudget(int MaxTrials, double MaxSeconds, int MaxEpochs, int Patience);

/// <summary>A finished (or budget-cut) trial and what it scored on the validation split.</summary>
public sealed class TrialOutcome
{
    public int Index { get; set; }

    public List<int> HiddenLayers { get; set; } = [];

    public double LearningRate { get; set; }

    public double WeightDecay { get; set; }

    public double Dropout { get; set; }

    public int BatchSize { get; set; }

    public int Epochs { get; set; }

    public int BestEpoch { get; set; }

    public double ValidationLoss { get; set; }

    public double ValidationMetric { get; set; }

    public double Seconds { get; set; }

    public string StopReason { get; set; } = "";

    public List<EpochRecord> History { get; set; } = [];

    public TrialParameters Parameters => new(HiddenLayers, LearningRate, WeightDecay, Dropout, BatchSize);

    public static TrialOutcome From(TrialState state) => new()
    {
        Index = state.Index,
        HiddenLayers = state.HiddenLayers,
        LearningRate = state.LearningRate,
        WeightDecay = state.WeightDecay,
        Dropout = state.Dropout,
        BatchSize = state.BatchSize,
        Epochs = state.Epoch,
        BestEpoch = state.BestEpoch,
        ValidationLoss = state.BestLoss,
        ValidationMetric = state.BestMetric,
        Seconds = state.Seconds,
        StopReason = state.StopReason ?? "",
        History = state.History,
    };
}

/// <summary>Search progress: what a checkpoint holds besides the data, and what a resumed attempt continues from.</summary>
public sealed class SearchState
{
    /// <summary>Identifies the data, settings and budget; a checkpoint with another fingerprint is not resumed.</summary>
    public string Fingerprint { get; set; } = "";

    /// <summary>Wall-clock seconds spent by earlier attempts (counted against the budget).</summary>
    public double ElapsedSeconds { get; set; }

    public List<TrialOutcome> Completed { get; set; } = [];

    /// <summary>Index into <see cref="Completed"/> of the best trial so far, or -1.</summary>
    public int Best { get; set; } = -1;

    /// <summary>Best weights of the best completed trial.</summary>
    public List<float[]> BestWeights { get; set; } = [];

    /// <summary>The trial in progress when the checkpoint was taken.</summary>
    public TrialState? Current { get; set; }

    public string? StoppedBy { get; set; }
}

/// <summary>What one search step reports: trial, epoch and losses, with the elapsed time.</summary>
public sealed record SearchProgress(int Trial, int Trials, TrialParameters Parameters, int Epoch, int MaxEpochs, double TrainLoss, double ValidationLoss, double BestValidationLoss, double ElapsedSeconds, double? EtaSeconds);

/// <summary>
/// Model selection within a budget: runs the trials of <see cref="SearchSpace"/> one after another, each with early stopping
/// on the validation split, and keeps the one with the lowest validation loss. The budget in trials and seconds is checked
/// between batches; a trial cut short by the clock still counts with its best epoch so far. When cancelled it stops at a
/// batch boundary with the running trial captured in <see cref="State"/>, ready for a checkpoint.
/// </summary>
public sealed class ModelSearch(TrainingData data, SearchBudget budget, int seed, SearchState state, TimeProvider time, int batchSizeMultiplier = 1)
{
    /// <summary>Changes whenever <see cref="SearchSpace"/> or the training loop changes what a trial does (part of checkpoint fingerprints).</summary>
    public const int SpaceVersion = 1;

    public SearchState State => state;

    public IReadOnlyList<TrialParameters> Trials { get; } = SearchSpace.Trials(budget.MaxTrials, seed, data.TrainRows)
        .Select(t => t with { BatchSize = t.BatchSize * batchSizeMultiplier }).ToList();

    /// <summary>Runs the remaining trials; returns the best trial's state (its best weights).</summary>
    public TrialState Run(Action<SearchProgress>? progress, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var previous = state.ElapsedSeconds;
        double Elapsed() => previous + time.GetElapsedTime(started).TotalSeconds;
        bool OutOfTime() => Elapsed() >= budget.MaxSeconds;
        try
        {
            for (var index = state.Completed.Count; index < Trials.Count; index++)
            {
                if (state.Completed.Count > 0 && OutOfTime())
                {
                    state.StoppedBy = $"time budget ({budget.MaxSeconds:F0} s) after {state.Completed.Count} of {Trials.Count} trials";
                    break;
                }

                var p = Trials[index];
                var trialState = state.Current is { } resumed && resumed.Index == index ? resumed : new TrialState
                {
                    Index = index,
                    HiddenLayers = [.. p.HiddenLayers],
                    LearningRate = p.LearningRate,
                    WeightDecay = p.WeightDecay,
                    Dropout = p.Dropout,
                    BatchSize = p.BatchSize,
                };
                state.Current = trialState;
                var trainer = new TrialTrainer(data, trialState, seed, budget.MaxEpochs, budget.Patience);
                try
                {
                    trainer.Run(OutOfTime, s =>
                    {
                        var last = s.History[^1];
                        var eta = EstimateRemaining(Elapsed(), index, s.Epoch);
                        progress?.Invoke(new SearchProgress(index + 1, Trials.Count, p, s.Epoch, budget.MaxEpochs, last.TrainLoss, last.ValidationLoss,
                            Math.Min(s.BestLoss, state.Best >= 0 ? state.Completed[state.Best].ValidationLoss : double.PositiveInfinity), Elapsed(), eta));
                    }, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // Stopped at a batch boundary: keep the running trial's weights and optimizer moments for the checkpoint.
                    state.Current = trainer.Capture();
                    throw;
                }
                finally
                {
                    trainer.Dispose();
                }
                var outcome = TrialOutcome.From(trialState);
                state.Completed.Add(outcome);
                if (state.Best < 0 || outcome.ValidationLoss < state.Completed[state.Best].ValidationLoss)
                {
                    state.Best = state.Completed.Count - 1;
                    state.BestWeights = trialState.BestWeights;
                }

                state.Current = null;
                if (trialState.StopReason == "time budget spent")
                {
                    state.StoppedBy = $"time budget ({budget.MaxSeconds:F0} s) during trial {index + 1} of {Trials.Count}";
                    break;
                }
            }
        }
        finally
        {
            state.ElapsedSeconds = Elapsed();
        }

        state.StoppedBy ??= $"all {Trials.Count} trials";
        var best = state.Completed[state.Best];
        return new TrialState
        {
            Index = best.Index,
            HiddenLayers = best.HiddenLayers,
            LearningRate = best.LearningRate,
            WeightDecay = best.WeightDecay,
            Dropout = best.Dropout,
            BatchSize = best.BatchSize,
            Epoch = best.Epochs,
            BestEpoch = best.BestEpoch,
            BestLoss = best.ValidationLoss,
            BestMetric = best.ValidationMetric,
            Seconds = best.Seconds,
            History = best.History,
            BestWeights = state.BestWeights,
        };
    }

    /// <summary>Remaining seconds, from the average seconds per epoch so far and the remaining trials at the epochs trials took on average.</summary>
    private double? EstimateRemaining(double elapsed, int trial, int epochInTrial)
    {
        var epochsDone = state.Completed.Sum(c => c.Epochs) + epochInTrial;
        if (epochsDone == 0)
        {
            return null;
        }

        var perEpoch = elapsed / epochsDone;
        var typicalEpochs = state.Completed.Count > 0 ? state.Completed.Average(c => c.Epochs) : Math.Min(budget.MaxEpochs, budget.Patience * 3);
        var remaining = Math.Max(0, typicalEpochs - epochInTrial) + ((Trials.Count - trial - 1) * typicalEpochs);
        return Math.Min(remaining * perEpoch, Math.Max(0, budget.MaxSeconds - elapsed));
    }
}
