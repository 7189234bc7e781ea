using System.Globalization;
using System.Text;
using System.Text.Json;
using Pipeline.Contracts;
using Pipeline.Datasets;

namespace Pipeline.Monitoring;

/// <summary>
/// Counts observed rows of one model version into the bins and categories of its <see cref="TrainingBaseline"/>. Raw
/// values are encoded with the version's <see cref="FeatureEncoder"/>, as serving and batch scoring encode them, so a
/// missing value lands where the model sees it (its imputation value) and is also counted as missing; an unknown
/// category lands in "other" and is also counted as unknown. Not thread-safe.
/// </summary>
public sealed class DriftAccumulator
{
    private readonly ModelManifest _manifest;
    private readonly FeatureEncoder? _encoder;
    private readonly ColumnState[] _columns;
    private readonly ColumnState _predictions;
    private readonly float[] _buffer;

    public DriftAccumulator(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var baseline = manifest.Baseline ?? throw new ArgumentException($"Model {manifest.Model} version {manifest.Version} has no training baseline.", nameof(manifest));
        _manifest = manifest;
        _encoder = manifest.Encodings.Count > 0 ? new FeatureEncoder(manifest.Encodings) : null;
        var byName = baseline.Columns.ToDictionary(c => c.Column, StringComparer.Ordinal);
        IReadOnlyList<string> columns = _encoder is { } encoder ? [.. encoder.Columns.Select(c => c.Column)] : manifest.Features;
        _columns = [.. columns.Select(c => new ColumnState(byName.TryGetValue(c, out var b) ? b
            : throw new ArgumentException($"The baseline of model {manifest.Model} version {manifest.Version} lacks column '{c}'.", nameof(manifest))))];
        _predictions = new ColumnState(baseline.Predictions ?? throw new ArgumentException($"The baseline of model {manifest.Model} version {manifest.Version} lacks the prediction distribution.", nameof(manifest)));
        _buffer = new float[Math.Max(1, _encoder?.Width ?? 1)];
    }

    /// <summary>The raw columns read from each observed row, in order (<see cref="AddCell"/>'s index).</summary>
    public IReadOnlyList<string> Columns => [.. _columns.Select(c => c.Baseline.Column)];

    public long Rows { get; private set; }

    /// <summary>Counts one predict-request row (a JSON object of raw values as the client sent them).</summary>
    public void AddJsonRow(JsonElement row)
    {
        for (var c = 0; c < _columns.Length; c++)
        {
            JsonElement value = default;
            var present = row.ValueKind == JsonValueKind.Object && row.TryGetProperty(_columns[c].Baseline.Column, out value);
            if (_encoder is { } encoder)
            {
                var destination = _buffer.AsSpan(0, encoder.WidthOf(c));
                bool missing;
                if (!present)
                {
                    missing = !encoder.Encode(c, "", destination);
                }
                else
                {
                    var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(value.GetRawText()));
                    reader.Read();
                    var read = encoder.TryEncode(c, ref reader, destination);
                    missing = !read || value.ValueKind == JsonValueKind.Null ||
                        (value.ValueKind == JsonValueKind.String && RawValues.IsMissing(value.GetString().AsSpan().Trim()));
                    if (!read)
                    {
                        encoder.Encode(c, "", destination);
                    }
                }

                _columns[c].AddEncoded(destination, missing);
            }
            else
            {
                _columns[c].AddRaw(present && value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) ? number : null);
            }
        }

        Rows++;
    }

    /// <summary>Counts one cell of a row read as text (batch outputs); call <see cref="EndRow"/> after the row's cells.</summary>
    public void AddCell(int column, ReadOnlySpan<char> cell)
    {
        if (_encoder is { } encoder)
        {
            var destination = _buffer.AsSpan(0, encoder.WidthOf(column));
            var read = encoder.Encode(column, cell, destination);
            _columns[column].AddEncoded(destination, !read);
        }
        else
        {
            _columns[column].AddRaw(RawValues.TryParseNumber(cell, out var number) ? number : null);
        }
    }

    public void EndRow() => Rows++;

    /// <summary>Counts the model's output for one row: class probabilities (labels' order) or the value.</summary>
    public void AddOutput(ReadOnlySpan<float> output)
    {
        if (_predictions.Baseline.Kind == ColumnKinds.Categorical)
        {
            _predictions.AddCategory(TrainingBaselines.ArgMax(output));
        }
        else if (output.Length > 0)
        {
            _predictions.AddRaw(output[0]);
        }
    }

    /// <summary>Counts a batch output's <c>prediction</c> cell: the label (one the manifest does not list counts as <c>*other*</c>; an empty cell, a row not scored, is not counted), or the value.</summary>
    public void AddPrediction(ReadOnlySpan<char> prediction)
    {
        if (_predictions.Baseline.Kind == ColumnKinds.Categorical)
        {
            for (var k = 0; k < _manifest.Labels.Count; k++)
            {
                if (prediction.SequenceEqual(_manifest.Labels[k]))
                {
                    _predictions.AddCategory(k);
                    return;
                }
            }

            // A label the manifest does not list (an output written by another version, or edited): counted as *other*.
            if (!prediction.IsWhiteSpace())
            {
                _predictions.AddUnknownCategory();
            }
        }
        else
        {
            _predictions.AddRaw(RawValues.TryParseNumber(prediction, out var value) ? value : null);
        }
    }

    /// <summary>The comparison with the baseline, judged by <paramref name="options"/>' thresholds.</summary>
    public DriftReport Report(DriftOptions options, DateTimeOffset now, DateTimeOffset windowStart, DriftSources sources)
    {
        ArgumentNullException.ThrowIfNull(options);
        var report = new DriftReport
        {
            Model = _manifest.Model, Version = _manifest.Version, CreatedAt = now, WindowStart = windowStart, WindowEnd = now, Rows = Rows, Sources = sources,
            Thresholds = new DriftThresholds
            {
                PsiWarning = options.PsiWarning, PsiDrift = options.PsiDrift, MissingRateChange = options.MissingRateChange,
                UnknownShareChange = options.UnknownShareChange, RangeViolationShare = options.RangeViolationShare, MinRows = options.MinRows,
            },
        };
        var enough = Rows >= options.MinRows;
        foreach (var column in _columns)
        {
            report.Columns.Add(column.Judge(options, enough));
        }

        report.Predictions = _predictions.Judge(options, enough);
        report.DriftedColumns = [.. report.Columns.Where(c => c.Status == DriftStatus.Drifted).Select(c => c.Column)];
        var predictionDrifted = options.PredictionDriftFlagsModel && report.Predictions.Status == DriftStatus.Drifted;
        (report.Status, report.Message) = !enough
            ? (DriftStatus.InsufficientData, string.Create(CultureInfo.InvariantCulture, $"{Rows} observed rows in the window; at least {options.MinRows} (Drift:MinRows) are needed to judge drift."))
            : report.DriftedColumns.Count > 0 || predictionDrifted
                ? (DriftStatus.Drifted, Drifted(report, predictionDrifted))
                : report.Columns.Append(report.Predictions).Any(c => c.Status == DriftStatus.Warning)
                    ? (DriftStatus.Warning, "Moderate shift (PSI between the warning and drift thresholds) in: " +
                        string.Join(", ", report.Columns.Append(report.Predictions).Where(c => c.Status == DriftStatus.Warning).Select(c => c.Column)) + ".")
                    : (DriftStatus.Ok, string.Create(CultureInfo.InvariantCulture, $"No column and not the predictions crossed a threshold over {Rows} observed rows."));
        return report;
    }

    private static string Drifted(DriftReport report, bool predictions)
    {
        List<string> parts = [];
        if (report.DriftedColumns.Count > 0)
        {
            parts.Add($"column(s) {string.Join(", ", report.DriftedColumns)} drifted from the training data");
        }

        if (predictions)
        {
            parts.Add("the prediction distribution drifted from the test split's");
        }

        return string.Join("; ", parts) + ".";
    }

    /// <summary>The bin of prediction labels the model's manifest does not list.</summary>
    public const string UnknownLabel = "*other*";

    /// <summary>The counts of one column (or of the predictions) against its baseline.</summary>
    private sealed class ColumnState
    {
        private readonly long[][] _bins;
        private readonly long[] _outOfRange;
        private readonly long[] _categories;
        private long _rows;
        private long _missing;
        private long _unknown;
        private long _unknownCategories;

        public ColumnState(ColumnBaseline baseline)
        {
            Baseline = baseline;
            _bins = [.. baseline.Features.Select(f => new long[f.Edges.Count + 1])];
            _outOfRange = new long[baseline.Features.Count];
            _categories = new long[baseline.Categories.Count];
        }

        public ColumnBaseline Baseline { get; }

        private bool Binned => Baseline.Kind is ColumnKinds.Numeric or ColumnKinds.Datetime;

        /// <summary>
        /// The training split had no value of this column: its missing rate is 1, or it had missing values and its whole
        /// distribution is the imputed value (numeric: no cut point; categorical: everything in <c>*other*</c>). The
        /// missing rate is over the dataset's rows, so a column empty only in the train split shows the second way.
        /// </summary>
        private bool MissingInEveryTrainingRow =>
            Baseline.Column != TrainingBaselines.PredictionColumn &&
            (Baseline.MissingRate >= 1 || (Baseline.MissingRate > 0 && (Binned
                ? Baseline.Features.All(f => f.Edges.Count == 0)
                : Baseline.Kind == ColumnKinds.Categorical && Baseline.Shares.Count > 0 && Baseline.Shares[^1] >= 1)));

        /// <summary>An encoded value (<see cref="FeatureEncoder"/> output), imputed when <paramref name="missing"/>.</summary>
        public void AddEncoded(ReadOnlySpan<float> encoded, bool missing)
        {
            _rows++;
            _missing += missing ? 1 : 0;
            if (Binned)
            {
                for (var p = 0; p < _bins.Length; p++)
                {
                    Bin(p, encoded[p], missing);
                }
            }
            else if (Baseline.Kind == ColumnKinds.Boolean)
            {
                _categories[encoded[0] > 0.5f ? 1 : 0]++;
            }
            else
            {
                var k = encoded.IndexOf(1f);
                k = k < 0 ? _categories.Length - 1 : k;
                _categories[k]++;
                _unknown += !missing && k == _categories.Length - 1 ? 1 : 0;
            }
        }

        /// <summary>A number of a model without encodings (or a regression prediction); null: missing, not binned.</summary>
        public void AddRaw(double? value)
        {
            _rows++;
            if (value is { } v)
            {
                Bin(0, v, missing: false);
            }
            else
            {
                _missing++;
            }
        }

        public void AddCategory(int index)
        {
            _rows++;
            _categories[index]++;
        }

        /// <summary>A value outside the baseline's categories (predictions: a label the manifest does not list).</summary>
        public void AddUnknownCategory()
        {
            _rows++;
            _unknownCategories++;
        }

        private void Bin(int part, double value, bool missing)
        {
            var feature = Baseline.Features[part];
            _bins[part][Distributions.BinOf(feature.Edges, value)]++;
            _outOfRange[part] += !missing && (value < feature.Min || value > feature.Max) ? 1 : 0;
        }

        public ColumnDrift Judge(DriftOptions options, bool enough)
        {
            var drift = new ColumnDrift
            {
                Column = Baseline.Column, Kind = Baseline.Kind, TrainMissingRate = Baseline.MissingRate,
                MissingRate = _rows == 0 ? 0 : (double)_missing / _rows,
            };
            var present = _rows - _missing;
            if (MissingInEveryTrainingRow)
            {
                // Every training value was missing: the bins hold only the imputation value, so a PSI would measure the
                // floor share, not a shift. Only the missing rate is compared.
                drift.Psi = null;
                drift.Note = "missing in every training row: PSI and the training range do not apply; the missing rate is compared";
            }
            else if (Binned)
            {
                for (var p = 0; p < _bins.Length; p++)
                {
                    var feature = Baseline.Features[p];
                    var observed = Distributions.Shares(_bins[p]);
                    drift.Psi = Math.Max(drift.Psi ?? 0, _rows == 0 ? 0 : Distributions.Psi(feature.Shares, observed));
                    var prefix = _bins.Length > 1 ? feature.Feature + " " : "";
                    for (var b = 0; b < observed.Count; b++)
                    {
                        drift.Bins.Add(new DriftBin { Bin = prefix + Interval(feature.Edges, b), Expected = feature.Shares[b], Observed = observed[b] });
                    }
                }

                drift.RangeViolationShare = present <= 0 ? 0 : (double)_outOfRange.Max() / present;
            }
            else
            {
                // Values outside the categories (unknown prediction labels) are a bin of their own that training never had.
                var unseen = _unknownCategories > 0;
                var observed = Distributions.Shares(unseen ? [.. _categories, _unknownCategories] : _categories);
                List<double> expected = unseen ? [.. Baseline.Shares, 0] : Baseline.Shares;
                drift.Psi = _rows == 0 ? 0 : Distributions.Psi(expected, observed);
                for (var k = 0; k < observed.Count; k++)
                {
                    drift.Bins.Add(new DriftBin { Bin = k < Baseline.Categories.Count ? Baseline.Categories[k] : UnknownLabel, Expected = expected[k], Observed = observed[k] });
                }

                if (Baseline.Kind == ColumnKinds.Categorical && Baseline.Column != TrainingBaselines.PredictionColumn)
                {
                    drift.TrainOtherShare = Baseline.Shares[^1];
                    drift.UnknownShare = present <= 0 ? 0 : (double)_unknown / present;
                }
            }

            if (!enough)
            {
                drift.Status = DriftStatus.InsufficientData;
                return drift;
            }

            var reasons = drift.Reasons;
            if (drift.Psi >= options.PsiDrift)
            {
                reasons.Add(F($"PSI {drift.Psi:0.###} ≥ {options.PsiDrift} (Drift:PsiDrift)"));
            }

            if (drift.MissingRate - drift.TrainMissingRate >= options.MissingRateChange)
            {
                reasons.Add(F($"missing rate {drift.MissingRate:P1} against {drift.TrainMissingRate:P1} in training"));
            }

            if (drift.UnknownShare is { } unknown && unknown - drift.TrainOtherShare!.Value >= options.UnknownShareChange)
            {
                reasons.Add(F($"{unknown:P1} of values are categories the model does not know (training \"other\": {drift.TrainOtherShare:P1})"));
            }

            if (drift.RangeViolationShare is { } outside && outside >= options.RangeViolationShare)
            {
                reasons.Add(F($"{outside:P1} of values outside the training range"));
            }

            drift.Status = reasons.Count > 0 ? DriftStatus.Drifted : drift.Psi >= options.PsiWarning ? DriftStatus.Warning : DriftStatus.Ok;
            if (drift.Status == DriftStatus.Warning)
            {
                reasons.Add(F($"PSI {drift.Psi:0.###} ≥ {options.PsiWarning} (Drift:PsiWarning)"));
            }

            return drift;
        }

        private static string Interval(List<double> edges, int bin) =>
            F($"({(bin == 0 ? "-∞" : edges[bin - 1].ToString("G6", CultureInfo.InvariantCulture))}, {(bin == edges.Count ? "+∞" : edges[bin].ToString("G6", CultureInfo.InvariantCulture))}]");

        private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
    }
}
