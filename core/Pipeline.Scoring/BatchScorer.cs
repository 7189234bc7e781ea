using System.Buffers;
using System.IO.Compression;
using System.Threading.Channels;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing;
using Pipeline.Preprocessing.Formats;
using Pipeline.Storage;

namespace Pipeline.Scoring;

/// <summary>Where the predictions of one file went.</summary>
public sealed record ScoredFile(string OutputName, string OutputFormat);

/// <summary>
/// Scores one local file: reads it a block of rows at a time with the preprocessing readers, encodes each row with the
/// model's <see cref="FeatureEncoder"/> (the serving app's rules: unknown categories go to "other", missing values are
/// imputed), runs the block's good rows through the model in one call and writes them, in input order, with their
/// prediction. A row that cannot be scored — ragged, unreadable, a value that does not read as its column's kind, an
/// output that is not finite — is counted and listed in the report with its line and reason; it never fails the file.
/// Memory is bounded by the blocks of rows in flight (three) and a Parquet row group, whatever the file's size.
/// </summary>
public sealed class BatchScorer(ScoringOptions options)
{
    /// <summary>
    /// Scores <paramref name="inputPath"/> (a local copy of <paramref name="fileName"/>) into <paramref name="outputPath"/>,
    /// counting rows into <paramref name="report"/>. Throws <see cref="ScoringException"/> when the file as a whole cannot
    /// be scored (unreadable, missing columns).
    /// </summary>
    public async Task<ScoredFile> ScoreAsync(string inputPath, string fileName, ScoringModel model, string outputPath, ScoringReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(report);
        TabularReader reader;
        try
        {
            reader = await TabularReader.OpenAsync(inputPath, fileName, cancellationToken).ConfigureAwait(false);
        }
        catch (DatasetRejectedException e)
        {
            throw new ScoringException(ScoringFailure.UnreadableFile, e.Message, e);
        }

        using (reader)
        {
            report.Format = reader.Format;
            var map = MapColumns(reader.Columns, model);
            var (outputName, outputFormat) = OutputOf(fileName, reader.Format, options.OutputFormat);
            report.OutputFormat = outputFormat;
            await using var file = new FileStream(outputPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            Stream stream = outputFormat.EndsWith("+gzip", StringComparison.Ordinal) ? new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true) : file;
            try
            {
                var writer = outputFormat.StartsWith("parquet", StringComparison.Ordinal) ? new ParquetPredictionWriter(stream, options.ParquetRowGroupRows, reader.Columns, model)
                    : outputFormat.StartsWith("jsonl", StringComparison.Ordinal) ? new JsonLinesPredictionWriter(stream, reader.Columns, model)
                    : (PredictionWriter)new CsvPredictionWriter(stream, DelimiterOf(reader), reader.Columns, model);
                await using (writer.ConfigureAwait(false))
                {
                    await ScoreRowsAsync(reader, model, map, writer, report, cancellationToken).ConfigureAwait(false);
                    await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                if (stream != file)
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                }
            }

            return new ScoredFile(outputName, outputFormat);
        }
    }

    /// <summary>
    /// Two stages on two threads, so writing one block overlaps reading the next: the reader thread fills a block's rows,
    /// encodes them and runs the model; this one writes them. Blocks cycle between the stages (<see cref="BlocksInFlight"/>
    /// of them), which is what bounds memory.
    /// </summary>
    private async Task ScoreRowsAsync(TabularReader reader, ScoringModel model, int[] map, PredictionWriter writer, ScoringReport report, CancellationToken cancellationToken)
    {
        var free = Channel.CreateBounded<EncodedBlock>(BlocksInFlight);
        var full = Channel.CreateBounded<EncodedBlock>(new BoundedChannelOptions(BlocksInFlight) { SingleReader = true, SingleWriter = true });
        var blocks = Enumerable.Range(0, BlocksInFlight).Select(_ => new EncodedBlock(model)).ToList();
        foreach (var block in blocks)
        {
            free.Writer.TryWrite(block);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() => ReadEncodeAndPredictAsync(reader, model, map, free.Reader, full.Writer, stop.Token), stop.Token);
        try
        {
            await foreach (var block in full.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                await WriteAsync(block, model, writer, report, cancellationToken).ConfigureAwait(false);
                free.Writer.TryWrite(block);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }

            foreach (var block in blocks)
            {
                block.Dispose();
            }
        }

        // The reader stage's failure, if any, completed the channel: rethrown here.
        await full.Reader.Completion.ConfigureAwait(false);
    }

    /// <summary>Blocks of rows between the stages: one being read, one waiting, one being written.</summary>
    private const int BlocksInFlight = 3;

    private static async Task ReadEncodeAndPredictAsync(TabularReader reader, ScoringModel model, int[] map, ChannelReader<EncodedBlock> free, ChannelWriter<EncodedBlock> full, CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            var width = model.FeatureCount;
            while (true)
            {
                var block = await free.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (!ReadBlock(reader, block.Rows, cancellationToken))
                {
                    break;
                }

                var rows = block.Rows;
                block.Reset(rows.Count);
                for (var r = 0; r < rows.Count; r++)
                {
                    if (rows.IsBlank(r))
                    {
                        continue;
                    }

                    block.NonBlank++;
                    var reason = rows.FieldCount(r) < 0 ? "the row cannot be read: " + rows.Describe(r)
                        : rows.FieldCount(r) != reader.Columns.Count ? $"the row has {rows.FieldCount(r)} fields; the header has {reader.Columns.Count}"
                        : Encode(rows, r, model, map, block.Features.AsSpan(block.Good * width, width));
                    if (reason is null)
                    {
                        block.GoodRows[block.Good++] = r;
                    }
                    else
                    {
                        block.Bad.Add(new BadRow { Line = rows.Line(r), Reason = reason });
                    }
                }

                Predict(block, model);
                await full.WriteAsync(block, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }

        full.TryComplete(failure);
    }

    /// <summary>Runs the model on the block's encoded rows; a row whose output is not finite joins the bad rows.</summary>
    private static void Predict(EncodedBlock block, ScoringModel model)
    {
        if (block.Good == 0)
        {
            return;
        }

        var width = model.OutputWidth;
        var output = block.Output;
        model.Run(block.Features, block.Good, output);
        var kept = 0;
        for (var i = 0; i < block.Good; i++)
        {
            if (!AllFinite(output.AsSpan(i * width, width)))
            {
                block.Bad.Add(new BadRow { Line = block.Rows.Line(block.GoodRows[i]), Reason = "the row drives the model to a non-finite output (NaN or infinity): its values are probably far outside the range the model was trained on" });
                continue;
            }

            if (kept != i)
            {
                block.GoodRows[kept] = block.GoodRows[i];
                output.AsSpan(i * width, width).CopyTo(output.AsSpan(kept * width, width));
            }

            kept++;
        }

        block.Good = kept;
    }

    private async Task WriteAsync(EncodedBlock block, ScoringModel model, PredictionWriter writer, ScoringReport report, CancellationToken cancellationToken)
    {
        var width = model.OutputWidth;
        for (var i = 0; i < block.Good; i++)
        {
            if (writer.IsFull)
            {
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            writer.Write(block.Rows, block.GoodRows[i], block.Output.AsSpan(i * width, width));
        }

        report.Rows += block.NonBlank;
        report.Scored += block.Good;
        report.Failed += block.Bad.Count;
        foreach (var row in block.Bad.OrderBy(b => b.Line))
        {
            if (report.BadRows.Count == options.MaxListedBadRows)
            {
                break;
            }

            report.BadRows.Add(row);
        }
    }

    /// <summary>One block of rows with what the reader stage made of them: the good rows' features and outputs, and the bad rows.</summary>
    private sealed class EncodedBlock(ScoringModel model) : IDisposable
    {
        public RowBlock Rows { get; } = new();

        public float[] Features { get; private set; } = ArrayPool<float>.Shared.Rent(model.FeatureCount * 1024);

        public float[] Output { get; private set; } = ArrayPool<float>.Shared.Rent(model.OutputWidth * 1024);

        public int[] GoodRows { get; private set; } = ArrayPool<int>.Shared.Rent(1024);

        public List<BadRow> Bad { get; } = [];

        /// <summary>Rows that scored, the first <see cref="Good"/> of <see cref="GoodRows"/>.</summary>
        public int Good { get; set; }

        /// <summary>Rows that are not blank (scored or bad).</summary>
        public int NonBlank { get; set; }

        /// <summary>Empties the block for <paramref name="rows"/> rows just read.</summary>
        public void Reset(int rows)
        {
            Features = Grow(Features, rows * model.FeatureCount);
            Output = Grow(Output, rows * model.OutputWidth);
            GoodRows = Grow(GoodRows, rows);
            Bad.Clear();
            Good = 0;
            NonBlank = 0;
        }

        public void Dispose()
        {
            ArrayPool<float>.Shared.Return(Features);
            ArrayPool<float>.Shared.Return(Output);
            ArrayPool<int>.Shared.Return(GoodRows);
        }

        private static T[] Grow<T>(T[] array, int length)
        {
            if (array.Length >= length)
            {
                return array;
            }

            ArrayPool<T>.Shared.Return(array);
            return ArrayPool<T>.Shared.Rent(length);
        }
    }

    private static bool ReadBlock(TabularReader reader, RowBlock block, CancellationToken cancellationToken)
    {
        try
        {
            return reader.ReadBlock(block, cancellationToken);
        }
        catch (DatasetRejectedException e)
        {
            throw new ScoringException(ScoringFailure.UnreadableFile, e.Line is { } line ? $"{e.Message} (line {line}); the rows before it were not written." : e.Message + " The rows before it were not written.", e);
        }
    }

    /// <summary>Encodes row <paramref name="row"/> into <paramref name="destination"/>; returns why it cannot be scored, or null.</summary>
    private static string? Encode(RowBlock block, int row, ScoringModel model, int[] map, Span<float> destination)
    {
        if (model.Encoder is { } encoder)
        {
            for (var c = 0; c < map.Length; c++)
            {
                var cell = block.Field(row, map[c]);
                if (!encoder.Encode(c, cell, destination.Slice(encoder.OffsetOf(c), encoder.WidthOf(c))) && !RawValues.IsMissing(cell))
                {
                    var column = encoder.Columns[c];
                    return $"column '{column.Column}' is {column.Kind}; '{Shorten(cell)}' does not read as one";
                }
            }

            return null;
        }

        for (var f = 0; f < map.Length; f++)
        {
            var cell = block.Field(row, map[f]);
            if (!RawValues.TryParseNumber(cell, out var number) || Math.Abs(number) > float.MaxValue)
            {
                return RawValues.IsMissing(cell)
                    ? $"feature '{model.Features[f]}' is missing; this model takes numbers only"
                    : $"feature '{model.Features[f]}' must be a number; got '{Shorten(cell)}'";
            }

            destination[f] = (float)number;
        }

        return null;
    }

    /// <summary>For each column the model needs (encoder columns, or features), its ordinal in the file.</summary>
    private static int[] MapColumns(IReadOnlyList<string> columns, ScoringModel model)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Count; i++)
        {
            index.TryAdd(columns[i], i);
        }

        IReadOnlyList<string> needed = model.Encoder is { } encoder ? [.. encoder.Columns.Select(c => c.Column)] : model.Features;
        var map = new int[needed.Count];
        List<string> missing = [];
        for (var i = 0; i < needed.Count; i++)
        {
            if (!index.TryGetValue(needed[i], out map[i]))
            {
                missing.Add(needed[i]);
            }
        }

        if (missing.Count > 0)
        {
            throw new ScoringException(ScoringFailure.MissingColumns,
                $"The file lacks column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} that model '{model.Manifest.Model}' version '{model.Version}' needs. It takes: {string.Join(", ", needed)}. Column names are case-sensitive.");
        }

        return map;
    }

    /// <summary>The output's name and format for <paramref name="fileName"/> read as <paramref name="inputFormat"/>.</summary>
    public static (string Name, string Format) OutputOf(string fileName, string inputFormat, PredictionFormat format)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(inputFormat);
        var gzipName = fileName.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        var stem = gzipName ? fileName[..^3] : fileName;
        var kind = inputFormat.Split('+')[0];
        if (format == PredictionFormat.Parquet || kind == "parquet")
        {
            var extension = StorageNames.DataExtensions.FirstOrDefault(e => stem.EndsWith(e, StringComparison.OrdinalIgnoreCase));
            var name = (extension is null ? stem : stem[..^extension.Length]) + ".parquet";
            return (name, "parquet");
        }

        // Text keeps its name and compression.
        return inputFormat.EndsWith("+gzip", StringComparison.Ordinal) ? (gzipName ? fileName : fileName + ".gz", kind + "+gzip") : (fileName, kind);
    }

    /// <summary>The CSV reader's delimiter (which it names <c>\t</c> for a tab, as reports show it).</summary>
    private static char DelimiterOf(TabularReader reader) => reader.Delimiter switch
    {
        "\\t" => '\t',
        { Length: 1 } d => d[0],
        _ => ',',
    };

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    private static string Shorten(ReadOnlySpan<char> text) => text.Length > 100 ? string.Concat(text[..100], "…") : text.ToString();
}
