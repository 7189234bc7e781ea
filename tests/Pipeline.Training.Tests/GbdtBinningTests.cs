using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training;
using Pipeline.Training.Gbdt;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

/// <summary>How finely the tree trials bin a tiny table: a forest may split between any two neighbouring values, boosting keeps 3 rows per bin.</summary>
public class GbdtBinningTests
{
    private const int TrainRows = 24;

    [Fact]
    public void Run_Forest_SplitsBetweenValuesThatShareABinUnderBoosting()
    {
        // 24 distinct values, y = x: 3 rows per bin allow 8 bins (and LightGBM's own bin for zero), so at most 8 thresholds;
        // a forest of unpruned trees with one row per leaf splits between far more neighbours.
        var thresholds = Thresholds(new GbdtParameters(255, 1, 1, 1.0, 0.632, 0, Boosting: "rf"));

        Assert.True(thresholds >= 16, $"a forest used {thresholds} distinct thresholds");
    }

    [Fact]
    public void Run_Boosting_KeepsThreeRowsPerBin()
    {
        var thresholds = Thresholds(new GbdtParameters(255, 0.1, 1, 1.0, 1.0, 0));

        Assert.InRange(thresholds, 1, 8);
    }

    private static int Thresholds(GbdtParameters parameters)
    {
        var (manifest, train, validation) = Line();
        using var data = new TrainingData(manifest, train, validation, CPU);
        var state = new TrialState { Index = 0, Parameters = TrialParameters.Trees(parameters) };

        GbdtTrainer.Run(data, state, seed: 3, threads: 1, TimeProvider.System, () => false, null, TestContext.Current.CancellationToken);

        return LightGbmModel.Parse(state.TreeModel!).Trees.SelectMany(t => t.Threshold).Distinct().Count();
    }

    /// <summary>y = x on the integers 0…23 (train) and 0.5…7.5 (validation).</summary>
    private static (DatasetManifest Manifest, DatasetSplit Train, DatasetSplit Validation) Line()
    {
        static DatasetSplit Make(IEnumerable<float> x)
        {
            float[] values = [.. x];
            return new DatasetSplit([values], [.. values]);
        }

        var train = Make(Enumerable.Range(0, TrainRows).Select(i => (float)i));
        var std = Math.Sqrt(train.Target.Average(v => Math.Pow(v - train.Target.Average(), 2)));
        var manifest = new DatasetManifest
        {
            Dataset = "line",
            Version = "v1",
            Task = TaskKind.Regression,
            Target = "y",
            Model = "line",
            Features = [new FeatureStats { Name = "x", Mean = train.Features[0].Average(), Std = std }],
            TargetStats = new TargetStats { Mean = train.Target.Average(), Std = std },
        };
        return (manifest, train, Make(Enumerable.Range(0, 8).Select(i => i + 0.5f)));
    }
}
