namespace Pipeline.Datasets;

/// <summary>
/// The arithmetic of drift monitoring, shared by the trainer (which records the baseline) and the drift report (which
/// compares with it): quantile bin edges, the bin of a value, and the population stability index.
/// </summary>
public static class Distributions
{
    /// <summary>Share a bin is floored at in <see cref="Psi"/>, so an empty bin on one side gives a large but finite term.</summary>
    public const double PsiFloor = 1e-4;

    /// <summary>
    /// Up to <paramref name="bins"/> − 1 ascending, distinct cut points at the quantiles of <paramref name="values"/>
    /// (bins are right-closed, see <see cref="BinOf"/>). Repeated values give fewer bins; a cut at the maximum is left out
    /// so that every bin holds train values.
    /// </summary>
    public static List<double> QuantileEdges(ReadOnlySpan<float> values, int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var sorted = values.ToArray();
        Array.Sort(sorted);
        List<double> edges = [];
        if (sorted.Length == 0)
        {
            return edges;
        }

        var max = sorted[^1];
        for (var q = 1; q < bins; q++)
        {
            var at = (int)Math.Ceiling((double)q * sorted.Length / bins) - 1;
            double edge = sorted[Math.Clamp(at, 0, sorted.Length - 1)];
            if (edge < max && (edges.Count == 0 || edge > edges[^1]))
            {
                edges.Add(edge);
            }
        }

        return edges;
    }

    /// <summary>The bin of <paramref name="value"/>: the first i with value ≤ edges[i], else <c>edges.Count</c>.</summary>
    public static int BinOf(IReadOnlyList<double> edges, double value)
    {
        ArgumentNullException.ThrowIfNull(edges);
        int low = 0, high = edges.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (value <= edges[mid])
            {
                high = mid;
            }
            else
            {
                low = mid + 1;
            }
        }

        return low;
    }

    /// <summary>Shares per bin of <paramref name="values"/> cut at <paramref name="edges"/>.</summary>
    public static List<double> BinShares(ReadOnlySpan<float> values, IReadOnlyList<double> edges)
    {
        var counts = new long[edges.Count + 1];
        foreach (var v in values)
        {
            counts[BinOf(edges, v)]++;
        }

        return Shares(counts);
    }

    /// <summary>Counts as shares of their total (all zero when the total is zero).</summary>
    public static List<double> Shares(IReadOnlyList<long> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var total = counts.Sum();
        return [.. counts.Select(c => total == 0 ? 0 : (double)c / total)];
    }

    /// <summary>
    /// Population stability index Σ (o − e) · ln(o / e) of <paramref name="observed"/> against <paramref name="expected"/>
    /// shares (same bins), each share floored at <see cref="PsiFloor"/>. 0 for equal distributions; by convention below
    /// 0.1 is stable, 0.1–0.25 a moderate shift, above 0.25 a significant one.
    /// </summary>
    public static double Psi(IReadOnlyList<double> expected, IReadOnlyList<double> observed)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(observed);
        if (expected.Count != observed.Count)
        {
            throw new ArgumentException($"Expected {expected.Count} shares and observed {observed.Count}: the bins differ.", nameof(observed));
        }

        var psi = 0.0;
        for (var i = 0; i < expected.Count; i++)
        {
            var e = Math.Max(expected[i], PsiFloor);
            var o = Math.Max(observed[i], PsiFloor);
            psi += (o - e) * Math.Log(o / e);
        }

        return psi;
    }
}
