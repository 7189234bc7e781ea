using Pipeline.Preprocessing;

namespace Pipeline.Tests.Functions.Preprocess;

public class WelfordTests
{
    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(1e9, 1e-3)]
    [InlineData(-5e12, 10.0)]
    public void AddRange_InBlocks_GivesWhatAddGivesOneValueAtATime(double offset, double spread)
    {
        // Values far from zero with a small spread are where a sum of squares loses every digit; blocks of different
        // sizes (and values added one at a time in between) exercise the merge, and sizes around the vector width its tail.
        var random = new Random(3);
        var values = Enumerable.Range(0, 20_000).Select(_ => offset + (random.NextDouble() * spread)).ToArray();
        var single = new Welford();
        foreach (var value in values)
        {
            single.Add(value);
        }

        var blocks = new Welford();
        var at = 0;
        foreach (var size in new[] { 1, 0, 7, 8, 9, 3000, 1, 15, 5000, 10, int.MaxValue })
        {
            var taken = Math.Min(size, values.Length - at);
            blocks.AddRange(values.AsSpan(at, taken));
            at += taken;
            if (at < values.Length)
            {
                blocks.Add(values[at++]);
            }
        }

        // The reference: differences from the offset are exact, so their mean and deviations lose nothing.
        var mean = offset + values.Average(v => v - offset);
        var std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.Equal(values.Length, at);
        Assert.Equal(single.Count, blocks.Count);
        Assert.Equal(single.Min, blocks.Min);
        Assert.Equal(single.Max, blocks.Max);
        var ulp = Math.BitIncrement(Math.Abs(offset)) - Math.Abs(offset);
        Assert.Equal(mean, blocks.Mean, (4 * ulp) + (spread * 1e-12));
        Assert.Equal(std, Math.Sqrt(blocks.M2 / blocks.Count), spread * 1e-6);
        Assert.Equal(std, Math.Sqrt(single.M2 / single.Count), spread * 1e-3);
    }

    [Fact]
    public void AddRange_Empty_ChangesNothing()
    {
        var welford = new Welford();
        welford.Add(2);
        welford.AddRange([]);

        Assert.Equal(1, welford.Count);
        Assert.Equal(2, welford.Mean);
        Assert.Equal(0, welford.M2);
    }
}
