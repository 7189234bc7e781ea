using Pipeline.Contracts;

namespace Pipeline.Datasets;

/// <summary>
/// Builds a model version's <see cref="TrainingBaseline"/> from its encoded train split (the values the model was trained
/// on, missing values imputed as the encoder imputes them) and its predictions on the test split.
/// </summary>
public static class TrainingBaselines
{
    /// <summary>Label of the prediction distribution in a baseline and a drift report.</summary>
    public const string PredictionColumn = "(prediction)";

    /// <summary>The category of one-hot "other" in a baseline.</summary>
    public const string OtherCategory = "*other*";

    /// <summary>Quantile bins per numeric feature recorded by the trainer.</summary>
    public const int DefaultBins = 10;

    public static readonly IReadOnlyList<string> BooleanCategories = ["false", "true"];

    /// <param name="encodings">The model's column encodings; empty: every feature is a raw numeric column.</param>
    /// <param name="features">Encoded feature names in input order (<paramref name="train"/>'s columns).</param>
    /// <param name="train">Column-major encoded train split.</param>
    /// <param name="stats">The dataset manifest's per-feature statistics (missing and unreadable counts over the dataset).</param>
    /// <param name="datasetRows">Rows of the dataset the counts in <paramref name="stats"/> are out of.</param>
    /// <param name="labels">Classification labels; empty for regression.</param>
    /// <param name="testOutputs">The served model's outputs on the test split, row-major (class probabilities, or one value).</param>
    public static TrainingBaseline Build(IReadOnlyList<ColumnEncoding> encodings, IReadOnlyList<string> features, float[][] train,
        IReadOnlyList<FeatureStats> stats, long datasetRows, int bins, IReadOnlyList<string> labels, ReadOnlySpan<float> testOutputs)
    {
        ArgumentNullException.ThrowIfNull(encodings);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(labels);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var f = 0; f < features.Count; f++)
        {
            index.TryAdd(features[f], f);
        }

        var statsByName = stats.GroupBy(s => s.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        double MissingRate(string feature) => datasetRows > 0 && statsByName.TryGetValue(feature, out var s)
            ? Math.Clamp((double)(s.Missing + s.Unparseable) / datasetRows, 0, 1)
            : 0;

        var baseline = new TrainingBaseline { Bins = bins, TrainRows = train.Length == 0 ? 0 : train[0].Length };
        IEnumerable<ColumnEncoding> columns = encodings.Count > 0 ? encodings
            : features.Select(f => new ColumnEncoding { Column = f, Kind = ColumnKinds.Numeric, Features = [f] });
        foreach (var column in columns)
        {
            var values = column.Features.Select(f => train[index[f]]).ToList();
            var entry = new ColumnBaseline { Column = column.Column, Kind = column.Kind, MissingRate = MissingRate(column.Features[0]) };
            switch (column.Kind)
            {
                case ColumnKinds.Numeric or ColumnKinds.Datetime:
                    for (var p = 0; p < values.Count; p++)
                    {
                        entry.Features.Add(Binned(column.Features[p], values[p], bins));
                    }

                    break;
                case ColumnKinds.Boolean:
                    var trueShare = Mean(values[0]);
                    entry.Categories = [.. BooleanCategories];
                    entry.Shares = [1 - trueShare, trueShare];
                    break;
                case ColumnKinds.Categorical:
                    entry.Categories = [.. column.Categories, OtherCategory];
                    entry.Shares = [.. values.Select(Mean)];
                    break;
                default:
                    continue;
            }

            baseline.Columns.Add(entry);
        }

        baseline.Predictions = Predictions(labels, testOutputs, bins, out var testRows);
        baseline.TestRows = testRows;
        return baseline;
    }

    /// <summary>The distribution of a model's outputs: predicted class shares, or quantile bins of the value.</summary>
    private static ColumnBaseline Predictions(IReadOnlyList<string> labels, ReadOnlySpan<float> outputs, int bins, out int rows)
    {
        if (labels.Count > 0)
        {
            rows = outputs.Length / labels.Count;
            var counts = new long[labels.Count];
            for (var r = 0; r < rows; r++)
            {
                counts[ArgMax(outputs.Slice(r * labels.Count, labels.Count))]++;
            }

            return new ColumnBaseline { Column = PredictionColumn, Kind = ColumnKinds.Categorical, Categories = [.. labels], Shares = Distributions.Shares(counts) };
        }

        rows = outputs.Length;
        return new ColumnBaseline { Column = PredictionColumn, Kind = ColumnKinds.Numeric, Features = [Binned("value", outputs, bins)] };
    }

    private static BinnedFeature Binned(string feature, ReadOnlySpan<float> values, int bins)
    {
        var edges = Distributions.QuantileEdges(values, bins);
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return new BinnedFeature
        {
            Feature = feature, Edges = edges, Shares = Distributions.BinShares(values, edges),
            Min = values.IsEmpty ? 0 : min, Max = values.IsEmpty ? 0 : max,
        };
    }

    private static double Mean(float[] values) => values.Length == 0 ? 0 : values.Average(v => (double)v);

    /// <summary>The index of the largest output: the predicted class.</summary>
    public static int ArgMax(ReadOnlySpan<float> output)
    {
        var best = 0;
        for (var k = 1; k < output.Length; k++)
        {
            if (output[k] > output[best])
            {
                best = k;
            }
        }

        return best;
    }
}
