using Pipeline.Training;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

[Collection(TorchDeterminism.Name)]
public class EnsembleMergerTests
{
    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { 8 })]
    [InlineData(new[] { 8, 6, 4 })]
    public void Merge_ThreeNetworks_ComputesTheMeanOfTheirOutputs(int[] hidden)
    {
        const int Inputs = 5, Outputs = 3, Rows = 50;
        random.manual_seed(11);
        var members = Enumerable.Range(0, 3).Select(_ => new Mlp(Inputs, hidden, Outputs)).ToList();
        using var x = randn(Rows, Inputs);

        var merged = EnsembleMerger.Merge([.. members.Select(TrialTrainer.Snapshot)], Inputs, hidden, Outputs);
        using var wide = new Mlp(Inputs, [.. hidden.Select(h => h * 3)], Outputs);
        TrialTrainer.Restore(wide, merged);

        using var noGrad = no_grad();
        var expected = members.Select(m => m.forward(x).data<float>().ToArray()).Aggregate((a, b) => [.. a.Zip(b, (p, q) => p + q)]).Select(v => v / 3).ToArray();
        var actual = wide.forward(x).data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First, pair.Second, 1e-5f));
        members.ForEach(m => m.Dispose());
    }
}

[Collection(TorchDeterminism.Name)]
public class PiecewiseEncodingTests
{
    [Fact]
    public void Encode_IsTheValueAndItsClampedBinPositions()
    {
        float[][] columns = [[-2f, -1f, 0f, 1f, 2f, 3f, 4f, 5f, 6f]];
        using var encoding = new PiecewiseEncoding(columns, bins: 4, CPU);
        using var x = tensor(new[] { -3f, 0.5f, 2f, 7f }, [4, 1]);

        using var encoded = encoding.Encode(x);
        var values = encoded.data<float>().ToArray();

        Assert.Equal(5, encoding.Width); // the value and 4 bins: edges -2, 0, 2, 4, 6
        Assert.Equal([-3f, 0, 0, 0, 0], values[..5]);
        Assert.Equal([0.5f, 1, 0.25f, 0, 0], values[5..10]);
        Assert.Equal([2f, 1, 1, 0, 0], values[10..15]);
        Assert.Equal([7f, 1, 1, 1, 1], values[15..20]);
    }

    [Fact]
    public void Encode_NearlyEqualQuantiles_AreMergedIntoOneBin()
    {
        float[][] columns = [[0f, 0.001f, 0.002f, 0.003f, 5f, 6f, 7f, 8f, 9f]];

        using var encoding = new PiecewiseEncoding(columns, bins: 8, CPU);

        // Edges 0, 5, 6, 7, 8, 9: the value and 5 bins; no bin narrower than MinimumBinWidth (steep bins break ONNX parity).
        Assert.Equal(6, encoding.Width);
        Assert.All(encoding.Layer().Weight, w => Assert.True(Math.Abs(w) <= 1 / PiecewiseEncoding.MinimumBinWidth));
    }

    [Fact]
    public void EncodedTrial_ExportedAsGemmAndRelu_MatchesTheTrainingFormInOnnxRuntime()
    {
        var (manifest, train, validation, _) = Infrastructure.SyntheticData.ThreeClassDataset(300, seed: 5);
        using var data = new TrainingData(manifest, train, validation, CPU);
        var state = new TrialState { Parameters = new TrialParameters([16], LearningRate: 3e-3, WeightDecay: 0, Dropout: 0, BatchSize: 32, Encoded: true) };
        using (var trainer = new TrialTrainer(data, state, seed: 1, maxEpochs: 5, patience: 5))
        {
            trainer.Run(() => false, null, TestContext.Current.CancellationToken);
        }

        using var trainingForm = new Mlp(data.Encoding!.Width, [16], 3);
        TrialTrainer.Restore(trainingForm, state.BestWeights);
        float[] expected;
        using (no_grad())
        {
            trainingForm.eval();
            expected = nn.functional.softmax(trainingForm.forward(data.XValidEncoded!), 1).data<float>().ToArray();
        }

        using var built = TrialTrainer.Build(data, state);
        var onnx = Pipeline.Training.Onnx.OnnxMlpExporter.Export(built.Definition);
        using var evaluator = new OnnxEvaluator(onnx, Pipeline.Contracts.OnnxContract.InputName, Pipeline.Contracts.OnnxContract.ProbabilitiesOutput);
        var actual = evaluator.Run(MlpTrainer.ToRowMajor(validation), validation.RowCount, 3);

        Assert.Equal([(3, 2 * data.Encoding.Width), (2 * data.Encoding.Width, 16), (16, 3)], built.Definition.Layers.Select(l => (l.InputSize, l.OutputSize)));
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First, pair.Second, 1e-4f));
    }
}
