using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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

    /// <summary>
    /// Starts a split. Features flagged in <paramref name="binary"/> (one-hot categories, booleans: only ever 0 or 1) are
    /// written as Parquet booleans, a bit a value, instead of floats (<see cref="DatasetParquet.FeatureField"/>).
    /// </summary>
    public static async Task<DatasetParquetWriter> CreateAsync(Stream stream, IReadOnlyList<string> featureNames, IReadOnlyList<bool>? binary, int rowGroupSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupSize, 1);
        if (binary is not null && binary.Count != featureNames.Count)
        {
            throw new ArgumentException($"{binary.Count} binary flags for {featureNames.Count} features.", nameof(binary));
        }

        var fields = featureNames.Select((n, i) => DatasetParquet.FeatureField(n, binary?[i] ?? false)).Append(new DataField<float>(DatasetParquet.TargetColumn)).ToArray();
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

        buffer.Column(buffer.Features)[buffer.Count++] = target;
    }

    /// <summary>The buffered values of feature <paramref name="feature"/> (a row's index is the <see cref="Count"/> before its <see cref="Add"/>).</summary>
    public Span<float> Feature(int feature)
    {
        // The buffer's last column is the target's: not a feature.
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)feature, (uint)_filling.Features, nameof(feature));
        return _filling.Column(feature);
    }

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
        _filling = _spare ?? new Buffer(full.Features, full.Capacity);
        _filling.Count = 0;
        _spare = full;
        RowCount += full.Count;
        _writing = Task.Run(() => WriteAsync(full, cancellationToken), cancellationToken);
    }

    private async Task WriteAsync(Buffer buffer, CancellationToken cancellationToken)
    {
        using var group = _writer.CreateRowGroup();
        for (var f = 0; f < buffer.Features; f++)
        {
            var values = buffer.Filled(f);
            if (_fields[f].ClrType == typeof(bool))
            {
                buffer.Flags ??= new bool[buffer.Capacity];
                ToFlags(values.Span, buffer.Flags, _fields[f].Name);
                await group.WriteAsync<bool>(_fields[f], buffer.Flags.AsMemory(0, buffer.Count), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await group.WriteAsync<float>(_fields[f], values, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }

        await group.WriteAsync<float>(_fields[^1], buffer.Filled(buffer.Features), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A binary feature's values as flags; anything but 0 and 1 is a bug in the caller's flags and throws.</summary>
    private static void ToFlags(ReadOnlySpan<float> values, Span<bool> flags, string feature)
    {
        // 1f is 0x3F800000: its top three bits shifted down are the flag. Eight values at a time, narrowed to bytes.
        const uint One = 0x3F800000;
        var bits = MemoryMarshal.Cast<float, uint>(values);
        var bytes = MemoryMarshal.Cast<bool, byte>(flags);
        var valid = Vector256<uint>.AllBitsSet;
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= bits.Length - 32; i += 32)
            {
                var a = Vector256.Create(bits.Slice(i, 8));
                var b = Vector256.Create(bits.Slice(i + 8, 8));
                var c = Vector256.Create(bits.Slice(i + 16, 8));
                var d = Vector256.Create(bits.Slice(i + 24, 8));
                valid &= (Vector256.Equals(a, Vector256<uint>.Zero) | Vector256.Equals(a, Vector256.Create(One)))
                    & (Vector256.Equals(b, Vector256<uint>.Zero) | Vector256.Equals(b, Vector256.Create(One)))
                    & (Vector256.Equals(c, Vector256<uint>.Zero) | Vector256.Equals(c, Vector256.Create(One)))
                    & (Vector256.Equals(d, Vector256<uint>.Zero) | Vector256.Equals(d, Vector256.Create(One)));
                var low = Vector256.Narrow(a >>> 29, b >>> 29);
                var high = Vector256.Narrow(c >>> 29, d >>> 29);
                Vector256.Narrow(low, high).CopyTo(bytes.Slice(i, 32));
            }
        }

        var ok = valid == Vector256<uint>.AllBitsSet;
        for (; i < bits.Length; i++)
        {
            ok &= bits[i] is 0 or One;
            bytes[i] = (byte)(bits[i] >> 29);
        }

        if (!ok)
        {
            throw new InvalidOperationException($"Feature '{feature}' is written as 0/1 but holds other values.");
        }
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

    /// <summary>
    /// A row group's values, column after column (the features, then the target) in one allocation: megabytes written
    /// once a row group, so on huge pages where the host has them (<see cref="LargeBuffers"/>).
    /// </summary>
    private sealed class Buffer
    {
        private ArraySegment<float> _values;

        public Buffer(int features, int capacity)
        {
            Features = features;
            Allocate(capacity);
        }

        public int Features { get; }

        public int Capacity { get; private set; }

        public int Count { get; set; }

        /// <summary>Scratch for a binary feature's values as flags while the row group is written.</summary>
        public bool[]? Flags { get; set; }

        /// <summary>Column <paramref name="column"/>'s room for <see cref="Capacity"/> values (<see cref="Features"/>: the target).</summary>
        public Span<float> Column(int column) => _values.AsSpan(column * Capacity, Capacity);

        /// <summary>Column <paramref name="column"/>'s first <see cref="Count"/> values.</summary>
        public Memory<float> Filled(int column) => _values.AsMemory(column * Capacity, Count);

        public void EnsureCapacity(int rows)
        {
            if (rows > Capacity)
            {
                Allocate(rows);
                Flags = null;
            }
        }

        private void Allocate(int capacity)
        {
            Capacity = capacity;
            _values = LargeBuffers.Allocate<float>(checked((Features + 1) * capacity));
        }
    }
}
