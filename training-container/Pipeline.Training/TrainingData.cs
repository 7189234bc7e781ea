using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// The train and validation splits as standardized tensors on the training device, built once per job and shared by every
/// trial, with the standardization the exported graph folds in (train-split statistics from the dataset manifest).
/// </summary>
public sealed class TrainingData : IDisposable
{
    /// <summary>Largest encoded train split (rows × encoded width) kept in memory; above it no encoded trials run.</summary>
    public const long MaxEncodedValues = 25_000_000;

    /// <summary>Quantile bins of the piecewise-linear encoding.</summary>
    public const int EncodingBins = 8;

    /// <param name="manifest">The dataset version (features, statistics, task).</param>
    /// <param name="train">Rows the network trains on.</param>
    /// <param name="validation">Rows it is validated on.</param>
    /// <param name="device">Training device.</param>
    /// <param name="pinMemory">Pin host tensors before copying them to a CUDA device.</param>
    /// <param name="encoding">The piecewise-linear encoding to use (a refit must use the search's); null: built from <paramref name="train"/>.</param>
    /// <param name="teacherTargets">
    /// Distillation: what the network learns instead of the train split's labels — a teacher's class probabilities
    /// (row-major <c>[rows, classes]</c>, a soft cross-entropy target) or its predicted values in target units. Validation
    /// keeps the true labels, so early stopping and selection still measure the task itself.
    /// </param>
    public TrainingData(DatasetManifest manifest, DatasetSplit train, DatasetSplit validation, Device device, bool pinMemory = false, PiecewiseEncoding? encoding = null,
        float[]? teacherTargets = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        Manifest = manifest;
        Classification = manifest.Task == TaskKind.Classification;
        FeatureCount = manifest.Features.Count;
        Mean = manifest.Features.Select(f => (float)f.Mean).ToArray();
        Std = manifest.Features.Select(f => MlpDefinition.EffectiveStd((float)f.Std)).ToArray();
        TargetMean = Classification ? 0f : (float)manifest.TargetStats!.Mean;
        TargetStd = Classification ? 1f : MlpDefinition.EffectiveStd((float)manifest.TargetStats!.Std);
        Outputs = Classification ? manifest.Labels.Count : 1;
        Device = device;
        TrainRows = train.RowCount;
        ValidationTarget = validation.Target;
        ValidationRows = validation.RowCount;
        TrainTarget = train.Target;
        RawTrain = MlpTrainer.ToRowMajor(train);
        RawValidation = MlpTrainer.ToRowMajor(validation);
        XTrain = Load(tensor(MlpTrainer.Standardize(RawTrain, train.RowCount, Mean, Std), [train.RowCount, FeatureCount]), device, pinMemory);
        YTrain = Load(teacherTargets is null ? Target(train) : TeacherTarget(teacherTargets, train.RowCount), device, pinMemory);
        XValid = Load(tensor(MlpTrainer.Standardize(RawValidation, validation.RowCount, Mean, Std), [validation.RowCount, FeatureCount]), device, pinMemory);
        YValid = Load(Target(validation), device, pinMemory);
        if (encoding is null && (long)train.RowCount * FeatureCount * (EncodingBins + 1) <= MaxEncodedValues)
        {
            var standardized = train.Features.Select((column, f) => column.Select(v => (v - Mean[f]) * (1f / Std[f])).ToArray()).ToArray();
            encoding = new PiecewiseEncoding(standardized, EncodingBins, device);
            _ownsEncoding = true;
        }

        Encoding = encoding;
        if (encoding is not null)
        {
            XTrainEncoded = encoding.Encode(XTrain);
            XValidEncoded = encoding.Encode(XValid);
        }
    }

    private readonly bool _ownsEncoding;

    /// <summary>The piecewise-linear encoding of the features, or null when the encoded train split would be too large.</summary>
    public PiecewiseEncoding? Encoding { get; }

    public Tensor? XTrainEncoded { get; }

    public Tensor? XValidEncoded { get; }

    /// <summary>The network's input width for a trial with or without the encoding.</summary>
    public int InputWidth(bool encoded) => encoded ? Encoding!.Width : FeatureCount;

    public DatasetManifest Manifest { get; }

    public bool Classification { get; }

    public int FeatureCount { get; }

    public int Outputs { get; }

    public float[] Mean { get; }

    public float[] Std { get; }

    public float TargetMean { get; }

    public float TargetStd { get; }

    public Device Device { get; }

    public int TrainRows { get; }

    public float[] ValidationTarget { get; }

    public int ValidationRows { get; }

    /// <summary>Train split targets as stored: class indexes, or regression targets in their own units.</summary>
    public float[] TrainTarget { get; }

    /// <summary>Train split features as stored (row-major, not standardized): what tree models split on.</summary>
    public float[] RawTrain { get; }

    /// <summary>Validation split features as stored (row-major, not standardized).</summary>
    public float[] RawValidation { get; }

    public Tensor XTrain { get; }

    public Tensor YTrain { get; }

    public Tensor XValid { get; }

    public Tensor YValid { get; }

    public Tensor Loss(Tensor output, Tensor target) => Classification
        ? nn.functional.cross_entropy(output, target)
        : nn.functional.mse_loss(output, target);

    /// <summary>The quality metric watched alongside the loss: accuracy (classification) or r2 (regression), from raw outputs.</summary>
    public double Quality(Tensor output, float[] target)
    {
        if (Classification)
        {
            var predicted = output.argmax(1).cpu().data<long>().ToArray();
            return predicted.Where((p, i) => p == (long)target[i]).Count() / (double)target.Length;
        }

        var values = output.cpu().data<float>().Select(v => (v * TargetStd) + TargetMean).ToArray();
        return Metrics.Regression(values, target)["r2"];
    }

    private Tensor TeacherTarget(float[] targets, int rows)
    {
        if (targets.Length != rows * Outputs)
        {
            throw new ArgumentException($"Teacher targets: {targets.Length} values for {rows} rows × {Outputs} outputs.", nameof(targets));
        }

        return Classification
            ? tensor(targets, [rows, Outputs])
            : tensor(targets.Select(t => (t - TargetMean) / TargetStd).ToArray(), [rows, 1]);
    }

    private Tensor Target(DatasetSplit split) => Classification
        ? tensor(split.Target.Select(t => (long)t).ToArray())
        : tensor(split.Target.Select(t => (t - TargetMean) / TargetStd).ToArray(), [split.RowCount, 1]);

    /// <summary>On CUDA the host tensor is pinned first so the copy to the device is a direct DMA transfer.</summary>
    private static Tensor Load(Tensor host, Device device, bool pinMemory)
    {
        if (device.type == DeviceType.CPU)
        {
            return host;
        }

        using (host)
        {
            if (!pinMemory)
            {
                return host.to(device);
            }

            using var pinned = host.pin_memory();
            return pinned.to(device);
        }
    }

    public void Dispose()
    {
        XTrainEncoded?.Dispose();
        XValidEncoded?.Dispose();
        if (_ownsEncoding)
        {
            Encoding?.Dispose();
        }

        XTrain.Dispose();
        YTrain.Dispose();
        XValid.Dispose();
        YValid.Dispose();
    }
}
