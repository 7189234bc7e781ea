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
public sealed record TrialParameters(IReadOnlyList<int> HiddenLayers, double LearningRate, double WeightDecay, double Dropout, int BatchSize, bool Encoded = false, GbdtParameters? Gbdt = null)
{
    /// <summary>A gradient-boosted-trees trial.</summary>
    public static TrialParameters Trees(GbdtParameters gbdt) => new([], gbdt.LearningRate, 0, 0, 0, Gbdt: gbdt);

    [JsonIgnore]
    public bool Linear => Gbdt is null && HiddenLayers.Count == 0;

    /// <summary>The model family: linear, MLP, gradient-boosted trees or a random forest (LightGBM's <c>rf</c> boosting).</summary>
    [JsonIgnore]
    public ModelFamily Family => Gbdt is not null ? (Gbdt.Forest ? ModelFamily.RandomForest : ModelFamily.Gbdt) : Linear ? ModelFamily.Linear : ModelFamily.Mlp;

    [JsonIgnore]
    public string Architecture => Gbdt is not null ? string.Create(CultureInfo.InvariantCulture, $"{Gbdt.Boosting} {Gbdt.Leaves} leaves")
        : (Encoded ? "ple " : "") + (Linear ? "linear" : "mlp " + string.Join('x', HiddenLayers));

    public override string ToString() => Gbdt is not null ? Gbdt.ToString() : string.Create(CultureInfo.InvariantCulture,
        $"{Architecture}, lr {LearningRate:G3}, wd {WeightDecay:G3}, dropout {Dropout:G2}, batch {BatchSize}");
}

/// <summary>One epoch of a trial: mean training loss, validation loss and the validation quality metric (accuracy or r2).</summary>
public sealed record EpochRecord(int Epoch, double TrainLoss, double ValidationLoss, double ValidationMetric, double LearningRate);
