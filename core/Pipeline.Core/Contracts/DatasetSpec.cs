namespace Pipeline.Contracts;

/// <summary>Optional <c>raw/{dataset}/dataset.json</c>: how to read a dataset.</summary>
public sealed class DatasetSpec
{
    /// <summary>Target column; default: the last column.</summary>
    public string? Target { get; set; }

    /// <summary><c>classification</c> or <c>regression</c>; default: inferred from the target.</summary>
    public string? Task { get; set; }

    /// <summary>Columns never used as features.</summary>
    public List<string> Ignore { get; set; } = [];

    /// <summary>Name of the model to publish; default: the dataset name.</summary>
    public string? Model { get; set; }

    /// <summary>Make versions trained from this dataset current even when the current model scores better on the new test split.</summary>
    public bool ForcePromotion { get; set; }
}
