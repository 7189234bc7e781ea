using System.Globalization;

namespace Pipeline.Training.Gbdt;

/// <summary>
/// One tree-ensemble configuration of the search: gradient boosting (LightGBM <c>gbdt</c>) or a random forest (<c>rf</c>:
/// bagged, unshrunk trees whose outputs are averaged; the feature fraction is then drawn per split, as in a forest).
/// </summary>
/// <param name="Leaves">Maximum leaves per tree (<c>num_leaves</c>).</param>
/// <param name="LearningRate">Shrinkage per round.</param>
/// <param name="MinDataInLeaf">Fewest train rows in a leaf.</param>
/// <param name="FeatureFraction">Share of the features each tree may split on.</param>
/// <param name="BaggingFraction">Share of the rows each round trains on (1 = all; otherwise resampled every round).</param>
/// <param name="L2">L2 regularization of leaf values (<c>lambda_l2</c>).</param>
/// <param name="Boosting"><c>gbdt</c> or <c>rf</c>.</param>
public sealed record GbdtParameters(int Leaves, double LearningRate, int MinDataInLeaf, double FeatureFraction, double BaggingFraction, double L2, string Boosting = "gbdt")
{
    /// <summary>A random forest rather than boosting.</summary>
    public bool Forest => Boosting == "rf";

    /// <summary>Most boosting rounds of a trial; early stopping usually ends it long before.</summary>
    public const int MaxRounds = 1000;

    /// <summary>Rounds without a better validation loss before a trial stops.</summary>
    public const int EarlyStoppingRounds = 50;

    /// <summary>LightGBM's booster parameters for this configuration (the objective and threads are added by the trainer).</summary>
    public string ToLightGbm() => Forest
        ? string.Create(CultureInfo.InvariantCulture,
            $"boosting=rf num_leaves={Leaves} min_data_in_leaf={MinDataInLeaf} min_sum_hessian_in_leaf=1e-3 feature_fraction_bynode={FeatureFraction:R} bagging_fraction={BaggingFraction:R} bagging_freq=1 lambda_l2={L2:R}")
        : string.Create(CultureInfo.InvariantCulture,
            $"boosting=gbdt num_leaves={Leaves} learning_rate={LearningRate:R} min_data_in_leaf={MinDataInLeaf} min_sum_hessian_in_leaf=1e-3 feature_fraction={FeatureFraction:R} bagging_fraction={BaggingFraction:R} bagging_freq={(BaggingFraction < 1 ? 1 : 0)} lambda_l2={L2:R}");

    public override string ToString() => Forest
        ? string.Create(CultureInfo.InvariantCulture,
            $"rf {Leaves} leaves, min leaf {MinDataInLeaf}, features per split {FeatureFraction:G2}, bagging {BaggingFraction:G2}, l2 {L2:G3}")
        : string.Create(CultureInfo.InvariantCulture,
            $"gbdt {Leaves} leaves, lr {LearningRate:G3}, min leaf {MinDataInLeaf}, features {FeatureFraction:G2}, bagging {BaggingFraction:G2}, l2 {L2:G3}");
}
