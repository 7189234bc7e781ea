using System.Globalization;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing.Formats;

namespace Pipeline.Preprocessing;

public sealed partial class DatasetBuilder
{
    /// <summary>What pass 1 decided: task, labels, encodings with their imputation values, and feature statistics.</summary>
    private sealed class Plan
    {
        public required string Task { get; init; }

        public required List<string> Labels { get; init; }

        /// <summary>Classification: label index per distinct id of the target profiler.</summary>
        public required int[] LabelOfTargetId { get; init; }

        public TargetStats? TargetStats { get; init; }

        public required List<ColumnEncoding> Encodings { get; init; }

        /// <summary>Schema column index of each encoding.</summary>
        public required List<int> EncodedColumns { get; init; }

        public required List<FeatureStats> Features { get; init; }

        public required List<ExcludedColumn> Excluded { get; init; }
    }

    private Plan Decide(Pass1 pass, DatasetSpec spec, Dictionary<string, ColumnSpec> declared, ValidationReport report)
    {
        var target = pass.Profilers[pass.Target];
        report.Target = target.Name;
        report.Rows = new RowCounts
        {
            Read = (int)pass.Read,
            DroppedRagged = (int)pass.Ragged,
            DroppedMissingTarget = (int)pass.MissingTarget,
            DuplicateRows = (int)pass.Duplicates,
        };
        report.Dropped = [.. pass.Dropped.Values];
        if (pass.Kept == 0)
        {
            throw pass.MissingTarget > 0
                ? new DatasetRejectedException("target-all-missing", $"Every value of the target column '{target.Name}' is missing.")
                : new DatasetRejectedException("header-only", "The files have a header row but no data rows.");
        }

        var trainRows = pass.SplitRows[0];

        // Every column's profile is in the report before anything below can reject the version (the target's classes,
        // too few rows, no features): a rejected version's report describes its columns too.
        var profiles = pass.Profilers.Select(column => Profile(column, trainRows)).ToList();
        profiles[pass.Target].Role = "target";
        report.Columns = profiles;
        var (task, labels, labelOf) = DecideTarget(target, spec);
        report.Task = task;
        if (pass.Kept < options.MinRows)
        {
            throw new DatasetRejectedException("too-few-rows", $"{pass.Kept} usable rows; at least {options.MinRows} are needed to train and test a model.");
        }

        var ignore = new HashSet<string>(spec.Ignore ?? [], StringComparer.OrdinalIgnoreCase);
        var maxCategories = spec.MaxCategories ?? options.MaxCategories;
        var encodings = new List<ColumnEncoding>();
        var encoded = new List<int>();
        var features = new List<FeatureStats>();
        var excluded = new List<ExcludedColumn>();
        for (var c = 0; c < pass.Profilers.Length; c++)
        {
            var column = pass.Profilers[c];
            var profile = profiles[c];
            if (c == pass.Target)
            {
                profile.Type = task == TaskKind.Classification ? ColumnKinds.Categorical : ColumnKinds.Numeric;
                profile.TopValues = task == TaskKind.Classification ? Top(column, 10) : null;
                continue;
            }

            var (kind, reason) = Infer(column);
            if (ignore.Contains(column.Name))
            {
                profile.Type = kind;
                (kind, reason) = ("ignore", "ignored by dataset.json");
            }

            var encoding = kind switch
            {
                ColumnKinds.Numeric => EncodeNumeric(column, trainRows, features),
                ColumnKinds.Boolean => EncodeBoolean(column, trainRows, features),
                ColumnKinds.Categorical => EncodeCategorical(column, trainRows, maxCategories, features),
                ColumnKinds.Datetime => EncodeDatetime(column, trainRows, features),
                _ => null,
            };
            if (encoding is null && reason is null && kind is ColumnKinds.Numeric or ColumnKinds.Boolean or ColumnKinds.Categorical or ColumnKinds.Datetime)
            {
                reason = "constant in the train split";
                kind = ColumnKinds.Constant;
            }

            profile.Type = kind == "ignore" ? profile.Type : kind;
            if (encoding is null)
            {
                profile.Role = "excluded";
                profile.Reason = reason;
                excluded.Add(new ExcludedColumn { Name = column.Name, Reason = reason ?? kind });
                if (kind == ColumnKinds.Constant)
                {
                    report.Warnings.Add(new ReportWarning { Code = "constant-column", Message = $"Column '{column.Name}' is constant and was left out." });
                }

                continue;
            }

            profile.Role = "feature";
            profile.Reason = reason;
            WarnIfDeclaredTypeMostlyUnread(column, kind, report);
            encodings.Add(encoding);
            encoded.Add(c);
            Leakage(column, kind, task, pass, report);
        }

        foreach (var field in (spec.OtherFields ?? []).Keys.Order(StringComparer.Ordinal))
        {
            report.Warnings.Add(field is "model" or "forcePromotion"
                ? new ReportWarning { Code = "spec-operator-field", Message = $"dataset.json field '{field}' is ignored: which model a dataset publishes to, and forcing a promotion, are set by the operators (Preprocess:ModelNames, POST /api/models/{{name}}/current)." }
                : new ReportWarning { Code = "spec-unknown-field", Message = $"dataset.json field '{field}' is not a setting and is ignored." });
        }

        foreach (var name in declared.Keys.Where(n => !pass.Columns.Contains(n, StringComparer.OrdinalIgnoreCase)))
        {
            report.Warnings.Add(new ReportWarning { Code = "spec-unknown-column", Message = $"dataset.json declares column '{name}', which the files do not have." });
        }

        var width = encodings.Sum(e => e.Features.Count);
        if (width > options.MaxFeatures)
        {
            throw new DatasetRejectedException("too-many-features",
                $"The columns encode to {width} features; at most {options.MaxFeatures} are trained on (Preprocess:MaxFeatures). Ignore columns in dataset.json or lower maxCategories.");
        }

        // Every row group of a split file holds one column chunk per feature, and the writer keeps each chunk's metadata
        // (~1 KB) until the file is closed: a long and wide version would hold hundreds of MB of it.
        var chunks = ColumnChunks(pass.SplitRows, width);
        if (chunks > options.MaxColumnChunks)
        {
            var fits = (long)(pass.Kept * (double)options.MaxColumnChunks / chunks);
            throw new DatasetRejectedException("too-many-cells",
                $"{pass.Kept} rows of {width} encoded features are more than the preprocessing instance writes at this width (about {fits} rows; Preprocess:MaxColumnChunks {options.MaxColumnChunks}). Ignore columns or lower maxCategories in dataset.json, or upload fewer rows.");
        }

        if (encodings.Count == 0)
        {
            throw new DatasetRejectedException("no-features",
                $"No column besides the target '{target.Name}' can be a feature. Excluded: {string.Join("; ", excluded.Select(e => $"{e.Name} ({e.Reason})"))}.");
        }

        if (task == TaskKind.Classification)
        {
            var counts = new long[labels.Count];
            for (var id = 0; id < labelOf.Length; id++)
            {
                counts[labelOf[id]] += target.TrainCounts[id];
            }

            var largest = counts.Max();
            var smallest = Array.IndexOf(counts, counts.Min());
            if (largest > 0 && (double)counts[smallest] / largest < options.ImbalanceWarningRatio)
            {
                report.Warnings.Add(new ReportWarning
                {
                    Code = "class-imbalance",
                    Message = $"Extreme class imbalance: class '{labels[smallest]}' has {counts[smallest]} train rows, the largest class {largest}. Accuracy will flatter the model.",
                });
            }
        }

        if (pass.Duplicates > 0)
        {
            report.Warnings.Add(new ReportWarning
            {
                Code = "duplicate-rows",
                Message = $"{pass.Duplicates} rows repeat an earlier row exactly{(pass.DuplicatesChecked < pass.Kept ? $" (checked in the first {pass.DuplicatesChecked} rows)" : "")}; duplicates across splits make test metrics optimistic.",
            });
        }

        TargetStats? targetStats = null;
        if (task == TaskKind.Regression)
        {
            var (mean, std) = target.Train.WithImputed(0, 0);
            targetStats = new TargetStats { Mean = mean, Std = std, Min = target.Train.Min, Max = target.Train.Max };
        }

        return new Plan
        {
            Task = task,
            Labels = labels,
            LabelOfTargetId = labelOf,
            TargetStats = targetStats,
            Encodings = encodings,
            EncodedColumns = encoded,
            Features = features,
            Excluded = excluded,
        };
    }

    private (string Task, List<string> Labels, int[] LabelOf) DecideTarget(ColumnProfiler target, DatasetSpec spec)
    {
        var task = spec.Task?.Trim().ToLowerInvariant();
        if (task is null)
        {
            // Numbers, but for a few stray values (at most the share regression drops): a quantity, unless they are
            // integers with few distinct values (class codes). A stray "unknown" among prices must not make the
            // target a class per price; those rows are dropped as unreadable instead.
            var mostlyNumbers = (double)(target.Present - target.Numbers) / target.Present <= options.MaxUnparseableShare;
            var fewIntegers = mostlyNumbers && target.Integers && !target.Overflow &&
                target.Values.Select(v => RawValues.TryParseNumber(v, out var n) ? n : double.NaN).Where(n => !double.IsNaN(n)).Distinct().Count() <= options.MaxClassesForNumericTarget;
            task = !mostlyNumbers || fewIntegers ? TaskKind.Classification : TaskKind.Regression;
        }

        if (task == TaskKind.Regression)
        {
            var unreadable = target.Present - target.Numbers;
            if ((double)unreadable / target.Present > options.MaxUnparseableShare)
            {
                throw new DatasetRejectedException("non-numeric-target",
                    $"The target column '{target.Name}' is to be predicted as a number, but {unreadable} of {target.Present} values are not numbers (first '{target.FirstNonNumber}' at line {target.FirstNonNumberLine}).",
                    (int)target.FirstNonNumberLine);
            }

            return (task, [], []);
        }

        if (target.Overflow || target.Distinct > options.MaxClasses)
        {
            throw new DatasetRejectedException("too-many-classes",
                $"The target column '{target.Name}' has more than {options.MaxClasses} distinct values. If it is a quantity, set \"task\": \"regression\" in dataset.json.");
        }

        // Labels as text; numbers are written canonically so "1" and "1.0" are one class.
        var canonical = target.Values.Select(v => RawValues.TryParseNumber(v, out var n) ? n.ToString("R", CultureInfo.InvariantCulture) : v).ToArray();
        var labels = canonical.Distinct(StringComparer.Ordinal).ToList();
        if (labels.All(l => RawValues.TryParseNumber(l, out _)))
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

        var index = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i, StringComparer.Ordinal);
        return (task, labels, canonical.Select(l => index[l]).ToArray());
    }

    /// <summary>How many of the column's values read as <paramref name="kind"/>.</summary>
    private static long Readable(ColumnProfiler column, string kind) => kind switch
    {
        ColumnKinds.Numeric => column.Numbers,
        ColumnKinds.Boolean => column.Booleans,
        ColumnKinds.Datetime => column.Dates,
        _ => column.Present,
    };

    /// <summary>" (first that does not: 'x' at line n)" where it is known: the profiler keeps the first value that is not a number.</summary>
    private static string FirstUnreadable(ColumnProfiler column, string kind) =>
        kind == ColumnKinds.Numeric && column.FirstNonNumber is { } first ? $" (first that does not: '{first}' at line {column.FirstNonNumberLine})" : "";

    /// <summary>A declared type that most values do not read as: the column is used as declared, and the report says how many were imputed.</summary>
    private void WarnIfDeclaredTypeMostlyUnread(ColumnProfiler column, string kind, ValidationReport report)
    {
        if (column.Declared?.Type != kind || kind is not (ColumnKinds.Numeric or ColumnKinds.Boolean or ColumnKinds.Datetime))
        {
            return;
        }

        var readable = Readable(column, kind);
        if (readable < (1 - options.MaxUnparseableShare) * column.Present)
        {
            report.Warnings.Add(new ReportWarning
            {
                Code = "declared-type-unread",
                Message = $"dataset.json declares column '{column.Name}' as {kind}, but only {readable} of its {column.Present} values read as one{FirstUnreadable(column, kind)}; the others were imputed.",
            });
        }
    }

    /// <summary>The column's type and, when it is not a feature, why.</summary>
    private (string Kind, string? Reason) Infer(ColumnProfiler column)
    {
        var declaredType = column.Declared?.Type;
        if (declaredType is "ignore" or ColumnKinds.Text)
        {
            return (ColumnKinds.Text, $"declared '{declaredType}' in dataset.json");
        }

        if (column.Present == 0)
        {
            return (ColumnKinds.Empty, "all values missing");
        }

        var enough = (1 - options.MaxUnparseableShare) * column.Present;
        if (declaredType is not null)
        {
            return Readable(column, declaredType) == 0
                ? (ColumnKinds.Text, $"declared '{declaredType}' in dataset.json, but no value reads as one{FirstUnreadable(column, declaredType)}")
                : (declaredType, null);
        }

        if (column.Numbers >= enough)
        {
            return column.Consecutive && column.Present >= 20 && column.Missing == 0
                ? (ColumnKinds.Identifier, "identifier-like: consecutive integers (a row number?); declare it numeric in dataset.json to use it")
                : (ColumnKinds.Numeric, null);
        }

        if (column.Booleans >= enough && column.BooleanWords > 0)
        {
            return (ColumnKinds.Boolean, null);
        }

        if (column.Dates >= enough)
        {
            return (ColumnKinds.Datetime, null);
        }

        if (column.Distinct == 1 && !column.Overflow)
        {
            return (ColumnKinds.Constant, "a single value");
        }

        if (column.Overflow || column.Distinct > options.MaxCategoricalDistinct || (column.Distinct > 20 && column.Distinct > column.Present / 2))
        {
            var distinct = column.Overflow ? $"more than {column.Distinct}" : column.Distinct.ToString(CultureInfo.InvariantCulture);
            var hint = LooksLikeLocalizedNumber(column.FirstNonNumber)
                ? $"; values like '{column.FirstNonNumber}' look like numbers with thousands separators or a decimal comma: declare the column in dataset.json, e.g. \"columns\": {{\"{column.Name}\": {{\"type\": \"numeric\", \"decimalSeparator\": \",\"}}}}"
                : "";
            var freeText = (double)column.WithSpace / column.Present > 0.5 || (double)column.TotalLength / column.Present > 30;
            return freeText
                ? (ColumnKinds.Text, $"free text: {distinct} distinct values in {column.Present} rows{hint}")
                : (ColumnKinds.Identifier, $"identifier-like: {distinct} distinct values in {column.Present} rows{hint}");
        }

        if (column.Numbers > 0 && LooksLikeLocalizedNumber(column.FirstNonNumber))
        {
            return (ColumnKinds.Categorical, $"text: values like '{column.FirstNonNumber}' are not plain numbers; declare separators in dataset.json to read them as numbers");
        }

        return (ColumnKinds.Categorical, null);
    }

    private static bool LooksLikeLocalizedNumber(string? value) =>
        value is { Length: > 0 } && value.Any(char.IsAsciiDigit) && value.All(c => char.IsAsciiDigit(c) || c is ',' or '.' or ' ' or '-' or '\'') && value.Contains(',', StringComparison.Ordinal) | value.Count(c => c == '.') > 1;

    private static ColumnEncoding? EncodeNumeric(ColumnProfiler column, long trainRows, List<FeatureStats> features)
    {
        if (column.Train.Count == 0 || column.Train.Min == column.Train.Max)
        {
            return null;
        }

        var median = column.TrainMedian();
        var (mean, std) = column.Train.WithImputed(trainRows - column.Train.Count, median);
        features.Add(new FeatureStats
        {
            Name = column.Name, Mean = mean, Std = std, Min = column.Train.Min, Max = column.Train.Max, Median = median,
            Missing = (int)column.Missing, Unparseable = (int)(column.Present - column.Numbers),
        });
        return new ColumnEncoding
        {
            Column = column.Name, Kind = ColumnKinds.Numeric, Features = [column.Name], Missing = [median],
            DecimalSeparator = column.Declared?.DecimalSeparator, ThousandsSeparator = column.Declared?.ThousandsSeparator,
        };
    }

    private static ColumnEncoding? EncodeBoolean(ColumnProfiler column, long trainRows, List<FeatureStats> features)
    {
        if (column.TrainTrue == 0 || column.TrainTrue == column.TrainBooleans)
        {
            return null;
        }

        var mode = column.TrainTrue * 2 >= column.TrainBooleans ? 1.0 : 0.0;
        var mean = (column.TrainTrue + ((trainRows - column.TrainBooleans) * mode)) / trainRows;
        features.Add(new FeatureStats
        {
            Name = column.Name, Mean = mean, Std = Math.Sqrt(mean * (1 - mean)), Min = 0, Max = 1, Median = mode,
            Missing = (int)column.Missing, Unparseable = (int)(column.Present - column.Booleans),
        });
        return new ColumnEncoding { Column = column.Name, Kind = ColumnKinds.Boolean, Features = [column.Name], Missing = [mode] };
    }

    private static ColumnEncoding? EncodeCategorical(ColumnProfiler column, long trainRows, int maxCategories, List<FeatureStats> features)
    {
        var top = Enumerable.Range(0, column.Values.Count).Where(i => column.TrainCounts[i] > 0)
            .OrderByDescending(i => column.TrainCounts[i]).ThenBy(i => column.Values[i], StringComparer.Ordinal)
            .Take(maxCategories).ToList();
        if (top.Count == 0 || (top.Count == 1 && column.TrainCounts[top[0]] == trainRows))
        {
            return null;
        }

        var encoding = new ColumnEncoding { Column = column.Name, Kind = ColumnKinds.Categorical };
        var covered = 0L;
        foreach (var i in top)
        {
            encoding.Categories.Add(column.Values[i]);
            encoding.Features.Add(FeatureEncoder.CategoryFeature(column.Name, column.Values[i]));
            encoding.Missing.Add(0);
            covered += column.TrainCounts[i];
            features.Add(OneHotStats(encoding.Features[^1], (double)column.TrainCounts[i] / trainRows, column));
        }

        encoding.Features.Add(FeatureEncoder.CategoryFeature(column.Name, null));
        encoding.Missing.Add(1);
        features.Add(OneHotStats(encoding.Features[^1], (double)(trainRows - covered) / trainRows, column));
        return encoding;
    }

    private static FeatureStats OneHotStats(string name, double share, ColumnProfiler column) => new()
    {
        Name = name, Mean = share, Std = Math.Sqrt(share * (1 - share)), Min = share >= 1 ? 1 : 0, Max = share > 0 ? 1 : 0,
        Median = share >= 0.5 ? 1 : 0, Missing = (int)column.Missing,
    };

    private static ColumnEncoding? EncodeDatetime(ColumnProfiler column, long trainRows, List<FeatureStats> features)
    {
        var encoding = new ColumnEncoding { Column = column.Name, Kind = ColumnKinds.Datetime };
        for (var p = 0; p < DateTimeParts.All.Length; p++)
        {
            var part = DateTimeParts.All[p];
            var stats = column.TrainDateParts[p];
            if (stats.Count == 0 || stats.Min == stats.Max || (part == DateTimeParts.Hour && !column.DatesHaveTime))
            {
                continue;
            }

            var fill = Math.Round(stats.Mean);
            var (mean, std) = stats.WithImputed(trainRows - stats.Count, fill);
            var name = FeatureEncoder.PartFeature(column.Name, part);
            encoding.Parts.Add(part);
            encoding.Features.Add(name);
            encoding.Missing.Add(fill);
            features.Add(new FeatureStats
            {
                Name = name, Mean = mean, Std = std, Min = stats.Min, Max = stats.Max, Median = fill,
                Missing = (int)column.Missing, Unparseable = (int)(column.Present - column.Dates),
            });
        }

        return encoding.Parts.Count == 0 ? null : encoding;
    }

    private static void Leakage(ColumnProfiler column, string kind, string task, Pass1 pass, ValidationReport report)
    {
        string? message = null;
        if (column.Missing == 0 && column.IdenticalToTarget == column.Present)
        {
            message = $"Column '{column.Name}' is identical to the target: it leaks the answer. Drop it from the files or add it to \"ignore\" in dataset.json.";
        }
        else if (task == TaskKind.Classification && !column.Overflow && column.TargetConflicts == 0 && column.Distinct >= 2 && column.Distinct * 2 <= column.Present)
        {
            message = $"Column '{column.Name}' predicts the target perfectly (each of its {column.Distinct} values occurs with one class only): likely leakage.";
        }
        else if (task == TaskKind.Regression && kind == ColumnKinds.Numeric && Math.Abs(column.TargetComoment.Correlation) >= 0.999)
        {
            message = $"Column '{column.Name}' is almost perfectly correlated with the target (r = {column.TargetComoment.Correlation:F4}): likely leakage.";
        }

        if (message is not null)
        {
            report.Warnings.Add(new ReportWarning { Code = "leakage", Message = message });
        }
    }

    private static ColumnProfile Profile(ColumnProfiler column, long trainRows)
    {
        var profile = new ColumnProfile
        {
            Name = column.Name,
            Present = column.Present,
            Missing = column.Missing,
            MissingShare = column.Present + column.Missing == 0 ? 0 : Math.Round((double)column.Missing / (column.Present + column.Missing), 4),
            Distinct = column.Distinct,
            DistinctIsLowerBound = column.Overflow,
        };
        if (column.Train.Count > 0 && column.Numbers * 10 >= column.Present * 9)
        {
            profile.Min = column.Train.Min;
            profile.Max = column.Train.Max;
            var (mean, std) = column.Train.WithImputed(0, 0);
            profile.Mean = mean;
            profile.Std = std;
            profile.Unreadable = column.Present - column.Numbers;
        }
        else
        {
            profile.TopValues = Top(column, 5);
        }

        return profile;
    }

    private static List<ValueCount> Top(ColumnProfiler column, int count) =>
        Enumerable.Range(0, column.Values.Count).OrderByDescending(i => column.Counts[i]).ThenBy(i => column.Values[i], StringComparer.Ordinal).Take(count)
            .Select(i => new ValueCount { Value = column.Values[i].Length > 60 ? column.Values[i][..60] + "…" : column.Values[i], Count = column.Counts[i] }).ToList();

    /// <summary>
    /// Rows per row group of split <paramref name="split"/>: <see cref="PreprocessOptions.RowGroupSize"/> for train, and
    /// for validation and test that scaled by their share of the rows against train's. Every split then fills a row group
    /// from about as many rows of the data, and the six row-group buffers (two per split) hold ~2.9 times the option's
    /// rows instead of 6 times: at 100 MB 16 MB less memory, whose pages were each a fault (-2% CPU).
    /// </summary>
    private int RowGroupSize(int split, int features)
    {
        // A wide split gets fewer rows a group, so its buffer stays within MaxRowGroupBytes (floats: 4 bytes a value).
        var rows = (int)Math.Min(options.RowGroupSize, Math.Max(1, options.MaxRowGroupBytes / (4L * (features + 1))));
        if (split == 0)
        {
            return rows;
        }

        var share = split == 1 ? options.ValidationShare : options.TestShare;
        return Math.Max(1, (int)Math.Ceiling(rows * share / (1 - options.ValidationShare - options.TestShare)));
    }

    /// <summary>Parquet column chunks of the three split files: row groups times columns (the features and the target).</summary>
    private long ColumnChunks(long[] splitRows, int features)
    {
        long chunks = 0;
        for (var s = 0; s < splitRows.Length; s++)
        {
            var groupRows = Math.Max(1, RowGroupSize(s, features));
            chunks += (splitRows[s] + groupRows - 1) / groupRows * (features + 1L);
        }

        return chunks;
    }

    /// <summary>Pass 2: encodes every kept row from the spill of pass 1 and writes it to its split's Parquet file.</summary>
    private async Task<PreparedDataset> WriteAsync(Pass1 pass, Plan plan, ValidationReport report, RowSpill rows, string workDirectory, CancellationToken cancellationToken)
    {
        var encoder = new FeatureEncoder(plan.Encodings);
        var decoders = plan.Encodings.Select((e, i) => new CellDecoder(e, pass.Profilers[plan.EncodedColumns[i]])).ToArray();
        var tasks = new ColumnTasks(decoders.Length);
        var paths = SplitNames.ToDictionary(s => s, s => Path.Combine(workDirectory, s + ".parquet"));
        var streams = new List<FileStream>();
        var writers = new DatasetParquetWriter[SplitNames.Length];
        var targetProfiler = pass.Profilers[pass.Target];
        var classification = plan.Task == TaskKind.Classification;
        long imputed = 0, unreadableTarget = 0;
        try
        {
            for (var s = 0; s < SplitNames.Length; s++)
            {
                var stream = LocalFile.Create(paths[SplitNames[s]], FileAccess.ReadWrite);
                streams.Add(stream);
                writers[s] = await DatasetParquetWriter.CreateAsync(stream, encoder.FeatureNames, encoder.BinaryFeatures, RowGroupSize(s, encoder.Width), cancellationToken).ConfigureAwait(false);
            }

            // Per split: the block's kept rows (indices into the page) and where they start in the split's row group.
            var bySplit = new int[writers.Length][];
            var inSplit = new int[writers.Length];
            var firsts = new int[writers.Length];
            for (var s = 0; s < writers.Length; s++)
            {
                bySplit[s] = [];
            }

            rows.Rewind();
            while (rows.Read())
            {
                cancellationToken.ThrowIfCancellationRequested();
                Array.Clear(inSplit);
                foreach (var split in rows.Split.AsSpan(0, rows.Count))
                {
                    inSplit[split]++;
                }

                // Room for each split's share of the block only: a split's row groups fill to the row-group size.
                for (var s = 0; s < writers.Length; s++)
                {
                    await writers[s].ReserveAsync(inSplit[s], cancellationToken).ConfigureAwait(false);
                    if (bySplit[s].Length < inSplit[s])
                    {
                        bySplit[s] = new int[rows.Count];
                    }

                    inSplit[s] = 0;
                    firsts[s] = writers[s].Count;
                }

                for (var k = 0; k < rows.Count; k++)
                {
                    float target;
                    if (classification)
                    {
                        target = plan.LabelOfTargetId[rows.TargetId[k]];
                    }
                    else if (Math.Abs(rows.TargetNumber[k]) <= float.MaxValue)
                    {
                        target = (float)rows.TargetNumber[k];
                    }
                    else
                    {
                        unreadableTarget++;
                        continue;
                    }

                    // A split's rows of the block are consecutive in its row group.
                    var split = rows.Split[k];
                    writers[split].Add(target);
                    bySplit[split][inSplit[split]++] = k;
                }

                // Each encoded column decodes its cells straight into the splits' buffers, one column per task.
                tasks.Run(e =>
                {
                    var column = plan.EncodedColumns[e];
                    long missing = 0;
                    for (var s = 0; s < writers.Length; s++)
                    {
                        missing += decoders[e].Decode(rows.Code[column], rows.Slot[column], bySplit[s].AsSpan(0, inSplit[s]), writers[s], encoder.OffsetOf(e), firsts[s]);
                    }

                    Interlocked.Add(ref imputed, missing);
                }, cancellationToken);
            }

            if (unreadableTarget > 0)
            {
                pass.Dropped["unreadable-target"] = new DroppedRows { Reason = "unreadable-target", Count = unreadableTarget, Examples = pass.NonNumericTargetExamples };
            }

            // The splits' last row groups are written at once (one after another, the tail took the three in turn).
            await Task.WhenAll(writers.Select(w => w.FlushAsync(cancellationToken))).ConfigureAwait(false);
        }
        finally
        {
            foreach (var writer in writers.Where(w => w is not null))
            {
                await writer.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var stream in streams)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }

        var counts = writers.Select(w => w.RowCount).ToArray();
        var used = counts.Sum();
        var rowCounts = report.Rows;
        rowCounts.Used = (int)used;
        rowCounts.Train = (int)counts[0];
        rowCounts.Validation = (int)counts[1];
        rowCounts.Test = (int)counts[2];
        rowCounts.DroppedUnreadableTarget = (int)unreadableTarget;
        rowCounts.ImputedCells = (int)imputed;
        report.Dropped = [.. pass.Dropped.Values];
        if (used < options.MinRows || counts.Any(c => c == 0))
        {
            throw new DatasetRejectedException("too-few-rows",
                $"{used} usable rows ({counts[0]} train, {counts[1]} validation, {counts[2]} test); at least {options.MinRows}, and some in every split, are needed to train and test a model.");
        }

        var dropped = pass.Ragged + pass.MissingTarget + unreadableTarget;
        if (dropped > 0)
        {
            var reasons = string.Join(", ", report.Dropped.Select(d => $"{d.Count} {d.Reason}"));
            var first = report.Dropped.SelectMany(d => d.Examples).OrderBy(e => e.Line).FirstOrDefault();
            report.Warnings.Insert(0, new ReportWarning
            {
                Code = "dropped-rows",
                Message = $"{dropped} of {pass.Read} rows were dropped ({reasons}){(first is null ? "" : $", first at line {first.Line} of {first.Blob}")}; trained on the remaining {used} ({100.0 * used / pass.Read:F1}%).",
            });
        }

        if (imputed > 0)
        {
            report.Warnings.Add(new ReportWarning { Code = "imputed", Message = $"{imputed} missing or unreadable feature cells were replaced by train-split medians (numbers), modes (booleans), means (dates) or 'other' (categories)." });
        }

        report.Status = "accepted";
        return new PreparedDataset
        {
            Task = plan.Task,
            Target = targetProfiler.Name,
            Features = plan.Features,
            Labels = plan.Labels,
            TargetStats = plan.TargetStats,
            ExcludedColumns = plan.Excluded,
            Rows = rowCounts,
            Warnings = report.Warnings.Select(w => w.Message).ToList(),
            Encodings = plan.Encodings,
            Files = report.Files,
            Report = report,
            SplitFiles = paths,
        };
    }
}
