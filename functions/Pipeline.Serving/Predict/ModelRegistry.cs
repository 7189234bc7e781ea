using System.Collections.Concurrent;
using System.Text.Json;
using Azure;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Contracts;
using Pipeline.Serving.Http;
using Pipeline.Serving.Storage;
using Pipeline.Storage;

namespace Pipeline.Serving.Predict;

/// <summary>A version that could not be switched to or loaded, and why (shown by <c>GET /api/health</c>).</summary>
public sealed record ModelProblem(string Version, string Message, DateTimeOffset At);

/// <summary>What one model name serves by default on this instance.</summary>
public sealed record ServedModel(string Name, string? TargetVersion, string? ServedVersion, ModelProblem? Problem);

/// <summary>
/// Loads model versions lazily and keeps their sessions in an LRU cache bounded by <see cref="ModelOptions.CacheMemoryBytes"/>.
/// The default version of a model follows <c>models/{name}/current.json</c> (or, without one, the newest version
/// folder), re-checked by ETag at most every <see cref="ModelOptions.CurrentPollInterval"/>, in the background once a
/// version is being served (requests never wait for that check). A new version is switched
/// to only after it loaded and answered a smoke prediction; until then, and while storage fails, the version already
/// served keeps serving and the problem is reported by <see cref="Snapshot"/>. Requests in flight keep the session
/// they leased; a replaced or evicted session is disposed when its last lease ends.
/// </summary>
public sealed partial class ModelRegistry : IDisposable
{
    private sealed record Served(string? TargetVersion, string? ETag, DateTimeOffset CheckedAt, string? ServedVersion, ModelProblem? Problem);

    private enum PointerRead
    {
        Found,
        Unchanged,
        Missing,
    }

    private const int MaxDocumentBytes = 1024 * 1024;

    /// <summary>
    /// <c>producer_name</c> of the ONNX files the trainer writes (its exporter's <c>OnnxMlpExporter.ProducerName</c>; serving
    /// does not reference the training library, a test keeps the two equal). A version holding such a file needs its manifest.
    /// </summary>
    public const string TrainerProducerName = "serverless-ml-pipeline";

    private readonly IModelStore _store;
    private readonly IOptions<ModelOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelRegistry> _logger;
    private readonly ConcurrentDictionary<string, Served> _served = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Name, string Version), LoadedModel> _cache = new();
    private readonly ConcurrentDictionary<(string Name, string Version), ModelProblem> _failed = new();
    private readonly ConcurrentDictionary<string, byte> _refreshing = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _cacheLock = new();
    private readonly SingleFlight<string, Served?> _refreshes = new(StringComparer.Ordinal);
    private readonly SingleFlight<(string Name, string Version), LoadedModel?> _loads = new();
    private readonly Microsoft.ML.OnnxRuntime.SessionOptions _sessionOptions;
    private readonly Lock _coldLoadGate = new();
    private long _cacheBytes;
    private double _coldLoadTokens;
    private long _coldLoadRefilledAt;
    private int _coldLoadsActive;

    public ModelRegistry(IModelStore store, IOptions<ModelOptions> options, TimeProvider time, ILogger<ModelRegistry> logger)
    {
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;

        // Deliberate threading: IntraOpThreads (default 1) per session and no inter-op pool, so a request runs on its own
        // thread and concurrency comes from concurrent requests; no spinning threads burning the instance's CPU when idle.
        _sessionOptions = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            IntraOpNumThreads = options.Value.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _coldLoadTokens = options.Value.ColdLoadsPerMinute;
        _coldLoadRefilledAt = time.GetTimestamp();
    }

    /// <summary>
    /// Leases <paramref name="version"/> of <paramref name="name"/>, or its default version when null. Returns null
    /// when there is no such model or version. Throws <see cref="ModelUnavailableException"/> when it exists but
    /// cannot be served. Call <see cref="LoadedModel.Release"/> when done.
    /// </summary>
    public async Task<LoadedModel?> LeaseAsync(string name, string? version, CancellationToken cancellationToken)
    {
        while (true)
        {
            var target = version;
            if (target is null)
            {
                if (!_served.TryGetValue(name, out var served) || (IsStale(served) && served.ServedVersion is null))
                {
                    // Nothing to serve yet: this request waits for storage.
                    served = await RefreshAsync(name, cancellationToken).ConfigureAwait(false);
                }
                else if (IsStale(served))
                {
                    // Serve what we have; check current.json off the request path (one check per model at a time).
                    RefreshInBackground(name);
                }

                if (served is null)
                {
                    return null;
                }

                target = served.ServedVersion
                    ?? throw new ModelUnavailableException(name, served.Problem?.Version ?? "?", served.Problem?.Message ?? "no version could be loaded.");
            }

            if (_cache.TryGetValue((name, target), out var cached) && cached.TryLease())
            {
                Volatile.Write(ref cached.LastUsed, _time.GetTimestamp());
                ServingTelemetry.CacheHit(name);
                return cached;
            }

            if (version is null && DefaultMovedOn(name, target))
            {
                // The default moved on (or the model went) while this request looked: a switch evicts the old version
                // only after storing the new default, so a miss here sees it. Look again rather than load the retired
                // version back into the cache.
                continue;
            }

            var model = await GetOrLoadAsync(name, target, limited: version is not null && !IsDefault(name, version), cancellationToken).ConfigureAwait(false);
            if (model is null)
            {
                if (version is null)
                {
                    throw new ModelUnavailableException(name, target, "the version is no longer in storage.");
                }

                return null;
            }

            if (model.TryLease())
            {
                Volatile.Write(ref model.LastUsed, _time.GetTimestamp());
                if (version is null && DefaultMovedOn(name, target))
                {
                    // Loaded back while a switch happened (the cache had let the old version go to make room for the
                    // new one, so the switch found nothing to evict): this request is served, the version leaves the cache.
                    Evict(name, target);
                }

                return model;
            }

            // Evicted between load and lease (a tiny cache under pressure): try again.
        }
    }

    private bool DefaultMovedOn(string name, string version) => !_served.TryGetValue(name, out var served) || served.ServedVersion != version;

    /// <summary>
    /// Loads <paramref name="version"/> into the cache (or finds it there) without leasing it; null when it does not exist.
    /// Requests for the same version share one load; loads of other versions never wait for it (no shared lock), so a
    /// slow download or smoke prediction holds up only the requests that need that version.
    /// </summary>
    public Task<LoadedModel?> GetOrLoadAsync(string name, string version, CancellationToken cancellationToken) =>
        GetOrLoadAsync(name, version, limited: false, cancellationToken);

    /// <summary><paramref name="limited"/>: a version pinned by a request that is not a current version, so its load counts against the cold-load limits.</summary>
    private async Task<LoadedModel?> GetOrLoadAsync(string name, string version, bool limited, CancellationToken cancellationToken)
    {
        var key = (name, version);
        if (_cache.TryGetValue(key, out var cached))
        {
            ServingTelemetry.CacheHit(name);
            return cached;
        }

        LoadedModel? loaded = null;
        try
        {
            loaded = await LoadOrJoinAsync(key, limited, cancellationToken).ConfigureAwait(false);
            return loaded;
        }
        finally
        {
            // Tagged by name once the name is known to be a model: a pinned version of any name misses the cache.
            ServingTelemetry.CacheMiss(loaded is not null || Serves(name) ? name : ServingTelemetry.UnknownModel);
        }
    }

    private async Task<LoadedModel?> LoadOrJoinAsync((string Name, string Version) key, bool limited, CancellationToken cancellationToken)
    {
        var (name, version) = key;
        if (_failed.TryGetValue(key, out var failure) && _time.GetUtcNow() - failure.At < _options.Value.FailedLoadRetryInterval)
        {
            throw new ModelUnavailableException(name, version, failure.Message);
        }

        // A request that would start a load of a version that is not current takes a cold-load slot first (or is refused
        // before anything starts); requests that join a load in flight take none.
        var counted = limited && !_loads.TryGetRunning(key, out _);
        if (counted)
        {
            EnterColdLoad(name, version);
        }

        try
        {
            return await _loads.RunAsync(key, token => LoadOnceAsync(key, token), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (counted)
            {
                ExitColdLoad();
            }
        }
    }

    private async Task<LoadedModel?> LoadOnceAsync((string Name, string Version) key, CancellationToken cancellationToken)
    {
        var (name, version) = key;
        if (_cache.TryGetValue(key, out var cached))
        {
            return cached; // loaded by a load that ended between this request's look and its start
        }

        LoadedModel? model;
        using var activity = ServingTelemetry.StartLoad(name, version);
        var started = _time.GetTimestamp();
        try
        {
            model = await LoadAsync(name, version, cancellationToken).ConfigureAwait(false);
            ServingTelemetry.Loaded(activity, name, model is null ? "not-found" : "loaded", _time.GetElapsedTime(started).TotalSeconds);
        }
        catch (ModelUnavailableException e) when (e.NotReady)
        {
            ServingTelemetry.Loaded(activity, name, "not-ready", _time.GetElapsedTime(started).TotalSeconds);
            LogNotReady(_logger, name, version, e.Reason);
            throw; // not remembered: the next request looks again
        }
        catch (Exception e)
        {
            ServingTelemetry.Loaded(activity, name, "failed", _time.GetElapsedTime(started).TotalSeconds);
            if (e is ModelUnavailableException unavailable)
            {
                _failed[key] = new ModelProblem(version, unavailable.Reason, _time.GetUtcNow());
                LogLoadFailed(_logger, unavailable.InnerException ?? unavailable, name, version, unavailable.Reason);
            }

            throw;
        }

        if (model is not null)
        {
            _failed.TryRemove(key, out _);
            Insert(key, model);
        }

        return model;
    }

    /// <summary>
    /// Serves <paramref name="version"/> (already loaded and smoke-tested) by default from now on, after this instance
    /// moved <c>current.json</c> to it (its new ETag is <paramref name="pointerETag"/>); the previous version is retired.
    /// </summary>
    public async Task PromoteAsync(string name, string version, string pointerETag, CancellationToken cancellationToken)
    {
        // A check of current.json that started before this instance moved it would store what it read: let it finish first.
        while (_refreshes.TryGetRunning(name, out var running))
        {
            try
            {
                await running.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // its failure is its callers' to report
            }
        }

        _served.TryGetValue(name, out var previous);
        Store(name, new Served(version, pointerETag, _time.GetUtcNow(), version, null));
        if (previous?.ServedVersion is { } old && old != version)
        {
            Evict(name, old);
        }

        LogServing(_logger, name, version);
    }

    private void RefreshInBackground(string name)
    {
        if (!_refreshing.TryAdd(name, 0))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await RefreshAsync(name, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // RefreshAsync keeps the served version on every storage or model failure; anything else is logged here.
                LogBackgroundRefreshFailed(_logger, e, name);
            }
            finally
            {
                _refreshing.TryRemove(name, out _);
            }
        });
    }

    /// <summary>The loaded session of a version, if this instance has one (not leased: for reporting only).</summary>
    public LoadedModel? Peek(string name, string version) => _cache.TryGetValue((name, version), out var model) ? model : null;

    /// <summary>What each model this instance has been asked for serves by default, with any problem.</summary>
    public IReadOnlyList<ServedModel> Snapshot() =>
        [.. _served.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new ServedModel(p.Key, p.Value.TargetVersion, p.Value.ServedVersion, p.Value.Problem))];

    /// <summary>Estimated bytes held by the cache, and the versions in it.</summary>
    public (long Bytes, int Count) CacheUsage => (Interlocked.Read(ref _cacheBytes), _cache.Count);

    private bool IsStale(Served served) => _time.GetUtcNow() - served.CheckedAt >= _options.Value.CurrentPollInterval;

    /// <summary>
    /// Checks <c>current.json</c> and switches to the version it names once loaded. One check per model at a time:
    /// concurrent callers share it; checks of other models never wait for it (no shared lock), so a slow load of one
    /// model's new version holds up no other model.
    /// </summary>
    private Task<Served?> RefreshAsync(string name, CancellationToken cancellationToken) =>
        _refreshes.RunAsync(name, token => RefreshOnceAsync(name, token), cancellationToken);

    private async Task<Served?> RefreshOnceAsync(string name, CancellationToken cancellationToken)
    {
        _served.TryGetValue(name, out var cached);
        if (cached is not null && !IsStale(cached))
        {
            return cached;
        }

        var now = _time.GetUtcNow();
        string? target;
        string? etag;
        try
        {
            var (state, pointerVersion, pointerETag) = await ReadPointerAsync(name, cached?.ETag, cancellationToken).ConfigureAwait(false);
            (target, etag) = state switch
            {
                PointerRead.Found => (pointerVersion, pointerETag),
                PointerRead.Unchanged => (cached!.TargetVersion, cached.ETag),
                _ => (await NewestVersionAsync(name, cancellationToken).ConfigureAwait(false), null),
            };
        }
        catch (Exception e) when (e is RequestFailedException or IOException or InvalidDataException && cached?.ServedVersion is not null)
        {
            var reason = e switch
            {
                RequestFailedException r => $"storage answered {r.Status} reading current.json",
                IOException => "the models folder could not be read",
                _ => e.Message,
            };
            LogPointerCheckFailed(_logger, e, name, cached!.ServedVersion!);
            return Store(name, cached with { CheckedAt = now, Problem = new ModelProblem(cached.TargetVersion ?? "current.json", reason, now) });
        }
        catch (InvalidDataException e)
        {
            throw new ModelUnavailableException(name, "current.json", e.Message, e);
        }

        if (target is null)
        {
            // No current.json and no version folders: the model does not exist (any more).
            _served.TryRemove(name, out _);
            if (cached?.ServedVersion is { } gone)
            {
                Evict(name, gone); // after the removal, so a request that misses it in the cache sees the removal too
            }

            return null;
        }

        if (cached is not null && target == cached.ServedVersion)
        {
            return Store(name, cached with { TargetVersion = target, ETag = etag, CheckedAt = now, Problem = null });
        }

        if (cached is not null && etag is not null && etag == cached.ETag)
        {
            // Pointer unchanged and its version already failed: keep serving what we have until current.json moves.
            return Store(name, cached with { CheckedAt = now });
        }

        try
        {
            _ = await GetOrLoadAsync(name, target, cancellationToken).ConfigureAwait(false)
                ?? throw new ModelUnavailableException(name, target, "current.json names a version that has no model.onnx or manifest.json.");
        }
        catch (Exception e) when (e is ModelUnavailableException or RequestFailedException or IOException)
        {
            var reason = e switch
            {
                ModelUnavailableException u => u.Reason,
                RequestFailedException r => $"storage answered {r.Status} while loading it.",
                _ => "the models folder could not be read while loading it.",
            };
            var problem = new ModelProblem(target, reason, now);
            if (cached?.ServedVersion is { } kept)
            {
                LogNotSwitched(_logger, name, target, kept, reason);
            }

            // Retry storage failures and versions not ready at the next poll (no ETag kept); a broken version only when current.json moves.
            var keepETag = e is ModelUnavailableException { NotReady: false } ? etag : null;
            return Store(name, new Served(target, keepETag, now, cached?.ServedVersion, problem));
        }

        var previous = cached?.ServedVersion;
        var fresh = Store(name, new Served(target, etag, now, target, null));
        if (previous is not null && previous != target)
        {
            Evict(name, previous); // disposed once its in-flight requests finish
        }

        LogServing(_logger, name, target);
        return fresh;
    }

    private Served Store(string name, Served served)
    {
        _served[name] = served;
        return served;
    }

    /// <summary>The version current.json names, <see cref="PointerRead.Unchanged"/> when its ETag is still <paramref name="knownETag"/>, <see cref="PointerRead.Missing"/> when there is none.</summary>
    private async Task<(PointerRead, string?, string?)> ReadPointerAsync(string name, string? knownETag, CancellationToken cancellationToken)
    {
        var file = await _store.ReadAsync(StorageNames.CurrentPointerPath(name), knownETag, ModelPointer.MaxDocumentBytes, cancellationToken).ConfigureAwait(false);
        if (file is null)
        {
            return (PointerRead.Missing, null, null);
        }

        if (file.Unchanged)
        {
            return (PointerRead.Unchanged, null, null);
        }

        var pointer = ModelPointer.Parse(file.Content) ?? throw new InvalidDataException($"models/{name}/current.json is not JSON naming a valid version.");
        return (PointerRead.Found, pointer.Version, file.ETag);
    }

    /// <summary>Without current.json (bring-your-own models), the version folder whose model or manifest was written last.</summary>
    private async Task<string?> NewestVersionAsync(string name, CancellationToken cancellationToken)
    {
        string? newest = null;
        var newestAt = DateTimeOffset.MinValue;
        await foreach (var item in _store.ListAsync(name + "/", cancellationToken).ConfigureAwait(false))
        {
            var parts = item.Path.Split('/');
            if (parts.Length == 3 && parts[2] is StorageNames.ModelFile or StorageNames.ManifestFile && StorageNames.IsValidVersion(parts[1]) && item.LastModified > newestAt)
            {
                (newest, newestAt) = (parts[1], item.LastModified);
            }
        }

        return newest;
    }

    private async Task<LoadedModel?> LoadAsync(string name, string version, CancellationToken cancellationToken)
    {
        ModelManifest? manifest = null;
        try
        {
            var file = await _store.ReadAsync(StorageNames.ModelManifestPath(name, version), null, MaxDocumentBytes, cancellationToken).ConfigureAwait(false);
            if (file is not null)
            {
                manifest = JsonSerializer.Deserialize(file.Content, PipelineJson.Default.ModelManifest)
                    ?? throw new InvalidDataException("manifest.json holds JSON null.");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new ModelUnavailableException(name, version, "manifest.json is not a valid model manifest.", e);
        }

        var artifact = manifest?.Artifact is { Length: > 0 } a ? a : StorageNames.ModelFile;
        if (artifact.Contains("..", StringComparison.Ordinal) || artifact.StartsWith('/') || artifact.Contains('\\', StringComparison.Ordinal))
        {
            throw new ModelUnavailableException(name, version, $"manifest.json names artifact '{artifact}', which is not a file of the version folder.");
        }

        StoredFile? onnx;
        try
        {
            onnx = await _store.ReadAsync($"{name}/{version}/{artifact}", null, _options.Value.MaxModelBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new ModelUnavailableException(name, version, $"{e.Message} (Models:MaxModelBytes)", e);
        }

        if (onnx is null)
        {
            return manifest is null
                ? null // neither manifest nor model: no such version
                : throw new ModelUnavailableException(name, version, $"manifest.json names artifact '{artifact}', which does not exist.");
        }

        OnnxModelFacts facts;
        try
        {
            facts = OnnxModelCheck.Check(onnx.Content, _options.Value.MaxInitializerBytes, _options.Value.MaxNodes);
        }
        catch (InvalidDataException e)
        {
            throw new ModelUnavailableException(name, version, e.Message, e);
        }

        if (manifest is null && facts.ProducerName == TrainerProducerName)
        {
            // The trainer writes manifest.json last: its model without one is a version still being published (or
            // abandoned half-way), and serving it from the graph alone would fix the wrong contract in the cache.
            throw new ModelUnavailableException(name, version, "the trainer's model is there but its manifest.json is not yet; try again shortly.", notReady: true);
        }

        var model = LoadedModel.Load(name, version, manifest, onnx.Content, _sessionOptions, _time.GetUtcNow(), _options.Value.SmokeTimeout, _time);
        LogLoaded(_logger, name, version, onnx.Content.LongLength, model.Source);
        return model;
    }

    /// <summary>Whether <paramref name="name"/> is a model this app knows to serve (its current pointer has been read).</summary>
    public bool Serves(string name) => _served.ContainsKey(name);

    /// <summary>Whether <paramref name="version"/> is what <paramref name="name"/> serves by default, or is about to (current.json names it).</summary>
    private bool IsDefault(string name, string version) =>
        _served.TryGetValue(name, out var served) && (served.ServedVersion == version || served.TargetVersion == version);

    /// <summary>Takes a cold-load slot and a token, or throws <see cref="LoadLimitException"/>; the slot is released by <see cref="ExitColdLoad"/>.</summary>
    private void EnterColdLoad(string name, string version)
    {
        var options = _options.Value;
        lock (_coldLoadGate)
        {
            var now = _time.GetTimestamp();
            var perMinute = options.ColdLoadsPerMinute;
            _coldLoadTokens = Math.Min(perMinute, _coldLoadTokens + (_time.GetElapsedTime(_coldLoadRefilledAt, now).TotalMinutes * perMinute));
            _coldLoadRefilledAt = now;
            if (_coldLoadsActive >= options.ColdLoadConcurrency)
            {
                LogColdLoadRefused(_logger, name, version, "concurrency");
                throw new LoadLimitException(
                    $"Version '{version}' of model '{name}' is not loaded, and {_coldLoadsActive} other versions that are not current are loading (Models:ColdLoadConcurrency); try again shortly.",
                    StatusCodes.Status503ServiceUnavailable, TimeSpan.FromSeconds(1));
            }

            if (_coldLoadTokens < 1)
            {
                LogColdLoadRefused(_logger, name, version, "rate");
                throw new LoadLimitException(
                    $"Version '{version}' of model '{name}' is not loaded, and {perMinute} versions that are not current were loaded in the last minute (Models:ColdLoadsPerMinute); try again later.",
                    StatusCodes.Status429TooManyRequests, TimeSpan.FromMinutes((1 - _coldLoadTokens) / perMinute));
            }

            _coldLoadTokens--;
            _coldLoadsActive++;
        }
    }

    private void ExitColdLoad()
    {
        lock (_coldLoadGate)
        {
            _coldLoadsActive--;
        }
    }

    private void Insert((string Name, string Version) key, LoadedModel model)
    {
        var budget = _options.Value.CacheMemoryBytes;
        lock (_cacheLock)
        {
            model.LastUsed = _time.GetTimestamp();
            _cache[key] = model;
            var bytes = Interlocked.Add(ref _cacheBytes, model.SizeBytes);
            while (bytes > budget && _cache.Count > 1)
            {
                // Versions served by default are pinned: a flood of ?version= requests cannot unload them.
                var victim = _cache.Where(p => p.Key != key && !IsDefault(p.Key.Name, p.Key.Version)).MinBy(p => Volatile.Read(ref p.Value.LastUsed));
                if (victim.Value is null)
                {
                    break;
                }

                _cache.TryRemove(victim.Key, out _);
                bytes = Interlocked.Add(ref _cacheBytes, -victim.Value.SizeBytes);
                victim.Value.Retire();
                ServingTelemetry.Evicted(victim.Key.Name, "memory");
                LogEvicted(_logger, victim.Key.Name, victim.Key.Version, bytes, budget);
            }
        }
    }

    private void Evict(string name, string version)
    {
        lock (_cacheLock)
        {
            if (_cache.TryRemove((name, version), out var model))
            {
                Interlocked.Add(ref _cacheBytes, -model.SizeBytes);
                model.Retire();
                ServingTelemetry.Evicted(name, "replaced");
            }
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        foreach (var model in _cache.Values)
        {
            model.Retire();
        }

        _cache.Clear();
        _sessionOptions.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded model {Model} version {Version} ({Bytes} bytes, contract from {Source})")]
    private static partial void LogLoaded(ILogger logger, string model, string version, long bytes, string source);

    [LoggerMessage(Level = LogLevel.Error, Message = "Checking models/{Model}/current.json failed unexpectedly; still serving the version loaded")]
    private static partial void LogBackgroundRefreshFailed(ILogger logger, Exception exception, string model);

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving model {Model} version {Version}")]
    private static partial void LogServing(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unloaded model {Model} version {Version} (least recently used; cache {Bytes} of {Budget} bytes)")]
    private static partial void LogEvicted(ILogger logger, string model, string version, long bytes, long budget);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not check models/{Model}/current.json; still serving version {Version}")]
    private static partial void LogPointerCheckFailed(ILogger logger, Exception exception, string model, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not loading model {Model} version {Version}: the cold-load {Limit} limit is reached")]
    private static partial void LogColdLoadRefused(ILogger logger, string model, string version, string limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} version {Version} is not ready yet: {Reason}")]
    private static partial void LogNotReady(ILogger logger, string model, string version, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} version {Version} cannot be served: {Reason}")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string model, string version, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model}: not switching to version {Version} ({Reason}); still serving version {ServedVersion}")]
    private static partial void LogNotSwitched(ILogger logger, string model, string version, string servedVersion, string reason);
}
