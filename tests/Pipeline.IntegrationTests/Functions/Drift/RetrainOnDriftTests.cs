using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Preprocessing;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;
using Pipeline.Tests.Trainer;
using Pipeline.Trainer;

namespace Pipeline.Tests.Functions.Drift;

/// <summary>
/// <c>dataset.json</c> <c>retrainOnDrift</c> against Azurite: a drifted model whose dataset has new labelled files gets
/// one rebuild request on the upload path (a BlobCreated event on the Preprocess trigger's queue, here a queue of the
/// test's own), and that request trains a new version through the real preprocessing and trainer; in every other case
/// nothing is sent and the report says why.
/// </summary>
public sealed class RetrainOnDriftTests : IAsyncLifetime
{
    private readonly string _queue = Azurite.UniqueName("retrain-created");
    private readonly PreprocessingApp _app;

    public RetrainOnDriftTests() => _app = new(new Dictionary<string, string> { ["Preprocess:BlobCreatedQueue"] = _queue });

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static Azure.Storage.Blobs.BlobContainerClient Raw => Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer);

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Azurite.Queues().GetQueueClient(_queue).CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await Raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer).CreateIfNotExistsAsync(cancellationToken: Cancellation);
    }

    public async ValueTask DisposeAsync()
    {
        await Azurite.Queues().GetQueueClient(_queue).DeleteIfExistsAsync(Cancellation);
        await _app.DisposeAsync();
    }

    private async Task<int> QueuedAsync() => (await Azurite.Queues().GetQueueClient(_queue).PeekMessagesAsync(32, Cancellation)).Value.Length;

    private static string Spec(bool retrainOnDrift) => retrainOnDrift ? """{"target":"label","retrainOnDrift":true}""" : """{"target":"label"}""";

    /// <summary>
    /// A model version as the trainer leaves it for drift: its manifest names dataset version <c>d1</c>, whose manifest
    /// lists <c>raw/{name}/part1.csv</c> as its source; then, when <paramref name="newFile"/>, <c>part2.csv</c> is uploaded after it.
    /// </summary>
    private static async Task<string> PublishTrainedAsync(bool retrainOnDrift, bool newFile)
    {
        var name = Azurite.UniqueName("retrain");
        await DriftData.PublishAsync(name);
        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        var manifestBlob = models.GetBlobClient(StorageNames.ModelManifestPath(name, "v1"));
        var manifest = (await BlobJson.ReadAsync(manifestBlob, PipelineJson.Default.ModelManifest, Cancellation))!.Value.Value;
        (manifest.Dataset, manifest.DatasetVersion) = (name, "d1");
        await BlobJson.WriteAsync(manifestBlob, manifest, PipelineJson.Default.ModelManifest, null, Cancellation);

        await Raw.GetBlobClient($"{name}/{StorageNames.DatasetSpecFile}").UploadAsync(BinaryData.FromString(Spec(retrainOnDrift)), overwrite: true, Cancellation);
        var part1 = (await Raw.GetBlobClient($"{name}/part1.csv").UploadAsync(new BinaryData(DriftData.Csv(DriftData.Rows(300, seed: 30))), overwrite: true, Cancellation)).Value;
        var dataset = new DatasetManifest
        {
            Dataset = name, Version = "d1", CreatedAt = part1.LastModified, UploadedAt = part1.LastModified, Task = TaskKind.Classification, Target = "label", Model = name,
            Sources = [new SourceFile { Blob = $"raw/{name}/part1.csv", Sha256 = "00", Bytes = 1 }],
        };
        await BlobJson.WriteAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(StorageNames.DatasetManifestPath(name, "d1")),
            dataset, PipelineJson.Default.DatasetManifest, null, Cancellation);
        if (newFile)
        {
            await Raw.GetBlobClient($"{name}/part2.csv").UploadAsync(new BinaryData(DriftData.Csv(DriftData.Rows(300, seed: 31))), overwrite: true, Cancellation);
        }

        return name;
    }

    private async Task ScoreShiftedAsync(string name) =>
        await DriftData.ScoreAsync(_app, $"{name}/shifted.csv", DriftData.Csv(DriftData.Rows(1000, seed: 32, sizeShift: 4, newColorShare: 0.5)));

    [Fact]
    public async Task RunAsync_DriftedWithNewFiles_RequestsOneRebuildHoweverOftenItRuns()
    {
        var name = await PublishTrainedAsync(retrainOnDrift: true, newFile: true);
        await ScoreShiftedAsync(name);

        var first = await _app.DriftJob.RunAsync(name, Cancellation);
        var second = await _app.DriftJob.RunAsync(name, Cancellation);

        Assert.Equal(DriftStatus.Drifted, first!.Status);
        var requested = first.Retrain!;
        Assert.Equal(RetrainOutcome.Requested, requested.Outcome);
        Assert.Equal((name, "d1", 1), (requested.Dataset, requested.DatasetVersion, requested.NewFileCount));
        Assert.Equal([$"raw/{name}/part2.csv"], requested.NewFiles);
        Assert.Contains("the champion/challenger gate decides", requested.Message, StringComparison.Ordinal);
        Assert.Equal(RetrainOutcome.AlreadyRequested, second!.Retrain!.Outcome);
        Assert.Equal((requested.Marker, requested.RequestedAt), (second.Retrain.Marker, second.Retrain.RequestedAt));
        Assert.Contains("not sent again", second.Retrain.Message, StringComparison.Ordinal);
        Assert.Equal(RetrainOutcome.AlreadyRequested, (await DriftData.ReadReportAsync(name)).Report.Retrain!.Outcome);

        var message = Assert.Single((await Azurite.Queues().GetQueueClient(_queue).PeekMessagesAsync(32, Cancellation)).Value);
        var blobEvent = BlobEventMessage.Decode(message.MessageText)!;
        Assert.Equal((StorageNames.RawContainer, $"{name}/part2.csv"), blobEvent.TryGetBlob());
        Assert.Equal(BlobCreatedEvent.EventTypeName, blobEvent.EventType);
    }

    [Fact]
    public async Task RunAsync_DriftedWithoutNewFiles_SaysRetrainWasWantedAndSendsNothing()
    {
        var name = await PublishTrainedAsync(retrainOnDrift: true, newFile: false);
        await ScoreShiftedAsync(name);

        var report = await _app.DriftJob.RunAsync(name, Cancellation);

        Assert.Equal(DriftStatus.Drifted, report!.Status);
        Assert.Equal((RetrainOutcome.NoNewData, 0), (report.Retrain!.Outcome, report.Retrain.NewFileCount));
        Assert.StartsWith($"Retraining is wanted, but no file of raw/{name}/ was added or changed since dataset version d1", report.Retrain.Message, StringComparison.Ordinal);
        Assert.Equal(0, await QueuedAsync());
    }

    /// <summary>
    /// The usual case: the new file's own upload already built a newer dataset version and requested its training (the
    /// gate then kept the served version). A rebuild would train the same data again, so nothing is sent; once the file
    /// changes after that version, it is new again.
    /// </summary>
    [Fact]
    public async Task RunAsync_NewFilesAlreadyInANewerDatasetVersion_SendsNothing_UntilAFileChanges()
    {
        var name = await PublishTrainedAsync(retrainOnDrift: true, newFile: true);
        var part2 = (await Raw.GetBlobClient($"{name}/part2.csv").GetPropertiesAsync(cancellationToken: Cancellation)).Value;
        var d2 = new DatasetManifest
        {
            Dataset = name, Version = "d2", CreatedAt = part2.LastModified, UploadedAt = part2.LastModified, Task = TaskKind.Classification, Target = "label", Model = name,
            Sources = [new SourceFile { Blob = $"raw/{name}/part1.csv", Sha256 = "00", Bytes = 1 }, new SourceFile { Blob = $"raw/{name}/part2.csv", Sha256 = "01", Bytes = 1 }],
        };
        await BlobJson.WriteAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(StorageNames.DatasetManifestPath(name, "d2")),
            d2, PipelineJson.Default.DatasetManifest, null, Cancellation);
        await ScoreShiftedAsync(name);

        var report = await _app.DriftJob.RunAsync(name, Cancellation);

        Assert.Equal(DriftStatus.Drifted, report!.Status);
        Assert.Equal((RetrainOutcome.AlreadyBuilt, 1), (report.Retrain!.Outcome, report.Retrain.NewFileCount));
        Assert.Contains("already in dataset version d2", report.Retrain.Message, StringComparison.Ordinal);
        Assert.Equal(0, await QueuedAsync());

        await Task.Delay(1100, Cancellation); // Last-Modified has whole seconds
        await Raw.GetBlobClient($"{name}/part2.csv").UploadAsync(new BinaryData(DriftData.Csv(DriftData.Rows(300, seed: 33))), overwrite: true, Cancellation);
        var changed = await _app.DriftJob.RunAsync(name, Cancellation);

        Assert.Equal(RetrainOutcome.Requested, changed!.Retrain!.Outcome);
        Assert.Equal(1, await QueuedAsync());
    }

    [Fact]
    public async Task RunAsync_NotDrifted_SendsNothing()
    {
        var name = await PublishTrainedAsync(retrainOnDrift: true, newFile: true);
        await DriftData.ScoreAsync(_app, $"{name}/like.csv", DriftData.Csv(DriftData.Rows(1000, seed: 33)));

        var report = await _app.DriftJob.RunAsync(name, Cancellation);

        Assert.Equal(DriftStatus.Ok, report!.Status);
        Assert.Equal(RetrainOutcome.NotDrifted, report.Retrain!.Outcome);
        Assert.Equal(0, await QueuedAsync());
    }

    [Fact]
    public async Task RunAsync_DatasetDoesNotAskForIt_SendsNothing()
    {
        var name = await PublishTrainedAsync(retrainOnDrift: false, newFile: true);
        await ScoreShiftedAsync(name);

        var report = await _app.DriftJob.RunAsync(name, Cancellation);

        Assert.Equal(DriftStatus.Drifted, report!.Status);
        Assert.Equal(RetrainOutcome.Off, report.Retrain!.Outcome);
        Assert.Equal($"raw/{name}/dataset.json does not ask for retrainOnDrift: nothing sent.", report.Retrain.Message);
        Assert.Equal(0, await QueuedAsync());
    }

    [Fact]
    public async Task Preprocess_RetrainOnDriftNotABoolean_RejectsTheSpecNamingTheField()
    {
        var name = Azurite.UniqueName("retrain-spec");
        await Raw.GetBlobClient($"{name}/{StorageNames.DatasetSpecFile}").UploadAsync(BinaryData.FromString("""{"target":"label","retrainOnDrift":"yes"}"""), overwrite: true, Cancellation);
        await Raw.GetBlobClient($"{name}/part1.csv").UploadAsync(new BinaryData(DriftData.Csv(DriftData.Rows(200, seed: 34))), overwrite: true, Cancellation);

        var outcome = await Invocations.PreprocessAsync(_app, $"{name}/part1.csv");

        Assert.Equal(PreprocessResult.Rejected, outcome.Result);
        Assert.Contains($"raw/{name}/dataset.json is not valid JSON", outcome.Detail, StringComparison.Ordinal);
        Assert.Contains("$.retrainOnDrift", outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftedModelWithNewLabelledFiles_IsRetrainedThroughPreprocessingAndTheTrainer()
    {
        var name = Azurite.UniqueName("retrain-e2e");
        await Raw.GetBlobClient($"{name}/{StorageNames.DatasetSpecFile}").UploadAsync(BinaryData.FromString(Spec(retrainOnDrift: true)), overwrite: true, Cancellation);
        await Raw.GetBlobClient($"{name}/part1.csv").UploadAsync(new BinaryData(DriftData.Csv(DriftData.Rows(600, seed: 40))), overwrite: true, Cancellation);
        await using var trainer = TestTrainer.Create(("Trainer:MaxTrials", "2"), ("Trainer:CrossValidationMaxRows", "0"));
        var job = trainer.GetRequiredService<TrainingJob>();
        var first = await job.RunAsync((await Invocations.PreprocessAsync(_app, $"{name}/part1.csv")).TrainRequest!, Cancellation);
        Assert.NotNull(first.Baseline);
        Assert.Equal(first.Version, (await ModelPointer.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer), name, Cancellation)).Current!.Version);

        // New labelled data arrives; the model then sees shifted data.
        await Raw.GetBlobClient($"{name}/part2.csv").UploadAsync(new BinaryData(DriftData.Csv(DriftData.Rows(600, seed: 41))), overwrite: true, Cancellation);
        await ScoreShiftedAsync(name);
        var report = await _app.DriftJob.RunAsync(name, Cancellation);
        var again = await _app.DriftJob.RunAsync(name, Cancellation);

        Assert.Equal(DriftStatus.Drifted, report!.Status);
        Assert.Equal((RetrainOutcome.Requested, RetrainOutcome.AlreadyRequested), (report.Retrain!.Outcome, again!.Retrain!.Outcome));
        var message = Assert.Single((await Azurite.Queues().GetQueueClient(_queue).ReceiveMessagesAsync(32, cancellationToken: Cancellation)).Value);

        // The request goes the upload's way: the Preprocess function builds a version of every current file and asks for its training.
        var output = await _app.Function.RunAsync(message.MessageText, Cancellation);
        var request = JsonSerializer.Deserialize(Assert.IsType<string>(output), PipelineJson.Default.TrainRequest)!;
        Assert.NotEqual(first.DatasetVersion, request.DatasetVersion);
        var dataset = (await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer)
            .GetBlobClient(StorageNames.DatasetManifestPath(name, request.DatasetVersion)), PipelineJson.Default.DatasetManifest, Cancellation))!.Value.Value;
        Assert.Equal([$"raw/{name}/part1.csv", $"raw/{name}/part2.csv"], dataset.Sources.Select(s => s.Blob).Order(StringComparer.Ordinal));
        // retrainOnDrift is a setting of the spec, not an unknown field.
        Assert.DoesNotContain(dataset.Warnings, w => w.Contains("retrainOnDrift", StringComparison.Ordinal));

        var second = await job.RunAsync(request, Cancellation);

        Assert.NotEqual(first.Version, second.Version);
        Assert.Equal(request.DatasetVersion, second.DatasetVersion);
        // The champion/challenger gate decided, as for any upload.
        Assert.NotNull(second.Promotion);
        Assert.NotNull(await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer)
            .GetBlobClient(StorageNames.ModelManifestPath(name, second.Version)), PipelineJson.Default.ModelManifest, Cancellation));
    }
}
