using Parquet;
using Parquet.Schema;

namespace Pipeline.Datasets;

/// <summary>
/// Writes a dataset split in the <see cref="DatasetParquet"/> layout column by column into buffered row groups of a bounded size,
/// so a split of any length is written in bounded memory. A full row group is compressed and written in the background
/// while the next one fills (two buffers); not thread-safe otherwise.
/// </summary>
public sealed class DatasetParquetWriter : IAsyncDisposable
{
    private readonly ParquetWriter _writer;
    private readonly DataField[] _fields;
    private Buffer _filling;
    private Buffer? _spare;
    private Task _writing = Task.CompletedTask;

    private DatasetParquetWriter(ParquetWriter writer, DataField[] fields, int rowGroupSize)
    {
        _writer = writer;
        _fields = fields;
        _filling = new Buffer(fields.Length - 1, rowGroupSize);
    }

    /// <summary>Rows written or being written so far (not those still buffered).</summary>
    public long RowCount { get; private set; }

    /// <summary>Rows buffered for the current row group.</summary>
    public int Count => _filling.Count;

    public static async Task<DatasetParquetWriter> CreateAsync(Stream stream, IReadOnlyList<string> featureNames, int rowGroupSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupSize, 1);
        var fields = featureNames.Select(n => (DataField)new DataField<float>(n)).Append(new DataField<float>(DatasetParquet.TargetColumn)).ToArray();
        // Parquet.Net checks every column chunk for dictionary encoding; deciding on a 1,024-value sample instead of a
        // uniqueness scan of every value costs far less (measured), and the float columns are written PLAIN + Snappy
        // either way (Parquet.Net 6 dictionary-encodes strings, not these). The stream pools keep less memory idle than
        // their defaults (16 + 64 MB), which would be much of the preprocess function's budget.
        var options = new ParquetOptions
        {
            DictionaryEncodingSampleSize = 1024,
            MaximumSmallPoolFreeBytes = 1 << 20,
            MaximumLargePoolFreeBytes = 4 << 20,
        };
        var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, options, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new DatasetParquetWriter(writer, fields, rowGroupSize);
    }

    /// <summary>
    /// Makes room for <paramref name="rows"/> more rows in the current row group; when they do not fit, the row group is
    /// handed to the background writer (a batch larger than the row-group size gets a larger row group).
    /// </summary>
    public async Task ReserveAsync(int rows, CancellationToken cancellationToken)
    {
        if (_filling.Count + rows <= _filling.Capacity)
        {
            return;
        }

        await HandOffAsync(cancellationToken).ConfigureAwait(false);
        _filling.EnsureCapacity(rows);
    }

    /// <summary>Adds a row with its target; its features are written into <see cref="Feature"/> at the index <see cref="Count"/> had before.</summary>
    public void Add(float target)
    {
        var buffer = _filling;
        if (buffer.Count == buffer.Capacity)
        {
            throw new InvalidOperationException("The row group is full; reserve room first.");
        }

        buffer.Target[buffer.Count++] = target;
    }

    /// <summary>The buffered values of feature <paramref name="feature"/> (a row's index is the <see cref="Count"/> before its <see cref="Add"/>).</summary>
    public float[] Feature(int feature) => _filling.Columns[feature];

    /// <summary>Writes the buffered rows as one row group and waits until every row group is written.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await HandOffAsync(cancellationToken).ConfigureAwait(false);
        await _writing.ConfigureAwait(false);
    }

    private async Task HandOffAsync(CancellationToken cancellationToken)
    {
        // One row group at a time: the previous one is written before this one starts.
        await _writing.ConfigureAwait(false);
        if (_filling.Count == 0)
        {
            return;
        }

        var full = _filling;
        _filling = _spare ?? new Buffer(full.Columns.Length, full.Capacity);
        _filling.Count = 0;
        _spare = full;
        RowCount += full.Count;
        _writing = Task.Run(() => WriteAsync(full, cancellationToken), cancellationToken);
    }

    private async Task WriteAsync(Buffer buffer, CancellationToken cancellationToken)
    {
        using var group = _writer.CreateRowGroup();
        for (var f = 0; f < buffer.Columns.Length; f++)
        {
            await group.WriteAsync<float>(_fields[f], buffer.Columns[f].AsMemory(0, buffer.Count), cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        await group.WriteAsync<float>(_fields[^1], buffer.Target.AsMemory(0, buffer.Count), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _writing.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A failed or cancelled row group surfaced in FlushAsync/ReserveAsync, or the caller is already failing for
            // another reason: either way disposing must go on (the file is incomplete and will not be used).
        }

        await _writer.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Buffer(int features, int capacity)
    {
        public float[][] Columns { get; private set; } = Enumerable.Range(0, features).Select(_ => new float[capacity]).ToArray();

        public float[] Target { get; private set; } = new float[capacity];

        public int Count { get; set; }

        public int Capacity => Target.Length;

        public void EnsureCapacity(int rows)
        {
            if (rows > Capacity)
            {
                Columns = Columns.Select(_ => new float[rows]).ToArray();
                Target = new float[rows];
            }
        }
    }
}
