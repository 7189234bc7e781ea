using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// Parquet files through Parquet.Net: flat columns of numbers, booleans, strings and timestamps, read one row group at a
/// time and presented as invariant text (so every format goes through the same inference). Nested columns are not supported.
/// </summary>
internal sealed class ParquetTabularReader : RowTabularReader
{
    private readonly ParquetReader _reader;
    private readonly FileStream _file;
    private readonly DataField[] _fields;
    private string?[][] _group = [];
    private int _groupIndex = -1;
    private int _row;
    private int _groupRows;
    private long _rowNumber;

    private ParquetTabularReader(ParquetReader reader, FileStream file, DataField[] fields)
    {
        _reader = reader;
        _file = file;
        _fields = fields;
    }

    protected override int FieldCount => _fields.Length;

    protected override long Line => _rowNumber;

    /// <summary>Opens a Parquet file; <paramref name="unpacked"/>: a file unpacked from gzip, deleted when the reader is done.</summary>
    public static async Task<TabularReader> OpenAsync(string path, CancellationToken cancellationToken, bool unpacked = false)
    {
        var file = unpacked
            ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 12, FileOptions.DeleteOnClose)
            : File.OpenRead(path);
        try
        {
            var reader = await ParquetReader.CreateAsync(file, cancellationToken: cancellationToken).ConfigureAwait(false);
            var fields = reader.Schema.Fields.OfType<DataField>().ToArray();
            if (fields.Length != reader.Schema.Fields.Count || fields.Any(f => f.IsArray))
            {
                await reader.DisposeAsync().ConfigureAwait(false);
                throw new DatasetRejectedException("unsupported-parquet", "The Parquet file has nested or repeated columns; only flat columns are supported.");
            }

            return new ParquetTabularReader(reader, file, fields) { Columns = fields.Select(f => f.Name).ToList(), Format = unpacked ? "parquet+gzip" : "parquet" };
        }
        catch (Exception e)
        {
            await file.DisposeAsync().ConfigureAwait(false);
            if (e is DatasetRejectedException or OperationCanceledException)
            {
                throw;
            }

            throw new DatasetRejectedException("malformed-parquet", $"The file is not a readable Parquet file: {e.Message}");
        }
    }

    protected override bool Read(CancellationToken cancellationToken)
    {
        while (_row + 1 >= _groupRows)
        {
            if (_groupIndex + 1 >= _reader.RowGroupCount)
            {
                return false;
            }

            _groupIndex++;
            try
            {
                // Parquet.Net reads asynchronously only; the local file makes this a short wait.
                LoadGroupAsync(_groupIndex, cancellationToken).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not DatasetRejectedException and not OperationCanceledException)
            {
                throw new DatasetRejectedException("malformed-parquet", $"Row group {_groupIndex} of the Parquet file cannot be read: {e.Message}", (int)(_rowNumber + 1));
            }

            _row = -1;
        }

        _row++;
        _rowNumber++;
        return true;
    }

    protected override ReadOnlySpan<char> GetField(int ordinal) => _group[ordinal][_row];

    private async Task LoadGroupAsync(int index, CancellationToken cancellationToken)
    {
        using var group = _reader.OpenRowGroupReader(index);
        var rows = checked((int)group.RowCount);
        var columns = new string?[_fields.Length][];
        for (var f = 0; f < _fields.Length; f++)
        {
            var field = _fields[f];
            columns[f] = field.ClrType switch
            {
                var t when t == typeof(string) || t == typeof(ReadOnlyMemory<char>) => await ReadStringsAsync(group, field, rows, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(double) => await ReadAsync<double>(group, field, rows, v => v.ToString("R", CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(float) => await ReadAsync<float>(group, field, rows, v => v.ToString("R", CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(decimal) => await ReadAsync<decimal>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(int) => await ReadAsync<int>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(long) => await ReadAsync<long>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(short) => await ReadAsync<short>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(byte) => await ReadAsync<byte>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(sbyte) => await ReadAsync<sbyte>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(uint) => await ReadAsync<uint>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(ulong) => await ReadAsync<ulong>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(bool) => await ReadAsync<bool>(group, field, rows, v => v ? "true" : "false", cancellationToken).ConfigureAwait(false),
                var t when t == typeof(DateTime) => await ReadAsync<DateTime>(group, field, rows, v => v.ToString("O", CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(DateTimeOffset) => await ReadAsync<DateTimeOffset>(group, field, rows, v => v.ToString("O", CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                var t when t == typeof(DateOnly) => await ReadAsync<DateOnly>(group, field, rows, v => v.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false),
                _ => throw new DatasetRejectedException("unsupported-parquet", $"Parquet column '{field.Name}' has type {field.ClrType.Name}, which is not supported."),
            };
        }

        _group = columns;
        _groupRows = rows;
    }

    private static async Task<string?[]> ReadStringsAsync(ParquetRowGroupReader group, DataField field, int rows, CancellationToken cancellationToken)
    {
        var values = new string?[rows];
        await group.ReadAsync(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
        return values;
    }

    private static async Task<string?[]> ReadAsync<T>(ParquetRowGroupReader group, DataField field, int rows, Func<T, string> format, CancellationToken cancellationToken)
        where T : struct
    {
        var text = new string?[rows];
        if (field.IsNullable)
        {
            var values = new T?[rows];
            await group.ReadAsync<T>(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows; i++)
            {
                text[i] = values[i] is { } v ? format(v) : null;
            }
        }
        else
        {
            var values = new T[rows];
            await group.ReadAsync<T>(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows; i++)
            {
                text[i] = format(values[i]);
            }
        }

        return text;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _file.Dispose();
        }
    }
}
