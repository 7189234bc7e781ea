using System.Globalization;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Sylvan.Data.Csv;

namespace Pipeline.Functions.Preprocess;

/// <summary>
/// Turns a CSV stream into a <see cref="PreparedDataset"/>: reads it once, row by row, keeping only parsed numbers
/// (never the file's text), then infers the task, imputes, splits and computes train-split statistics.
/// Throws <see cref="DatasetRejectedException"/> with a reason a data team can act on.
/// </summary>
public sealed class CsvDatasetBuilder(PreprocessOptions options)
{
    private static readonly string[] MissingTokens = ["", "na", "n/a", "nan", "null", "none", "?", "-"];

    public async Task<PreparedDataset> BuildAsync(Stream csv, DatasetSpec? spec, CancellationToken cancellationToken)
    {
        var columns = await ReadColumnsAsync(csv, cancellationToken).ConfigureAwait(false);
        return Prepare(columns, spec ?? new DatasetSpec());
    }

    private sealed class RawColumn(string name)
    {
        public string Name { get; } = name;

        public List<double> Values { get; } = [];

        /// <summary>Trimmed text of every cell; kept only for the target column.</summary>
        public List<string?>? Text { get; set; }

        public int Missing { get; set; }

        public int Unparseable { get; set; }

        public int? FirstUnparseableLine { get; set; }
    }

    private sealed class RawTable(List<RawColumn> columns, int rowsRead, int ragged, int? firstRaggedLine)
    {
        public List<RawColumn> Columns { get; } = columns;

        public int RowsRead { get; } = rowsRead;

        public int Ragged { get; } = ragged;

        public int? FirstRaggedLine { get; } = firstRaggedLine;
    }

    private static async Task<RawTable> ReadColumnsAsync(Stream csv, CancellationToken cancellationToken)
    {
        // Invalid UTF-8 throws instead of turning into U+FFFD: binary uploads are rejected, not half-read.
        using var text = new StreamReader(csv, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true),
            detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024, leaveOpen: true);
        try
        {
            await using var reader = await CsvDataReader.CreateAsync(text, new CsvDataReaderOptions { HasHeaders = true }, cancellationToken)
                .ConfigureAwait(false);
            if (reader.FieldCount == 0)
            {
                throw new DatasetRejectedException("empty-file", "The file is empty: a CSV file with a header row and data rows is expected.");
            }

            var columns = new List<RawColumn>(reader.FieldCount);
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                var name = reader.GetName(i).Trim();
                CheckText(name, 1);
                if (name.Length == 0)
                {
                    name = $"column{i + 1}";
                }

                if (!names.Add(name))
                {
                    throw new DatasetRejectedException("duplicate-column", $"The header names column '{name}' more than once; column names must be unique.", 1);
                }

                columns.Add(new RawColumn(name));
            }

            if (columns.Count < 2)
            {
                throw new DatasetRejectedException("one-column",
                    $"The header has one column ('{columns[0].Name}'); at least one feature column and a target column are needed. If the file is not comma-separated, check its delimiter.");
            }

            var rows = 0;
            var ragged = 0;
            int? firstRaggedLine = null;
            var line = 1;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                line++;
                rows++;
                if (reader.RowFieldCount != columns.Count)
                {
                    // A lone empty line is not a data row.
                    if (reader.RowFieldCount <= 1 && reader.GetString(0).Length == 0)
                    {
                        rows--;
                        continue;
                    }

                    ragged++;
                    firstRaggedLine ??= line;
                    continue;
                }

                for (var c = 0; c < columns.Count; c++)
                {
                    var column = columns[c];
                    var cell = reader.GetString(c).Trim();
                    CheckText(cell, line);
                    column.Text?.Add(cell);
                    if (IsMissing(cell))
                    {
                        column.Missing++;
                        column.Values.Add(double.NaN);
                    }
                    else if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
                    {
                        column.Values.Add(value);
                    }
                    else
                    {
                        column.Unparseable++;
                        column.FirstUnparseableLine ??= line;
                        column.Values.Add(double.NaN);
                        if (column.Text is null)
                        {
                            // The first text cell of a column that parsed so far: keep its text from now on (it may be a non-numeric target).
                            column.Text = RebuildText(column);
                            column.Text.Add(cell);
                        }
                    }
                }
            }

            return new RawTable(columns, rows, ragged, firstRaggedLine);
        }
        catch (DecoderFallbackException)
        {
            throw new DatasetRejectedException("binary-content", "The file is not UTF-8 text (it looks binary). Upload a UTF-8 CSV file.");
        }
        catch (CsvMissingHeadersException)
        {
            throw new DatasetRejectedException("empty-file", "The file is empty: a CSV file with a header row and data rows is expected.");
        }
        catch (CsvRecordTooLargeException e)
        {
            throw new DatasetRejectedException("malformed-csv", $"A record is too large to be a CSV row (an unterminated quote?): {e.Message}", e.RowNumber);
        }
        catch (CsvFormatException e)
        {
            throw new DatasetRejectedException("malformed-csv", $"The file is not well-formed CSV: {e.Message}", e.RowNumber);
        }
    }

    /// <summary>Text of the cells before the current one, rebuilt from their numbers (they all parsed or were missing).</summary>
    private static List<string?> RebuildText(RawColumn column)
    {
        var text = new List<string?>(column.Values.Count + 1024);
        for (var i = 0; i < column.Values.Count - 1; i++)
        {
            var v = column.Values[i];
            text.Add(double.IsNaN(v) ? null : v.ToString("R", CultureInfo.InvariantCulture));
        }

        return text;
    }

    private static void CheckText(string value, int line)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new DatasetRejectedException("binary-content", $"Line {line} contains NUL characters: the file looks binary, not CSV text.", line);
        }
    }

    private static bool IsMissing(string cell)
    {
        foreach (var token in MissingTokens)
        {
            if (cell.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private PreparedDataset Prepare(RawTable table, DatasetSpec spec)
    {
        if (table.RowsRead == 0)
        {
            throw new DatasetRejectedException("header-only", "The file has a header row but no data rows.");
        }

        if ((double)table.Ragged / table.RowsRead > options.MaxRaggedShare)
        {
            throw new DatasetRejectedException("ragged-rows",
                $"{table.Ragged} of {table.RowsRead} rows have a different number of fields than the header ({table.Columns.Count}); first at line {table.FirstRaggedLine}.",
                table.FirstRaggedLine);
        }

        var warnings = new List<string>();
        if (table.Ragged > 0)
        {
            warnings.Add($"{table.Ragged} rows with a different number of fields than the header were dropped; first at line {table.FirstRaggedLine}.");
        }

        var target = ResolveTarget(table, spec);
        var (task, targetValues, labels) = ResolveTargetValues(target, spec);
        var keep = Enumerable.Range(0, targetValues.Length).Where(i => !double.IsNaN(targetValues[i])).ToArray();
        var droppedMissingTarget = targetValues.Length - keep.Length;
        if (keep.Length == 0)
        {
            throw new DatasetRejectedException("target-all-missing", $"The target column '{target.Name}' has no values.");
        }

        if (droppedMissingTarget > 0)
        {
            warnings.Add($"{droppedMissingTarget} rows without a target value were dropped.");
        }

        var ignore = new HashSet<string>(spec.Ignore, StringComparer.OrdinalIgnoreCase);
        var excluded = new List<ExcludedColumn>();
        var featureColumns = new List<RawColumn>();
        foreach (var column in table.Columns)
        {
            if (ReferenceEquals(column, target))
            {
                continue;
            }

            var present = column.Values.Count - column.Missing;
            if (ignore.Contains(column.Name))
            {
                excluded.Add(new ExcludedColumn { Name = column.Name, Reason = "ignored by dataset.json" });
            }
            else if (present == 0)
            {
                excluded.Add(new ExcludedColumn { Name = column.Name, Reason = "all values missing" });
            }
            else if ((double)column.Unparseable / present > options.MaxUnparseableShare)
            {
                excluded.Add(new ExcludedColumn
                {
                    Name = column.Name,
                    Reason = $"non-numeric: {column.Unparseable} of {present} values are not numbers (first at line {column.FirstUnparseableLine})",
                });
            }
            else
            {
                featureColumns.Add(column);
            }
        }

        if (featureColumns.Count == 0)
        {
            throw new DatasetRejectedException("no-numeric-features",
                $"No column besides the target '{target.Name}' holds numbers. Excluded: {string.Join("; ", excluded.Select(e => $"{e.Name} ({e.Reason})"))}.");
        }

        if (keep.Length < options.MinRows)
        {
            throw new DatasetRejectedException("too-few-rows", $"{keep.Length} usable rows; at least {options.MinRows} are needed to train and test a model.");
        }

        // Deterministic split: a seeded shuffle of the usable rows.
        var order = (int[])keep.Clone();
        new Random(options.SplitSeed).Shuffle(order);
        var testCount = Math.Max(1, (int)Math.Round(order.Length * options.TestShare));
        var validationCount = Math.Max(1, (int)Math.Round(order.Length * options.ValidationShare));
        var trainRows = order[(testCount + validationCount)..];
        var validationRows = order[testCount..(testCount + validationCount)];
        var testRows = order[..testCount];

        var stats = new List<FeatureStats>();
        var constant = new List<RawColumn>();
        var imputed = 0;
        foreach (var column in featureColumns)
        {
            var trainValues = trainRows.Select(r => column.Values[r]).Where(v => !double.IsNaN(v)).Order().ToArray();
            var median = trainValues.Length == 0 ? 0 : Median(trainValues);
            var filled = trainRows.Select(r => double.IsNaN(column.Values[r]) ? median : column.Values[r]).ToArray();
            var mean = filled.Average();
            var std = Math.Sqrt(filled.Sum(v => (v - mean) * (v - mean)) / filled.Length);
            if (trainValues.Length == 0 || trainValues[0] == trainValues[^1])
            {
                constant.Add(column);
                excluded.Add(new ExcludedColumn { Name = column.Name, Reason = "constant in the train split" });
                continue;
            }

            imputed += keep.Count(r => double.IsNaN(column.Values[r]));
            stats.Add(new FeatureStats
            {
                Name = column.Name,
                Mean = mean,
                Std = std,
                Min = trainValues[0],
                Max = trainValues[^1],
                Median = median,
                Missing = column.Missing,
                Unparseable = column.Unparseable,
            });
        }

        featureColumns.RemoveAll(constant.Contains);
        if (featureColumns.Count == 0)
        {
            throw new DatasetRejectedException("no-numeric-features", "Every numeric feature column is constant; nothing to learn from.");
        }

        if (imputed > 0)
        {
            warnings.Add($"{imputed} missing or unparseable feature cells were replaced by the train-split median.");
        }

        TargetStats? targetStats = null;
        if (task == TaskKind.Regression)
        {
            var values = trainRows.Select(r => targetValues[r]).ToArray();
            var mean = values.Average();
            targetStats = new TargetStats
            {
                Mean = mean,
                Std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length),
                Min = values.Min(),
                Max = values.Max(),
            };
        }

        DatasetSplit Build(int[] rows) => new(
            featureColumns.Select((column, f) => rows.Select(r => (float)(double.IsNaN(column.Values[r]) ? stats[f].Median : column.Values[r])).ToArray()).ToArray(),
            rows.Select(r => (float)targetValues[r]).ToArray());

        return new PreparedDataset
        {
            Task = task,
            Target = target.Name,
            Features = stats,
            Labels = labels,
            TargetStats = targetStats,
            ExcludedColumns = excluded,
            Warnings = warnings,
            Rows = new RowCounts
            {
                Read = table.RowsRead,
                Used = keep.Length,
                Train = trainRows.Length,
                Validation = validationRows.Length,
                Test = testRows.Length,
                DroppedRagged = table.Ragged,
                DroppedMissingTarget = droppedMissingTarget,
                ImputedCells = imputed,
            },
            Splits = new Dictionary<string, DatasetSplit>
            {
                ["train"] = Build(trainRows),
                ["validation"] = Build(validationRows),
                ["test"] = Build(testRows),
            },
        };
    }

    private static RawColumn ResolveTarget(RawTable table, DatasetSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.Target))
        {
            return table.Columns[^1];
        }

        return table.Columns.FirstOrDefault(c => c.Name.Equals(spec.Target.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new DatasetRejectedException("target-not-found",
                $"dataset.json names target '{spec.Target}', but the header has no such column. Columns: {string.Join(", ", table.Columns.Select(c => c.Name))}.", 1);
    }

    /// <summary>The task, one number per row (label index or value; NaN where the target is missing) and the class labels.</summary>
    private (string Task, double[] Values, List<string> Labels) ResolveTargetValues(RawColumn target, DatasetSpec spec)
    {
        var present = target.Values.Count - target.Missing;
        if (present == 0)
        {
            throw new DatasetRejectedException("target-all-missing", $"Every value of the target column '{target.Name}' is missing.");
        }

        var numeric = target.Unparseable == 0;
        var task = spec.Task?.Trim().ToLowerInvariant();
        if (task is not null && !TaskKind.IsKnown(task))
        {
            throw new DatasetRejectedException("invalid-spec", $"dataset.json has task '{spec.Task}'; use '{TaskKind.Classification}' or '{TaskKind.Regression}'.");
        }

        if (task is null)
        {
            var distinct = numeric ? target.Values.Where(v => !double.IsNaN(v)).Distinct().Take(options.MaxClassesForNumericTarget + 1).ToList() : [];
            task = !numeric || (distinct.Count <= options.MaxClassesForNumericTarget && distinct.All(v => v == Math.Floor(v)))
                ? TaskKind.Classification
                : TaskKind.Regression;
        }

        if (task == TaskKind.Regression)
        {
            if ((double)target.Unparseable / present > options.MaxUnparseableShare)
            {
                throw new DatasetRejectedException("non-numeric-target",
                    $"The target column '{target.Name}' is to be predicted as a number, but {target.Unparseable} of {present} values are not numbers (first at line {target.FirstUnparseableLine}).",
                    target.FirstUnparseableLine);
            }

            return (task, target.Values.ToArray(), []);
        }

        // Classification: labels as text; numbers that parsed are written canonically so "1" and "1.0" are one class.
        var text = numeric
            ? target.Values.Select(v => double.IsNaN(v) ? null : v.ToString("R", CultureInfo.InvariantCulture)).ToList()
            : target.Text!.Select((t, i) => IsMissing(t ?? "") ? null : double.IsNaN(target.Values[i]) ? t : target.Values[i].ToString("R", CultureInfo.InvariantCulture)).ToList();
        var labels = text.Where(t => t is not null).Distinct(StringComparer.Ordinal).Cast<string>().ToList();
        if (labels.All(l => double.TryParse(l, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
        {
            labels = labels.OrderBy(l => double.Parse(l, CultureInfo.InvariantCulture)).ToList();
        }
        else
        {
            labels.Sort(StringComparer.Ordinal);
        }

        if (labels.Count < 2)
        {
            throw new DatasetRejectedException("single-class", $"The target column '{target.Name}' has a single class ('{labels[0]}'); a classifier needs at least two.");
        }

        if (labels.Count > options.MaxClasses)
        {
            throw new DatasetRejectedException("too-many-classes",
                $"The target column '{target.Name}' has more than {options.MaxClasses} distinct values. If it is a quantity, set \"task\": \"regression\" in dataset.json.");
        }

        var index = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => (double)p.i, StringComparer.Ordinal);
        return (task, text.Select(t => t is null ? double.NaN : index[t]).ToArray(), labels);
    }

    private static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}
