namespace Pipeline.Training.Onnx;

/// <summary>What a multilayer perceptron predicts.</summary>
public enum MlpTask
{
    /// <summary>Class probabilities over <see cref="MlpDefinition.ClassLabels"/>.</summary>
    Classification,

    /// <summary>One numeric value.</summary>
    Regression,
}

/// <summary>A fully connected layer, <c>y = x · Weightᵀ + Bias</c>, with the layout of <c>torch.nn.Linear</c>.</summary>
/// <param name="InputSize">Number of inputs.</param>
/// <param name="OutputSize">Number of outputs.</param>
/// <param name="Weight">Row-major <c>[OutputSize, InputSize]</c>, exactly <c>torch.nn.Linear.weight</c>.</param>
/// <param name="Bias"><c>[OutputSize]</c>.</param>
public sealed record DenseLayer(int InputSize, int OutputSize, float[] Weight, float[] Bias);

/// <summary>
/// A trained multilayer perceptron with its input standardization: <c>(x - FeatureMean) / FeatureStd</c>, then the
/// layers with ReLU between them (none after the last), then softmax (classification) or
/// <c>raw * TargetStd + TargetMean</c> (regression).
/// </summary>
/// <param name="Task">Classification or regression.</param>
/// <param name="FeatureNames">Input column names, in input order.</param>
/// <param name="FeatureMean">Per-feature mean from the train split.</param>
/// <param name="FeatureStd">Per-feature standard deviation from the train split; see <see cref="EffectiveStd"/>.</param>
/// <param name="Layers">Dense layers, first to last.</param>
/// <param name="ClassLabels">Classification: one label per output of the last layer. Regression: null or empty.</param>
/// <param name="TargetMean">Regression: mean of the target the network was trained to predict standardized.</param>
/// <param name="TargetStd">Regression: standard deviation of the target; see <see cref="EffectiveStd"/>.</param>
public sealed record MlpDefinition(
    MlpTask Task,
    IReadOnlyList<string> FeatureNames,
    float[] FeatureMean,
    float[] FeatureStd,
    IReadOnlyList<DenseLayer> Layers,
    IReadOnlyList<string>? ClassLabels,
    float TargetMean = 0,
    float TargetStd = 1)
{
    /// <summary>A standard deviation at or below this is a constant column and scales by 1.</summary>
    public const float MinimumStd = 1e-6f;

    /// <summary>
    /// The standard deviation actually applied: <paramref name="std"/>, or 1 when it is at or below
    /// <see cref="MinimumStd"/> (constant columns), so standardization never divides by zero.
    /// Training must standardize with the same rule.
    /// </summary>
    public static float EffectiveStd(float std) => std > MinimumStd ? std : 1f;
}
