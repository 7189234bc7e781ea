using System.IO.Compression;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// Forward-only rows of a data file (CSV/TSV, JSON Lines, Parquet, optionally gzip-compressed) as text cells in blocks of
/// rows, whatever the format. The format comes from the file name's extension; the content decides where the two disagree (gzip and
/// Parquet magic bytes) or where the extension says nothing.
/// </summary>
public abstract class TabularReader : IDisposable
{
    /// <summary>Bytes sniffed from the start of the (decompressed) content to detect the format and the CSV delimiter.</summary>
    internal const int SniffBytes = 64 * 1024;

    public IReadOnlyList<string> Columns { get; protected set; } = [];

    /// <summary>E.g. <c>csv</c>, <c>jsonl+gzip</c>, <c>parquet</c>.</summary>
    public required string Format { get; init; }

    /// <summary>CSV: the delimiter used.</summary>
    public string? Delimiter { get; init; }

    private long _invalidSequences;

    /// <summary>
    /// CSV and JSON Lines: byte sequences that were not UTF-8, each read as U+FFFD, so far (read from another thread than
    /// the one reading ahead: <see cref="FirstInvalidLine"/> is set before the count leaves 0).
    /// </summary>
    public long InvalidSequences => Volatile.Read(ref _invalidSequences);

    /// <summary>The line of the first of <see cref="InvalidSequences"/>.</summary>
    public long FirstInvalidLine { get; private set; }

    /// <summary>Counts <paramref name="count"/> byte sequences that are not UTF-8, the first of them at <paramref name="line"/> (needed for the first only).</summary>
    protected void CountInvalidSequences(long count, long line)
    {
        if (_invalidSequences == 0)
        {
            FirstInvalidLine = line;
        }

        Volatile.Write(ref _invalidSequences, _invalidSequences + count);
    }

    /// <summary>Clears <paramref name="block"/> and fills it with the next rows of the file; false when no rows remain.</summary>
    public abstract bool ReadBlock(RowBlock block, CancellationToken cancellationToken);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);

    /// <summary>
    /// Parquet unpacked from gzip may be at most this many times its packed size (and 64 MB at least): Parquet compresses
    /// its columns already, so gzip gains little on it, and far more is a gzip bomb filling the disk.
    /// </summary>
    internal const int MaxParquetUnpackRatio = 20;

    /// <summary>
    /// Parquet inside gzip: Parquet is read from its end (the footer) and by column chunks, which a gzip stream cannot
    /// seek to, so <paramref name="content"/> (the decompressed file, from its first byte; corrupt gzip is a rejection) is
    /// written beside the download <paramref name="path"/> first, and deleted when the reader is disposed.
    /// </summary>
    private static async Task<TabularReader> UnpackParquetAsync(Stream content, string path, long maxParquetRowGroupBytes, CancellationToken cancellationToken)
    {
        var unpacked = path + ".unpacked.parquet";
        try
        {
            await using (content)
            await using (var target = File.Create(unpacked))
            {
                var limit = Math.Max(64L << 20, new FileInfo(path).Length * MaxParquetUnpackRatio);
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (target.Length + read > limit)
                    {
                        throw new DatasetRejectedException("malformed-gzip",
                            $"The gzip-wrapped Parquet file unpacks to more than {limit >> 20} MB ({MaxParquetUnpackRatio} times its size): Parquet compresses its columns already; upload the .parquet file itself.");
                    }

                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            File.Delete(unpacked);
            throw;
        }

        return await ParquetTabularReader.OpenAsync(unpacked, maxParquetRowGroupBytes, cancellationToken, unpacked: true).ConfigureAwait(false);
    }

    /// <summary>Gzip-compressed text may unpack to this much at least, whatever <see cref="PreprocessOptions.MaxGzipRatio"/> says.</summary>
    internal const long MinGzipUnpackLimit = 64L << 20;

    /// <summary>
    /// Opens <paramref name="path"/> (a local copy of the blob <paramref name="fileName"/>). Gzip-compressed text is read
    /// up to <paramref name="maxGzipRatio"/> times the file's size (at least <see cref="MinGzipUnpackLimit"/>): past it
    /// the file is rejected as <c>gzip-too-large</c> instead of filling the disk; a Parquet row group that would take more
    /// than <paramref name="maxParquetRowGroupBytes"/> in memory is rejected as <c>parquet-row-group-too-large</c>.
    /// Throws <see cref="DatasetRejectedException"/>.
    /// </summary>
    public static async Task<TabularReader> OpenAsync(string path, string fileName, CancellationToken cancellationToken, int maxGzipRatio = PreprocessOptions.DefaultMaxGzipRatio,
        long maxParquetRowGroupBytes = PreprocessOptions.DefaultMaxParquetRowGroupBytes)
    {
        var name = fileName.ToLowerInvariant();
        var gzip = name.EndsWith(".gz", StringComparison.Ordinal);
        if (gzip)
        {
            name = name[..^3];
        }

        var extension = Path.GetExtension(name);
        var head = new byte[4];
        int headLength;
        await using (var probe = File.OpenRead(path))
        {
            headLength = await probe.ReadAtLeastAsync(head, 4, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        }

        if (headLength == 0)
        {
            throw new DatasetRejectedException("empty-file", "The file is empty.");
        }

        // Content beats the extension: gzip and Parquet announce themselves.
        if (headLength >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            gzip = true;
        }
        else if (headLength == 4 && head.AsSpan().SequenceEqual("PAR1"u8))
        {
            return await ParquetTabularReader.OpenAsync(path, maxParquetRowGroupBytes, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            gzip = false;
        }

        if (extension is ".parquet" or ".pq" && !gzip)
        {
            throw new DatasetRejectedException("malformed-parquet", "The file is named .parquet but does not start with the Parquet magic bytes 'PAR1'.");
        }

        Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        try
        {
            if (gzip)
            {
                stream = new BufferedStream(new GZipStream(stream, CompressionMode.Decompress), 1 << 16);
            }

            var sniff = new byte[SniffBytes];
            int sniffed;
            try
            {
                sniffed = await stream.ReadAtLeastAsync(sniff, sniff.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                throw new DatasetRejectedException("malformed-gzip", $"The file is not valid gzip: {e.Message}");
            }

            var sample = sniff.AsSpan(0, sniffed);
            // Gzip-wrapped Parquet has its own, tighter limit (UnpackParquetAsync); text gets the ratio.
            var unpackLimit = gzip && !sample.StartsWith("PAR1"u8) ? Math.Max(MinGzipUnpackLimit, new FileInfo(path).Length * maxGzipRatio) : long.MaxValue;
            var replay = new ReplayStream(sniff, sniffed, stream, unpackLimit, maxGzipRatio, gzip ? GzipTrailerSize(path) : null);
            stream = replay;
            if (gzip && sample.StartsWith("PAR1"u8))
            {
                return await UnpackParquetAsync(replay, path, maxParquetRowGroupBytes, cancellationToken).ConfigureAwait(false);
            }

            if (sample.IndexOf((byte)0) >= 0)
            {
                throw new DatasetRejectedException("binary-content", "The file contains NUL bytes: it looks binary, not text. Upload CSV, TSV, JSON Lines or Parquet.");
            }

            var suffix = gzip ? "+gzip" : "";
            var json = extension is ".jsonl" or ".ndjson" or ".json" ||
                (extension is not (".csv" or ".tsv" or ".tab" or ".txt") && FirstNonSpace(sample) == '{');
            return json
                ? JsonLinesTabularReader.Open(replay, "jsonl" + suffix)
                : CsvTabularReader.Open(replay, extension is ".tsv" or ".tab" ? '\t' : CsvTabularReader.DetectDelimiter(sample), "csv" + suffix);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static char FirstNonSpace(ReadOnlySpan<byte> sample)
    {
        if (sample.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            sample = sample[3..];
        }

        foreach (var b in sample)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return (char)b;
            }
        }

        return '\0';
    }

    /// <summary>Replays the sniffed bytes, then continues with the rest of the stream.</summary>
    /// <summary>
    /// The uncompressed size (mod 2^32) a gzip file's trailer records: its last four bytes, little-endian; -1 when the
    /// file is too short to hold a header, any data and a trailer.
    /// </summary>
    private static long GzipTrailerSize(string path)
    {
        using var file = File.OpenHandle(path);
        var length = RandomAccess.GetLength(file);
        if (length < 18)
        {
            return -1;
        }

        Span<byte> trailer = stackalloc byte[4];
        RandomAccess.Read(file, trailer, length - 4);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
    }

    /// <summary>
    /// The sniffed head, then the rest of the (decompressed) stream, counted against <paramref name="limit"/>. For gzip,
    /// <paramref name="gzipSize"/> is what the trailer records: .NET's gzip decoder ends quietly where a truncated file
    /// ends, so at the end the count must match it, or the file was cut short and is a rejection rather than a dataset
    /// missing its last rows.
    /// </summary>
    private sealed class ReplayStream(byte[] head, int headLength, Stream rest, long limit, int ratio, long? gzipSize) : ForwardOnlyReadStream
    {
        private int _position;
        private long _total;

        private int CheckEnd(int read)
        {
            if (read == 0 && gzipSize is { } expected && (uint)_total != expected)
            {
                throw new DatasetRejectedException("malformed-gzip",
                    $"The gzip data ends before its end marker: {_total} bytes unpacked, and the file's last bytes are not a gzip trailer that matches them. The upload was probably cut short; upload the file again. (Several gzip files joined into one are not read either: compress the data as one.)");
            }

            return read;
        }

        /// <summary>Counts what the file unpacked to; past the limit the file is a rejection, not a full disk.</summary>
        private int Count(int read)
        {
            _total += read;
            if (_total > limit)
            {
                throw new DatasetRejectedException("gzip-too-large",
                    $"The gzip-compressed file unpacks to more than {limit >> 20} MB ({ratio} times its size, Preprocess:MaxGzipRatio): upload it uncompressed or split it.");
            }

            return read;
        }

        public override int Read(Span<byte> buffer)
        {
            if (_position < headLength)
            {
                var n = Math.Min(buffer.Length, headLength - _position);
                head.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return Count(n);
            }

            try
            {
                return CheckEnd(Count(rest.Read(buffer)));
            }
            catch (InvalidDataException e)
            {
                throw new DatasetRejectedException("malformed-gzip", $"The compressed data is corrupt: {e.Message}");
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < headLength)
            {
                return Read(buffer.Span);
            }

            try
            {
                return CheckEnd(Count(await rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)));
            }
            catch (InvalidDataException e)
            {
                throw new DatasetRejectedException("malformed-gzip", $"The compressed data is corrupt: {e.Message}");
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                rest.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
