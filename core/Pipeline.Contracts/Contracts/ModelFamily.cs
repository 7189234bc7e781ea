using System.Text.Json.Serialization;

namespace Pipeline.Contracts;

/// <summary>The model family of a search trial or a served model; serialized as its lower-case name.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelFamily>))]
public enum ModelFamily
{
    /// <summary>Logistic / linear regression on standardized (or piecewise-linear encoded) inputs.</summary>
    [JsonStringEnumMemberName("linear")]
    Linear,

    /// <summary>A multilayer perceptron.</summary>
    [JsonStringEnumMemberName("mlp")]
    Mlp,

    /// <summary>Gradient-boosted trees (LightGBM <c>gbdt</c>).</summary>
    [JsonStringEnumMemberName("gbdt")]
    Gbdt,

    /// <summary>A random forest (LightGBM <c>rf</c> boosting).</summary>
    [JsonStringEnumMemberName("rf")]
    RandomForest,
}

public static class ModelFamilyNames
{
    /// <summary>The family's name as manifests write it: <c>linear</c>, <c>mlp</c>, <c>gbdt</c> or <c>rf</c>.</summary>
    public static string Name(this ModelFamily family) => family switch
    {
        ModelFamily.Linear => "linear",
        ModelFamily.Mlp => "mlp",
        ModelFamily.Gbdt => "gbdt",
        ModelFamily.RandomForest => "rf",
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, null),
    };

    /// <summary>Tree ensembles (trained with LightGBM on the CPU).</summary>
    public static bool IsTrees(this ModelFamily family) => family is ModelFamily.Gbdt or ModelFamily.RandomForest;
}
