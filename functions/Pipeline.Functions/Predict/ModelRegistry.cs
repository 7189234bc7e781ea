using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Functions.Predict;

/// <summary>
/// Loads models lazily and caches one session per model version. The version served follows
/// <c>models/{name}/current.json</c>, re-checked by ETag at most every <see cref="ModelOptions.CurrentPollInterval"/>;
/// while storage fails, the version already loaded keeps serving.
/// </summary>
public sealed partial class ModelRegistry(
    BlobServiceClient blobs,
    IOptions<ModelOptions> options,
    TimeProvider time,
    ILogger<ModelRegistry> logger) : IDisposable
{
    private sealed class Current
    {
        public required string Version { get; init; }

        public required ETag ETag { get; init; }

        public required DateTimeOffset CheckedAt { get; set; }

        public required LoadedModel Model { get; init; }
    }

    private readonly ConcurrentDictionary<string, Current> _current = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);
    private readonly Microsoft.ML.OnnxRuntime.SessionOptions _sessionOptions = new()
    {
        IntraOpNumThreads = options.Value.IntraOpThreads,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };

    private BlobContainerClient Models => blobs.GetBlobContainerClient(StorageNames.ModelsContainer);

    /// <summary>The current version of <paramref name="name"/>, leased (call <see cref="LoadedModel.Release"/>), or null when there is no such model.</summary>
    public async Task<LoadedModel?> LeaseCurrentAsync(string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_current.TryGetValue(name, out var cached) && time.GetUtcNow() - cached.CheckedAt < options.Value.CurrentPollInterval)
            {
                if (cached.Model.TryLease())
                {
                    return cached.Model;
                }

                continue; // retired between lookup and lease: look again
            }

            var current = await RefreshAsync(name, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return null;
            }

            if (current.Model.TryLease())
            {
                return current.Model;
            }
        }
    }

    private async Task<Current?> RefreshAsync(string name, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(name, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _current.TryGetValue(name, out var cached);
            if (cached is not null && time.GetUtcNow() - cached.CheckedAt < options.Value.CurrentPollInterval)
            {
                return cached;
            }

            (CurrentPointer Pointer, ETag ETag)? pointer;
            try
            {
                pointer = await ReadPointerAsync(name, cached?.ETag, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (cached is not null)
            {
                LogPointerCheckFailed(logger, e, name, cached.Version);
                cached.CheckedAt = time.GetUtcNow();
                return cached;
            }

            if (pointer is null)
            {
                if (cached is null)
                {
                    return null;
                }

                cached.CheckedAt = time.GetUtcNow(); // 304: unchanged
                return cached;
            }

            if (cached is not null && cached.Version == pointer.Value.Pointer.Version)
            {
                cached.CheckedAt = time.GetUtcNow();
                return cached;
            }

            LoadedModel model;
            try
            {
                model = await LoadAsync(name, pointer.Value.Pointer.Version, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (cached is not null && e is RequestFailedException or InvalidDataException or OnnxRuntimeException)
            {
                LogLoadFailed(logger, e, name, pointer.Value.Pointer.Version, cached.Version);
                cached.CheckedAt = time.GetUtcNow();
                return cached;
            }

            var fresh = new Current { Version = model.Manifest.Version, ETag = pointer.Value.ETag, CheckedAt = time.GetUtcNow(), Model = model };
            _current[name] = fresh;
            cached?.Model.Retire();
            LogServing(logger, name, fresh.Version);
            return fresh;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The pointer, or null when it has not changed since <paramref name="knownETag"/>, or when it does not exist and nothing is cached.</summary>
    private async Task<(CurrentPointer, ETag)?> ReadPointerAsync(string name, ETag? knownETag, CancellationToken cancellationToken)
    {
        var blob = Models.GetBlobClient(StorageNames.CurrentPointerPath(name));
        try
        {
            var conditions = knownETag is { } etag ? new BlobRequestConditions { IfNoneMatch = etag } : null;
            var result = await blob.DownloadContentAsync(new BlobDownloadOptions { Conditions = conditions }, cancellationToken).ConfigureAwait(false);
            var pointer = System.Text.Json.JsonSerializer.Deserialize(result.Value.Content.ToMemory().Span, PipelineJson.Default.CurrentPointer)
                ?? throw new InvalidDataException($"models/{name}/current.json is empty.");
            return (pointer, result.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status is 304 or 404)
        {
            return null;
        }
    }

    private async Task<LoadedModel> LoadAsync(string name, string version, CancellationToken cancellationToken)
    {
        var manifest = await BlobJson.ReadAsync(Models.GetBlobClient(StorageNames.ModelManifestPath(name, version)), PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"models/{name}/{version}/manifest.json does not exist.");
        var onnx = await Models.GetBlobClient($"{name}/{version}/{manifest.Value.Artifact}").DownloadContentAsync(cancellationToken).ConfigureAwait(false);
        var model = new LoadedModel(manifest.Value, onnx.Value.Content.ToArray(), _sessionOptions);
        LogLoaded(logger, name, version, onnx.Value.Details.ContentLength);
        return model;
    }

    public void Dispose()
    {
        foreach (var current in _current.Values)
        {
            current.Model.Retire();
        }

        _sessionOptions.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded model {Model} version {Version} ({Bytes} bytes)")]
    private static partial void LogLoaded(ILogger logger, string model, string version, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving model {Model} version {Version}")]
    private static partial void LogServing(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not check models/{Model}/current.json; still serving version {Version}")]
    private static partial void LogPointerCheckFailed(ILogger logger, Exception exception, string model, string version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} version {Version} failed to load; still serving version {ServedVersion}")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string model, string version, string servedVersion);
}
