using Google.Protobuf;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training.Onnx;
using Pipeline.Training.Onnx.Quantization;
using Pipeline.Training.Quantization;
using Pipeline.Training;
using static TorchSharp.torch;

namespace Pipeline.Benchmarks.Quantization;

/// <summary>One trained network and every artifact the benchmark compares.</summary>
public sealed class BenchModel(string name, TrainedModel trained, EvaluationSet test, IReadOnlyDictionary<string, byte[]> variants)
{
    public string Name { get; } = name;

    public TrainedModel Trained { get; } = trained;

    public EvaluationSet Test { get; } = test;

    /// <summary>Variant name → ONNX bytes: fp32, qdq-per-tensor, qdq-per-channel, dynamic.</summary>
    public IReadOnlyDictionary<string, byte[]> Variants { get; } = variants;
}

/// <summary>
/// Trains the benchmark's networks once per process on seeded synthetic data (20 features in mixed raw scales, 3 classes
/// labelled by a random nonlinear teacher network with 5% label noise), and quantizes them the way the trainer does.
/// </summary>
public static class ModelZoo
{
    public const int Features = 20;
    public const int Classes = 3;
    public const string Fp32 = "fp32";
    public const string QdqPerTensor = "qdq-per-tensor";
    public const string QdqPerChannel = "qdq-per-channel";
    public const string Dynamic = "dynamic";

    public static readonly IReadOnlyDictionary<string, int[]> Shapes = new Dictionary<string, int[]>
    {
        ["small"] = [64, 64],
        ["wide"] = [512, 512],
    };

    private static readonly Dictionary<string, Lazy<BenchModel>> Models = Shapes.ToDictionary(
        s => s.Key, s => new Lazy<BenchModel>(() => Build(s.Key, s.Value), LazyThreadSafetyMode.ExecutionAndPublication));

    public static BenchModel Get(string name) => Models[name].Value;

    private static BenchModel Build(string name, int[] hidden)
    {
        set_num_threads(1);
        var (manifest, train, validation, test) = Dataset(rows: 6000, seed: 2026);
        var settings = new TrainingSettings(hidden, MaxEpochs: hidden[0] > 128 ? 25 : 80, Patience: 8, BatchSize: 64, LearningRate: hidden[0] > 128 ? 1e-3 : 3e-3, WeightDecay: 1e-4, Seed: 7);
        var trained = MlpTrainer.Train(manifest, train, validation, settings, CPU, CancellationToken.None);
        var fp32 = OnnxMlpExporter.Build(trained.Definition);
        var trainRows = MlpTrainer.ToRowMajor(train);
        var calibrationRows = Math.Min(512, train.RowCount);
        var ranges = ActivationCalibrator.Calibrate(fp32, OnnxContract.InputName, trainRows[..(calibrationRows * Features)], calibrationRows, Features, CalibrationMethod.MinMax, 100, CancellationToken.None);
        var variants = new Dictionary<string, byte[]>
        {
            [Fp32] = fp32.ToByteArray(),
            [QdqPerTensor] = OnnxQuantizer.QuantizeStatic(fp32, ranges, WeightGranularity.PerTensor).ToByteArray(),
            [QdqPerChannel] = OnnxQuantizer.QuantizeStatic(fp32, ranges, WeightGranularity.PerChannel).ToByteArray(),
            [Dynamic] = OnnxQuantizer.QuantizeDynamic(fp32, WeightGranularity.PerChannel).ToByteArray(),
        };
        var evaluation = new EvaluationSet(MlpTrainer.ToRowMajor(test), test.RowCount, Features, test.Target, Classes);
        return new BenchModel(name, trained, evaluation, variants);
    }

    private static (DatasetManifest, DatasetSplit, DatasetSplit, DatasetSplit) Dataset(int rows, int seed)
    {
        var random = new Random(seed);
        var offsets = Enumerable.Range(0, Features).Select(_ => (random.NextDouble() * 200) - 100).ToArray();
        var scales = Enumerable.Range(0, Features).Select(_ => Math.Exp((random.NextDouble() * 6) - 2)).ToArray();
        var teacherHidden = 16;
        var w1 = Enumerable.Range(0, teacherHidden * Features).Select(_ => Gaussian(random)).ToArray();
        var w2 = Enumerable.Range(0, Classes * teacherHidden).Select(_ => Gaussian(random)).ToArray();

        DatasetSplit Make(int count)
        {
            var columns = Enumerable.Range(0, Features).Select(_ => new float[count]).ToArray();
            var target = new float[count];
            for (var r = 0; r < count; r++)
            {
                var z = Enumerable.Range(0, Features).Select(_ => Gaussian(random)).ToArray();
                var hidden = Enumerable.Range(0, teacherHidden).Select(h => Math.Tanh(Enumerable.Range(0, Features).Sum(f => w1[(h * Features) + f] * z[f]) / 2)).ToArray();
                var logits = Enumerable.Range(0, Classes).Select(k => Enumerable.Range(0, teacherHidden).Sum(h => w2[(k * teacherHidden) + h] * hidden[h])).ToArray();
                var label = Array.IndexOf(logits, logits.Max());
                target[r] = random.NextDouble() < 0.05 ? random.Next(Classes) : label;
                for (var f = 0; f < Features; f++)
                {
                    columns[f][r] = (float)(offsets[f] + (scales[f] * z[f]));
                }
            }

            return new DatasetSplit(columns, target);
        }

        var train = Make(rows * 70 / 100);
        var manifest = new DatasetManifest
        {
            Dataset = "bench",
            Version = "v1",
            Task = TaskKind.Classification,
            Target = "class",
            Model = "bench",
            Labels = [.. Enumerable.Range(0, Classes).Select(k => $"c{k}")],
            Features = [.. Enumerable.Range(0, Features).Select(f => new FeatureStats
            {
                Name = $"x{f}",
                Mean = train.Features[f].Average(),
                Std = Math.Sqrt(train.Features[f].Average(v => Math.Pow(v - train.Features[f].Average(), 2))),
            })],
        };
        return (manifest, train, Make(rows * 15 / 100), Make(rows * 15 / 100));
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
