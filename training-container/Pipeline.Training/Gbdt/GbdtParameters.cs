using System.Globalization;

namespace Pipeline.Training.Gbdt;

/// <summary>One gradient-boosted-trees configuration of the search (LightGBM <c>gbdt</c> boosting).</summary>
/// <param name="Leaves">Maximum leaves per tree (<c>num_leaves</c>).</param>
/// <param name="LearningRate">Shrinkage per round.</param>
/// <param name="MinDataInLeaf">Fewest train rows in a leaf.</param>
/// <param name="FeatureFraction">Share of the features each tree may split on.</param>
/// <param name="BaggingFraction">Share of the rows each round trains on (1 = all; otherwise resampled every round).</param>
/// <param name="L2">L2 regularization of leaf values (<c>lambda_l2</c>).</param>
public sealed record GbdtParameters(int Leaves, double LearningRate, int MinDataInLeaf, double FeatureFraction, double BaggingFraction, double L2)
{
    /// <summary>Most boosting rounds of a trial; early stopping usually ends it long before.</summary>
    public const int MaxRounds = 1000;

    /// <summary>Rounds without a better validation loss before a trial stops.</summary>
    public const int EarlyStoppingRounds = 50;

    /// <summary>LightGBM's booster parameters for this configuration (the objective and threads are added by the trainer).</summary>
    public string ToLightGbm() => string.Create(CultureInfo.InvariantCulture,
        $"num_leaves={Leaves} learning_rate={LearningRate:R} min_data_in_leaf={MinDataInLeaf} min_sum_hessian_in_leaf=1e-3 feature_fraction={FeatureFraction:R} bagging_fraction={BaggingFraction:R} bagging_freq={(BaggingFraction < 1 ? 1 : 0)} lambda_l2={L2:R}");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"gbdt {Leaves} leaves, lr {LearningRate:G3}, min leaf {MinDataInLeaf}, features {FeatureFraction:G2}, bagging {BaggingFraction:G2}, l2 {L2:G3}");
}
