using Parquet;
using Parquet.Schema;

namespace Pipeline.Datasets;

/// <summary>
/// Writes a dataset split in the <see cref="DatasetParquet"/> layout column by column into buffered row groups of a bounded size,
/// so a split of any length is written in bounded memory.
/// </summary>
public sealed class DatasetParquetWriter : IAsyncDisposable
{
    private readonly ParquetWriter _writer;
    private readonly DataField[] _fields;
    private readonly float[][] _columns;
    private float[] _target;
    private int _count;

    private DatasetParquetWriter(ParquetWriter writer, DataField[] fields, int rowGroupSize)
    {
        _writer = writer;
        _fields = fields;
        _columns = new float[fields.Length - 1][];
        for (var f = 0; f < _columns.Length; f++)
        {
            _columns[f] = new float[rowGroupSize];
        }

        _target = new float[rowGroupSize];
    }

    public long RowCount { get; private set; }

    /// <summary>Rows buffered for the current row group.</summary>
    public int Count => _count;

    public static async Task<DatasetParquetWriter> CreateAsync(Stream stream, IReadOnlyList<string> featureNames, int rowGroupSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupSize, 1);
        var fields = featureNames.Select(n => (DataField)new DataField<float>(n)).Append(new DataField<float>(DatasetParquet.TargetColumn)).ToArray();
        // Dictionary encoding pays for one-hot and small-integer columns; a sample tells those from continuous ones
        // without a uniqueness scan of every value of every column chunk. The stream pools keep less memory idle than
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
    /// Makes room for <paramref name="rows"/> more rows in the current row group, writing it first when they do not fit
    /// (a batch larger than the row-group size gets a larger row group).
    /// </summary>
    public async Task ReserveAsync(int rows, CancellationToken cancellationToken)
    {
        if (_count + rows <= _target.Length)
        {
            return;
        }

        await FlushAsync(cancellationToken).ConfigureAwait(false);
        if (rows > _target.Length)
        {
            for (var f = 0; f < _columns.Length; f++)
            {
                _columns[f] = new float[rows];
            }

            _target = new float[rows];
        }
    }

    /// <summary>Adds a row with its target; its features are written into <see cref="Feature"/> at the returned index.</summary>
    public int Add(float target)
    {
        if (_count == _target.Length)
        {
            throw new InvalidOperationException("The row group is full; reserve room first.");
        }

        _target[_count] = target;
        return _count++;
    }

    /// <summary>The buffered values of feature <paramref name="feature"/> (indexed by what <see cref="Add"/> returned).</summary>
    public float[] Feature(int feature) => _columns[feature];

    /// <summary>Writes the buffered rows as one row group.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_count == 0)
        {
            return;
        }

        using (var group = _writer.CreateRowGroup())
        {
            for (var f = 0; f < _columns.Length; f++)
            {
                await group.WriteAsync<float>(_fields[f], _columns[f].AsMemory(0, _count), cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            await group.WriteAsync<float>(_fields[^1], _target.AsMemory(0, _count), cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        RowCount += _count;
        _count = 0;
    }

    public async ValueTask DisposeAsync() => await _writer.DisposeAsync().ConfigureAwait(false);
}
