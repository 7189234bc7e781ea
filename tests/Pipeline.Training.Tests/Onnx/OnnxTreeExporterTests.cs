using Pipeline.Contracts;
using Pipeline.Training;
using Pipeline.Training.Gbdt;
using Pipeline.Training.Onnx;

namespace Pipeline.Tests.Core.Onnx;

/// <summary>
/// Tree models exported to ONNX against LightGBM's own predictions on rows the trees did not train on, for the three tasks;
/// seeded data with thresholds and interactions, so the trees are deep and many rows sit near split points.
/// </summary>
public sealed class OnnxTreeExporterTests : IDisposable
{
    private const int TrainRows = 2_000;
    private const int TestRows = 1_500;
    private const int Features = 6;
    private const double Tolerance = 1e-5;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<int> Tasks => new() { 0, 2, 4 };

    public static TheoryData<int, string> TasksAndBoosting => new() { { 0, "gbdt" }, { 2, "gbdt" }, { 4, "gbdt" }, { 0, "rf" }, { 2, "rf" }, { 4, "rf" } };

    [Theory]
    [MemberData(nameof(TasksAndBoosting))]
    public void Export_TrainedBooster_MatchesLightGbmPredictionInOnnxRuntime(int classes, string boosting)
    {
        var (model, test) = Train(classes, seed: 3, boosting);
        var labels = Labels(classes);
        var onnx = OnnxTreeExporter.Export(LightGbmModel.Parse(model), FeatureNames(), labels);

        using var booster = LightGbmBooster.Load(model);
        var width = GbdtTrainer.PredictionWidth(classes, classes > 0);
        var expected = booster.Predict(test, TestRows, Features, width);
        var outputName = classes > 0 ? OnnxContract.ProbabilitiesOutput : OnnxContract.ValueOutput;
        using var evaluator = new OnnxEvaluator(onnx, OnnxContract.InputName, outputName);
        var actual = evaluator.Run(test, TestRows, Features);

        var outputs = classes > 0 ? classes : 1;
        Assert.Equal(TestRows * outputs, actual.Length);
        var maxError = 0.0;
        for (var r = 0; r < TestRows; r++)
        {
            for (var k = 0; k < outputs; k++)
            {
                // LightGBM gives P(class 1) for binary; the graph gives both classes.
                var reference = classes == 2 ? (k == 1 ? expected[r] : 1 - expected[r]) : expected[(r * outputs) + k];
                maxError = Math.Max(maxError, Math.Abs(actual[(r * outputs) + k] - reference));
            }
        }

        Assert.True(maxError <= Tolerance, $"Largest difference from LightGBM: {maxError:E2}.");
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Export_TrainedBooster_PassesOnnxChecker(int classes)
    {
        var (model, _) = Train(classes, seed: 5);
        var path = Path.Combine(_temp.Path, $"trees-{classes}.onnx");
        File.WriteAllBytes(path, OnnxTreeExporter.Export(LightGbmModel.Parse(model), FeatureNames(), Labels(classes)));

        OnnxChecker.Check(path);
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Export_TrainedBooster_LoadsInTheServingAppAndAnswersLikeLightGbm(int classes)
    {
        var (model, test) = Train(classes, seed: 7);
        var onnx = OnnxTreeExporter.Export(LightGbmModel.Parse(model), FeatureNames(), Labels(classes));
        using var booster = LightGbmBooster.Load(model);
        var expected = GbdtTrainer.PredictServed(booster, test, TestRows, Features, classes, classes > 0);

        // No manifest: the serving app reads features, task and labels from the graph's metadata and runs its smoke prediction.
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1 };
        using var served = Pipeline.Serving.Predict.LoadedModel.Load("trees", "v1", null, onnx, options, DateTimeOffset.UnixEpoch);
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        var output = new float[TestRows * served.OutputWidth];
        served.Run(test, TestRows, output, runOptions);

        Assert.Equal(classes > 0 ? classes : 1, served.OutputWidth);
        Assert.Equal("onnx", served.Source);
        var maxError = output.Zip(expected, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.True(maxError <= Tolerance, $"Largest difference from LightGBM through the serving app: {maxError:E2}.");
    }

    [Fact]
    public void Export_SameDataAndSeed_WritesIdenticalBytes()
    {
        var first = OnnxTreeExporter.Export(LightGbmModel.Parse(Train(3, seed: 9).Model), FeatureNames(), Labels(3));
        var second = OnnxTreeExporter.Export(LightGbmModel.Parse(Train(3, seed: 9).Model), FeatureNames(), Labels(3));

        Assert.Equal(first, second);
    }

    [Fact]
    public void RawScores_ParsedModel_MatchesLightGbmRawScores()
    {
        var (model, test) = Train(3, seed: 13);
        var parsed = LightGbmModel.Parse(model);
        using var booster = LightGbmBooster.Load(model);
        var expected = booster.Predict(test, TestRows, Features, 3, raw: true);

        for (var r = 0; r < TestRows; r++)
        {
            var scores = parsed.RawScores(test.AsSpan(r * Features, Features));
            for (var k = 0; k < 3; k++)
            {
                Assert.Equal(expected[(r * 3) + k], scores[k], 12);
            }
        }
    }

    [Fact]
    public void Build_WrongLabelCount_ThrowsNamingTheMismatch()
    {
        var parsed = LightGbmModel.Parse(Train(3, seed: 1).Model);

        var error = Assert.Throws<ArgumentException>(() => OnnxTreeExporter.Build(parsed, FeatureNames(), Labels(4)));
        Assert.Contains("3 trees per iteration", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A booster trained on seeded rows (0 classes = regression) and held-out test rows from the same distribution.</summary>
    private static (string Model, float[] Test) Train(int classes, int seed, string boosting = "gbdt")
    {
        var (x, y) = Generate(TrainRows, classes, seed);
        var (xTest, _) = Generate(TestRows, classes, seed + 1000);
        var (xValid, yValid) = Generate(500, classes, seed + 2000);
        const string datasetParameters = "max_bin=255 feature_pre_filter=false num_threads=1 verbosity=-1 data_random_seed=1";
        using var train = new LightGbmDataset(x, TrainRows, Features, y, datasetParameters);
        using var valid = new LightGbmDataset(xValid, 500, Features, yValid, datasetParameters, train);
        var objective = classes == 0 ? "objective=regression" : classes == 2 ? "objective=binary" : $"objective=multiclass num_class={classes}";
        using var booster = LightGbmBooster.Create(train, $"{objective} boosting={boosting} num_leaves=31 learning_rate=0.1 bagging_fraction=0.8 bagging_freq=1 feature_fraction=0.8 seed={seed} deterministic=true force_row_wise=true num_threads=1 verbosity=-1");
        booster.AddValidation(valid);
        for (var i = 0; i < 120 && booster.Update(); i++)
        {
        }

        return (booster.SaveModel(), xTest);
    }

    private static (float[] X, float[] Y) Generate(int rows, int classes, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * Features];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * Features, Features);
            for (var f = 0; f < Features; f++)
            {
                // Integer-valued, skewed and continuous columns: thresholds land between close float values.
                row[f] = f switch
                {
                    0 => random.Next(0, 60),
                    1 => (float)Math.Exp(random.NextDouble() * 6),
                    2 => random.Next(2),
                    _ => (float)((random.NextDouble() * 2) - 1),
                };
            }

            var score = (row[0] > 30 ? 1.2 : -0.4) + (Math.Log(row[1]) * 0.5) - (row[2] * row[3] * 2) + Math.Sin(3 * row[4]) + (0.3 * random.NextDouble());
            y[r] = classes switch
            {
                0 => (float)(score * 10),
                2 => score > 1.6 ? 1 : 0,
                _ => Math.Clamp((int)Math.Floor((score + 1) / 1.2), 0, classes - 1),
            };
        }

        return (x, y);
    }

    private static string[] FeatureNames() => [.. Enumerable.Range(0, Features).Select(f => $"f{f}")];

    private static string[]? Labels(int classes) => classes == 0 ? null : [.. Enumerable.Range(0, classes).Select(c => $"c{c}")];
}
