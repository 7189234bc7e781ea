namespace Pipeline.Contracts;

/// <summary>
/// The names a model's ONNX graph shares with the serving app: its input and outputs, and the metadata keys that describe
/// it when no manifest is beside it (bring your own ONNX).
/// </summary>
public static class OnnxContract
{
    /// <summary>Graph input: float32 <c>[batch, features]</c>.</summary>
    public const string InputName = "features";

    /// <summary>Classification output: float32 <c>[batch, classes]</c>, class probabilities.</summary>
    public const string ProbabilitiesOutput = "probabilities";

    /// <summary>Regression output: float32 <c>[batch, 1]</c>, in target units.</summary>
    public const string ValueOutput = "value";

    /// <summary>Symbolic name of the batch dimension of the input and output.</summary>
    public const string BatchDimension = "batch";

    /// <summary>Metadata key of the task: <c>classification</c> or <c>regression</c>.</summary>
    public const string TaskMetadataKey = "task";

    /// <summary>Metadata key of the feature names, a JSON array of strings in input order.</summary>
    public const string FeaturesMetadataKey = "features";

    /// <summary>Metadata key of the class labels (classification only), a JSON array of strings in output order.</summary>
    public const string LabelsMetadataKey = "labels";
}
