using Pipeline.Training.Gbdt;

namespace Pipeline.Training;

/// <summary>Limits of a search: trials and wall-clock seconds (whichever ends first), per-trial epochs and patience, and how many
/// seeds of the chosen configuration to average (1 = no ensemble); <paramref name="MaxTrialSeconds"/> caps one trial.</summary>
public sealed record SearchBudget(int MaxTrials, double MaxSeconds, int MaxEpochs, int Patience, int EnsembleSize = 1, double MaxTrialSeconds = double.PositiveInfinity);

/// <summary>A finished (or budget-cut) trial and what it scored on the validation split.</summary>
public sealed class TrialOutcome
{
    public int Index { get; set; }

    public required TrialParameters Parameters { get; init; }

    public int Epochs { get; set; }

    public int BestEpoch { get; set; }

    public double ValidationLoss { get; set; }

    public double ValidationMetric { get; set; }

    public double Seconds { get; set; }

    public string StopReason { get; set; } = "";

    /// <summary>A re-run of the chosen configuration with another seed, trained to be averaged with it.</summary>
    public bool EnsembleMember { get; set; }

    /// <summary>Cross-validated trials: each fold's best validation loss (the trial's loss is their mean); null otherwise.</summary>
    public List<double>? FoldLosses { get; set; }

    public List<EpochRecord> History { get; set; } = [];

    public static TrialOutcome From(TrialState state) => new()
    {
        Index = state.Index,
        Parameters = state.Parameters,
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

    /// <summary>Best weights of the best completed trial (a network).</summary>
    public List<float[]> BestWeights { get; set; } = [];

    /// <summary>The best completed trial's model when it is a tree ensemble (LightGBM text format).</summary>
    public string? BestTreeModel { get; set; }

    /// <summary>The trial in progress when the checkpoint was taken.</summary>
    public TrialState? Current { get; set; }

    public string? StoppedBy { get; set; }

    /// <summary>Indexes into <see cref="Completed"/> of the ensemble: the chosen trial and its re-runs with other seeds.</summary>
    public List<int> EnsembleMembers { get; set; } = [];

    /// <summary>Best weights of each ensemble re-run, in <see cref="EnsembleMembers"/> order after the chosen trial.</summary>
    public List<List<float[]>> EnsembleWeights { get; set; } = [];

    public double? EnsembleValidationLoss { get; set; }

    public double? EnsembleValidationMetric { get; set; }

    /// <summary>Whether the averaged ensemble is the model (it had the lower validation loss).</summary>
    public bool EnsembleUsed { get; set; }

    /// <summary>Seconds spent refitting the chosen model on train + validation (0 when not refit).</summary>
    public double RefitSeconds { get; set; }

    /// <summary>Cross-validated search: the chosen trial is a network whose <see cref="BestWeights"/> average its fold models.</summary>
    public int FoldModels { get; set; }

    /// <summary>Index into <see cref="Completed"/> of the trial with the lowest loss when the one-standard-error rule chose the plain linear model over it; null otherwise.</summary>
    public int? LowestLoss { get; set; }
}

/// <summary>What one search step reports: trial, epoch and losses, with the elapsed time.</summary>
public sealed record SearchProgress(int Trial, int Trials, TrialParameters Parameters, int Epoch, int MaxEpochs, double TrainLoss, double ValidationLoss, double BestValidationLoss, double ElapsedSeconds, double? EtaSeconds);

/// <summary>
/// Model selection within a budget, across families (linear, MLP, gradient-boosted trees): runs the trials of
/// <see cref="SearchSpace"/> one after another, each with early stopping on the validation split, and keeps the one with
/// the lowest validation loss. With <paramref name="folds"/> (small tables) every trial runs once per fold of
/// train + validation instead and is ranked by its mean fold loss; the chosen trees are then refit on every row for the
/// folds' mean best round count, and a chosen network is the average of its fold models (one wider graph). The budget in trials and seconds is checked between batches (networks) or boosting rounds
/// (trees); a trial cut short by the clock still counts with its best epoch or round so far. When cancelled it stops at a
/// batch boundary with the running network trial captured in <see cref="State"/>, ready for a checkpoint; a tree trial
/// (seconds, not minutes) starts over on resume.
/// </summary>
/// <param name="threads">LightGBM threads for tree trials (networks use TorchSharp's setting).</param>
/// <param name="folds">Cross-validation folds over train + validation; null: select on <paramref name="data"/>'s validation split.</param>
/// <param name="trials">The trials to run instead of <see cref="SearchSpace"/>'s (tests that need a given family).</param>
public sealed class ModelSearch(TrainingData data, SearchBudget budget, int seed, SearchState state, TimeProvider time, int batchSizeMultiplier = 1, int threads = 1,
    CrossValidation? folds = null, IReadOnlyList<TrialParameters>? trials = null)
{
    /// <summary>Changes whenever <see cref="SearchSpace"/> or the training loop changes what a trial does (part of checkpoint fingerprints).</summary>
    public const int SpaceVersion = 11;

    public SearchState State => state;

    public IReadOnlyList<TrialParameters> Trials { get; } = (trials ?? SearchSpace.Trials(budget.MaxTrials, seed, folds?.Folds[0].TrainRows ?? data.TrainRows, data.Encoding is not null))
        .Select(t => t with { BatchSize = t.BatchSize * batchSizeMultiplier }).ToList();

    /// <summary>Whether trials are ranked by cross-validation (and the ensemble re-runs are the fold models).</summary>
    public bool CrossValidated => folds is not null;

    /// <summary>Networks averaged into the served model: fold models or seeded re-runs (1 for a single model or trees).</summary>
    public int AveragedModels => CrossValidated ? Math.Max(1, state.FoldModels) : state.EnsembleUsed ? state.EnsembleMembers.Count : 1;

    /// <summary>Whether the clock cut the search: it stopped before its last trial, or a trial (or fold) stopped before its own end.</summary>
    public bool CutByTimeBudget => state.StoppedBy?.StartsWith("time budget", StringComparison.Ordinal) == true
        || state.Completed.Any(t => t.StopReason.Contains("time budget", StringComparison.Ordinal) || t.StopReason.StartsWith("trial time limit", StringComparison.Ordinal));

    /// <summary>Trials plus ensemble re-runs: the total the progress shows.</summary>
    public int TotalTrials => Trials.Count + (CrossValidated ? 0 : budget.EnsembleSize - 1);

    /// <summary>
    /// Runs the remaining trials, then re-runs the chosen configuration with other seeds and keeps their average if it has the
    /// lower validation loss; returns the model to export (its best weights).
    /// </summary>
    public TrialState Run(Action<SearchProgress>? progress, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var previous = state.ElapsedSeconds;
        double Elapsed() => previous + time.GetElapsedTime(started).TotalSeconds;
        bool OutOfTime() => Elapsed() >= budget.MaxSeconds;
        try
        {
            var searched = state.Completed.Count(c => !c.EnsembleMember);
            for (var index = searched; index < Trials.Count && state.StoppedBy is null; index++)
            {
                if (state.Completed.Count > 0 && OutOfTime())
                {
                    state.StoppedBy = $"time budget ({budget.MaxSeconds:F0} s) after {state.Completed.Count} of {Trials.Count} trials";
                    break;
                }

                RunTrial(index, Trials[index], member: false, OutOfTime, Elapsed, progress, cancellationToken);
            }

            // Re-runs of the chosen network configuration with other seeds (same hyperparameters, other initialization and batch
            // order). A tree ensemble is already an average of many trees; its seeds change little.
            var chosenIsNetwork = !CrossValidated && state.Best >= 0 && state.Completed[state.Best].Parameters is { Gbdt: null, Exact: false };
            for (var member = state.Completed.Count(c => c.EnsembleMember) + 1; chosenIsNetwork && member < budget.EnsembleSize && state.StoppedBy is null; member++)
            {
                if (OutOfTime())
                {
                    state.StoppedBy = $"time budget ({budget.MaxSeconds:F0} s) after {member - 1} ensemble re-run(s)";
                    break;
                }

                RunTrial(Trials.Count + member - 1, state.Completed[state.Best].Parameters, member: true, OutOfTime, Elapsed, progress, cancellationToken);
            }
        }
        finally
        {
            state.ElapsedSeconds = Elapsed();
        }

        if (folds is not null)
        {
            state.StoppedBy ??= $"all {Trials.Count} trials, {folds.Folds.Count} folds each";
            PreferLinearWithinOneStandardError();
            return CrossValidatedModel(folds, state.Completed[state.Best], cancellationToken);
        }

        var best = state.Completed[state.Best];

        state.StoppedBy ??= $"all {Trials.Count} trials" + (budget.EnsembleSize > 1 && best.Parameters is { Gbdt: null, Exact: false } ? $" and {budget.EnsembleSize - 1} ensemble re-run(s)" : "");
        var single = StateOf(best);
        single.BestWeights = state.BestWeights;
        single.TreeModel = best.Parameters.Gbdt is null ? null : state.BestTreeModel;
        if (state.EnsembleWeights.Count == 0)
        {
            return single;
        }

        var members = state.EnsembleWeights.Prepend(state.BestWeights).ToList();
        var ensemble = new TrialState
        {
            Index = single.Index,
            Parameters = best.Parameters with { HiddenLayers = [.. best.Parameters.HiddenLayers.Select(h => h * members.Count)] },
            Epoch = single.Epoch,
            BestEpoch = single.BestEpoch,
            Seconds = state.EnsembleMembers.Sum(i => state.Completed[i].Seconds),
            History = single.History,
            BestWeights = EnsembleMerger.Merge(members, data.InputWidth(best.Parameters.Encoded), best.Parameters.HiddenLayers, data.Outputs),
        };
        (ensemble.BestLoss, ensemble.BestMetric) = TrialTrainer.Evaluate(data, ensemble);
        state.EnsembleValidationLoss = ensemble.BestLoss;
        state.EnsembleValidationMetric = ensemble.BestMetric;
        state.EnsembleUsed = ensemble.BestLoss < single.BestLoss;
        return state.EnsembleUsed ? ensemble : single;
    }

    private void RunTrial(int index, TrialParameters p, bool member, Func<bool> outOfTime, Func<double> elapsed, Action<SearchProgress>? progress, CancellationToken cancellationToken)
    {
        if (folds is not null)
        {
            RunCrossValidatedTrial(folds, index, p, outOfTime, elapsed, progress, cancellationToken);
            return;
        }

        if (p.Gbdt is not null)
        {
            RunTreeTrial(index, p, outOfTime, elapsed, progress, cancellationToken);
            return;
        }

        if (p.Exact)
        {
            RunExactTrial(index, p, outOfTime, elapsed, progress, cancellationToken);
            return;
        }

        var trialState = state.Current is { } resumed && resumed.Index == index ? resumed : new TrialState { Index = index, Parameters = p };
        state.Current = trialState;
        var trainer = new TrialTrainer(data, trialState, seed, budget.MaxEpochs, budget.Patience);
        var trialOutOfTime = TrialClock(outOfTime, trialState.Seconds);
        try
        {
            trainer.Run(trialOutOfTime, s =>
            {
                var last = s.History[^1];
                var eta = EstimateRemaining(elapsed(), index, s.Epoch);
                progress?.Invoke(new SearchProgress(index + 1, TotalTrials, p, s.Epoch, budget.MaxEpochs, last.TrainLoss, last.ValidationLoss,
                    Math.Min(s.BestLoss, state.Best >= 0 ? state.Completed[state.Best].ValidationLoss : double.PositiveInfinity), elapsed(), eta));
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

        LimitedByTrialClock(trialState, outOfTime);
        var outcome = TrialOutcome.From(trialState);
        outcome.EnsembleMember = member;
        state.Completed.Add(outcome);
        state.Current = null;
        if (member)
        {
            if (state.EnsembleMembers.Count == 0)
            {
                state.EnsembleMembers.Add(state.Best);
            }

            state.EnsembleMembers.Add(state.Completed.Count - 1);
            state.EnsembleWeights.Add(trialState.BestWeights);
        }
        else if (state.Best < 0 || outcome.ValidationLoss < state.Completed[state.Best].ValidationLoss)
        {
            state.Best = state.Completed.Count - 1;
            state.BestWeights = trialState.BestWeights;
            state.BestTreeModel = null;
        }

        if (trialState.StopReason == "time budget spent")
        {
            state.StoppedBy = $"time budget ({budget.MaxSeconds:F0} s) during trial {index + 1} of {TotalTrials}";
        }
    }

    private void RunTreeTrial(int index, TrialParameters p, Func<bool> outOfTime, Func<double> elapsed, Action<SearchProgress>? progress, CancellationToken cancellationToken)
    {
        state.Current = null;
        var trialState = new TrialState { Index = index, Parameters = p };
        GbdtTrainer.Run(data, trialState, seed, threads, time, TrialClock(outOfTime, 0), s =>
        {
            var last = s.History[^1];
            progress?.Invoke(new SearchProgress(index + 1, TotalTrials, p, s.Epoch, GbdtParameters.MaxRounds, last.TrainLoss, last.ValidationLoss,
                Math.Min(s.BestLoss, state.Best >= 0 ? state.Completed[state.Best].ValidationLoss : double.PositiveInfinity), elapsed(), null));
        }, cancellationToken);
        Complete(index, trialState, outOfTime);
    }

    /// <summary>
    /// A ridge / logistic regression trial: fitted exactly for every penalty of <see cref="ExactLinear.Penalties"/> on the
    /// train split, the penalty with the lowest validation loss chosen (the trial's "epochs" are the penalties tried).
    /// </summary>
    private void RunExactTrial(int index, TrialParameters p, Func<bool> outOfTime, Func<double> elapsed, Action<SearchProgress>? progress, CancellationToken cancellationToken)
    {
        state.Current = null;
        var started = time.GetTimestamp();
        var path = ExactLinear.Path(data, p.Encoded, data.TrainRows + data.ValidationRows, TrialClock(outOfTime, 0), cancellationToken, out var cut);
        var trialState = ExactTrialState(index, p, path, path.FindIndex(f => f.ValidationLoss == path.Min(g => g.ValidationLoss)), time.GetElapsedTime(started).TotalSeconds, cut);
        var last = trialState.History[^1];
        progress?.Invoke(new SearchProgress(index + 1, TotalTrials, trialState.Parameters, trialState.Epoch, trialState.Epoch, last.TrainLoss, last.ValidationLoss,
            Math.Min(trialState.BestLoss, state.Best >= 0 ? state.Completed[state.Best].ValidationLoss : double.PositiveInfinity), elapsed(), null));
        Complete(index, trialState, outOfTime);
    }

    /// <summary>An exact linear trial's path as a trial: <paramref name="chosen"/> is the index of the penalty kept.</summary>
    /// <param name="cut">Whether the clock stopped the path.</param>
    private static TrialState ExactTrialState(int index, TrialParameters p, List<LinearFit> path, int chosen, double seconds, bool cut) => new()
    {
        Index = index,
        Parameters = p with { WeightDecay = path[chosen].Penalty },
        Epoch = path.Count,
        BestEpoch = chosen + 1,
        BestLoss = path[chosen].ValidationLoss,
        BestMetric = path[chosen].ValidationMetric,
        BestWeights = path[chosen].Weights,
        Seconds = seconds,
        StopReason = cut
            ? "time budget spent"
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"penalty chosen from {path.Count}"),
        History = [.. path.Select((f, i) => new EpochRecord(i + 1, f.TrainLoss, f.ValidationLoss, f.ValidationMetric, 0))],
    };

    /// <summary>Records a finished tree or exact linear trial and keeps its model if it is the best so far.</summary>
    private void Complete(int index, TrialState trialState, Func<bool> outOfTime)
    {
        LimitedByTrialClock(trialState, outOfTime);
        var outcome = TrialOutcome.From(trialState);
        state.Completed.Add(outcome);
        if (state.Best < 0 || outcome.ValidationLoss < state.Completed[state.Best].ValidationLoss)
        {
            state.Best = state.Completed.Count - 1;
            state.BestWeights = trialState.BestWeights;
            state.BestTreeModel = trialState.TreeModel;
        }

        if (trialState.StopReason == "time budget spent")
        {
            state.StoppedBy = $"time budget ({budget.MaxSeconds:F0} s) during trial {index + 1} of {TotalTrials}";
        }
    }

    /// <summary>
    /// One trial on every fold, each fold with its own early stopping; the trial scores the mean of the folds' best
    /// validation losses (and metrics). A trial the clock stops before its last fold is recorded but cannot be chosen (its
    /// mean would cover fewer rows), unless nothing has been chosen yet.
    /// </summary>
    private void RunCrossValidatedTrial(CrossValidation cv, int index, TrialParameters p, Func<bool> outOfTime, Func<double> elapsed, Action<SearchProgress>? progress,
        CancellationToken cancellationToken)
    {
        state.Current = null;
        var clock = TrialClock(outOfTime, 0);
        var runs = new List<TrialState>();
        var paths = new List<(List<LinearFit> Path, double Seconds, bool Cut)>();
        var bestSoFar = state.Best >= 0 ? state.Completed[state.Best].ValidationLoss : double.PositiveInfinity;
        for (var fold = 0; fold < cv.Folds.Count; fold++)
        {
            if (fold > 0 && state.Best >= 0 && clock())
            {
                break;
            }

            var run = new TrialState { Index = index, Parameters = p };
            var foldSeed = FoldSeed(seed, fold);
            void Report(TrialState s)
            {
                var last = s.History[^1];
                progress?.Invoke(new SearchProgress(index + 1, TotalTrials, p, s.Epoch, p.Gbdt is null ? budget.MaxEpochs : GbdtParameters.MaxRounds, last.TrainLoss, last.ValidationLoss,
                    bestSoFar, elapsed(), null));
            }

            if (p.Gbdt is not null)
            {
                GbdtTrainer.Run(cv.Folds[fold], run, foldSeed, threads, time, clock, Report, cancellationToken);
            }
            else if (p.Exact)
            {
                var started = time.GetTimestamp();
                var path = ExactLinear.Path(cv.Folds[fold], p.Encoded, cv.Combined.TrainRows, clock, cancellationToken, out var cut);
                paths.Add((path, time.GetElapsedTime(started).TotalSeconds, cut));
                continue;
            }
            else
            {
                using var trainer = new TrialTrainer(cv.Folds[fold], run, foldSeed, budget.MaxEpochs, budget.Patience);
                trainer.Run(clock, Report, cancellationToken);
            }

            runs.Add(run);
        }

        if (p.Exact)
        {
            // The penalty every fold fitted with the lowest mean validation loss (RidgeCV's choice over these folds).
            var fitted = paths.Min(f => f.Path.Count);
            var chosen = Enumerable.Range(0, fitted).MinBy(j => paths.Average(f => f.Path[j].ValidationLoss));
            runs.AddRange(paths.Select(f => ExactTrialState(index, p, f.Path, chosen, f.Seconds, f.Cut)));

            // The path has no epochs to report as it goes: one report for the trial, as a single-split exact trial gives.
            if (runs[0].History.Count > 0)
            {
                var last = runs[0].History[^1];
                progress?.Invoke(new SearchProgress(index + 1, TotalTrials, runs[0].Parameters, runs[0].Epoch, runs[0].Epoch, last.TrainLoss, last.ValidationLoss,
                    bestSoFar, elapsed(), null));
            }
        }

        foreach (var run in runs)
        {
            LimitedByTrialClock(run, outOfTime);
        }

        // A trial is ranked only with every fold run to its own end: a fold the clock stopped early would score it on a
        // model it did not finish.
        var complete = runs.Count == cv.Folds.Count && !runs.Any(ClockStopped);
        // One epoch (boosting round, penalty) for all folds: the one with the lowest mean validation loss, as RidgeCV picks
        // its penalty. Each fold's own best epoch would score every trial on the noise of its fold's curve, and most so
        // the trials with the most epochs to pick from.
        var common = runs.Min(r => r.History.Count);
        var epoch = common == 0 ? -1 : Enumerable.Range(0, common).MinBy(e => runs.Average(r => r.History[e].ValidationLoss) is var mean && double.IsFinite(mean) ? mean : double.PositiveInfinity);
        var outcome = new TrialOutcome
        {
            Index = index,
            Parameters = runs[0].Parameters,
            Epochs = runs.Sum(r => r.Epoch),
            BestEpoch = Math.Max(1, epoch + 1),
            ValidationLoss = !complete && state.Best >= 0 ? double.PositiveInfinity
                : epoch < 0 ? runs.Average(r => r.BestLoss)
                : runs.Average(r => r.History[epoch].ValidationLoss),
            ValidationMetric = epoch < 0 ? runs.Average(r => r.BestMetric) : runs.Average(r => r.History[epoch].ValidationMetric),
            Seconds = runs.Sum(r => r.Seconds),
            StopReason = complete
                ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{runs.Count} folds; per fold: {string.Join("; ", runs.Select(r => r.StopReason).Distinct())}")
                : runs.Count == cv.Folds.Count ? $"time budget spent during fold {runs.FindIndex(ClockStopped) + 1} of {cv.Folds.Count}"
                : $"time budget spent after {runs.Count} of {cv.Folds.Count} folds",
            History = runs[0].History,
            FoldLosses = [.. runs.Select(r => epoch < 0 ? r.BestLoss : r.History[epoch].ValidationLoss)],
        };

        state.Completed.Add(outcome);
        if (state.Best < 0 || outcome.ValidationLoss < state.Completed[state.Best].ValidationLoss)
        {
            state.Best = state.Completed.Count - 1;
            state.BestTreeModel = null;
            state.FoldModels = p is { Gbdt: null, Exact: false } ? runs.Count : 0;
            state.BestWeights = p.Gbdt is not null || p.Exact ? []
                : runs.Count == 1 ? runs[0].BestWeights
                : EnsembleMerger.Merge([.. runs.Select(r => r.BestWeights)], data.InputWidth(p.Encoded), p.HiddenLayers, data.Outputs);
        }

        // The trial's own time limit ends only this trial; the search's clock ends the search.
        if (!complete && outOfTime())
        {
            state.StoppedBy = $"time budget ({budget.MaxSeconds:F0} s) during trial {index + 1} of {TotalTrials}";
        }
    }

    /// <summary>
    /// The one-standard-error rule (Breiman et al.; Hastie, Tibshirani &amp; Friedman §7.10) between the families: the
    /// ridge / logistic regression on standardized inputs is chosen instead of the trial with the lowest mean fold loss
    /// unless that one beats it by more than the standard error of their per-fold loss differences. On a few hundred rows
    /// the twelve trials' mean losses differ by less than the folds' noise, and picking the lowest of them picks that
    /// noise; the rule's premise is that the model it falls back to has the least variance of all the candidates, so that
    /// its fold losses predict its test loss best. That holds for the plain linear model (one weight per feature), not for
    /// the regression on piecewise-linear encoded inputs: an additive model with several weights per feature, as flexible
    /// as the networks it would be preferred to. Sets <see cref="SearchState.LowestLoss"/> when it applies.
    /// </summary>
    private void PreferLinearWithinOneStandardError()
    {
        if (LinearWithinOneStandardError(state.Completed) is not { } choice)
        {
            return;
        }

        state.LowestLoss = choice.Lowest;
        state.Best = choice.Linear;
        state.BestWeights = [];
        state.BestTreeModel = null;
        state.FoldModels = 0;
    }

    /// <summary>
    /// The one-standard-error rule over cross-validated trials: the best ridge / logistic regression trial on standardized
    /// (not encoded) inputs and the trial with the lowest mean fold loss when that one is another trial and beats it by at
    /// most the standard error of their per-fold loss differences; null when the lowest stays chosen.
    /// </summary>
    public static (int Linear, int Lowest)? LinearWithinOneStandardError(IReadOnlyList<TrialOutcome> completed)
    {
        ArgumentNullException.ThrowIfNull(completed);
        var trials = completed.Select((t, i) => (Trial: t, Index: i)).Where(t => !t.Trial.EnsembleMember && t.Trial.FoldLosses is { Count: > 1 } && double.IsFinite(t.Trial.ValidationLoss)).ToList();
        if (trials.Count == 0)
        {
            return null;
        }

        var lowest = trials.MinBy(t => t.Trial.ValidationLoss);
        var linear = trials.Where(t => t.Trial.Parameters is { Exact: true, Encoded: false }).OrderBy(t => t.Trial.ValidationLoss).FirstOrDefault();
        if (linear.Trial is null || lowest.Index == linear.Index || linear.Trial.FoldLosses!.Count != lowest.Trial.FoldLosses!.Count)
        {
            return null;
        }

        var differences = linear.Trial.FoldLosses.Zip(lowest.Trial.FoldLosses, (a, b) => a - b).ToList();
        var mean = differences.Average();
        var standardError = Math.Sqrt(differences.Sum(d => (d - mean) * (d - mean)) / (differences.Count - 1) / differences.Count);
        return mean > standardError ? null : (linear.Index, lowest.Index);
    }

    /// <summary>A run the search's clock or the trial's own time limit stopped before its own end.</summary>
    private static bool ClockStopped(TrialState run) =>
        run.StopReason == "time budget spent" || run.StopReason?.StartsWith("trial time limit", StringComparison.Ordinal) == true;

    /// <summary>The seed of fold <paramref name="fold"/>'s run of a trial in a search seeded <paramref name="seed"/>: fold models start and shuffle differently.</summary>
    public static int FoldSeed(int seed, int fold) => unchecked((seed * 7919) + fold);

    /// <summary>A finished trial as the state of the model it chose (weights or trees are the caller's to add).</summary>
    private static TrialState StateOf(TrialOutcome best) => new()
    {
        Index = best.Index,
        Parameters = best.Parameters,
        Epoch = best.Epochs,
        BestEpoch = best.BestEpoch,
        BestLoss = best.ValidationLoss,
        BestMetric = best.ValidationMetric,
        Seconds = best.Seconds,
        History = best.History,
    };

    /// <summary>
    /// The served model of a cross-validated search: trees refit on every row of train + validation for the folds' mean
    /// best round count; a network as the average of its fold models.
    /// </summary>
    private TrialState CrossValidatedModel(CrossValidation cv, TrialOutcome best, CancellationToken cancellationToken)
    {
        var chosen = StateOf(best);
        if (best.Parameters.Gbdt is { } gbdt)
        {
            var started = time.GetTimestamp();
            chosen.TreeModel = GbdtTrainer.Refit(cv.Combined, gbdt, best.BestEpoch, seed, threads, cancellationToken);
            state.RefitSeconds = time.GetElapsedTime(started).TotalSeconds;
            chosen.Seconds += state.RefitSeconds;
            return chosen;
        }

        if (best.Parameters.Exact)
        {
            var started = time.GetTimestamp();
            chosen.BestWeights = ExactLinear.Fit(cv.Combined, best.Parameters.Encoded, best.Parameters.WeightDecay);
            state.RefitSeconds = time.GetElapsedTime(started).TotalSeconds;
            chosen.Seconds += state.RefitSeconds;
            return chosen;
        }

        return new TrialState
        {
            Index = chosen.Index,
            Parameters = state.FoldModels > 1 && best.Parameters.HiddenLayers.Count > 0
                ? best.Parameters with { HiddenLayers = [.. best.Parameters.HiddenLayers.Select(h => h * state.FoldModels)] }
                : best.Parameters,
            Epoch = chosen.Epoch,
            BestEpoch = chosen.BestEpoch,
            BestLoss = chosen.BestLoss,
            BestMetric = chosen.BestMetric,
            Seconds = chosen.Seconds,
            History = chosen.History,
            BestWeights = state.BestWeights,
        };
    }

    /// <summary>The search's clock, or this trial's share of it (<see cref="SearchBudget.MaxTrialSeconds"/>) when that ends first.</summary>
    private Func<bool> TrialClock(Func<bool> outOfTime, double secondsBefore)
    {
        if (double.IsPositiveInfinity(budget.MaxTrialSeconds))
        {
            return outOfTime;
        }

        var started = time.GetTimestamp();
        return () => outOfTime() || secondsBefore + time.GetElapsedTime(started).TotalSeconds >= budget.MaxTrialSeconds;
    }

    /// <summary>A trial stopped by its own share of the budget, not the search's: the search goes on.</summary>
    private void LimitedByTrialClock(TrialState trial, Func<bool> outOfTime)
    {
        if (trial.StopReason == "time budget spent" && !outOfTime())
        {
            trial.StopReason = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"trial time limit ({budget.MaxTrialSeconds:F0} s)");
        }
    }

    /// <summary>
    /// Refits the chosen model (each ensemble member, if the ensemble is used) on <paramref name="combined"/> — train plus
    /// validation — for the epochs and learning rates its trial needed to reach its best validation loss, from the same
    /// initialization; returns the refit model. Deterministic, so an attempt stopped here simply refits again.
    /// </summary>
    public TrialState Refit(TrainingData combined, TrialState chosen, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(combined);
        ArgumentNullException.ThrowIfNull(chosen);
        if (chosen.Parameters.Gbdt is { } gbdt)
        {
            // As many rounds as the trial's best round: more rows per round, the same number of corrections.
            var started = time.GetTimestamp();
            var model = GbdtTrainer.Refit(combined, gbdt, Math.Max(1, chosen.BestEpoch), seed, threads, cancellationToken);
            state.RefitSeconds = time.GetElapsedTime(started).TotalSeconds;
            return Refitted(chosen, [], model);
        }

        if (chosen.Parameters.Exact)
        {
            // The chosen penalty, fitted exactly on every row.
            var started = time.GetTimestamp();
            var fitted = ExactLinear.Fit(combined, chosen.Parameters.Encoded, chosen.Parameters.WeightDecay);
            state.RefitSeconds = time.GetElapsedTime(started).TotalSeconds;
            return Refitted(chosen, fitted, null);
        }

        var members = state.EnsembleUsed ? state.EnsembleMembers : [state.Best];
        var weights = new List<List<float[]>>();
        double seconds = 0;
        foreach (var member in members)
        {
            var outcome = state.Completed[member];
            var schedule = outcome.History.Take(Math.Max(1, outcome.BestEpoch)).Select(h => h.LearningRate).ToList();
            var refit = new TrialState { Index = outcome.Index, Parameters = outcome.Parameters };
            using (var trainer = new TrialTrainer(combined, refit, seed, schedule.Count, int.MaxValue, schedule))
            {
                trainer.Run(() => false, null, cancellationToken);
            }

            weights.Add(refit.BestWeights);
            seconds += refit.Seconds;
        }

        state.RefitSeconds = seconds;
        var best = state.Completed[state.Best];
        return Refitted(chosen,
            weights.Count == 1 ? weights[0] : EnsembleMerger.Merge(weights, combined.InputWidth(best.Parameters.Encoded), best.Parameters.HiddenLayers, combined.Outputs), null);
    }

    /// <summary>The chosen trial with its refit model (weights or trees) and the refit's seconds added.</summary>
    private TrialState Refitted(TrialState chosen, List<float[]> weights, string? treeModel) => new()
    {
        Index = chosen.Index,
        Parameters = chosen.Parameters,
        Epoch = chosen.Epoch,
        BestEpoch = chosen.BestEpoch,
        BestLoss = chosen.BestLoss,
        BestMetric = chosen.BestMetric,
        Seconds = chosen.Seconds + state.RefitSeconds,
        History = chosen.History,
        BestWeights = weights,
        TreeModel = treeModel,
    };

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
        var remaining = Math.Max(0, typicalEpochs - epochInTrial) + ((TotalTrials - trial - 1) * typicalEpochs);
        return Math.Min(remaining * perEpoch, Math.Max(0, budget.MaxSeconds - elapsed));
    }
}
