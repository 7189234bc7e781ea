namespace Pipeline.Contracts;

/// <summary>
/// <c>report.json</c> of a dataset version (accepted: <c>datasets/{dataset}/{version}/report.json</c>; rejected: inside the
/// rejection report): what was read, how every column was understood, which rows were dropped and why, and warnings.
/// </summary>
public sealed class ValidationReport
{
    public string Dataset { get; set; } = "";

    /// <summary>The version built; null when rejected.</summary>
    public string? Version { get; set; }

    /// <summary><c>accepted</c> or <c>rejected</c>.</summary>
    public string Status { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public List<FileReport> Files { get; set; } = [];

    public string? Task { get; set; }

    public string? Target { get; set; }

    public List<ColumnProfile> Columns { get; set; } = [];

    public RowCounts Rows { get; set; } = new();

    /// <summary>Dropped rows by reason, with the first examples.</summary>
    public List<DroppedRows> Dropped { get; set; } = [];

    public List<ReportWarning> Warnings { get; set; } = [];
}

public sealed class FileReport
{
    public string Blob { get; set; } = "";

    public string? Sha256 { get; set; }

    public long Bytes { get; set; }

    /// <summary><c>csv</c>, <c>jsonl</c> or <c>parquet</c>, with <c>+gzip</c> when compressed.</summary>
    public string? Format { get; set; }

    /// <summary>CSV: the detected (or declared) delimiter.</summary>
    public string? Delimiter { get; set; }

    public long Rows { get; set; }

    /// <summary>Whether the file's rows are part of the version.</summary>
    public bool Used { get; set; }

    /// <summary>Why a file was not used, e.g. its columns differ from the dataset's.</summary>
    public string? Reason { get; set; }

    public string? Message { get; set; }

    public long? Line { get; set; }
}

/// <summary>How one column was understood. Counts cover every kept row; statistics come from the train split.</summary>
public sealed class ColumnProfile
{
    public string Name { get; set; } = "";

    /// <summary>One of <see cref="ColumnKinds"/>.</summary>
    public string Type { get; set; } = "";

    /// <summary><c>feature</c>, <c>target</c> or <c>excluded</c>.</summary>
    public string Role { get; set; } = "";

    /// <summary>Why the column was excluded or typed as it is, when not obvious.</summary>
    public string? Reason { get; set; }

    public long Present { get; set; }

    public long Missing { get; set; }

    public double MissingShare { get; set; }

    /// <summary>Values that could not be read as the column's type (imputed).</summary>
    public long Unreadable { get; set; }

    /// <summary>Distinct values; a lower bound when <see cref="DistinctIsLowerBound"/>.</summary>
    public long Distinct { get; set; }

    public bool DistinctIsLowerBound { get; set; }

    public double? Min { get; set; }

    public double? Max { get; set; }

    public double? Mean { get; set; }

    public double? Std { get; set; }

    /// <summary>Text, categorical and boolean columns: the most frequent values.</summary>
    public List<ValueCount>? TopValues { get; set; }
}

public sealed class ValueCount
{
    public string Value { get; set; } = "";

    public long Count { get; set; }
}

public sealed class DroppedRows
{
    /// <summary><c>ragged</c>, <c>missing-target</c>, <c>unreadable-target</c>.</summary>
    public string Reason { get; set; } = "";

    public long Count { get; set; }

    public List<RowExample> Examples { get; set; } = [];
}

public sealed class RowExample
{
    public string Blob { get; set; } = "";

    /// <summary>1-based line (for CSV, the record's line when no field spans lines; the header is line 1).</summary>
    public long Line { get; set; }

    /// <summary>The row's text, shortened.</summary>
    public string Text { get; set; } = "";
}

public sealed class ReportWarning
{
    /// <summary><c>duplicate-rows</c>, <c>class-imbalance</c>, <c>leakage</c>, <c>constant-column</c>, <c>dropped-rows</c>, <c>file-skipped</c>, …</summary>
    public string Code { get; set; } = "";

    public string Message { get; set; } = "";
}
