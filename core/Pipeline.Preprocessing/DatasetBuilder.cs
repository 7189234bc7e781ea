using System.Globalization;
using System.IO.Hashing;
using System.Numerics;
using System.Runtime.InteropServices;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing.Formats;

namespace Pipeline.Preprocessing;

/// <summary>
/// Turns the data files of a dataset into a <see cref="PreparedDataset"/> in bounded memory, in two streaming passes:
/// pass 1 profiles every column (types, distinct values, train-split statistics, leakage and duplicate checks), then the
/// column types, encodings and imputation values are decided; pass 2 encodes every kept row and writes it to its split's
/// Parquet file in row groups. Nothing proportional to the row count is held but the duplicate-check hashes (capped).
/// Throws <see cref="DatasetRejectedException"/> (with the report so far) with a reason a data team can act on.
/// </summary>
public sealed partial class DatasetBuilder(PreprocessOptions options)
{
    /// <summary>Rows are dealt to splits in blocks of this many kept rows of a file, by a seeded permutation per block.</summary>
    private const int SplitBlock = 20;

    private static readonly string[] SplitNames = ["train", "validation", "test"];

    public async Task<PreparedDataset> BuildAsync(IReadOnlyList<DataFile> files, DatasetSpec? spec, string workDirectory, CancellationToken cancellationToken)
    {
        spec ??= new DatasetSpec();
        var report = new ValidationReport
        {
            Status = "rejected",
            Files = files.Select(f => new FileReport { Blob = f.Blob, Sha256 = f.Sha256, Bytes = f.Bytes }).ToList(),
        };
        try
        {
            var declared = ValidateSpec(spec);
            var excluded = new HashSet<int>();
            Directory.CreateDirectory(workDirectory);
            using var spill = new RowSpill(Path.Combine(workDirectory, "rows.spill"));
            Pass1? pass1;
            do
            {
                pass1 = await ProfileAsync(files, spec, declared, report, excluded, spill, cancellationToken).ConfigureAwait(false);
            }
            while (pass1 is null);

            var plan = Decide(pass1, spec, declared, report);
            return await WriteAsync(pass1, plan, report, spill, workDirectory, cancellationToken).ConfigureAwait(false);
        }
        catch (DatasetRejectedException e)
        {
            e.Report ??= report;
            throw;
        }
    }

    private static Dictionary<string, ColumnSpec> ValidateSpec(DatasetSpec spec)
    {
        var task = spec.Task?.Trim().ToLowerInvariant();
        if (task is not null && !TaskKind.IsKnown(task))
        {
            throw new DatasetRejectedException("invalid-spec", $"dataset.json has task '{spec.Task}'; use '{TaskKind.Classification}' or '{TaskKind.Regression}'.");
        }

        if (spec.MaxCategories is < 1 or > 1000)
        {
            throw new DatasetRejectedException("invalid-spec", $"dataset.json has maxCategories {spec.MaxCategories}; use 1 to 1000.");
        }

        var declared = new Dictionary<string, ColumnSpec>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, column) in spec.Columns ?? [])
        {
            var type = column.Type?.Trim().ToLowerInvariant();
            if (type is not null && !ColumnKinds.Declarable.Contains(type))
            {
                throw new DatasetRejectedException("invalid-spec", $"dataset.json declares column '{name}' as '{column.Type}'; use one of {string.Join(", ", ColumnKinds.Declarable)}.");
            }

            if (column.DecimalSeparator is { Length: not 1 } || column.ThousandsSeparator is { Length: not 1 })
            {
                throw new DatasetRejectedException("invalid-spec", $"dataset.json column '{name}': separators are single characters, e.g. \",\".");
            }

            declared[name.Trim()] = new ColumnSpec { Type = type, DecimalSeparator = column.DecimalSeparator, ThousandsSeparator = column.ThousandsSeparator };
        }

        return declared;
    }

    private sealed class Pass1(string[] columns, int target, ColumnProfiler[] profilers)
    {
        public string[] Columns { get; } = columns;

        public int Target { get; } = target;

        public ColumnProfiler[] Profilers { get; } = profilers;

        public long Read { get; set; }

        public long Kept { get; set; }

        public long[] SplitRows { get; } = new long[3];

        public long Ragged { get; set; }

        public long MissingTarget { get; set; }

        public long Duplicates { get; set; }

        public long DuplicatesChecked { get; set; }

        public Dictionary<string, DroppedRows> Dropped { get; } = [];

        /// <summary>Examples of kept rows whose target is not a number: dropped in pass 2 when the task is regression.</summary>
        public List<RowExample> NonNumericTargetExamples { get; } = [];
    }

    /// <summary>Pass 1. Returns null when a file failed part-way and the profile must be redone without it.</summary>
    private async Task<Pass1?> ProfileAsync(IReadOnlyList<DataFile> files, DatasetSpec spec, Dictionary<string, ColumnSpec> declared,
        ValidationReport report, HashSet<int> excluded, RowSpill rows, CancellationToken cancellationToken)
    {
        Pass1? pass = null;
        var schemaFile = -1;
        var encodingWarnings = new List<ReportWarning>(); // of the files used, said once the files are known
        var hashes = new RowHashSet();
        var reserved = false;
        ulong[] rowHashes = [];
        ColumnTasks? tasks = null;
        for (var f = 0; f < files.Count; f++)
        {
            if (excluded.Contains(f))
            {
                continue;
            }

            var file = files[f];
            var fileReport = report.Files[f];
            long fileRows = 0, fileRagged = 0;
            long? firstRagged = null;
            try
            {
                await using var blocks = new BlockReadAhead(await TabularReader.OpenAsync(file.Path, file.Blob, cancellationToken, options.MaxGzipRatio, options.MaxParquetRowGroupBytes).ConfigureAwait(false), cancellationToken);
                var reader = blocks.Reader;
                fileReport.Format = reader.Format;
                fileReport.Delimiter = reader.Delimiter;
                if (reader.Columns.Count > options.MaxColumns)
                {
                    throw new DatasetRejectedException("too-many-columns",
                        $"The file has {reader.Columns.Count} columns; at most {options.MaxColumns} are read (Preprocess:MaxColumns). Keep the columns a model should learn from, or split the file.", 1);
                }

                var names = CheckHeader(reader.Columns);
                int[] ordinals;
                if (pass is null)
                {
                    var target = ResolveTarget(names, spec);
                    var budget = ProfileBudget.For(options, names.Length);
                    var created = names.Select((n, i) => new ColumnProfiler(n, declared.GetValueOrDefault(n), budget.TrackedDistinct, budget.MedianSampleSize, options.SplitSeed + i, options.MaxCategoricalDistinct, budget.TrackedChars)).ToArray();
                    pass = new Pass1(names, target, created);
                    schemaFile = f;
                    rows.Start(names.Length, target);
                    ordinals = Enumerable.Range(0, names.Length).ToArray();
                }
                else
                {
                    ordinals = MapColumns(pass.Columns, names);
                }

                var profilers = pass.Profilers;
                tasks ??= new ColumnTasks(profilers.Length + 1);
                var targetProfiler = profilers[pass.Target];
                var targetOrdinal = ordinals[pass.Target];
                var rawHash = ordinals.Select((o, i) => o == i).All(x => x);
                var splitter = new Splitter(options, file.Sha256);
                while (await blocks.NextAsync().ConfigureAwait(false) is { } block)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    rows.Clear();
                    var (blockRows, blockRagged, blockFirstRagged) = KeepRows(block, names.Length, pass, targetProfiler, targetOrdinal, splitter, rows, file.Blob);
                    fileRows += blockRows;
                    fileRagged += blockRagged;
                    firstRagged ??= blockFirstRagged;

                    if (!reserved && block.Count > 0)
                    {
                        reserved = true;
                        hashes.Reserve(ExpectedRows(files, excluded, block));
                    }

                    // Every other column sees the kept rows in order, one column per task; one more task checks for duplicates.
                    tasks.Run(c =>
                    {
                        if (c == profilers.Length)
                        {
                            // The block's rows hashed first and looked up after: lookups with nothing in between overlap
                            // their cache misses in the table (most of this task's time).
                            var count = (int)Math.Clamp(options.MaxDuplicateCheckRows - pass.DuplicatesChecked, 0, rows.Count);
                            if (rowHashes.Length < count)
                            {
                                rowHashes = new ulong[Math.Max(count, rowHashes.Length * 2)];
                            }

                            for (var k = 0; k < count; k++)
                            {
                                rowHashes[k] = RowHash(block, rows.Row[k], rawHash ? null : ordinals);
                            }

                            pass.DuplicatesChecked += count;
                            pass.Duplicates += hashes.AddRange(rowHashes.AsSpan(0, count));
                            return;
                        }

                        if (c == pass.Target)
                        {
                            return;
                        }

                        profilers[c].ObserveRows(block, ordinals[c], targetOrdinal, rows, c);
                    }, cancellationToken);
                    rows.Write();
                    if (fileRows >= EncodingSampleRows)
                    {
                        // A file in another encoding (bad sequences in most rows) is told apart within its first rows, not
                        // after all of it. The reader decodes a block ahead, so its count may cover up to twice the rows
                        // profiled: more sequences than rows is far past the share the end of the file is held to.
                        _ = CheckEncoding(reader, file, fileRows, share: 1);
                    }
                }

                fileReport.Rows = fileRows;
                if (fileRows == 0)
                {
                    throw new DatasetRejectedException("header-only", "The file has a header row but no data rows.") { Blob = file.Blob };
                }

                var encodingWarning = CheckEncoding(reader, file, fileRows, options.MaxRaggedShare);

                if ((double)fileRagged / fileRows > options.MaxRaggedShare)
                {
                    throw new DatasetRejectedException("ragged-rows",
                        $"{fileRagged} of {fileRows} rows have a different number of fields than the header ({names.Length}) or could not be read; first at line {firstRagged}.",
                        (int?)firstRagged) { Blob = file.Blob };
                }

                pass.Read += fileRows;
                pass.Ragged += fileRagged;
                fileReport.Used = true;
                if (encodingWarning is not null)
                {
                    encodingWarnings.Add(encodingWarning);
                }
            }
            catch (DatasetRejectedException e)
            {
                fileReport.Used = false;
                fileReport.Reason = e.Reason;
                fileReport.Message = e.Message;
                fileReport.Line = e.Line;
                excluded.Add(f);
                if (files.Count == 1 || e.Reason is "target-not-found")
                {
                    // The rows dropped so far (ragged ones, with their lines) explain a rejection such as ragged-rows.
                    report.Dropped = pass is null ? [] : [.. pass.Dropped.Values];
                    throw;
                }

                if (pass is not null && (fileRows > 0 || schemaFile == f))
                {
                    // Rows of this file were profiled, or its header set the columns and the target: profile the
                    // remaining files again without it.
                    foreach (var other in report.Files.Where(r => r.Used))
                    {
                        other.Used = false;
                    }

                    return null;
                }
            }
        }

        if (pass is null || !report.Files.Any(r => r.Used))
        {
            var reasons = string.Join("; ", report.Files.Select(r => $"{r.Blob}: {r.Message}"));
            throw new DatasetRejectedException("no-usable-files", $"No file of the dataset can be used. {reasons}");
        }

        foreach (var skipped in report.Files.Where(r => !r.Used))
        {
            report.Warnings.Add(new ReportWarning { Code = "file-skipped", Message = $"{skipped.Blob} was not used: {skipped.Message}" });
        }

        report.Warnings.AddRange(encodingWarnings);
        return pass;
    }

    /// <summary>
    /// Pass 1's row loop for a block (a method of its own, not part of the async loop around it, whose locals live in
    /// its state machine): drops blank rows, ragged rows and rows without a target (the last two with examples), deals
    /// the rest to their splits, observes their target and adds them to <paramref name="rows"/>. Returns the block's
    /// rows (blank ones not counted), its ragged rows and the line of the first of them.
    /// </summary>
    private (long Rows, long Ragged, long? FirstRagged) KeepRows(RowBlock block, int columns, Pass1 pass, ColumnProfiler targetProfiler, int targetOrdinal,
        Splitter splitter, RowSpill rows, string blob)
    {
        long read = 0, ragged = 0;
        long? firstRagged = null;
        for (var r = 0; r < block.Count; r++)
        {
            if (block.FieldCount(r) != columns)
            {
                if (block.IsBlank(r))
                {
                    continue;
                }

                read++;
                ragged++;
                firstRagged ??= block.Line(r);
                // Unreadable rows (a JSON line that is not a JSON object, a CSV line whose quote never closes) count with the
                // ragged ones towards the share that rejects a file, under their own reason.
                AddDropped(pass.Dropped, block.FieldCount(r) < 0 ? "unreadable" : "ragged", blob, block, r);
                continue;
            }

            read++;
            var targetText = block.Field(r, targetOrdinal);
            if (RawValues.IsMissing(targetText))
            {
                pass.MissingTarget++;
                AddDropped(pass.Dropped, "missing-target", blob, block, r);
                continue;
            }

            var split = splitter.Next();
            var train = split == 0;
            pass.SplitRows[split]++;
            var targetId = targetProfiler.Observe(targetText, train, -1, double.NaN, default, block.Line(r), out _);
            var targetNumber = RawValues.TryParseNumber(targetText, out var number) ? number : double.NaN;
            if (!(Math.Abs(targetNumber) <= float.MaxValue))
            {
                // Dropped in pass 2 if the target turns out to be a number.
                if (pass.NonNumericTargetExamples.Count < options.DroppedExamples)
                {
                    pass.NonNumericTargetExamples.Add(new RowExample { Blob = blob, Line = block.Line(r), Text = block.Describe(r) });
                }
            }

            rows.Add(r, train, (byte)split, targetId, targetNumber);
            pass.Kept++;
        }

        return (read, ragged, firstRagged);
    }

    /// <summary>Rows of a file after which its byte sequences that are not UTF-8 are checked block by block.</summary>
    private const int EncodingSampleRows = 1000;

    /// <summary>
    /// A file with byte sequences that are not UTF-8 (read as U+FFFD): a few (damage, a pasted character of another
    /// encoding: at most <paramref name="share"/> of a sequence per row, at the end of the file one per ten rows,
    /// <see cref="PreprocessOptions.MaxRaggedShare"/>) leave the file usable, and the warning naming the first line is
    /// returned; more mean the file is in another encoding, and it is rejected saying so.
    /// </summary>
    private static ReportWarning? CheckEncoding(TabularReader reader, DataFile file, long fileRows, double share)
    {
        var invalid = reader.InvalidSequences;
        if (invalid == 0)
        {
            return null;
        }

        var line = reader.FirstInvalidLine;
        if (invalid > share * Math.Max(1, fileRows))
        {
            throw new DatasetRejectedException("not-utf8",
                $"The file is not UTF-8 text: {invalid} byte sequences in {fileRows} rows are not UTF-8, the first at line {line}. It is probably in another encoding (e.g. Windows-1252 from Excel): save it as \"CSV UTF-8\" and upload it again.",
                (int)Math.Min(line, int.MaxValue)) { Blob = file.Blob };
        }

        return new ReportWarning
        {
            Code = "invalid-utf8",
            Message = $"{file.Blob}: {invalid} byte sequence(s) that are not UTF-8 were read as '\uFFFD', the first at line {line}; the values holding them may be wrong.",
        };
    }

    /// <summary>
    /// The rows the duplicate check will take, estimated from the first block: the bytes of the files to read over the bytes
    /// a row of the block takes (its text and a line break). Compressed files make it low (the set then grows as it fills);
    /// text far from ASCII makes it high, and <see cref="PreprocessOptions.MaxDuplicateCheckRows"/> bounds it.
    /// </summary>
    private long ExpectedRows(IReadOnlyList<DataFile> files, HashSet<int> excluded, RowBlock block)
    {
        long bytes = 0, rowBytes = 0;
        for (var f = 0; f < files.Count; f++)
        {
            bytes += excluded.Contains(f) ? 0 : files[f].Bytes;
        }

        for (var r = 0; r < block.Count; r++)
        {
            rowBytes += block.Raw(r).Length + 1;
        }

        return Math.Min(options.MaxDuplicateCheckRows, bytes / Math.Max(1, rowBytes / block.Count));
    }

    private static string[] CheckHeader(IReadOnlyList<string> header)
    {
        if (header.Count == 0)
        {
            throw new DatasetRejectedException("no-columns", "The first row names no columns.", 1);
        }

        var names = new string[header.Count];
        // Names that differ only in case are different columns, as in pandas and Parquet.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            var name = header[i].Trim();
            if (name.Contains('\0', StringComparison.Ordinal))
            {
                throw new DatasetRejectedException("binary-content", "The header contains NUL characters: the file looks binary.", 1);
            }

            names[i] = name.Length == 0 ? $"column{i + 1}" : name;
            if (!seen.Add(names[i]))
            {
                throw new DatasetRejectedException("duplicate-column", $"The header names column '{names[i]}' more than once; column names must be unique.", 1);
            }
        }

        if (names.Length < 2)
        {
            throw new DatasetRejectedException("one-column",
                $"The header has one column ('{names[0]}'); at least one feature column and a target column are needed. If the file is not comma-separated, check its delimiter.");
        }

        return names;
    }

    private static int[] MapColumns(string[] schema, string[] names)
    {
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        var missing = schema.Where(c => !index.ContainsKey(c)).ToList();
        var extra = names.Where(n => !schema.Contains(n, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0 || extra.Count > 0)
        {
            throw new DatasetRejectedException("schema-mismatch",
                $"The file's columns differ from the dataset's ({string.Join(", ", schema)}): " +
                $"{(missing.Count > 0 ? "missing " + string.Join(", ", missing) : "")}{(missing.Count > 0 && extra.Count > 0 ? "; " : "")}{(extra.Count > 0 ? "extra " + string.Join(", ", extra) : "")}.", 1);
        }

        return schema.Select(c => index[c]).ToArray();
    }

    private static int ResolveTarget(string[] names, DatasetSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.Target))
        {
            return names.Length - 1;
        }

        // The column of that exact name, else the one column whose name differs from it only in case.
        var wanted = spec.Target.Trim();
        var index = Array.FindIndex(names, n => n.Equals(wanted, StringComparison.Ordinal));
        if (index >= 0)
        {
            return index;
        }

        var matches = names.Select((n, i) => (n, i)).Where(p => p.n.Equals(wanted, StringComparison.OrdinalIgnoreCase)).ToList();
        return matches.Count switch
        {
            1 => matches[0].i,
            0 => throw new DatasetRejectedException("target-not-found",
                $"dataset.json names target '{spec.Target}', but the header has no such column. Columns: {string.Join(", ", names)}.", 1),
            _ => throw new DatasetRejectedException("target-not-found",
                $"dataset.json names target '{spec.Target}'; the header has {string.Join(" and ", matches.Select(m => $"'{m.n}'"))}, which differ only in case: name one exactly.", 1),
        };
    }

    /// <summary>A row's hash for the duplicate check: of the text as read, or of the fields in schema order when the file orders them differently.</summary>
    private static ulong RowHash(RowBlock block, int row, int[]? ordinals)
    {
        ulong hash;
        if (ordinals is null)
        {
            hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(block.Raw(row)));
        }
        else
        {
            hash = 0x1FUL;
            foreach (var ordinal in ordinals)
            {
                hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(block.Field(row, ordinal)), (long)hash);
            }
        }

        return hash == 0 ? 1 : hash;
    }

    private void AddDropped(Dictionary<string, DroppedRows> dropped, string reason, string blob, RowBlock block, int row)
    {
        if (!dropped.TryGetValue(reason, out var group))
        {
            dropped[reason] = group = new DroppedRows { Reason = reason };
        }

        group.Count++;
        if (group.Examples.Count < options.DroppedExamples)
        {
            group.Examples.Add(new RowExample { Blob = blob, Line = block.Line(row), Text = block.Describe(row) });
        }
    }

    /// <summary>Deals a file's kept rows to train (0), validation (1) and test (2): a seeded permutation per block of 20 rows.</summary>
    private sealed class Splitter
    {
        private readonly int[] _slots = new int[SplitBlock];
        private readonly ulong _key;
        private readonly int _seed;
        private readonly int _test;
        private readonly int _validation;
        private long _row;

        public Splitter(PreprocessOptions options, string sha256)
        {
            _key = ulong.Parse(sha256.AsSpan(0, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            _seed = options.SplitSeed;
            _test = Math.Max(1, (int)Math.Round(SplitBlock * options.TestShare));
            _validation = Math.Max(1, (int)Math.Round(SplitBlock * options.ValidationShare));
        }

        public int Next()
        {
            var position = (int)(_row % SplitBlock);
            if (position == 0)
            {
                for (var i = 0; i < SplitBlock; i++)
                {
                    _slots[i] = i;
                }

                // Fisher-Yates with a SplitMix64 stream seeded by (seed, file, block): deterministic across runs and platforms.
                var state = _key ^ ((ulong)_seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)(_row / SplitBlock) * 0xBF58476D1CE4E5B9UL);
                for (var i = SplitBlock - 1; i > 0; i--)
                {
                    state += 0x9E3779B97F4A7C15UL;
                    var j = (int)(Mix(state) % (ulong)(i + 1));
                    (_slots[i], _slots[j]) = (_slots[j], _slots[i]);
                }
            }

            _row++;
            var slot = _slots[position];
            return slot < _test ? 2 : slot < _test + _validation ? 1 : 0;
        }

        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Open-addressing set of non-zero 64-bit row hashes: 8 bytes a slot, three quarters full at most.</summary>
    private sealed class RowHashSet
    {
        /// <summary>The table: megabytes filled at random, so on huge pages where the host has them (<see cref="LargeBuffers"/>).</summary>
        private ArraySegment<ulong> _slots = ArraySegment<ulong>.Empty;
        private int _count;

        /// <summary>
        /// Makes room for <paramref name="rows"/> hashes at once. Growing by doubling instead rehashes every hash so far at
        /// each step, on the block's critical path (its last step, at 512 K rows, held up a block for ~20 ms), and the
        /// tables it discards were fresh memory, each page a fault.
        /// </summary>
        public void Reserve(long rows)
        {
            var slots = (int)Math.Min(BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1, ((rows * 4) + 2) / 3)), 1 << 30);
            if (slots > _slots.Count)
            {
                Rehash(slots);
            }
        }

        /// <summary>Adds <paramref name="hashes"/>; returns how many were in the set already.</summary>
        public int AddRange(ReadOnlySpan<ulong> hashes)
        {
            var present = 0;
            var slots = _slots.AsSpan();
            foreach (var hash in hashes)
            {
                if ((long)_count * 4 >= (long)slots.Length * 3)
                {
                    Rehash(Math.Max(1 << 16, slots.Length * 2));
                    slots = _slots.AsSpan();
                }

                if (Insert(slots, hash))
                {
                    _count++;
                }
                else
                {
                    present++;
                }
            }

            return present;
        }

        /// <summary>Puts <paramref name="hash"/> in the table; false when it was there already.</summary>
        private static bool Insert(Span<ulong> slots, ulong hash)
        {
            var mask = slots.Length - 1;
            for (var i = (int)(hash & (ulong)mask); ; i = (i + 1) & mask)
            {
                if (slots[i] == hash)
                {
                    return false;
                }

                if (slots[i] == 0)
                {
                    slots[i] = hash;
                    return true;
                }
            }
        }

        private void Rehash(int slots)
        {
            var old = _slots;
            _slots = LargeBuffers.Allocate<ulong>(slots);
            var table = _slots.AsSpan();
            foreach (var h in old)
            {
                if (h != 0)
                {
                    _ = Insert(table, h);
                }
            }
        }
    }
}
