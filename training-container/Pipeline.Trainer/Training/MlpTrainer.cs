using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Trainer.Training;

/// <summary>What a training run needs besides the data.</summary>
public sealed record TrainingSettings(IReadOnlyList<int> HiddenLayers, int MaxEpochs, int Patience, int BatchSize, double LearningRate, double WeightDecay, int Seed);

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
        output = Definition.Task == MlpTask.Classification
            ? nn.functional.softmax(output, 1)
            : (output * Definition.TargetStd) + Definition.TargetMean;
        return output.cpu().data<float>().ToArray();
    }

    public void Dispose() => Module.Dispose();
}

/// <summary>Trains an <see cref="Mlp"/> with Adam and early stopping on the validation split (seeded, deterministic on CPU).</summary>
public static class MlpTrainer
{
    public static Device SelectDevice() => cuda.is_available() ? CUDA : CPU;

    public static TrainedModel Train(DatasetManifest manifest, DatasetSplit train, DatasetSplit validation, TrainingSettings settings, Device device, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        random.manual_seed(settings.Seed);
        var classification = manifest.Task == TaskKind.Classification;
        var featureCount = manifest.Features.Count;
        var mean = manifest.Features.Select(f => (float)f.Mean).ToArray();
        var std = manifest.Features.Select(f => MlpDefinition.EffectiveStd((float)f.Std)).ToArray();
        var targetMean = classification ? 0f : (float)manifest.TargetStats!.Mean;
        var targetStd = classification ? 1f : MlpDefinition.EffectiveStd((float)manifest.TargetStats!.Std);
        var outputs = classification ? manifest.Labels.Count : 1;

        var model = new Mlp(featureCount, settings.HiddenLayers, outputs);
        model.to(device);
        using var optimizer = optim.Adam(model.parameters(), settings.LearningRate, weight_decay: settings.WeightDecay);

        using var xTrain = tensor(Standardize(ToRowMajor(train), train.RowCount, mean, std), [train.RowCount, featureCount]).to(device);
        using var yTrain = Target(train, classification, targetMean, targetStd).to(device);
        using var xValid = tensor(Standardize(ToRowMajor(validation), validation.RowCount, mean, std), [validation.RowCount, featureCount]).to(device);
        using var yValid = Target(validation, classification, targetMean, targetStd).to(device);

        var shuffle = new Random(settings.Seed);
        var order = Enumerable.Range(0, train.RowCount).Select(i => (long)i).ToArray();
        var best = double.PositiveInfinity;
        var bestEpoch = 0;
        var bestWeights = Snapshot(model);
        var epoch = 0;
        while (epoch < settings.MaxEpochs && epoch - bestEpoch < settings.Patience)
        {
            cancellationToken.ThrowIfCancellationRequested();
            epoch++;
            model.train();
            shuffle.Shuffle(order);
            for (var start = 0; start < order.Length; start += settings.BatchSize)
            {
                using var scope = NewDisposeScope();
                var index = tensor(order.AsSpan(start, Math.Min(settings.BatchSize, order.Length - start)).ToArray()).to(device);
                var loss = Loss(model.forward(xTrain.index_select(0, index)), yTrain.index_select(0, index), classification);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }

            double validationLoss;
            using (NewDisposeScope())
            using (no_grad())
            {
                model.eval();
                validationLoss = Loss(model.forward(xValid), yValid, classification).item<float>();
            }

            if (validationLoss < best - 1e-7)
            {
                best = validationLoss;
                bestEpoch = epoch;
                bestWeights = Snapshot(model);
            }
        }

        Restore(model, bestWeights);
        model.eval();
        var layers = model.Layers.Select((l, i) => new DenseLayer(
            (int)l.weight!.shape[1], (int)l.weight.shape[0], bestWeights[2 * i], bestWeights[(2 * i) + 1])).ToList();
        var definition = new MlpDefinition(
            classification ? MlpTask.Classification : MlpTask.Regression,
            manifest.Features.Select(f => f.Name).ToList(), mean, std, layers,
            classification ? manifest.Labels : null, targetMean, targetStd);
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new TrainedModel(definition, model, device, epoch, bestEpoch, best, seconds);
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

    private static Tensor Target(DatasetSplit split, bool classification, float mean, float std) => classification
        ? tensor(split.Target.Select(t => (long)t).ToArray())
        : tensor(split.Target.Select(t => (t - mean) / std).ToArray(), [split.RowCount, 1]);

    private static Tensor Loss(Tensor output, Tensor target, bool classification) => classification
        ? nn.functional.cross_entropy(output, target)
        : nn.functional.mse_loss(output, target);

    /// <summary>Weights and biases of every layer, as plain arrays (weight row-major [out, in]).</summary>
    private static List<float[]> Snapshot(Mlp model) =>
        model.Layers.SelectMany(l => new[] { l.weight!.cpu().data<float>().ToArray(), l.bias!.cpu().data<float>().ToArray() }).ToList();

    private static void Restore(Mlp model, List<float[]> weights)
    {
        using var noGrad = no_grad();
        for (var i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            using var w = tensor(weights[2 * i], layer.weight!.shape).to(layer.weight.device);
            using var b = tensor(weights[(2 * i) + 1], layer.bias!.shape).to(layer.bias.device);
            layer.weight.copy_(w);
            layer.bias.copy_(b);
        }
    }
}
