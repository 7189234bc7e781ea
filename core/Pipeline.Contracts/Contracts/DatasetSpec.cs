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

    /// <summary>Per-column overrides of the inferred type, by column name (case-insensitive).</summary>
    public Dictionary<string, ColumnSpec> Columns { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Categorical columns: number of most frequent train-split categories one-hot encoded (the rest share "other").</summary>
    public int? MaxCategories { get; set; }

    /// <summary>
    /// When a drift report judges the model trained from this dataset drifted and files were added to or changed in
    /// <c>raw/{dataset}/</c> since the dataset version it was trained on, the drift run requests a rebuild of the dataset
    /// (the event an upload sends), so a new version is trained and the champion/challenger gate decides. Default false.
    /// </summary>
    public bool? RetrainOnDrift { get; set; }

    /// <summary>
    /// Fields this spec does not have, kept to be named in the validation report. Among them <c>model</c> and
    /// <c>forcePromotion</c>: which model a dataset publishes to, and forcing a promotion, are operator decisions
    /// (<c>Preprocess:ModelNames</c>, the admin rollback API), never a file anyone who may upload can write.
    /// </summary>
    [System.Text.Json.Serialization.JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? OtherFields { get; set; }
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
