namespace Pipeline.Training;

/// <summary>
/// The trials of a search across the three families, in the order they run: ridge / logistic regression first (small tabular
/// data often prefers it; fitted exactly, so it costs a fraction of a second), gradient-boosted trees second (what tabular data usually prefers, and fast), then hand-picked MLP and tree
/// configurations that are good defaults for tabular data (among them the same regression on piecewise-linear encoded
/// inputs, an additive model) and two random forests (what small noisy tables often prefer:
/// bagged trees on every feature, and one drawing 60% of the features per split),
/// then seeded random draws (one in three a tree configuration). Every family has a trial among the first four and the
/// forests come before the larger networks: when the clock cuts a search (a loaded machine, a large table), the trials it
/// left out are the slowest, and the one family that wins on some small tables is not among them.
/// The list depends only on the seed and the number of training rows, so the same data and settings give the same trials.
/// </summary>
public static class SearchSpace
{
    private static readonly int[] Widths = [32, 64, 128, 256];
    private static readonly double[] Dropouts = [0, 0, 0.1, 0.2, 0.3];
    private static readonly int[] BatchSizes = [32, 64, 128, 256];
    private static readonly int[] TreeLeaves = [7, 15, 31, 63, 127];
    private static readonly int[] TreeMinLeafRows = [5, 10, 20, 40, 80];

    /// <param name="count">Trials wanted.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="trainRows">Rows of the train split (caps the batch size).</param>
    /// <param name="encodingAvailable">Whether encoded trials can run (see <see cref="TrainingData.Encoding"/>); if not, they are left out.</param>
    /// <param name="trees">Whether gradient-boosted-trees trials take part.</param>
    public static IReadOnlyList<TrialParameters> Trials(int count, int seed, int trainRows, bool encodingAvailable = true, bool trees = true)
    {
        var trials = new List<TrialParameters>
        {
            TrialParameters.Regularized(encoded: false),
            TrialParameters.Trees(new(31, 0.05, 20, 0.9, 1.0, 0)),
            new([128], 3e-3, 1e-2, 0, 64),
            TrialParameters.Trees(new(255, 1, 1, 1.0, 0.632, 0, Boosting: "rf")),
            TrialParameters.Regularized(encoded: true),
            new([64], 3e-3, 1e-2, 0.1, 64, Encoded: true),
            TrialParameters.Trees(new(255, 1, 2, 0.6, 0.632, 0, Boosting: "rf")),
            TrialParameters.Trees(new(15, 0.03, 10, 0.7, 0.8, 1)),
            new([64, 64], 3e-3, 1e-3, 0.1, 64),
            new([256, 128], 1e-3, 1e-2, 0.2, 128),
            TrialParameters.Trees(new(63, 0.05, 30, 0.8, 0.8, 3)),
            new([128, 128, 64], 1e-3, 1e-3, 0.1, 64),
        };
        var random = new Random(seed);
        trials.RemoveAll(t => (t.Encoded && !encodingAvailable) || (t.Gbdt is not null && !trees));
        while (trials.Count < count)
        {
            if (trees && trials.Count % 3 == 2)
            {
                trials.Add(TrialParameters.Trees(new(
                    TreeLeaves[random.Next(TreeLeaves.Length)],
                    LogUniform(random, 0.02, 0.2),
                    TreeMinLeafRows[random.Next(TreeMinLeafRows.Length)],
                    0.5 + (0.5 * random.NextDouble()),
                    0.5 + (0.5 * random.NextDouble()),
                    LogUniform(random, 1e-3, 10))));
                continue;
            }

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

        // Tiny training sets get at least ~8 steps per epoch, and leaves of at most a tenth of the rows.
        var largestBatch = Math.Max(16, trainRows / 8);
        var largestLeaf = Math.Max(2, trainRows / 10);
        return trials.Take(count).Select(t => t.Gbdt is { } g
            ? (g.MinDataInLeaf > largestLeaf ? TrialParameters.Trees(g with { MinDataInLeaf = largestLeaf }) : t)
            : t.BatchSize > largestBatch ? t with { BatchSize = largestBatch } : t).ToList();
    }

    private static double LogUniform(Random random, double low, double high) =>
        Math.Exp(Math.Log(low) + (random.NextDouble() * (Math.Log(high) - Math.Log(low))));
}
