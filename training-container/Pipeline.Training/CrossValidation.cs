using Pipeline.Contracts;
using Pipeline.Datasets;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// k-fold cross-validation over train + validation, for tables too small for one validation split to choose among trials:
/// every fold is a <see cref="TrainingData"/> that trains on the other folds' rows and validates on its own, and
/// <see cref="Combined"/> holds every row (what the chosen trees are refit on). All folds share one piecewise-linear
/// encoding and the manifest's standardization, so fold networks can be averaged into one graph.
/// </summary>
public sealed class CrossValidation : IDisposable
{
    /// <param name="manifest">The dataset version.</param>
    /// <param name="train">The train split.</param>
    /// <param name="validation">The validation split (joins the train split; folds replace it).</param>
    /// <param name="folds">Number of folds (at least 2).</param>
    /// <param name="seed">The run's seed: the same rows and seed give the same folds.</param>
    /// <param name="device">Training device.</param>
    /// <param name="pinMemory">Pin host tensors before copying them to a CUDA device.</param>
    /// <param name="encoding">The encoding every fold uses (the search's); null when encoded trials do not run.</param>
    public CrossValidation(DatasetManifest manifest, DatasetSplit train, DatasetSplit validation, int folds, int seed, Device device, bool pinMemory = false,
        PiecewiseEncoding? encoding = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        var all = Concat(train, validation);
        if (all.RowCount < folds)
        {
            throw new ArgumentException($"{all.RowCount} rows cannot make {folds} folds.", nameof(folds));
        }

        Assignment = AssignFolds(all.Target, manifest.Task == TaskKind.Classification, folds, seed);
        var list = new List<TrainingData>(folds);
        try
        {
            for (var fold = 0; fold < folds; fold++)
            {
                var f = fold;
                list.Add(new TrainingData(manifest, Rows(all, i => Assignment[i] != f), Rows(all, i => Assignment[i] == f), device, pinMemory, encoding));
            }

            Combined = new TrainingData(manifest, all, validation, device, pinMemory, encoding);
        }
        catch
        {
            list.ForEach(d => d.Dispose());
            throw;
        }

        Folds = list;
    }

    /// <summary>Fold of every row of train + validation (train rows first).</summary>
    public IReadOnlyList<int> Assignment { get; }

    /// <summary>Fold <c>f</c> trains on every row outside fold <c>f</c> and validates on fold <c>f</c>.</summary>
    public IReadOnlyList<TrainingData> Folds { get; }

    /// <summary>Every row of train + validation as the train split (its validation split is the original one, for reports).</summary>
    public TrainingData Combined { get; }

    /// <summary>
    /// Deterministic fold of every row. Classification is stratified: the rows of each class, in a seeded order, are dealt
    /// to the folds in turn (continuing where the previous class stopped), so every fold holds each class in its share and
    /// fold sizes differ by at most one. Regression is stratified by the target: rows sorted by value are dealt in blocks of
    /// <paramref name="folds"/>, each block to the folds in a seeded order, so every fold spans the target's range.
    /// </summary>
    public static int[] AssignFolds(IReadOnlyList<float> target, bool classification, int folds, int seed)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        var random = new Random(seed);
        var assignment = new int[target.Count];
        if (classification)
        {
            var next = 0;
            foreach (var rows in Enumerable.Range(0, target.Count).GroupBy(i => (int)target[i]).OrderBy(g => g.Key))
            {
                var order = rows.ToArray();
                random.Shuffle(order);
                foreach (var row in order)
                {
                    assignment[row] = next;
                    next = (next + 1) % folds;
                }
            }

            return assignment;
        }

        var sorted = Enumerable.Range(0, target.Count).OrderBy(i => target[i]).ThenBy(i => i).ToArray();
        var slots = Enumerable.Range(0, folds).ToArray();
        for (var start = 0; start < sorted.Length; start += folds)
        {
            random.Shuffle(slots);
            for (var j = 0; j < folds && start + j < sorted.Length; j++)
            {
                assignment[sorted[start + j]] = slots[j];
            }
        }

        return assignment;
    }

    /// <summary>The rows of <paramref name="first"/> followed by those of <paramref name="second"/>.</summary>
    public static DatasetSplit Concat(DatasetSplit first, DatasetSplit second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return new([.. first.Features.Zip(second.Features, (a, b) => (float[])[.. a, .. b])], [.. first.Target, .. second.Target]);
    }

    private static DatasetSplit Rows(DatasetSplit split, Func<int, bool> keep)
    {
        var rows = Enumerable.Range(0, split.RowCount).Where(keep).ToArray();
        return new([.. split.Features.Select(column => rows.Select(r => column[r]).ToArray())], [.. rows.Select(r => split.Target[r])]);
    }

    public void Dispose()
    {
        foreach (var fold in Folds)
        {
            fold.Dispose();
        }

        Combined.Dispose();
    }
}
