namespace Pipeline.Contracts;

/// <summary><c>datasets/{dataset}/{version}/manifest.json</c>: an accepted, preprocessed dataset version.</summary>
public sealed class DatasetManifest
{
    public string Dataset { get; set; } = "";

    public string Version { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The newest change among the dataset's files when it was built (the upload that made it); null in versions written before it was recorded.</summary>
    public DateTimeOffset? UploadedAt { get; set; }

    public List<SourceFile> Sources { get; set; } = [];

    public string Task { get; set; } = "";

    public string Target { get; set; } = "";

    public string Model { get; set; } = "";

    /// <summary>Ordered features: the order of the model's input tensor.</summary>
    public List<FeatureStats> Features { get; set; } = [];

    /// <summary>Classification: class labels; the Parquet target column holds indexes into this list.</summary>
    public List<string> Labels { get; set; } = [];

    /// <summary>Regression: target statistics from the train split.</summary>
    public TargetStats? TargetStats { get; set; }

    public List<ExcludedColumn> ExcludedColumns { get; set; } = [];

    public RowCounts Rows { get; set; } = new();

    /// <summary>Parquet files of the splits, relative to the version folder.</summary>
    public Dictionary<string, string> Splits { get; set; } = [];

    public List<string> Warnings { get; set; } = [];

    /// <summary>How each raw column becomes the features above (one-hot categories, booleans, datetime parts); empty for versions written before encodings existed (all columns numeric, one feature each).</summary>
    public List<ColumnEncoding> Encodings { get; set; } = [];

    /// <summary>W3C trace id (32 hex digits) of the upload's trace that built this version; null when none was recorded.</summary>
    public string? TraceId { get; set; }

    /// <summary>The validation report and its human-readable summary, relative to the version folder.</summary>
    public string? Report { get; set; }

    public string? Summary { get; set; }
}

public sealed class SourceFile
{
    public string Blob { get; set; } = "";

    public string Sha256 { get; set; } = "";

    public long Bytes { get; set; }
}

public sealed class FeatureStats
{
    public string Name { get; set; } = "";

    /// <summary>Train-split mean and standard deviation (after imputation): the standardization folded into the model.</summary>
    public double Mean { get; set; }

    public double Std { get; set; }

    public double Min { get; set; }

    public double Max { get; set; }

    /// <summary>Train-split median: the value imputed for missing or unparseable cells.</summary>
    public double Median { get; set; }

    public int Missing { get; set; }

    public int Unparseable { get; set; }
}

public sealed class TargetStats
{
    public double Mean { get; set; }

    public double Std { get; set; }

    public double Min { get; set; }

    public double Max { get; set; }
}

public sealed class ExcludedColumn
{
    public string Name { get; set; } = "";

    public string Reason { get; set; } = "";
}

public sealed class RowCounts
{
    public int Read { get; set; }

    public int Used { get; set; }

    public int Train { get; set; }

    public int Validation { get; set; }

    public int Test { get; set; }

    public int DroppedRagged { get; set; }

    public int DroppedMissingTarget { get; set; }

    public int ImputedCells { get; set; }

    /// <summary>Regression: rows whose target is not a number.</summary>
    public int DroppedUnreadableTarget { get; set; }

    /// <summary>Rows identical to an earlier row (kept; reported as a warning).</summary>
    public int DuplicateRows { get; set; }
}
