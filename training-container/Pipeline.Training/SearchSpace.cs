namespace Pipeline.Training;

/// <summary>
/// The trials of a search, in the order they run: a linear model first (small tabular data often prefers it), then a few
/// hand-picked configurations that are good defaults for tabular data, then seeded random draws. The list depends only on
/// the seed and the number of training rows, so the same data and settings give the same trials.
/// </summary>
public static class SearchSpace
{
    private static readonly int[] Widths = [32, 64, 128, 256];
    private static readonly double[] Dropouts = [0, 0, 0.1, 0.2, 0.3];
    private static readonly int[] BatchSizes = [32, 64, 128, 256];

    /// <param name="count">Trials wanted.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="trainRows">Rows of the train split (caps the batch size).</param>
    /// <param name="encodingAvailable">Whether encoded trials can run (see <see cref="TrainingData.Encoding"/>); if not, they are left out.</param>
    public static IReadOnlyList<TrialParameters> Trials(int count, int seed, int trainRows, bool encodingAvailable = true)
    {
        var trials = new List<TrialParameters>
        {
            new([], 1e-2, 1e-4, 0, 32),
            new([128], 3e-3, 1e-2, 0, 64),
            new([], 1e-2, 1e-3, 0, 32, Encoded: true),
            new([64], 3e-3, 1e-2, 0.1, 64, Encoded: true),
            new([64, 64], 3e-3, 1e-3, 0.1, 64),
            new([256, 128], 1e-3, 1e-2, 0.2, 128),
            new([32], 1e-2, 1e-4, 0, 32),
            new([128, 128, 64], 1e-3, 1e-3, 0.1, 64),
        };
        var random = new Random(seed);
        trials.RemoveAll(t => t.Encoded && !encodingAvailable);
        while (trials.Count < count)
        {
            var depth = 1 + random.Next(3);
            var width = Widths[random.Next(Widths.Length)];
            trials.Add(new TrialParameters(
                Enumerable.Range(0, depth).Select(d => Math.Max(16, width >> d)).ToList(),
                LogUniform(random, 3e-4, 2e-2),
                LogUniform(random, 1e-5, 1e-1),
                Dropouts[random.Next(Dropouts.Length)],
                BatchSizes[random.Next(BatchSizes.Length)],
                random.Next(3) == 0 && encodingAvailable));
        }

        // Tiny training sets get at least ~8 steps per epoch.
        var largestBatch = Math.Max(16, trainRows / 8);
        return trials.Take(count).Select(t => t.BatchSize > largestBatch ? t with { BatchSize = largestBatch } : t).ToList();
    }

    private static double LogUniform(Random random, double low, double high) =>
        Math.Exp(Math.Log(low) + (random.NextDouble() * (Math.Log(high) - Math.Log(low))));
}
