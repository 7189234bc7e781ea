using Parquet;
using Parquet.Schema;

namespace Pipeline.Datasets;

/// <summary>
/// Writes a dataset split in the <see cref="DatasetParquet"/> layout one row at a time, in row groups of a bounded size,
/// so a split of any length is written in bounded memory.
/// </summary>
public sealed class DatasetParquetWriter : IAsyncDisposable
{
    private readonly ParquetWriter _writer;
    private readonly DataField[] _fields;
    private readonly float[][] _columns;
    private readonly float[] _target;
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

    /// <summary>True when the current row group is full: call <see cref="FlushAsync"/> before the next <see cref="Append"/>.</summary>
    public bool IsFull => _count == _target.Length;

    public static async Task<DatasetParquetWriter> CreateAsync(Stream stream, IReadOnlyList<string> featureNames, int rowGroupSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupSize, 1);
        var fields = featureNames.Select(n => (DataField)new DataField<float>(n)).Append(new DataField<float>(DatasetParquet.TargetColumn)).ToArray();
        var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new DatasetParquetWriter(writer, fields, rowGroupSize);
    }

    public void Append(ReadOnlySpan<float> features, float target)
    {
        if (IsFull)
        {
            throw new InvalidOperationException("The row group is full; flush it first.");
        }

        for (var f = 0; f < _columns.Length; f++)
        {
            _columns[f][_count] = features[f];
        }

        _target[_count] = target;
        _count++;
    }

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
