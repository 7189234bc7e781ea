using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training.Onnx;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>What a training run needs besides the data.</summary>
public sealed record TrainingSettings(IReadOnlyList<int> HiddenLayers, int MaxEpochs, int Patience, int BatchSize, double LearningRate, double WeightDecay, int Seed, double Dropout = 0);

/// <summary>A trained model: the exportable definition, the torch module (for parity checks) and the run's history.</summary>
public sealed class TrainedModel(MlpDefinition definition, Mlp module, Device device, int epochs, int bestEpoch, double bestValidationLoss, double seconds) : IDisposable
{
    public MlpDefinition Definition { get; } = definition;

    public Mlp Module { get; } = module;

    public Device Device { get; } = device;

    public int Epochs { get; } = epochs;

    public int BestEpoch { get; } = bestEpoch;

    public double BestValidationLoss { get; } = bestValidationLoss;

    public double Seconds { get; } = seconds;

    /// <summary>Forward pass of the torch module on raw (unstandardized) rows, with the same head as the ONNX graph (softmax / de-standardized value).</summary>
    public float[] Predict(float[] rawRowMajor, int rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Module.eval();
        var input = MlpTrainer.Standardize(rawRowMajor, rows, Definition.FeatureMean, Definition.FeatureStd);
        var output = Module.forward(tensor(input, [rows, Definition.FeatureMean.Length]).to(Device));
        if (Definition.Task == MlpTask.Classification)
        {
            return nn.functional.softmax(output, 1).cpu().data<float>().ToArray();
        }

        // Explicit scalars, disposed here: implicitly converted ones are freed by the finalizer, possibly mid-call (the
        // one-argument add(Scalar) converts its alpha of 1 implicitly, hence the two-argument call).
        using TorchSharp.Scalar std = Definition.TargetStd;
        using TorchSharp.Scalar mean = Definition.TargetMean;
        using TorchSharp.Scalar one = 1;
        return output.mul(std).add(mean, one).cpu().data<float>().ToArray();
    }

    public void Dispose() => Module.Dispose();
}

/// <summary>Trains one <see cref="Mlp"/> configuration (AdamW, early stopping on the validation split; seeded, deterministic on CPU).</summary>
public static class MlpTrainer
{
    public static TrainedModel Train(DatasetManifest manifest, DatasetSplit train, DatasetSplit validation, TrainingSettings settings, Device device, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var data = new TrainingData(manifest, train, validation, device);
        var state = new TrialState { Parameters = new TrialParameters([.. settings.HiddenLayers], settings.LearningRate, settings.WeightDecay, settings.Dropout, settings.BatchSize) };
        using var trial = new TrialTrainer(data, state, settings.Seed, settings.MaxEpochs, settings.Patience);
        trial.Run(() => false, null, cancellationToken);
        return TrialTrainer.Build(data, state);
    }

    public static float[] ToRowMajor(DatasetSplit split)
    {
        var width = split.Features.Length;
        var rows = new float[split.RowCount * width];
        for (var f = 0; f < width; f++)
        {
            var column = split.Features[f];
            for (var r = 0; r < column.Length; r++)
            {
                rows[(r * width) + f] = column[r];
            }
        }

        return rows;
    }

    /// <summary>(x - mean) * (1 / std), the same arithmetic as the exported graph's Sub and Mul nodes.</summary>
    public static float[] Standardize(float[] rowMajor, int rows, float[] mean, float[] std)
    {
        var width = mean.Length;
        var result = new float[rows * width];
        var inverse = std.Select(s => 1f / s).ToArray();
        for (var r = 0; r < rows; r++)
        {
            for (var f = 0; f < width; f++)
            {
                result[(r * width) + f] = (rowMajor[(r * width) + f] - mean[f]) * inverse[f];
            }
        }

        return result;
    }
}
