using Pipeline.Contracts;

namespace Pipeline.Preprocessing;

/// <summary>A local data file of a dataset: a downloaded copy of one blob under <c>raw/{dataset}/</c>.</summary>
public sealed record DataFile(string Blob, string Path, string Sha256, long Bytes);

/// <summary>A cleaned dataset: features encoded and imputed, rows split and written to local Parquet files, statistics from the train split.</summary>
public sealed class PreparedDataset
{
    public required string Task { get; init; }

    public required string Target { get; init; }

    public required List<FeatureStats> Features { get; init; }

    public required List<string> Labels { get; init; }

    public TargetStats? TargetStats { get; init; }

    public required List<ExcludedColumn> ExcludedColumns { get; init; }

    public required RowCounts Rows { get; init; }

    public required List<string> Warnings { get; init; }

    public required List<ColumnEncoding> Encodings { get; init; }

    /// <summary>The files read, used or not.</summary>
    public required List<FileReport> Files { get; init; }

    public required ValidationReport Report { get; init; }

    /// <summary>Local Parquet files of the splits by name (<c>train</c>, <c>validation</c>, <c>test</c>).</summary>
    public required IReadOnlyDictionary<string, string> SplitFiles { get; init; }
}
