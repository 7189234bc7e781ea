using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Pipeline.Serving.Predict;

/// <summary>
/// One run of an operation per key at a time: a caller for a key that is running joins that run instead of starting
/// another, and runs for other keys never wait for it (no shared lock). When the caller that started a run gives it up
/// (its own cancellation token), the callers that joined it start it again.
/// </summary>
internal sealed class SingleFlight<TKey, TValue>(IEqualityComparer<TKey>? comparer = null)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Task<TValue>> _running = new(comparer);

    /// <summary>The run in flight for <paramref name="key"/>, if any.</summary>
    public bool TryGetRunning(TKey key, [MaybeNullWhen(false)] out Task<TValue> running) => _running.TryGetValue(key, out running);

    /// <summary>Runs <paramref name="work"/> for <paramref name="key"/>, or waits for the run already in flight.</summary>
    public async Task<TValue> RunAsync(TKey key, Func<CancellationToken, Task<TValue>> work, CancellationToken cancellationToken)
    {
        while (true)
        {
            var mine = new TaskCompletionSource<TValue>(TaskCreationOptions.RunContinuationsAsynchronously);
            var running = _running.GetOrAdd(key, mine.Task);
            if (running != mine.Task)
            {
                try
                {
                    return await running.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    continue; // the caller that started the run gave up; this one starts it again
                }
            }

            try
            {
                var value = await work(cancellationToken).ConfigureAwait(false);
                mine.SetResult(value);
                return value;
            }
            catch (Exception e)
            {
                mine.SetException(e);
                throw;
            }
            finally
            {
                _running.TryRemove(new KeyValuePair<TKey, Task<TValue>>(key, mine.Task));
            }
        }
    }
}
