using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training;
using Pipeline.Training.Onnx;
using Pipeline.Storage;
using Pipeline.Training.Publishing;
using Pipeline.Training.Quantization;
using Pipeline.Trainer.Runs;
using Pipeline.Training.Reporting;
using System.Diagnostics;
using System.Globalization;
using Pipeline.Telemetry;
using TorchSharp;

namespace Pipeline.Trainer;

/// <summary>
/// One training request, end to end: load the dataset version, search for the best model within the budget (resuming a
/// checkpoint if an earlier attempt was stopped), export ONNX, verify it in ONNX Runtime, quantize behind the gate, compare
/// with the current model, write the report, publish. The run's status document follows every stage.
/// </summary>
public sealed partial class TrainingJob(
    BlobServiceClient blobs,
    ModelPublisher publisher,
    QuantizationStep quantization,
    ChampionChallenger championChallenger,
    CheckpointStore checkpoints,
    TrainingReportWriter reports,
    IOptions<TrainerOptions> options,
    TimeProvider time,
    ILogger<TrainingJob> logger)
{
    /// <summary>Comparisons against a current.json that keeps moving before the job gives up (the host retries it).</summary>
    private const int MaxPointerRaces = 5;

    public async Task<ModelManifest> RunAsync(TrainRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!StorageNames.IsValidName(request.Dataset) || string.IsNullOrWhiteSpace(request.DatasetVersion))
        {
            throw new TrainingFailedException($"The request names no valid dataset and version (dataset '{request.Dataset}', version '{request.DatasetVersion}').");
        }

        if (request.MaxTrials is < 1 || request.MaxEpochs is < 1 || request.MaxSeconds is not null and not > 0)
        {
            throw new TrainingFailedException(string.Create(CultureInfo.InvariantCulture,
                $"The request's budget is invalid (maxTrials {request.MaxTrials}, maxEpochs {request.MaxEpochs}, maxSeconds {request.MaxSeconds}): each must be at least 1 (seconds above 0) when given."));
        }

        var runId = RunIds.For(request);
        var model = StorageNames.IsValidName(request.Model) ? request.Model : request.Dataset;
        using var activity = TrainerTelemetry.StartJob(request, runId, model);
        var started = time.GetTimestamp();
        await using var run = await RunTracker.StartAsync(blobs, runId, request, model, options.Value.StatusInterval, time, logger, cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await RunAsync(request, run, cancellationToken).ConfigureAwait(false);
            TrainerTelemetry.JobFinished(activity, RunStates.Succeeded, time.GetElapsedTime(started).TotalSeconds);
            await run.FinishAsync(RunStates.Succeeded, null, CancellationToken.None).ConfigureAwait(false);
            return result;
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            TrainerTelemetry.JobFinished(activity, RunStates.Interrupted, time.GetElapsedTime(started).TotalSeconds, e);
            await run.FinishAsync(RunStates.Interrupted, "stopped before it finished (shutdown or lost message); the next attempt resumes from the checkpoint", CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        catch (TrainingFailedException e)
        {
            TrainerTelemetry.JobFinished(activity, RunStates.Failed, time.GetElapsedTime(started).TotalSeconds, e);
            await run.FinishAsync(RunStates.Failed, e.Message, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            // Only transient trouble is retried (the consumer applies the same rule); a crash on this input is final.
            var state = Failures.Classify(e) == FailureKind.Transient ? RunStates.Retrying : RunStates.Failed;
            TrainerTelemetry.JobFinished(activity, state, time.GetElapsedTime(started).TotalSeconds, e);
            await run.FinishAsync(state, Failures.Describe(e), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<ModelManifest> RunAsync(TrainRequest request, RunTracker run, CancellationToken cancellationToken)
    {
        var runId = run.Status.RunId;
        using var stages = new TrainerTelemetry.Stages();
        stages.Enter("load");
        var datasets = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer);
        DatasetManifest manifest;
        try
        {
            manifest = (await BlobJson.ReadAsync(datasets.GetBlobClient(StorageNames.DatasetManifestPath(request.Dataset, request.DatasetVersion)),
                PipelineJson.Default.DatasetManifest, cancellationToken).ConfigureAwait(false))?.Value
                ?? throw new TrainingFailedException($"Dataset {request.Dataset} version {request.DatasetVersion} does not exist (datasets/{request.Dataset}/{request.DatasetVersion}/manifest.json).");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException)
        {
            throw new TrainingFailedException($"datasets/{request.Dataset}/{request.DatasetVersion}/manifest.json is not a dataset manifest: {e.Message}", e);
        }

        // Queue delivery is at-least-once (and Event Grid may announce an upload twice): a version that is already published
        // is complete and immutable; training it again would overwrite its files under readers. Nothing to do.
        var published = await BlobJson.ReadAsync(
            blobs.GetBlobContainerClient(StorageNames.ModelsContainer).GetBlobClient(StorageNames.ModelManifestPath(run.Status.Model, manifest.Version)),
            PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false);
        if (published is { } existing)
        {
            LogAlreadyPublished(logger, run.Status.Model, manifest.Version);
            await run.UpdateAsync(s => { s.Stage = "already published"; s.ModelVersion = manifest.Version; }, cancellationToken).ConfigureAwait(false);
            return existing.Value;
        }

        var classification = manifest.Task == TaskKind.Classification;
        if (classification && manifest.Labels.Count < 2)
        {
            throw new TrainingFailedException($"Dataset {manifest.Dataset} version {manifest.Version} has {manifest.Labels.Count} class(es) ({string.Join(", ", manifest.Labels)}); classification needs at least two.");
        }

        if (!classification && manifest.TargetStats is null)
        {
            throw new TrainingFailedException($"Dataset {manifest.Dataset} version {manifest.Version} is a regression dataset without target statistics.");
        }

        var features = manifest.Features.Select(f => f.Name).ToList();
        var train = await ReadSplitAsync(datasets, manifest, "train", features, cancellationToken).ConfigureAwait(false);
        var validation = await ReadSplitAsync(datasets, manifest, "validation", features, cancellationToken).ConfigureAwait(false);
        var test = await ReadSplitAsync(datasets, manifest, "test", features, cancellationToken).ConfigureAwait(false);
        if (classification && train.Target.Distinct().Count() < 2)
        {
            throw new TrainingFailedException($"The train split of {manifest.Dataset} version {manifest.Version} holds one class only ({manifest.Labels[(int)train.Target[0]]}); nothing to learn.");
        }

        var o = options.Value;
        torch.set_num_threads(o.Threads);
        var device = DeviceSelector.Select(o.Device, o.CudaBatchSizeMultiplier);
        var seed = request.Seed ?? o.Seed;
        var maxSeconds = request.MaxSeconds ?? o.MaxSeconds;
        var budget = new SearchBudget(request.MaxTrials ?? o.MaxTrials, maxSeconds, request.MaxEpochs ?? o.MaxEpochs, o.Patience, o.EnsembleSize,
            o.MaxTrialShare >= 1 ? double.PositiveInfinity : maxSeconds * o.MaxTrialShare);
        LogTraining(logger, runId, request.Dataset, request.DatasetVersion, device.Reason, train.RowCount, features.Count, manifest.Task, budget.MaxTrials, budget.MaxSeconds);

        using var data = new TrainingData(manifest, train, validation, device.Device, device.PinMemory);
        var fingerprint = Fingerprint(manifest, budget, seed, device);
        var resumed = await checkpoints.LoadAsync(runId, fingerprint, cancellationToken).ConfigureAwait(false);
        if (resumed is not null)
        {
            LogResuming(logger, runId, resumed.Completed.Count, resumed.Current?.Epoch ?? 0);
        }

        using var folds = CrossValidates(train.RowCount + validation.RowCount)
            ? new CrossValidation(manifest, train, validation, o.CrossValidationFolds, seed, device.Device, device.PinMemory, data.Encoding)
            : null;
        var search = new ModelSearch(data, budget, seed, resumed ?? new SearchState { Fingerprint = fingerprint }, time, device.BatchSizeMultiplier, o.Threads, folds);
        stages.Enter("search");
        stages.Current?.SetTag("pipeline.device", device.Reason);
        await run.UpdateAsync(s =>
        {
            s.Stage = "searching";
            s.Device = device.Reason;
            s.Resumed = resumed is not null;
            s.Trials = search.TotalTrials;
            s.MaxEpochs = budget.MaxEpochs;
        }, cancellationToken).ConfigureAwait(false);

        var periodic = new PeriodicCheckpoint(checkpoints, runId, o.CheckpointInterval, time, logger);
        try
        {
            var best = await Task.Run(() => search.Run(progress =>
            {
                run.Report(progress);
                stages.OnProgress(progress);
                periodic.OnProgress(search.State, progress);
            }, cancellationToken), cancellationToken).ConfigureAwait(false);
            stages.EndTrial();

            var chosen = search.State.Completed[search.State.Best];
            LogSelected(logger, runId, chosen.Index + 1, chosen.Parameters.ToString(), chosen.ValidationLoss, chosen.ValidationMetric,
                search.AveragedModels);
            if (o.RefitOnValidation && !search.CrossValidated)
            {
                stages.Enter("refit");
                await run.StageAsync("refitting", cancellationToken).ConfigureAwait(false);
                using var combined = new TrainingData(manifest, CrossValidation.Concat(train, validation), validation, device.Device, device.PinMemory, data.Encoding);
                best = await Task.Run(() => search.Refit(combined, best, cancellationToken), cancellationToken).ConfigureAwait(false);
            }

            var searchReport = SearchReportOf(search, budget, classification);

            stages.Enter("export");
            await run.StageAsync("exporting", cancellationToken).ConfigureAwait(false);
            var width = classification ? manifest.Labels.Count : 1;
            var onnxMetadata = new Dictionary<string, string>
            {
                ["model"] = run.Status.Model,
                ["dataset"] = manifest.Dataset,
                ["datasetVersion"] = manifest.Version,
            };
            // The exported graph and the trained model it must reproduce: LightGBM's own prediction for trees, the torch
            // module's forward pass for networks.
            using var reference = ServedModel.Create(data, best, features, manifest, onnxMetadata);
            var onnx = reference.Onnx;
            var outputName = classification ? OnnxContract.ProbabilitiesOutput : OnnxContract.ValueOutput;
            float[] testOutput;
            Dictionary<string, double> validationMetrics, testMetrics;
            double onnxDifference;
            using (var evaluator = new OnnxEvaluator(onnx, OnnxContract.InputName, outputName))
            {
                Dictionary<string, double> Evaluate(DatasetSplit split, out double maxDifference, out float[] served)
                {
                    var rows = MlpTrainer.ToRowMajor(split);
                    served = evaluator.Run(rows, split.RowCount, features.Count);
                    var expected = reference.Predict(rows, split.RowCount);
                    maxDifference = served.Zip(expected, (a, b) => Math.Abs((double)a - b)).DefaultIfEmpty(0).Max();
                    return classification ? Metrics.Classification(served, split.Target, width) : Metrics.Regression(served, split.Target);
                }

                validationMetrics = Evaluate(validation, out _, out _);
                testMetrics = Evaluate(test, out onnxDifference, out testOutput);
            }

            var tolerance = o.MaxOnnxDifference * (classification ? 1 : Math.Max(1, Math.Abs(data.TargetStd) + Math.Abs(data.TargetMean)));
            if (onnxDifference > tolerance)
            {
                throw new TrainingFailedException($"The exported ONNX model differs from the trained model by {onnxDifference:G3} (tolerance {tolerance:G3}); not publishing it.");
            }

            var alternatives = new List<AlternativeCandidate>();
            if (o.Distill && reference.Leaves >= o.DistillMinLeaves)
            {
                stages.Enter("distill");
                await run.StageAsync("distilling", cancellationToken).ConfigureAwait(false);
                var student = await Task.Run(() => Distill(manifest, train, validation, reference, device, seed, budget, onnxMetadata, cancellationToken), cancellationToken).ConfigureAwait(false);
                var studentTolerance = o.MaxOnnxDifference * (classification ? 1 : Math.Max(1, Math.Abs(data.TargetStd) + Math.Abs(data.TargetMean)));
                if (student.OnnxMaxAbsDiff <= studentTolerance)
                {
                    alternatives.Add(new AlternativeCandidate(DistilledCandidate,
                        string.Create(CultureInfo.InvariantCulture, $"{student.Description}; teacher: {best.Parameters} ({reference.Trees} trees, {reference.Leaves} leaves)"), student.Onnx));
                }

                LogDistilled(logger, runId, reference.Leaves ?? 0, student.BestEpoch, student.ValidationLoss, chosen.ValidationLoss, student.OnnxMaxAbsDiff <= studentTolerance);
            }

            stages.Enter("quantize");
            await run.StageAsync("quantizing", cancellationToken).ConfigureAwait(false);
            var testSet = new EvaluationSet(MlpTrainer.ToRowMajor(test), test.RowCount, features.Count, test.Target, classification ? width : 0);
            var quantized = await Task.Run(
                () => quantization.Run(onnx, OnnxContract.InputName, outputName, MlpTrainer.ToRowMajor(train), train.RowCount, testSet, seed, cancellationToken, alternatives),
                cancellationToken).ConfigureAwait(false);

            var searchSeconds = search.State.ElapsedSeconds + search.State.RefitSeconds;
            // Trees train on the CPU: only the network trials (and a network refit) hold the GPU.
            var gpuSeconds = device.Cuda
                ? search.State.Completed.Where(t => t.Parameters.Gbdt is null).Sum(t => t.Seconds) + (best.Parameters.Gbdt is null ? search.State.RefitSeconds : 0)
                : 0;
            var result = new ModelManifest
            {
                Model = run.Status.Model,
                Version = manifest.Version,
                CreatedAt = time.GetUtcNow(),
                Dataset = manifest.Dataset,
                DatasetVersion = manifest.Version,
                Task = manifest.Task,
                Target = manifest.Target,
                Features = features,
                Labels = manifest.Labels,
                Encodings = manifest.Encodings,
                IgnoredColumns = [manifest.Target, .. manifest.ExcludedColumns.Select(c => c.Name)],
                FeatureStats = manifest.Features,
                Baseline = TrainingBaselines.Build(manifest.Encodings, features, train.Features, manifest.Features, manifest.Rows.Used,
                    TrainingBaselines.DefaultBins, classification ? manifest.Labels : [], quantized.ServedTestOutputs ?? testOutput),
                Artifact = quantized.Served,
                InputName = OnnxContract.InputName,
                OutputName = outputName,
                ValidationMetrics = validationMetrics,
                TestMetrics = quantized.ServedTestMetrics is { } served ? new Dictionary<string, double>(served) : testMetrics,
                Training = new TrainingSummary
                {
                    Device = best.Parameters.Gbdt is null ? device.Type.ToString() : nameof(TorchSharp.DeviceType.CPU),
                    Family = best.Parameters.Family,
                    Model = best.Parameters.ToString(),
                    Trees = reference.Trees,
                    HiddenLayers = [.. best.Parameters.HiddenLayers],
                    Epochs = best.Epoch,
                    BestEpoch = best.BestEpoch,
                    BatchSize = best.Parameters.BatchSize,
                    LearningRate = best.Parameters.LearningRate,
                    WeightDecay = best.Parameters.WeightDecay,
                    Dropout = best.Parameters.Dropout,
                    EnsembleSize = search.AveragedModels,
                InputEncoding = best.Parameters.Encoded ? $"piecewise-linear, {TrainingData.EncodingBins} quantile bins" : null,
                    Seed = seed,
                    Seconds = searchSeconds,
                    GpuSeconds = gpuSeconds,
                    GpuPricePerSecond = o.GpuPricePerSecond,
                    EstimatedCost = gpuSeconds * o.GpuPricePerSecond,
                    OnnxMaxAbsDiff = onnxDifference,
                    RunId = runId,
                    Attempts = run.Status.Attempt,
                },
                Quantization = quantized.Report,
                Search = searchReport,
                TraceId = TraceContext.TraceId(Activity.Current),
            };

            stages.Enter("gate");
            await run.StageAsync("comparing", cancellationToken).ConfigureAwait(false);
            var quality = result.TestMetrics[testSet.QualityMetric];
            var compared = await publisher.ReadPointerAsync(result.Model, cancellationToken).ConfigureAwait(false);
            result.Promotion = await championChallenger.DecideAsync(result, testSet, quality, o.PromotionTolerance,
                request.ForcePromotion == true, compared, cancellationToken).ConfigureAwait(false);
            stages.Current?.SetTag("pipeline.promoted", result.Promotion.Promoted);
            stages.Current?.SetTag("pipeline.promotion.reason", result.Promotion.Reason);

            stages.Enter("report");
            await run.StageAsync("reporting", cancellationToken).ConfigureAwait(false);
            // Unmeasured means fp32 is served, whose test outputs the parity check computed.
            var reportFiles = reports.Write(result, search.State, best, testSet, quantized.ServedTestOutputs ?? testOutput);
            result.Report = [.. reportFiles.Keys.Order(StringComparer.Ordinal)];
            var artifacts = new Dictionary<string, byte[]>(quantized.Artifacts, StringComparer.Ordinal);
            foreach (var (file, bytes) in reportFiles)
            {
                artifacts[file] = bytes;
            }

            stages.Enter("publish");
            await run.StageAsync("publishing", cancellationToken).ConfigureAwait(false);
            await publisher.PublishVersionAsync(result, artifacts, cancellationToken).ConfigureAwait(false);
            // The pointer moves only if it is still the one compared against; if it moved meanwhile (another run, an
            // operator's rollback), compare with what is current now and record that decision instead.
            for (var attempt = 1; result.Promotion.Promoted && !await publisher.TryMakeCurrentAsync(result, compared, cancellationToken).ConfigureAwait(false); attempt++)
            {
                if (attempt == MaxPointerRaces)
                {
                    throw new InvalidOperationException($"current.json of model {result.Model} kept moving during {MaxPointerRaces} comparisons.");
                }

                compared = await publisher.ReadPointerAsync(result.Model, cancellationToken).ConfigureAwait(false);
                result.Promotion = await championChallenger.DecideAsync(result, testSet, quality, o.PromotionTolerance,
                    request.ForcePromotion == true, compared, cancellationToken).ConfigureAwait(false);
                await publisher.WriteManifestAsync(result, cancellationToken).ConfigureAwait(false);
            }

            TrainerTelemetry.GpuUsed(result.Model, gpuSeconds);
            await periodic.DrainAsync().ConfigureAwait(false);
            await checkpoints.DeleteAsync(runId, cancellationToken).ConfigureAwait(false);
            await run.UpdateAsync(s =>
            {
                s.ModelVersion = result.Version;
                s.Promoted = result.Promotion.Promoted;
                s.PromotionReason = result.Promotion.Reason;
                s.ElapsedSeconds = searchSeconds;
            }, cancellationToken).ConfigureAwait(false);
            LogTrained(logger, result.Model, result.Version, searchReport.Trials.Count, searchSeconds, result.Artifact,
                string.Join(", ", result.TestMetrics.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key}={m.Value:F4}"))), result.Promotion.Promoted);
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped (SIGTERM, lost message): save where the search is, within a few seconds, so the next attempt continues
            // from there — mid-trial, or with the search finished when the stop came during export, quantization or publishing.
            using var saving = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await periodic.DrainAsync().WaitAsync(saving.Token).ConfigureAwait(false);
            await checkpoints.SaveAsync(runId, search.State, saving.Token).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Candidate name of the MLP student distilled from a large tree ensemble.</summary>
    public const string DistilledCandidate = "distilled-mlp";

    /// <summary>Trains the student on the teacher's outputs for the train rows, within one trial's share of the budget.</summary>
    private DistilledStudent Distill(DatasetManifest manifest, DatasetSplit train, DatasetSplit validation, ServedModel teacher, DeviceChoice device, int seed,
        SearchBudget budget, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        var teacherOutputs = teacher.Predict(MlpTrainer.ToRowMajor(train), train.RowCount);
        var started = time.GetTimestamp();
        var limit = double.IsPositiveInfinity(budget.MaxTrialSeconds) ? budget.MaxSeconds : budget.MaxTrialSeconds;
        return Distiller.Distill(manifest, train, validation, teacherOutputs, device.Device, seed, budget.MaxEpochs, budget.Patience,
            () => time.GetElapsedTime(started).TotalSeconds >= limit, metadata, cancellationToken);
    }

    /// <summary>Whether a table of <paramref name="rows"/> train + validation rows is small enough for cross-validated selection.</summary>
    private bool CrossValidates(int rows) => options.Value.CrossValidationMaxRows > 0 && rows <= options.Value.CrossValidationMaxRows && rows >= 2 * options.Value.CrossValidationFolds;

    private SearchReport SearchReportOf(ModelSearch search, SearchBudget budget, bool classification)
    {
        var state = search.State;
        return new SearchReport
        {
            MaxTrials = budget.MaxTrials,
            MaxSeconds = budget.MaxSeconds,
            MaxEpochs = budget.MaxEpochs,
            Patience = budget.Patience,
            StoppedBy = state.StoppedBy ?? "",
            CutByTimeBudget = search.CutByTimeBudget,
            SelectedBy = (classification ? "lowest validation cross-entropy" : "lowest validation MSE (standardized target)")
                + (search.CrossValidated ? string.Create(CultureInfo.InvariantCulture, $", mean over {options.Value.CrossValidationFolds} cross-validation folds of train + validation; the ridge / logistic regression on standardized inputs unless that beats it by more than the standard error of their fold differences") : ""),
            Metric = classification ? "accuracy" : "r2",
            Selected = state.Best,
            LowestLoss = state.LowestLoss,
            Seconds = state.ElapsedSeconds,
            RefitSeconds = state.RefitSeconds,
            RefitOnValidation = options.Value.RefitOnValidation || search.CrossValidated,
            CrossValidationFolds = search.CrossValidated ? options.Value.CrossValidationFolds : null,
            Ensemble = state.EnsembleMembers.Count == 0 ? null : new EnsembleReport
            {
                Members = state.EnsembleMembers.Count,
                ValidationLoss = state.EnsembleValidationLoss ?? double.NaN,
                ValidationMetric = state.EnsembleValidationMetric ?? double.NaN,
                Used = state.EnsembleUsed,
            },
            Trials = [.. state.Completed.Select(t => new SearchTrial
            {
                Index = t.Index,
                Kind = t.Parameters.Family,
                Description = t.Parameters.ToString(),
                InputEncoding = t.Parameters.Encoded ? $"piecewise-linear, {TrainingData.EncodingBins} quantile bins" : null,
                HiddenLayers = [.. t.Parameters.HiddenLayers],
                LearningRate = t.Parameters.LearningRate,
                WeightDecay = t.Parameters.WeightDecay,
                Dropout = t.Parameters.Dropout,
                BatchSize = t.Parameters.BatchSize,
                Epochs = t.Epochs,
                BestEpoch = t.BestEpoch,
                ValidationLoss = double.IsFinite(t.ValidationLoss) ? t.ValidationLoss : double.MaxValue,
                ValidationMetric = t.ValidationMetric,
                Seconds = t.Seconds,
                StopReason = t.StopReason,
                EnsembleMember = t.EnsembleMember,
                FoldValidationLosses = t.FoldLosses is { } losses ? [.. losses.Select(l => double.IsFinite(l) ? l : double.MaxValue)] : null,
            })],
        };
    }

    /// <summary>What a checkpoint must match to be resumed: the dataset version, budget, seed, search space and device.</summary>
    private string Fingerprint(DatasetManifest manifest, SearchBudget budget, int seed, DeviceChoice device)
    {
        var o = options.Value;
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{manifest.Dataset}/{manifest.Version}|{budget.MaxTrials}|{budget.MaxSeconds}|{budget.MaxTrialSeconds}|{budget.MaxEpochs}|{budget.Patience}|{budget.EnsembleSize}|{o.RefitOnValidation}|{o.CrossValidationMaxRows}|{o.CrossValidationFolds}|{seed}|{device.Type}|{device.BatchSizeMultiplier}|{ModelSearch.SpaceVersion}|{o.Threads}");
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} version {Version} is already published; this request changes nothing")]
    private static partial void LogAlreadyPublished(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: training {Dataset} version {Version} on {Device}: {Rows} rows, {Features} features, {Task}; budget {MaxTrials} trials, {MaxSeconds} s")]
    private static partial void LogTraining(ILogger logger, string runId, string dataset, string version, string device, int rows, int features, string task, int maxTrials, double maxSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: resuming from a checkpoint ({Trials} trials done, current trial at epoch {Epoch})")]
    private static partial void LogResuming(ILogger logger, string runId, int trials, int epoch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: selected trial {Trial} ({Parameters}): validation loss {ValidationLoss:F4}, metric {ValidationMetric:F4}; networks averaged: {EnsembleSize}")]
    private static partial void LogSelected(ILogger logger, string runId, int trial, string parameters, double validationLoss, double validationMetric, int ensembleSize);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: distilled the {Leaves}-leaf tree ensemble into an MLP student (best epoch {BestEpoch}, validation loss {StudentLoss:F4} vs the teacher's {TeacherLoss:F4}); offered to the gate: {Offered}")]
    private static partial void LogDistilled(ILogger logger, string runId, int leaves, int bestEpoch, double studentLoss, double teacherLoss, bool offered);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} version {Version}: {Trials} trials in {Seconds:F1} s; serving {Artifact}, test {Metrics}; current: {Promoted}")]
    private static partial void LogTrained(ILogger logger, string model, string version, int trials, double seconds, string artifact, string metrics, bool promoted);
}
