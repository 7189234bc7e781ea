using System.Diagnostics;

namespace Pipeline.Preprocessing;

/// <summary>
/// Runs the same set of per-column work items once per block on all cores, longest first: items are taken one at a time
/// in the order of what each cost in the previous block, so the block ends when the cores run out of work together rather
/// than when the core that took the last large chunk finishes (<see cref="Parallel.For(int, int, Action{int})"/> hands out
/// growing chunks of consecutive items, and a few columns, such as dates or the duplicate check, cost several times the rest).
/// </summary>
public sealed class ColumnTasks
{
    private readonly int[] _order;
    private readonly long[] _cost;
    private readonly int _workers;
    private int _next;

    public ColumnTasks(int count)
    {
        _order = Enumerable.Range(0, count).ToArray();
        _cost = new long[count];
        _workers = Math.Min(Environment.ProcessorCount, count);
    }

    /// <summary>Runs <paramref name="body"/> for every item; exceptions surface as from <see cref="Parallel.For(int, int, Action{int})"/>.</summary>
    public void Run(Action<int> body, CancellationToken cancellationToken)
    {
        _next = -1;
        Parallel.For(0, _workers, new ParallelOptions { CancellationToken = cancellationToken }, (_, state) =>
        {
            int taken;
            while ((taken = Interlocked.Increment(ref _next)) < _order.Length && !state.ShouldExitCurrentIteration)
            {
                var item = _order[taken];
                var start = Stopwatch.GetTimestamp();
                body(item);
                _cost[item] = Stopwatch.GetTimestamp() - start;
            }
        });

        // Longest first next time (ties in item order).
        var cost = _cost;
        _order.AsSpan().Sort((a, b) => cost[a] != cost[b] ? cost[b].CompareTo(cost[a]) : a.CompareTo(b));
    }
}
