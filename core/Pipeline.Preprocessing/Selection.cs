using System.Numerics;

namespace Pipeline.Preprocessing;

/// <summary>Order statistics of finite numbers without sorting them.</summary>
public static class Selection
{
    /// <summary>
    /// Rearranges <paramref name="values"/> so that the value at <paramref name="k"/> is the one a sort would put there,
    /// with none larger before it and none smaller after it, and returns it. Three-way partitions around the median of
    /// three values at pseudo-random places (fixed seed), so runs of equal values (a column of a few integers) and sorted
    /// runs (a sample filled from files sorted within groups) cost no more than shuffled ones; should the pivots still
    /// fail, the range left is sorted after 2·log₂(n) + 8 rounds instead of taking quadratic time.
    /// </summary>
    public static double Select(Span<double> values, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(k, values.Length);
        var rounds = (2 * BitOperations.Log2((uint)values.Length)) + 8;
        var random = 0x9E3779B97F4A7C15UL;
        int left = 0, right = values.Length - 1;
        for (var round = 0; right > left; round++)
        {
            if (round == rounds)
            {
                values[left..(right + 1)].Sort();
                break;
            }

            var width = (ulong)(right - left + 1);
            var pivot = MedianOfThree(
                values[left + (int)XorShift.Below(ref random, width)],
                values[left + (int)XorShift.Below(ref random, width)],
                values[left + (int)XorShift.Below(ref random, width)]);

            // Dutch flag: [left, lt) < pivot, [lt, i) == pivot, (gt, right] > pivot.
            int lt = left, i = left, gt = right;
            while (i <= gt)
            {
                var v = values[i];
                if (v < pivot)
                {
                    (values[lt], values[i]) = (v, values[lt]);
                    lt++;
                    i++;
                }
                else if (v > pivot)
                {
                    (values[gt], values[i]) = (v, values[gt]);
                    gt--;
                }
                else
                {
                    i++;
                }
            }

            if (k < lt)
            {
                right = lt - 1;
            }
            else if (k > gt)
            {
                left = gt + 1;
            }
            else
            {
                return values[k];
            }
        }

        return values[k];
    }

    /// <summary>The largest of <paramref name="values"/> (not empty).</summary>
    public static double Max(ReadOnlySpan<double> values)
    {
        var max = values[0];
        foreach (var v in values[1..])
        {
            if (v > max)
            {
                max = v;
            }
        }

        return max;
    }

    private static double MedianOfThree(double a, double b, double c) =>
        a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
}
