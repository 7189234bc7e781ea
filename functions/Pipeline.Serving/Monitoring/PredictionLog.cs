using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Threading.Channels;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using Pipeline.Storage;

namespace Pipeline.Serving.Monitoring;

/// <summary>
/// Records a sample of predict requests — the request's rows as sent and the model's outputs, with model, version and
/// time — off the request path: <see cref="Record"/> only decides, copies into pooled buffers and hands the record to a
/// queue; records count against <see cref="PredictionLogOptions.MaxBufferBytes"/> until their file is written or given
/// up, and a record that does not fit is dropped and counted, never waited for. A
/// background loop writes the records every <see cref="PredictionLogOptions.FlushInterval"/> as gzip-compressed JSON Lines
/// under <c>monitoring/{model}/{version}/{yyyy-MM-dd}/</c>; a write that fails or times out drops its records (counted) and
/// is not retried, so slow or failing storage costs the log records, never a request.
/// </summary>
public sealed partial class PredictionLog : BackgroundService
{
    /// <summary>Key of the <see cref="BlobContainerClient"/> of container <c>monitoring</c> (registered only when the app serves from storage).</summary>
    public const string ContainerKey = StorageNames.MonitoringContainer;

    private readonly Lazy<BlobContainerClient>? _container;
    private readonly PredictionLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PredictionLog> _logger;
    private readonly Channel<Entry> _queue = Channel.CreateUnbounded<Entry>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _bucketGate = new();
    private readonly string _instance = Guid.NewGuid().ToString("N")[..8];
    private double _tokens;
    private long _refilledAt;
    private long _queuedBytes;
    private long _sequence;
    private long _recorded;
    private long _sampledOut;
    private long _dropped;
    private long _written;
    private long _failedWrites;

    /// <param name="container">Makes the <c>monitoring</c> container's client, first when a file is written (start-up never touches storage); null: no storage, nothing is recorded.</param>
    public PredictionLog(Func<BlobContainerClient>? container, IOptions<PredictionLogOptions> options, TimeProvider time, ILogger<PredictionLog> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _container = container is null ? null : new Lazy<BlobContainerClient>(container);
        _options = options.Value;
        _time = time;
        _logger = logger;
        _tokens = _options.RowsPerSecond;
        _refilledAt = time.GetTimestamp();
    }

    /// <summary>Recording is on: enabled, and the app serves from storage.</summary>
    public bool IsEnabled => _options.Enabled && _container is not null;

    /// <summary>What the log did so far (health details).</summary>
    public PredictionLogCounters Counters => new()
    {
        Enabled = IsEnabled,
        RecordedRequests = Interlocked.Read(ref _recorded),
        SampledOutRequests = Interlocked.Read(ref _sampledOut),
        DroppedRequests = Interlocked.Read(ref _dropped),
        WrittenRequests = Interlocked.Read(ref _written),
        FailedWrites = Interlocked.Read(ref _failedWrites),
        QueuedBytes = Interlocked.Read(ref _queuedBytes),
    };

    /// <summary>
    /// Offers one answered request: <paramref name="body"/> (the request as received) and <paramref name="outputs"/>
    /// (<paramref name="rows"/> × <paramref name="width"/> model outputs). Never blocks, never throws for storage.
    /// </summary>
    public void Record(string model, string version, ReadOnlySpan<byte> body, int rows, ReadOnlySpan<float> outputs, int width)
    {
        if (!IsEnabled)
        {
            return;
        }

        if (!Admit(rows))
        {
            Interlocked.Increment(ref _sampledOut);
            return;
        }

        long size = body.Length + (outputs.Length * sizeof(float));
        if (Interlocked.Add(ref _queuedBytes, size) > _options.MaxBufferBytes)
        {
            Interlocked.Add(ref _queuedBytes, -size);
            Interlocked.Increment(ref _dropped);
            return;
        }

        var bodyCopy = ArrayPool<byte>.Shared.Rent(body.Length);
        body.CopyTo(bodyCopy);
        var outputCopy = ArrayPool<float>.Shared.Rent(outputs.Length);
        outputs.CopyTo(outputCopy);
        var entry = new Entry(model, version, _time.GetUtcNow(), bodyCopy, body.Length, outputCopy, outputs.Length, width, size);
        if (!_queue.Writer.TryWrite(entry))
        {
            Release(entry);
            Interlocked.Increment(ref _dropped);
            return;
        }

        Interlocked.Increment(ref _recorded);
    }

    /// <summary>All rows up to the rate, then a sampled share of requests.</summary>
    private bool Admit(int rows)
    {
        lock (_bucketGate)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_options.RowsPerSecond, _tokens + (_time.GetElapsedTime(_refilledAt, now).TotalSeconds * _options.RowsPerSecond));
            _refilledAt = now;
            if (_tokens >= rows)
            {
                _tokens -= rows;
                return true;
            }
        }

        return _options.SampleRate > 0 && Random.Shared.NextDouble() < _options.SampleRate;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!IsEnabled)
        {
            return;
        }

        var files = new Dictionary<(string Model, string Version), Batch>();
        var due = _time.GetUtcNow() + _options.FlushInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var wait = due - _time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    timeout.CancelAfter(wait);
                    try
                    {
                        await _queue.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                    {
                    }
                }

                while (_queue.Reader.TryRead(out var entry))
                {
                    var key = (entry.Model, entry.Version);
                    if (!files.TryGetValue(key, out var batch))
                    {
                        files[key] = batch = new Batch();
                    }

                    batch.Add(entry);
                    Release(entry);
                    if (batch.Bytes >= Math.Min(_options.MaxFileBytes, _options.MaxBufferBytes / 2))
                    {
                        await WriteAsync(key, batch, stoppingToken).ConfigureAwait(false);
                        files.Remove(key);
                    }
                }

                if (_time.GetUtcNow() >= due)
                {
                    foreach (var (key, batch) in files)
                    {
                        await WriteAsync(key, batch, stoppingToken).ConfigureAwait(false);
                    }

                    files.Clear();
                    due = _time.GetUtcNow() + _options.FlushInterval;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutting down: what is buffered is written once more, within the write timeout.
        while (_queue.Reader.TryRead(out var entry))
        {
            var key = (entry.Model, entry.Version);
            if (!files.TryGetValue(key, out var batch))
            {
                files[key] = batch = new Batch();
            }

            batch.Add(entry);
            Release(entry);
        }

        // Bounded: the host waits for this on shutdown.
        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Min(5, _options.WriteTimeout.TotalSeconds)));
        foreach (var (key, batch) in files)
        {
            await WriteAsync(key, batch, shutdown.Token).ConfigureAwait(false);
        }
    }

    private async Task WriteAsync((string Model, string Version) key, Batch batch, CancellationToken stoppingToken)
    {
        try
        {
            await UploadAsync(key, batch, stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            // The buffer budget covers a record until its file is written or given up.
            Interlocked.Add(ref _queuedBytes, -batch.Size);
        }
    }

    private async Task UploadAsync((string Model, string Version) key, Batch batch, CancellationToken stoppingToken)
    {
        if (batch.Requests == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var name = string.Create(CultureInfo.InvariantCulture,
            $"{key.Model}/{key.Version}/{now:yyyy-MM-dd}/{now:HHmmss-fff}-{_instance}-{Interlocked.Increment(ref _sequence)}.jsonl.gz");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(_options.WriteTimeout);
        try
        {
            var container = _container!.Value;
            var blob = container.GetBlobClient(name);
            var content = new BinaryData(batch.Compress());
            try
            {
                await blob.UploadAsync(content, overwrite: true, timeout.Token).ConfigureAwait(false);
            }
            catch (Azure.RequestFailedException e) when (e.ErrorCode == "ContainerNotFound")
            {
                await container.CreateIfNotExistsAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
                await blob.UploadAsync(content, overwrite: true, timeout.Token).ConfigureAwait(false);
            }

            Interlocked.Add(ref _written, batch.Requests);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever storage or its client does, a lost log file must not stop the app: counted, logged, dropped.
            Interlocked.Increment(ref _failedWrites);
            Interlocked.Add(ref _dropped, batch.Requests);
            LogWriteFailed(_logger, e, name, batch.Requests);
        }
    }

    private static void Release(Entry entry)
    {
        ArrayPool<byte>.Shared.Return(entry.Body);
        ArrayPool<float>.Shared.Return(entry.Outputs);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prediction log: writing monitoring/{Blob} failed; its {Requests} requests are dropped")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string blob, long requests);

    private sealed record Entry(string Model, string Version, DateTimeOffset Time, byte[] Body, int BodyLength, float[] Outputs, int OutputLength, int Width, long Size);

    /// <summary>One model version's records as JSON Lines: <c>{"time","rows":[…as sent…],"outputs":[[…],…]}</c> per request.</summary>
    private sealed class Batch
    {
        private static readonly JsonEncodedText TimeProperty = JsonEncodedText.Encode("time");
        private static readonly JsonEncodedText RowsProperty = JsonEncodedText.Encode("rows");
        private static readonly JsonEncodedText OutputsProperty = JsonEncodedText.Encode("outputs");
        private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);

        public long Requests { get; private set; }

        public int Bytes => _buffer.WrittenCount;

        /// <summary>The records' share of the buffer budget (<see cref="Entry.Size"/> summed).</summary>
        public long Size { get; private set; }

        public void Add(Entry entry)
        {
            Size += entry.Size;
            var rows = RowsOf(entry.Body.AsSpan(0, entry.BodyLength));
            if (rows.IsEmpty)
            {
                return;
            }

            using (var writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true }))
            {
                writer.WriteStartObject();
                writer.WriteString(TimeProperty, entry.Time);
                writer.WritePropertyName(RowsProperty);
                writer.WriteRawValue(rows, skipInputValidation: true);
                writer.WriteStartArray(OutputsProperty);
                for (var i = 0; i < entry.OutputLength; i += entry.Width)
                {
                    writer.WriteStartArray();
                    foreach (var value in entry.Outputs.AsSpan(i, entry.Width))
                    {
                        writer.WriteNumberValue(value);
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            _buffer.Write("\n"u8);
            Requests++;
        }

        public byte[] Compress()
        {
            using var output = new MemoryStream();
            using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            {
                gzip.Write(_buffer.WrittenSpan);
            }

            return output.ToArray();
        }

        /// <summary>The <c>rows</c> array of a predict body that was answered (so is valid JSON), as sent.</summary>
        private static ReadOnlySpan<byte> RowsOf(ReadOnlySpan<byte> body)
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isRows = reader.ValueTextEquals("rows"u8);
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (isRows)
                {
                    return body[start..(int)reader.BytesConsumed];
                }
            }

            return default;
        }
    }
}

/// <summary>What the prediction log did since the instance started (in <c>GET /api/health/details</c>).</summary>
public sealed class PredictionLogCounters
{
    public bool Enabled { get; set; }

    /// <summary>Requests queued to be written.</summary>
    public long RecordedRequests { get; set; }

    /// <summary>Requests over the rate that sampling left out.</summary>
    public long SampledOutRequests { get; set; }

    /// <summary>Requests chosen but dropped: the buffer was full, or their file could not be written.</summary>
    public long DroppedRequests { get; set; }

    public long WrittenRequests { get; set; }

    public long FailedWrites { get; set; }

    public long QueuedBytes { get; set; }
}
