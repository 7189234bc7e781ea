using Pipeline.Contracts;
using Pipeline.Datasets;

namespace Pipeline.Functions.Preprocess;

/// <summary>A cleaned dataset: features imputed, rows split, statistics from the train split.</summary>
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

    /// <summary>Splits by name (<c>train</c>, <c>validation</c>, <c>test</c>).</summary>
    public required IReadOnlyDictionary<string, DatasetSplit> Splits { get; init; }
}
