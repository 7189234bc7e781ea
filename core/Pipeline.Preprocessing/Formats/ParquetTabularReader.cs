using System.Buffers.Binary;
using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// Parquet files through Parquet.Net: flat columns of numbers, booleans, strings and timestamps, read one row group at a
/// time and presented as invariant text (so every format goes through the same inference). Nested columns are not supported.
/// A row group is held in memory typed (numbers as numbers, formatted as text one cell at a time), and its size is
/// checked against the footer before anything is allocated: a footer longer than <see cref="MaxFooterBytes"/>, or a
/// row group whose rows and column sizes would take more than the limit in memory (a footer claiming billions of rows,
/// huge cells), is a rejection naming the limit, never an allocation the instance cannot hold.
/// </summary>
internal sealed class ParquetTabularReader : RowTabularReader
{
    /// <summary>The longest footer (schema and row-group metadata) read; real files have kilobytes to a few megabytes.</summary>
    public const int MaxFooterBytes = 16 << 20;

    private readonly ParquetReader _reader;
    private readonly FileStream _file;
    private readonly DataField[] _fields;
    private readonly long _maxRowGroupBytes;
    private readonly char[] _scratch = new char[64];
    private ColumnValues[] _group = [];
    private int _groupIndex = -1;
    private int _row;
    private int _groupRows;
    private long _rowNumber;

    private ParquetTabularReader(ParquetReader reader, FileStream file, DataField[] fields, long maxRowGroupBytes)
    {
        _reader = reader;
        _file = file;
        _fields = fields;
        _maxRowGroupBytes = maxRowGroupBytes;
    }

    protected override int FieldCount => _fields.Length;

    protected override long Line => _rowNumber;

    /// <summary>
    /// Opens a Parquet file; <paramref name="unpacked"/>: a file unpacked from gzip, deleted when the reader is done. A row
    /// group that would take more than <paramref name="maxRowGroupBytes"/> in memory is rejected (<c>parquet-row-group-too-large</c>).
    /// </summary>
    public static async Task<TabularReader> OpenAsync(string path, long maxRowGroupBytes, CancellationToken cancellationToken, bool unpacked = false)
    {
        var file = unpacked
            ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 12, FileOptions.DeleteOnClose)
            : File.OpenRead(path);
        try
        {
            await CheckFooterAsync(file, cancellationToken).ConfigureAwait(false);
            var reader = await ParquetReader.CreateAsync(file, cancellationToken: cancellationToken).ConfigureAwait(false);
            var fields = reader.Schema.Fields.OfType<DataField>().ToArray();
            if (fields.Length != reader.Schema.Fields.Count || fields.Any(f => f.IsArray))
            {
                await reader.DisposeAsync().ConfigureAwait(false);
                throw new DatasetRejectedException("unsupported-parquet", "The Parquet file has nested or repeated columns; only flat columns are supported.");
            }

            return new ParquetTabularReader(reader, file, fields, maxRowGroupBytes) { Columns = fields.Select(f => f.Name).ToList(), Format = unpacked ? "parquet+gzip" : "parquet" };
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

    /// <summary>The file ends with the footer's length and <c>PAR1</c>: a footer past <see cref="MaxFooterBytes"/> or the file is refused unread.</summary>
    private static async Task CheckFooterAsync(FileStream file, CancellationToken cancellationToken)
    {
        var tail = new byte[8];
        if (file.Length < 12)
        {
            throw new DatasetRejectedException("malformed-parquet", "The file is too short to be a Parquet file.");
        }

        file.Position = file.Length - 8;
        await file.ReadExactlyAsync(tail, cancellationToken).ConfigureAwait(false);
        file.Position = 0;
        if (!tail.AsSpan(4).SequenceEqual("PAR1"u8))
        {
            throw new DatasetRejectedException("malformed-parquet", "The file does not end with the Parquet magic bytes (PAR1): it is cut short or not Parquet.");
        }

        var footer = BinaryPrimitives.ReadUInt32LittleEndian(tail);
        if (footer > MaxFooterBytes || footer > file.Length - 12)
        {
            throw new DatasetRejectedException("malformed-parquet", string.Create(CultureInfo.InvariantCulture,
                $"The Parquet footer claims {footer} bytes; the file has {file.Length} and the limit is {MaxFooterBytes >> 20} MB."));
        }

        var bytes = new byte[footer];
        file.Position = file.Length - 8 - footer;
        await file.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        file.Position = 0;
        try
        {
            ThriftFooterCheck.Check(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new DatasetRejectedException("malformed-parquet", $"The Parquet footer is corrupt: {e.Message}.");
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
            _group = []; // the previous group is garbage before the next one is allocated
            try
            {
                // Parquet.Net reads asynchronously only; the local file makes this a short wait.
                LoadGroupAsync(_groupIndex, cancellationToken).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not DatasetRejectedException and not OperationCanceledException and not OutOfMemoryException)
            {
                throw new DatasetRejectedException("malformed-parquet", $"Row group {_groupIndex} of the Parquet file cannot be read: {e.Message}", (int)(_rowNumber + 1));
            }

            _row = -1;
        }

        _row++;
        _rowNumber++;
        return true;
    }

    protected override ReadOnlySpan<char> GetField(int ordinal) => _group[ordinal].Get(_row, _scratch);

    /// <summary>
    /// What row group <paramref name="index"/> takes in memory as this reader holds it, from the footer: its rows times
    /// each column's cell (a reference plus the string for text, from the chunk's uncompressed size; the value for the rest).
    /// </summary>
    private long RowGroupBytes(int index, out long rows)
    {
        var group = _reader.Metadata!.RowGroups[index];
        rows = group.NumRows;
        if (rows < 0 || group.Columns.Count != _fields.Length)
        {
            return long.MaxValue;
        }

        var total = 0.0;
        for (var f = 0; f < _fields.Length; f++)
        {
            var chunk = Math.Max(0, group.Columns[f].MetaData?.TotalUncompressedSize ?? 0);
            var type = _fields[f].ClrType;
            total += type == typeof(string) || type == typeof(ReadOnlyMemory<char>)
                ? (rows * 32.0) + (2.0 * chunk) // reference + object header per cell, UTF-16 chars
                : rows * (double)ColumnValues.CellBytes(type, _fields[f].IsNullable);
        }

        return total >= long.MaxValue ? long.MaxValue : (long)total;
    }

    private async Task LoadGroupAsync(int index, CancellationToken cancellationToken)
    {
        var bytes = RowGroupBytes(index, out var claimedRows);
        if (bytes > _maxRowGroupBytes || claimedRows > Array.MaxLength)
        {
            throw new DatasetRejectedException("parquet-row-group-too-large", string.Create(CultureInfo.InvariantCulture,
                $"Row group {index} of the Parquet file claims {claimedRows} rows, about {bytes >> 20} MB in memory; the limit is {_maxRowGroupBytes >> 20} MB (Preprocess:MaxParquetRowGroupBytes). Write the file with smaller row groups (pyarrow: row_group_size=100_000)."),
                (int)Math.Min(int.MaxValue, _rowNumber + 1));
        }

        using var group = _reader.OpenRowGroupReader(index);
        var rows = checked((int)group.RowCount);
        var columns = new ColumnValues[_fields.Length];
        for (var f = 0; f < _fields.Length; f++)
        {
            var field = _fields[f];
            columns[f] = field.ClrType switch
            {
                var t when t == typeof(string) || t == typeof(ReadOnlyMemory<char>) => await ColumnValues.ReadTextAsync(group, field, rows, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(double) => await ColumnValues.ReadAsync<double>(group, field, rows, "R", cancellationToken).ConfigureAwait(false),
                var t when t == typeof(float) => await ColumnValues.ReadAsync<float>(group, field, rows, "R", cancellationToken).ConfigureAwait(false),
                var t when t == typeof(decimal) => await ColumnValues.ReadAsync<decimal>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(int) => await ColumnValues.ReadAsync<int>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(long) => await ColumnValues.ReadAsync<long>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(short) => await ColumnValues.ReadAsync<short>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(byte) => await ColumnValues.ReadAsync<byte>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(sbyte) => await ColumnValues.ReadAsync<sbyte>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(uint) => await ColumnValues.ReadAsync<uint>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(ulong) => await ColumnValues.ReadAsync<ulong>(group, field, rows, null, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(bool) => await ColumnValues.ReadBooleansAsync(group, field, rows, cancellationToken).ConfigureAwait(false),
                var t when t == typeof(DateTime) => await ColumnValues.ReadAsync<DateTime>(group, field, rows, "O", cancellationToken).ConfigureAwait(false),
                var t when t == typeof(DateTimeOffset) => await ColumnValues.ReadAsync<DateTimeOffset>(group, field, rows, "O", cancellationToken).ConfigureAwait(false),
                var t when t == typeof(DateOnly) => await ColumnValues.ReadAsync<DateOnly>(group, field, rows, "yyyy-MM-dd", cancellationToken).ConfigureAwait(false),
                _ => throw new DatasetRejectedException("unsupported-parquet", $"Parquet column '{field.Name}' has type {field.ClrType.Name}, which is not supported."),
            };
        }

        _group = columns;
        _groupRows = rows;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _file.Dispose();
        }
    }

    /// <summary>One column of a row group, typed, giving each cell as invariant text (empty for a missing value).</summary>
    private abstract class ColumnValues
    {
        public abstract ReadOnlySpan<char> Get(int row, Span<char> scratch);

        /// <summary>Bytes one cell of a non-text column takes as held here.</summary>
        public static int CellBytes(Type type, bool nullable)
        {
            var size = type == typeof(decimal) ? 16 : type == typeof(DateTimeOffset) ? 16 : type == typeof(bool) || type == typeof(byte) || type == typeof(sbyte) ? 1 :
                type == typeof(short) ? 2 : type == typeof(int) || type == typeof(uint) || type == typeof(float) || type == typeof(DateOnly) ? 4 : 8;
            return nullable ? Math.Max(2, size * 2) : size; // T? adds a flag, padded to T's alignment
        }

        public static async Task<ColumnValues> ReadTextAsync(ParquetRowGroupReader group, DataField field, int rows, CancellationToken cancellationToken)
        {
            var values = new string?[rows];
            await group.ReadAsync(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            return new Text(values);
        }

        public static async Task<ColumnValues> ReadBooleansAsync(ParquetRowGroupReader group, DataField field, int rows, CancellationToken cancellationToken)
        {
            var values = new bool?[rows];
            if (field.IsNullable)
            {
                await group.ReadAsync<bool>(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var plain = new bool[rows];
                await group.ReadAsync<bool>(field, plain.AsMemory(), null, cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < rows; i++)
                {
                    values[i] = plain[i];
                }
            }

            return new Booleans(values);
        }

        public static async Task<ColumnValues> ReadAsync<T>(ParquetRowGroupReader group, DataField field, int rows, string? format, CancellationToken cancellationToken)
            where T : struct, ISpanFormattable
        {
            if (field.IsNullable)
            {
                var values = new T?[rows];
                await group.ReadAsync<T>(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
                return new NullableValues<T>(values, format);
            }

            var plain = new T[rows];
            await group.ReadAsync<T>(field, plain.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            return new Values<T>(plain, format);
        }

        protected static ReadOnlySpan<char> Format<T>(T value, string? format, Span<char> scratch)
            where T : ISpanFormattable
        {
            if (value.TryFormat(scratch, out var written, format, CultureInfo.InvariantCulture))
            {
                return scratch[..written];
            }

            return value.ToString(format, CultureInfo.InvariantCulture); // longer than the scratch buffer (a decimal's 29 digits fit)
        }

        private sealed class Text(string?[] values) : ColumnValues
        {
            public override ReadOnlySpan<char> Get(int row, Span<char> scratch) => values[row];
        }

        private sealed class Booleans(bool?[] values) : ColumnValues
        {
            public override ReadOnlySpan<char> Get(int row, Span<char> scratch) => values[row] switch
            {
                true => "true",
                false => "false",
                null => default,
            };
        }

        private sealed class Values<T>(T[] values, string? format) : ColumnValues
            where T : struct, ISpanFormattable
        {
            public override ReadOnlySpan<char> Get(int row, Span<char> scratch) => Format(values[row], format, scratch);
        }

        private sealed class NullableValues<T>(T?[] values, string? format) : ColumnValues
            where T : struct, ISpanFormattable
        {
            public override ReadOnlySpan<char> Get(int row, Span<char> scratch) => values[row] is { } value ? Format(value, format, scratch) : default;
        }
    }
}
