namespace Pipeline.Contracts;

/// <summary>Optional <c>raw/{dataset}/dataset.json</c>: how to read a dataset. Every field overrides an inference.</summary>
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

    /// <summary>Per-column overrides of the inferred type, by column name (case-insensitive).</summary>
    public Dictionary<string, ColumnSpec> Columns { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Categorical columns: number of most frequent train-split categories one-hot encoded (the rest share "other").</summary>
    public int? MaxCategories { get; set; }
}

/// <summary>A column's declared type in <c>dataset.json</c>.</summary>
public sealed class ColumnSpec
{
    /// <summary><c>numeric</c>, <c>boolean</c>, <c>categorical</c>, <c>datetime</c>, <c>text</c> (excluded) or <c>ignore</c>.</summary>
    public string? Type { get; set; }

    /// <summary>Numeric columns written with a decimal comma: <c>","</c>.</summary>
    public string? DecimalSeparator { get; set; }

    /// <summary>Numeric columns written with digit grouping, e.g. <c>","</c>, <c>"."</c> or <c>" "</c>.</summary>
    public string? ThousandsSeparator { get; set; }
}
