using Pipeline.Preprocessing;

namespace Pipeline.Tests.Functions.Preprocess;

public class ColumnTasksTests
{
    [Fact]
    public void Every_item_runs_exactly_once_per_block_whatever_the_order()
    {
        var tasks = new ColumnTasks(27);
        for (var block = 0; block < 20; block++)
        {
            var runs = new int[27];
            tasks.Run(i =>
            {
                Interlocked.Increment(ref runs[i]);

                // Items of very different cost, changing from block to block, so the order is reshuffled every time.
                Thread.SpinWait(((i * 7) + block) % 27 * 200);
            }, TestContext.Current.CancellationToken);
            Assert.All(runs, count => Assert.Equal(1, count));
        }
    }

    [Fact]
    public void A_failing_item_surfaces_and_the_next_block_runs_every_item_again()
    {
        var tasks = new ColumnTasks(5);
        var error = Assert.Throws<AggregateException>(() => tasks.Run(i =>
        {
            if (i == 3)
            {
                throw new InvalidOperationException("column 3 failed");
            }
        }, TestContext.Current.CancellationToken));
        Assert.Contains(error.InnerExceptions, e => e.Message == "column 3 failed");

        var runs = new int[5];
        tasks.Run(i => Interlocked.Increment(ref runs[i]), TestContext.Current.CancellationToken);
        Assert.All(runs, count => Assert.Equal(1, count));
    }

    [Fact]
    public void A_cancelled_token_stops_before_any_item()
    {
        var tasks = new ColumnTasks(5);
        var ran = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => tasks.Run(_ => Interlocked.Increment(ref ran), new CancellationToken(canceled: true)));
        Assert.Equal(0, ran);
    }
}
