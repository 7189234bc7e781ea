using System.Runtime.CompilerServices;
using Azure;
using Polly;
using Polly.CircuitBreaker;
using Pipeline.Storage;

namespace Pipeline.Serving.Storage;

/// <summary>
/// A circuit breaker (Polly) around the model store. The Azure SDK already retries each call; what it cannot do is stop
/// calling a store that keeps failing. When half the calls in 30 s fail (at least 4), the circuit opens for
/// <see cref="BreakDuration"/>: calls fail at once with a 503 <see cref="RequestFailedException"/>, so a cold instance
/// answers "storage unavailable" in microseconds instead of after the SDK's retries, and a warm one keeps serving the
/// loaded versions (the registry treats it like any storage failure). Not-found is not a failure. When the SDK's retries
/// end in transport failures it throws them gathered in an <see cref="AggregateException"/>; that leaves here as a
/// <see cref="RequestFailedException"/> (status 0), like a single one.
/// </summary>
public sealed partial class ResilientModelStore : IModelStore
{
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(15);

    private readonly IModelStore _inner;
    private readonly ResiliencePipeline _pipeline;

    public ResilientModelStore(IModelStore inner, TimeProvider time, ILogger<ResilientModelStore> logger)
    {
        _inner = inner;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = BreakDuration,
                ShouldHandle = new PredicateBuilder()
                    .Handle<RequestFailedException>(e => e.Status is 0 or 408 or 429 or >= 500)
                    .Handle<IOException>()
                    .Handle<HttpRequestException>(),
                OnOpened = args =>
                {
                    LogOpened(logger, args.Outcome.Exception, args.BreakDuration);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    LogClosed(logger);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public Task<StoredFile?> ReadAsync(string path, string? ifNoneMatch, long maxBytes, CancellationToken cancellationToken) =>
        ExecuteAsync(token => new ValueTask<StoredFile?>(_inner.ReadAsync(path, ifNoneMatch, maxBytes, token)), cancellationToken);

    public async IAsyncEnumerable<StoredItem> ListAsync(string? prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var items = await ExecuteAsync(async token =>
        {
            var list = new List<StoredItem>();
            await foreach (var item in _inner.ListAsync(prefix, token).ConfigureAwait(false))
            {
                list.Add(item);
            }

            return list;
        }, cancellationToken).ConfigureAwait(false);
        foreach (var item in items)
        {
            yield return item;
        }
    }

    public Task<PointerState> ReadPointerAsync(string model, CancellationToken cancellationToken) =>
        ExecuteAsync(token => new ValueTask<PointerState>(_inner.ReadPointerAsync(model, token)), cancellationToken);

    public Task<PointerState?> TryMovePointerAsync(string model, string version, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken) =>
        ExecuteAsync(token => new ValueTask<PointerState?>(_inner.TryMovePointerAsync(model, version, expected, now, token)), cancellationToken);

    private async Task<T> ExecuteAsync<T>(Func<CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(async token =>
            {
                try
                {
                    return await call(token).ConfigureAwait(false);
                }
                catch (AggregateException e) when (Http.ProblemDetailsPolicy.IsStorageUnreachable(e))
                {
                    // The SDK's retries spent on transport failures: the attempts' failures, gathered. Still storage
                    // being down, for the circuit, the registry and the client.
                    var attempts = e.Flatten().InnerExceptions;
                    throw new RequestFailedException(0, $"Model storage could not be reached in {attempts.Count} attempts: {attempts[^1].Message}", e);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            throw new RequestFailedException(503, $"Model storage is failing; calls are paused for up to {BreakDuration.TotalSeconds:0} s.", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Model storage keeps failing: not calling it for {BreakDuration}; loaded versions keep serving")]
    private static partial void LogOpened(ILogger logger, Exception? exception, TimeSpan breakDuration);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model storage answers again")]
    private static partial void LogClosed(ILogger logger);
}
