using System.Globalization;

namespace Pipeline.Training.Gbdt;

/// <summary>
/// Trains one gradient-boosted-trees trial with LightGBM on the stored (not standardized) features: one boosting round at a
/// time, validation loss after every round, early stopping after <see cref="GbdtParameters.EarlyStoppingRounds"/> rounds
/// without improvement, and the model cut at its best round. Seeded and deterministic (<c>deterministic=true</c>,
/// row-wise histograms, fixed threads), so the same data and seed give the same trees.
/// The validation loss is on the scale the MLP trials use — cross-entropy, or MSE of the standardized target — so the
/// families compete on one number.
/// </summary>
public static class GbdtTrainer
{
    private const double MinimumImprovement = 1e-6;

    /// <summary>Runs the trial in <paramref name="state"/>; fills its curves, best round, losses and <see cref="TrialState.TreeModel"/>.</summary>
    /// <param name="data">The splits.</param>
    /// <param name="state">A new trial whose <see cref="TrialParameters.Gbdt"/> is set.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="threads">LightGBM threads.</param>
    /// <param name="time">Clock for the trial's seconds.</param>
    /// <param name="outOfTime">Checked after every round: the search's budget is spent.</param>
    /// <param name="progress">Called after every round.</param>
    /// <param name="cancellationToken">Checked before every round.</param>
    public static void Run(TrainingData data, TrialState state, int seed, int threads, TimeProvider time, Func<bool> outOfTime, Action<TrialState>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(time);
        var p = state.Parameters.Gbdt ?? throw new ArgumentException("Not a gradient-boosted-trees trial.", nameof(state));
        var started = time.GetTimestamp();
        var datasetParameters = DatasetParameters(p, seed, threads);
        using var train = new LightGbmDataset(data.RawTrain, data.TrainRows, data.FeatureCount, data.TrainTarget, datasetParameters);
        using var validation = new LightGbmDataset(data.RawValidation, data.ValidationRows, data.FeatureCount, data.ValidationTarget, datasetParameters, train);
        using var booster = LightGbmBooster.Create(train, BoosterParameters(data, p, seed, threads, trainingMetric: true));
        booster.AddValidation(validation);
        var validationVariance = Variance(data.ValidationTarget);
        var lossScale = data.Classification ? 1 : 1.0 / ((double)data.TargetStd * data.TargetStd);
        state.History.Clear();
        state.BestLoss = double.PositiveInfinity;
        state.StopReason = $"round limit ({GbdtParameters.MaxRounds})";
        for (var round = 1; round <= GbdtParameters.MaxRounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!booster.Update())
            {
                state.StopReason = "no further split improves the train loss";
                break;
            }

            var trainEval = booster.Evaluate(0);
            var validEval = booster.Evaluate(1);
            var loss = validEval[0] * lossScale;
            var metric = data.Classification ? 1 - validEval[1] : 1 - (validEval[0] / validationVariance);
            state.History.Add(new EpochRecord(round, trainEval[0] * lossScale, loss, metric, p.LearningRate));
            state.Epoch = round;
            if (loss < state.BestLoss - MinimumImprovement || state.BestEpoch == 0)
            {
                state.BestLoss = loss;
                state.BestMetric = metric;
                state.BestEpoch = round;
            }

            state.Seconds = time.GetElapsedTime(started).TotalSeconds;
            progress?.Invoke(state);
            if (round - state.BestEpoch >= GbdtParameters.EarlyStoppingRounds)
            {
                state.StopReason = string.Create(CultureInfo.InvariantCulture, $"early stopping ({GbdtParameters.EarlyStoppingRounds} rounds without improvement)");
                break;
            }

            if (outOfTime())
            {
                state.StopReason = "time budget spent";
                break;
            }
        }

        if (state.BestEpoch == 0)
        {
            // Not one round could split (e.g. constant features): the model is the prior alone, one round of single-leaf trees.
            state.BestEpoch = booster.Iterations;
        }

        state.TreeModel = booster.SaveModel(state.BestEpoch);
        state.Seconds = time.GetElapsedTime(started).TotalSeconds;
    }

    /// <summary>
    /// Trains <paramref name="rounds"/> rounds of <paramref name="parameters"/> on <paramref name="combined"/> (train plus
    /// validation, which then cannot choose a round) and returns the model text.
    /// </summary>
    public static string Refit(TrainingData combined, GbdtParameters parameters, int rounds, int seed, int threads, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(combined);
        ArgumentNullException.ThrowIfNull(parameters);
        using var train = new LightGbmDataset(combined.RawTrain, combined.TrainRows, combined.FeatureCount, combined.TrainTarget, DatasetParameters(parameters, seed, threads));
        using var booster = LightGbmBooster.Create(train, BoosterParameters(combined, parameters, seed, threads, trainingMetric: false));
        for (var round = 0; round < rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!booster.Update())
            {
                break;
            }
        }

        return booster.SaveModel();
    }

    /// <summary>
    /// LightGBM's own prediction in the served layout — probabilities <c>[rows, classes]</c> (binary: <c>[1 − p, p]</c>) or
    /// values <c>[rows, 1]</c> — the reference the exported graph is checked against.
    /// </summary>
    public static float[] PredictServed(LightGbmBooster booster, float[] rowMajor, int rows, int features, int classes, bool classification)
    {
        ArgumentNullException.ThrowIfNull(booster);
        var predicted = booster.Predict(rowMajor, rows, features, PredictionWidth(classes, classification));
        if (!classification || classes > 2)
        {
            return [.. predicted.Select(v => (float)v)];
        }

        var served = new float[rows * 2];
        for (var r = 0; r < rows; r++)
        {
            served[2 * r] = (float)(1 - predicted[r]);
            served[(2 * r) + 1] = (float)predicted[r];
        }

        return served;
    }

    /// <summary>Outputs per row of LightGBM's prediction: 1 for binary and regression, the class count for multiclass.</summary>
    public static int PredictionWidth(int classes, bool classification) => classification && classes > 2 ? classes : 1;

    /// <summary>
    /// Binning: a forest's unpruned trees split wherever a sample changes (min_data_in_bin=1, as a CART forest's exact
    /// thresholds do); boosting keeps LightGBM's 3 rows per bin, which on a few hundred rows is its own regularization.
    /// </summary>
    private static string DatasetParameters(GbdtParameters p, int seed, int threads) => string.Create(CultureInfo.InvariantCulture,
        $"max_bin=255 min_data_in_bin={(p.Forest ? 1 : 3)} feature_pre_filter=false data_random_seed={seed} num_threads={threads} verbosity=-1");

    private static string BoosterParameters(TrainingData data, GbdtParameters p, int seed, int threads, bool trainingMetric)
    {
        var objective = !data.Classification ? "objective=regression metric=l2"
            : data.Outputs == 2 ? "objective=binary metric=binary_logloss,binary_error"
            : string.Create(CultureInfo.InvariantCulture, $"objective=multiclass num_class={data.Outputs} metric=multi_logloss,multi_error");
        return string.Create(CultureInfo.InvariantCulture,
            $"{objective} {p.ToLightGbm()} seed={seed} deterministic=true force_row_wise=true num_threads={threads} verbosity=-1 is_provide_training_metric={(trainingMetric ? "true" : "false")} metric_freq=1");
    }

    private static double Variance(float[] values)
    {
        var mean = values.Average(v => (double)v);
        var variance = values.Average(v => (v - mean) * (v - mean));
        return variance > 0 ? variance : 1;
    }
}
