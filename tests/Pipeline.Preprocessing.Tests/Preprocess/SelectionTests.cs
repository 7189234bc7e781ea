using Pipeline.Preprocessing;

namespace Pipeline.Tests.Functions.Preprocess;

public class SelectionTests
{
    public static TheoryData<string> Orders => ["random", "few distinct", "ascending", "descending", "organ pipe", "sawtooth", "sorted halves", "all equal"];

    private static double[] Values(string order, int n)
    {
        var random = new Random(11);
        return order switch
        {
            "random" => [.. Enumerable.Range(0, n).Select(_ => (random.NextDouble() - 0.5) * 1e6)],
            "few distinct" => [.. Enumerable.Range(0, n).Select(_ => (double)random.Next(3))],
            "ascending" => [.. Enumerable.Range(0, n).Select(i => (double)i)],
            "descending" => [.. Enumerable.Range(0, n).Select(i => (double)-i)],
            "organ pipe" => [.. Enumerable.Range(0, n).Select(i => (double)Math.Min(i, n - i))],
            "sawtooth" => [.. Enumerable.Range(0, n).Select(i => (double)(i % 97))],
            "sorted halves" => [.. Enumerable.Range(0, n).Select(i => (double)(i < n / 2 ? 2 * i : (2 * (i - (n / 2))) + 1))],
            _ => [.. Enumerable.Repeat(4.5, n)],
        };
    }

    [Theory]
    [MemberData(nameof(Orders))]
    public void Select_EveryRank_IsWhatSortingPutsThere(string order)
    {
        foreach (var n in new[] { 1, 2, 3, 10, 101, 2000 })
        {
            var values = Values(order, n);
            var sorted = values.Order().ToArray();
            foreach (var k in new[] { 0, n / 3, (n / 2) - 1, n / 2, n - 1 }.Where(k => k >= 0).Distinct())
            {
                var work = values.ToArray();
                Assert.Equal(sorted[k], Selection.Select(work, k));
                Assert.Equal(sorted[k], work[k]);
                Assert.True(work[..k].All(v => v <= sorted[k]) && work[(k + 1)..].All(v => v >= sorted[k]), $"{order}, n={n}, k={k}: not partitioned");
                Assert.Equal(sorted, work.Order()); // rearranged, nothing lost
            }

            Assert.Equal(sorted[^1], Selection.Max(values));
        }
    }

    [Fact]
    public void Select_RankOutsideTheValues_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Selection.Select(new double[3], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Selection.Select(new double[3], -1));
    }
}
