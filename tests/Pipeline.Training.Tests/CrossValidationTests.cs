using System.Globalization;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Tests.Infrastructure;
using Pipeline.Training;
using Pipeline.Training.Gbdt;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

/// <summary>Cross-validated selection on small tables: fold assignment, fold data, and what the search serves from it.</summary>
[Collection(TorchDeterminism.Name)]
public class CrossValidationTests
{
    private static readonly SearchBudget TwoTrials = new(MaxTrials: 2, MaxSeconds: 3600, MaxEpochs: 15, Patience: 5, EnsembleSize: 3);

    [Fact]
    public void AssignFolds_Classification_IsStratifiedBalancedAndSeeded()
    {
        // 60 / 27 / 13 rows of three classes, in blocks (an unshuffled assignment would put whole classes in one fold).
        float[] target = [.. Enumerable.Repeat(0f, 60), .. Enumerable.Repeat(1f, 27), .. Enumerable.Repeat(2f, 13)];

        var folds = CrossValidation.AssignFolds(target, classification: true, folds: 5, seed: 7);

        Assert.All(Enumerable.Range(0, 5), f => Assert.Equal(20, folds.Count(x => x == f)));
        foreach (var (label, count) in new[] { (0f, 60), (1f, 27), (2f, 13) })
        {
            var perFold = Enumerable.Range(0, 5).Select(f => Enumerable.Range(0, target.Length).Count(i => target[i] == label && folds[i] == f)).ToList();
            Assert.True(perFold.Max() - perFold.Min() <= 1, $"class {label}: {string.Join(", ", perFold)}");
            Assert.Equal(count, perFold.Sum());
        }

        Assert.Equal(folds, CrossValidation.AssignFolds(target, classification: true, folds: 5, seed: 7));
        Assert.NotEqual(folds, CrossValidation.AssignFolds(target, classification: true, folds: 5, seed: 8));
    }

    [Fact]
    public void AssignFolds_Regression_EveryFoldSpansTheTargetRange()
    {
        var random = new Random(3);
        var target = Enumerable.Range(0, 103).Select(_ => (float)(random.NextDouble() * 100)).ToArray();

        var folds = CrossValidation.AssignFolds(target, classification: false, folds: 5, seed: 1);

        var sorted = Enumerable.Range(0, target.Length).OrderBy(i => target[i]).ToArray();
        for (var f = 0; f < 5; f++)
        {
            var rows = Enumerable.Range(0, target.Length).Where(i => folds[i] == f).ToList();
            Assert.InRange(rows.Count, 20, 21);
            // Every block of 5 rows in target order gives each fold exactly one row: each fold has one of the 5 smallest and one of the largest.
            Assert.Single(sorted.Take(5), i => folds[i] == f);
            Assert.Single(sorted.Skip(95).Take(5), i => folds[i] == f);
        }

        Assert.Equal(folds, CrossValidation.AssignFolds(target, classification: false, folds: 5, seed: 1));
    }

    [Fact]
    public void Folds_PartitionTrainPlusValidation_AndCombinedHoldsEveryRow()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(120, seed: 2);

        using var cv = new CrossValidation(manifest, train, validation, folds: 4, seed: 9, CPU);

        var total = train.RowCount + validation.RowCount;
        Assert.Equal(total, cv.Combined.TrainRows);
        Assert.Equal(total, cv.Folds.Sum(f => f.ValidationRows));
        Assert.All(cv.Folds, f => Assert.Equal(total, f.TrainRows + f.ValidationRows));
        // Fold f validates on exactly the rows assigned to it, in their order (targets of train rows, then validation rows).
        float[] all = [.. train.Target, .. validation.Target];
        for (var f = 0; f < 4; f++)
        {
            Assert.Equal(Enumerable.Range(0, total).Where(i => cv.Assignment[i] == f).Select(i => all[i]), cv.Folds[f].ValidationTarget);
        }
    }

    [Fact]
    public void Run_CrossValidated_RanksEveryTrialByItsMeanFoldLoss()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(160, seed: 4);
        using var data = new TrainingData(manifest, train, validation, CPU);
        using var cv = new CrossValidation(manifest, train, validation, folds: 5, seed: 5, CPU, encoding: data.Encoding);
        var budget = TwoTrials with { MaxTrials = 3 };
        var search = new ModelSearch(data, budget, seed: 5, new SearchState { Fingerprint = "test" }, TimeProvider.System, folds: cv);

        search.Run(null, TestContext.Current.CancellationToken);

        Assert.True(search.CrossValidated);
        Assert.Equal(3, search.State.Completed.Count);
        Assert.All(search.State.Completed, t =>
        {
            Assert.Equal(5, t.FoldLosses!.Count);
            Assert.Equal(t.FoldLosses.Average(), t.ValidationLoss, 12);
        });
        var winner = search.State.Completed.Select((t, i) => (t.ValidationLoss, i)).Min().i;
        Assert.Equal(winner, search.State.LowestLoss ?? search.State.Best);
        Assert.Equal(ModelSearch.LinearWithinOneStandardError(search.State.Completed)?.Linear ?? winner, search.State.Best);
        Assert.DoesNotContain(search.State.Completed, t => t.EnsembleMember);
        Assert.Contains("5 folds", search.State.StoppedBy, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_CrossValidated_NetworkWins_ServesTheAverageOfItsFoldModels()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(160, seed: 4);
        using var data = new TrainingData(manifest, train, validation, CPU);
        using var cv = new CrossValidation(manifest, train, validation, folds: 3, seed: 5, CPU, encoding: data.Encoding);
        var budget = TwoTrials with { MaxTrials = 1 };
        var search = new ModelSearch(data, budget, seed: 5, new SearchState { Fingerprint = "test" }, TimeProvider.System, folds: cv, trials: [new([], 1e-2, 1e-4, 0, 32)]);

        var served = search.Run(null, TestContext.Current.CancellationToken);

        // The one trial is a linear network trained by AdamW: its fold models, trained here again, average to the served weights.
        Assert.Equal(ModelFamily.Linear, served.Parameters.Family);
        Assert.Equal(3, search.AveragedModels);
        var folds = Enumerable.Range(0, 3).Select(f =>
        {
            var run = new TrialState { Index = 0, Parameters = search.Trials[0] };
            using var trainer = new TrialTrainer(cv.Folds[f], run, ModelSearch.FoldSeed(5, f), budget.MaxEpochs, budget.Patience);
            trainer.Run(() => false, null, TestContext.Current.CancellationToken);
            return run.BestWeights;
        }).ToList();
        Assert.NotEqual(folds[0], folds[1]);
        for (var p = 0; p < served.BestWeights.Count; p++)
        {
            var mean = Enumerable.Range(0, served.BestWeights[p].Length).Select(i => folds.Average(w => w[p][i])).ToArray();
            Assert.Equal(mean, served.BestWeights[p], (a, b) => Math.Abs(a - b) < 1e-5);
        }
    }

    [Fact]
    public void Run_CrossValidated_TreesWin_RefitOnEveryRowForTheMeanBestRound_Deterministically()
    {
        var (manifest, train, validation) = Xor(300);
        using var data = new TrainingData(manifest, train, validation, CPU);
        using var cv = new CrossValidation(manifest, train, validation, folds: 5, seed: 5, CPU, encoding: data.Encoding);
        string? Trees(out ModelSearch search)
        {
            search = new ModelSearch(data, TwoTrials, seed: 5, new SearchState { Fingerprint = "test" }, TimeProvider.System, folds: cv);
            return search.Run(null, TestContext.Current.CancellationToken).TreeModel;
        }

        var trees = Trees(out var search);

        // A linear model cannot separate XOR; the trees trial (bagging 1: every row in every tree) wins.
        var chosen = search.State.Completed[search.State.Best];
        Assert.Equal(ModelFamily.Gbdt, chosen.Parameters.Family);
        Assert.Equal(1.0, chosen.Parameters.Gbdt!.BaggingFraction);
        Assert.NotNull(trees);
        Assert.Equal(chosen.BestEpoch, LightGbmModel.Parse(trees).Trees.Count);
        // The first tree's leaves count every row it was trained on: all of train + validation, not one fold's share.
        var firstTree = trees.Split('\n').First(l => l.StartsWith("leaf_count=", StringComparison.Ordinal))["leaf_count=".Length..];
        Assert.Equal(train.RowCount + validation.RowCount, firstTree.Split(' ').Sum(c => int.Parse(c, CultureInfo.InvariantCulture)));
        Assert.True(search.State.RefitSeconds > 0);
        Assert.Equal(trees, Trees(out _));
    }

    /// <summary>Two uniform features whose signs' XOR is the class: trees learn it, a linear model cannot.</summary>
    private static (DatasetManifest Manifest, DatasetSplit Train, DatasetSplit Validation) Xor(int rows)
    {
        var random = new Random(11);
        DatasetSplit Make(int count)
        {
            float[][] features = [new float[count], new float[count]];
            var target = new float[count];
            for (var r = 0; r < count; r++)
            {
                features[0][r] = (float)((random.NextDouble() * 2) - 1);
                features[1][r] = (float)((random.NextDouble() * 2) - 1);
                target[r] = features[0][r] > 0 ^ features[1][r] > 0 ? 1 : 0;
            }

            return new DatasetSplit(features, target);
        }

        var train = Make(rows);
        var manifest = new DatasetManifest
        {
            Dataset = "xor",
            Version = "v1",
            Task = TaskKind.Classification,
            Target = "class",
            Model = "xor",
            Labels = ["no", "yes"],
            Features = [new FeatureStats { Name = "a", Mean = 0, Std = 0.58 }, new FeatureStats { Name = "b", Mean = 0, Std = 0.58 }],
        };
        return (manifest, train, Make(rows / 4));
    }
}
