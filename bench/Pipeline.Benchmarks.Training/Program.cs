using System.Diagnostics;
using System.Globalization;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training;
using static TorchSharp.torch;

// Training throughput of the trainer's own loop (TrialTrainer: AdamW, shuffled mini-batches, validation pass per epoch).
//   Pipeline.Benchmarks.Training <data.bin> <features> <classes> <hidden, e.g. 64,64> <batch> <epochs>
// data.bin is written by bench/training/torch_mlp.py (float32 little-endian: train rows × (features + 1 label), then
// validation rows likewise; a header of two int32 row counts), so both trainers read the same bytes.
// Prints one JSON line: samples/s over the timed epochs (the first epoch is warm-up and not timed).
if (args.Length != 6)
{
    Console.Error.WriteLine("usage: Pipeline.Benchmarks.Training <data.bin> <features> <classes> <hidden> <batch> <epochs>");
    return 2;
}

var inv = CultureInfo.InvariantCulture;
var features = int.Parse(args[1], inv);
var classes = int.Parse(args[2], inv);
var hidden = args[3].Split(',').Select(h => int.Parse(h, inv)).ToList();
var batch = int.Parse(args[4], inv);
var epochs = int.Parse(args[5], inv);
set_num_threads(1);

using var file = new BinaryReader(File.OpenRead(args[0]));
var trainRows = file.ReadInt32();
var validationRows = file.ReadInt32();
DatasetSplit Read(int rows)
{
    var columns = Enumerable.Range(0, features).Select(_ => new float[rows]).ToArray();
    var target = new float[rows];
    for (var r = 0; r < rows; r++)
    {
        for (var f = 0; f < features; f++)
        {
            columns[f][r] = file.ReadSingle();
        }

        target[r] = file.ReadSingle();
    }

    return new DatasetSplit(columns, target);
}

var train = Read(trainRows);
var validation = Read(validationRows);
var manifest = new DatasetManifest
{
    Task = TaskKind.Classification,
    Labels = Enumerable.Range(0, classes).Select(k => $"c{k}").ToList(),
    // The data is already standardized: identity standardization, as in the PyTorch script.
    Features = Enumerable.Range(0, features).Select(f => new FeatureStats { Name = $"f{f}", Mean = 0, Std = 1 }).ToList(),
};
using var data = new TrainingData(manifest, train, validation, CPU);
var state = new TrialState { Parameters = new TrialParameters(hidden, LearningRate: 3e-3, WeightDecay: 0, Dropout: 0, BatchSize: batch) };
using var trial = new TrialTrainer(data, state, seed: 1, maxEpochs: epochs + 1, patience: 1_000_000);
var clock = new Stopwatch();
trial.Run(() => false, s =>
{
    if (s.Epoch == 1)
    {
        clock.Start();
    }
}, CancellationToken.None);
clock.Stop();
var samplesPerSecond = (double)trainRows * epochs / clock.Elapsed.TotalSeconds;
Console.WriteLine(string.Create(inv, $$"""{"trainer":"TorchSharp (Pipeline.Trainer TrialTrainer)","samplesPerSecond":{{samplesPerSecond:F0}},"seconds":{{clock.Elapsed.TotalSeconds:F3}},"epochs":{{epochs}},"finalTrainLoss":{{state.History[^1].TrainLoss:F4}}}"""));
return 0;
