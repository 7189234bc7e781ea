using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Onnx;
using Pipeline.Storage;
using Pipeline.Trainer.Publishing;
using Pipeline.Trainer.Quantization;
using TorchSharp;

namespace Pipeline.Trainer.Training;

/// <summary>One training request, end to end: load the dataset version, train, export ONNX, verify it in ONNX Runtime, publish.</summary>
public sealed partial class TrainingJob(
    BlobServiceClient blobs,
    ModelPublisher publisher,
    QuantizationStep quantization,
    IOptions<TrainerOptions> options,
    TimeProvider time,
    ILogger<TrainingJob> logger)
{
    public async Task<ModelManifest> RunAsync(TrainRequest request, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(request.Dataset) || string.IsNullOrWhiteSpace(request.DatasetVersion))
        {
            throw new TrainingFailedException($"The request names no valid dataset and version (dataset '{request.Dataset}', version '{request.DatasetVersion}').");
        }

        var datasets = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);
        var manifest = (await BlobJson.ReadAsync(datasets.GetBlobClient(StorageNames.DatasetManifestPath(request.Dataset, request.DatasetVersion)),
            PipelineJson.Default.DatasetManifest, cancellationToken).ConfigureAwait(false))?.Value
            ?? throw new TrainingFailedException($"Dataset {request.Dataset} version {request.DatasetVersion} does not exist (datasets/{request.Dataset}/{request.DatasetVersion}/manifest.json).");

        var features = manifest.Features.Select(f => f.Name).ToList();
        var train = await ReadSplitAsync(datasets, manifest, "train", features, cancellationToken).ConfigureAwait(false);
        var validation = await ReadSplitAsync(datasets, manifest, "validation", features, cancellationToken).ConfigureAwait(false);
        var test = await ReadSplitAsync(datasets, manifest, "test", features, cancellationToken).ConfigureAwait(false);

        var o = options.Value;
        torch.set_num_threads(o.Threads);
        var settings = new TrainingSettings(o.EffectiveHiddenLayers, request.MaxEpochs ?? o.MaxEpochs, o.Patience, o.BatchSize, o.LearningRate, o.WeightDecay, request.Seed ?? o.Seed);
        var device = MlpTrainer.SelectDevice();
        LogTraining(logger, request.Dataset, request.DatasetVersion, device.type.ToString(), train.RowCount, features.Count, manifest.Task);
        using var trained = await Task.Run(() => MlpTrainer.Train(manifest, train, validation, settings, device, cancellationToken), cancellationToken).ConfigureAwait(false);

        var model = string.IsNullOrEmpty(request.Model) ? manifest.Model : request.Model;
        var onnx = OnnxMlpExporter.Export(trained.Definition, new Dictionary<string, string>
        {
            ["model"] = model,
            ["dataset"] = manifest.Dataset,
            ["datasetVersion"] = manifest.Version,
        });
        var classification = manifest.Task == TaskKind.Classification;
        var outputName = classification ? OnnxMlpExporter.ProbabilitiesOutput : OnnxMlpExporter.ValueOutput;
        var width = classification ? manifest.Labels.Count : 1;
        using var evaluator = new OnnxEvaluator(onnx, OnnxMlpExporter.InputName, outputName);

        Dictionary<string, double> Evaluate(DatasetSplit split, out double maxDifference)
        {
            var rows = MlpTrainer.ToRowMajor(split);
            var served = evaluator.Run(rows, split.RowCount, features.Count);
            var reference = trained.Predict(rows, split.RowCount);
            maxDifference = served.Zip(reference, (a, b) => Math.Abs((double)a - b)).DefaultIfEmpty(0).Max();
            return classification ? Metrics.Classification(served, split.Target, width) : Metrics.Regression(served, split.Target);
        }

        var validationMetrics = Evaluate(validation, out _);
        var testMetrics = Evaluate(test, out var onnxDifference);
        var tolerance = o.MaxOnnxDifference * (classification ? 1 : Math.Max(1, Math.Abs(trained.Definition.TargetStd) + Math.Abs(trained.Definition.TargetMean)));
        if (onnxDifference > tolerance)
        {
            throw new TrainingFailedException($"The exported ONNX model differs from the trained model by {onnxDifference:G3} (tolerance {tolerance:G3}); not publishing it.");
        }

        var testSet = new EvaluationSet(MlpTrainer.ToRowMajor(test), test.RowCount, features.Count, test.Target, classification ? width : 0);
        var quantized = await Task.Run(
            () => quantization.Run(onnx, OnnxMlpExporter.InputName, outputName, MlpTrainer.ToRowMajor(train), train.RowCount, testSet, settings.Seed, cancellationToken),
            cancellationToken).ConfigureAwait(false);

        var result = new ModelManifest
        {
            Model = model,
            Version = manifest.Version,
            CreatedAt = time.GetUtcNow(),
            Dataset = manifest.Dataset,
            DatasetVersion = manifest.Version,
            Task = manifest.Task,
            Target = manifest.Target,
            Features = features,
            Labels = manifest.Labels,
            Encodings = manifest.Encodings,
            FeatureStats = manifest.Features,
            Artifact = quantized.Served,
            InputName = OnnxMlpExporter.InputName,
            OutputName = outputName,
            ValidationMetrics = validationMetrics,
            TestMetrics = quantized.ServedTestMetrics is { } served ? new Dictionary<string, double>(served) : testMetrics,
            Training = new TrainingSummary
            {
                Device = device.type.ToString(),
                HiddenLayers = [.. settings.HiddenLayers],
                Epochs = trained.Epochs,
                BestEpoch = trained.BestEpoch,
                BatchSize = settings.BatchSize,
                LearningRate = settings.LearningRate,
                Seed = settings.Seed,
                Seconds = trained.Seconds,
                OnnxMaxAbsDiff = onnxDifference,
            },
            Quantization = quantized.Report,
        };
        await publisher.PublishAsync(result, quantized.Artifacts, cancellationToken).ConfigureAwait(false);
        LogTrained(logger, model, result.Version, trained.Epochs, trained.Seconds, result.Artifact, string.Join(", ", result.TestMetrics.Select(m => $"{m.Key}={m.Value:F4}")));
        return result;
    }

    private static async Task<DatasetSplit> ReadSplitAsync(BlobContainerClient datasets, DatasetManifest manifest, string split, List<string> features, CancellationToken cancellationToken)
    {
        if (!manifest.Splits.TryGetValue(split, out var file))
        {
            throw new TrainingFailedException($"Dataset {manifest.Dataset} version {manifest.Version} has no {split} split.");
        }

        var path = $"{manifest.Dataset}/{manifest.Version}/{file}";
        using var buffer = new MemoryStream();
        try
        {
            await datasets.GetBlobClient(path).DownloadToAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new TrainingFailedException($"datasets/{path} does not exist.", e);
        }

        buffer.Position = 0;
        DatasetSplit data;
        try
        {
            data = await DatasetParquet.ReadAsync(buffer, features, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new TrainingFailedException($"datasets/{path} is not a readable Parquet file of this dataset: {e.Message}", e);
        }

        if (data.RowCount == 0)
        {
            throw new TrainingFailedException($"datasets/{path} has no rows.");
        }

        if (data.Target.Any(float.IsNaN) || data.Features.Any(c => c.Any(v => !float.IsFinite(v))))
        {
            throw new TrainingFailedException($"datasets/{path} holds NaN or infinite values; the preprocess step never writes them, so the file is corrupt.");
        }

        return data;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Training {Dataset} version {Version} on {Device}: {Rows} rows, {Features} features, {Task}")]
    private static partial void LogTraining(ILogger logger, string dataset, string version, string device, int rows, int features, string task);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} version {Version} trained in {Epochs} epochs ({Seconds:F1} s); serving {Artifact}, test {Metrics}")]
    private static partial void LogTrained(ILogger logger, string model, string version, int epochs, double seconds, string artifact, string metrics);
}
