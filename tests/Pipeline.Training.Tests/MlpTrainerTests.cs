using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training.Onnx;
using Pipeline.Training;
using Pipeline.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

[Collection(TorchDeterminism.Name)]
public class MlpTrainerTests
{
    private static readonly TrainingSettings Settings = new([32, 32], MaxEpochs: 60, Patience: 10, BatchSize: 64, LearningRate: 3e-3, WeightDecay: 1e-4, Seed: 7);

    [Fact]
    public void Train_SeparableClasses_LearnsAndStopsEarly()
    {
        var (manifest, train, validation, test) = SyntheticData.ThreeClassDataset(800, seed: 3);

        using var model = MlpTrainer.Train(manifest, train, validation, Settings, CPU, TestContext.Current.CancellationToken);
        var probabilities = model.Predict(MlpTrainer.ToRowMajor(test), test.RowCount);

        Assert.True(Metrics.Classification(probabilities, test.Target, 3)["accuracy"] >= 0.9);
        Assert.InRange(model.BestEpoch, 1, model.Epochs);
        Assert.True(model.Epochs <= Settings.MaxEpochs);
    }

    [Fact]
    public void Train_SameSeed_GivesTheSameWeights()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(300, seed: 5);
        var settings = Settings with { MaxEpochs = 5 };

        using var first = MlpTrainer.Train(manifest, train, validation, settings, CPU, TestContext.Current.CancellationToken);
        using var second = MlpTrainer.Train(manifest, train, validation, settings, CPU, TestContext.Current.CancellationToken);

        Assert.Equal(first.Definition.Layers[0].Weight, second.Definition.Layers[0].Weight);
    }

    [Fact]
    public void Export_TrainedModel_MatchesTorchSharpInOnnxRuntimeAndPassesTheChecker()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(600, seed: 11);
        using var model = MlpTrainer.Train(manifest, train, validation, Settings with { MaxEpochs = 15 }, CPU, TestContext.Current.CancellationToken);
        var onnx = OnnxMlpExporter.Export(model.Definition);

        // 1,000 random rows over (and beyond) the training range, in raw units: the graph standardizes them itself.
        var random = new Random(99);
        var rows = new float[1000 * 3];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = (float)((random.NextDouble() * 300) - 100);
        }

        var torch = model.Predict(rows, 1000);
        using var evaluator = new OnnxEvaluator(onnx, OnnxContract.InputName, OnnxContract.ProbabilitiesOutput);
        var ort = evaluator.Run(rows, 1000, 3);

        Assert.Equal(torch.Length, ort.Length);
        var maxDifference = torch.Zip(ort, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDifference <= 1e-4, $"ONNX Runtime differs from TorchSharp by {maxDifference}");

        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "model.onnx");
        File.WriteAllBytes(path, onnx);
        OnnxChecker.Check(path);
    }
}
