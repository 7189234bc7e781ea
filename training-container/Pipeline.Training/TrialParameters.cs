using System.Globalization;
using System.Text.Json.Serialization;
using Pipeline.Contracts;
using Pipeline.Training.Gbdt;

namespace Pipeline.Training;

/// <summary>One point of the search space: the architecture and optimizer settings of a trial.</summary>
/// <param name="HiddenLayers">Hidden layer widths; empty is a linear model (logistic / linear regression on standardized inputs).</param>
/// <param name="LearningRate">Initial AdamW learning rate; halved when validation loss plateaus.</param>
/// <param name="WeightDecay">AdamW decoupled weight decay.</param>
/// <param name="Dropout">Dropout after each hidden ReLU while training.</param>
/// <param name="BatchSize">Rows per optimizer step.</param>
/// <param name="Encoded">Inputs go through the <see cref="PiecewiseEncoding"/> first.</param>
/// <param name="Gbdt">Set for a gradient-boosted-trees trial (the network fields are then unused); null for a network.</param>
/// <param name="Exact">
/// A linear model fitted to the optimum of its penalised loss (<see cref="Training.ExactLinear"/>: ridge or logistic regression) with the
/// L2 penalty chosen from a grid; <see cref="WeightDecay"/> then holds the chosen penalty (0 before the trial ran).
/// </param>
public sealed record TrialParameters(IReadOnlyList<int> HiddenLayers, double LearningRate, double WeightDecay, double Dropout, int BatchSize, bool Encoded = false, GbdtParameters? Gbdt = null,
    bool Exact = false)
{
    /// <summary>A gradient-boosted-trees trial.</summary>
    public static TrialParameters Trees(GbdtParameters gbdt) => new([], gbdt.LearningRate, 0, 0, 0, Gbdt: gbdt);

    /// <summary>A ridge / logistic regression trial (see <see cref="Exact"/>), on standardized or piecewise-linear encoded inputs.</summary>
    public static TrialParameters Regularized(bool encoded) => new([], 0, 0, 0, 0, encoded, Exact: true);

    [JsonIgnore]
    public bool Linear => Gbdt is null && HiddenLayers.Count == 0;

    /// <summary>The model family: linear, MLP, gradient-boosted trees or a random forest (LightGBM's <c>rf</c> boosting).</summary>
    [JsonIgnore]
    public ModelFamily Family => Gbdt is not null ? (Gbdt.Forest ? ModelFamily.RandomForest : ModelFamily.Gbdt) : Linear ? ModelFamily.Linear : ModelFamily.Mlp;

    [JsonIgnore]
    public string Architecture => Gbdt is not null ? string.Create(CultureInfo.InvariantCulture, $"{Gbdt.Boosting} {Gbdt.Leaves} leaves")
        : (Encoded ? "ple " : "") + (Exact ? "linear l2" : Linear ? "linear" : "mlp " + string.Join('x', HiddenLayers));

    public override string ToString() => Gbdt is not null ? Gbdt.ToString()
        : Exact ? string.Create(CultureInfo.InvariantCulture, $"{Architecture} (ridge / logistic regression fitted to convergence), penalty {WeightDecay:G3}")
        : string.Create(CultureInfo.InvariantCulture,
        $"{Architecture}, lr {LearningRate:G3}, wd {WeightDecay:G3}, dropout {Dropout:G2}, batch {BatchSize}");
}

/// <summary>One epoch of a trial: mean training loss, validation loss and the validation quality metric (accuracy or r2).</summary>
public sealed record EpochRecord(int Epoch, double TrainLoss, double ValidationLoss, double ValidationMetric, double LearningRate);
