using Pipeline.Training.Publishing;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Trainer;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;
using Pipeline.Trainer.Runs;
using Pipeline.Training;
using Pipeline.Trainer.Worker;

namespace Pipeline.Tests.Trainer;

/// <summary>The whole training job against Azurite: search table, report, run status, champion/challenger, bad input.</summary>
public class TrainingJobTests
{
    private static Splits ThreeClass(string name, string version = "v1", int rows = 600, int seed = 3)
    {
        var (manifest, train, validation, test) = SyntheticData.ThreeClassDataset(rows, seed);
        manifest.Dataset = name;
        manifest.Model = name;
        manifest.Version = version;
        manifest.Splits = new Dictionary<string, string> { ["train"] = "train.parquet", ["validation"] = "validation.parquet", ["test"] = "test.parquet" };
        return new Splits(manifest, train, validation, test);
    }

    private static async Task<T?> ReadAsync<T>(string container, string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class =>
        (await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(container).GetBlobClient(path), type, TestContext.Current.CancellationToken))?.Value;

    [Fact]
    public async Task RunAsync_NewModel_PublishesSearchTableReportAndRunStatus()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("job");
        var request = await ThreeClass(name).UploadAsync(cancellation);
        // The single-split path (seeded re-runs, refit); 750 train + validation rows would otherwise be cross-validated.
        await using var services = TestTrainer.Create(("Trainer:GpuPricePerSecond", "0.001"), ("Trainer:EnsembleSize", "2"), ("Trainer:CrossValidationMaxRows", "0"));

        var manifest = await services.GetRequiredService<TrainingJob>().RunAsync(request, cancellation);

        var search = manifest.Search!;
        Assert.Null(search.CrossValidationFolds);
        Assert.Equal(ModelFamily.Linear, search.Trials[0].Kind);
        Assert.True(search.RefitOnValidation);
        Assert.True(search.RefitSeconds > 0);
        // Ridge / logistic regression, trees and an MLP: only a chosen network is re-run with another seed (its exact fit
        // would be the same again, and trees are an average already).
        if (search.Trials[search.Selected].Kind == ModelFamily.Mlp)
        {
            Assert.Equal(4, search.Trials.Count);
            Assert.True(search.Trials[3].EnsembleMember);
            Assert.Equal(search.Trials[search.Selected].HiddenLayers, search.Trials[3].HiddenLayers);
            Assert.Equal(2, search.Ensemble!.Members);
            Assert.Equal(search.Ensemble.Used ? 2 : 1, manifest.Training.EnsembleSize);
        }
        else
        {
            Assert.Equal(3, search.Trials.Count);
            Assert.Null(search.Ensemble);
            Assert.Equal(1, manifest.Training.EnsembleSize);
        }

        Assert.Equal(search.Trials[search.Selected].HiddenLayers.Select(h => h * manifest.Training.EnsembleSize), manifest.Training.HiddenLayers);
        Assert.All(search.Trials, t => Assert.True(t.Epochs > 0 && t.Seconds > 0 && t.ValidationMetric > 0.5, t.StopReason));
        Assert.Equal(search.Trials.Where(t => !t.EnsembleMember).MinBy(t => t.ValidationLoss)!.Index, search.Trials[search.Selected].Index);
        Assert.Equal("CPU", manifest.Training.Device);
        Assert.Equal(0, manifest.Training.GpuSeconds);
        Assert.Equal(0, manifest.Training.EstimatedCost);
        Assert.True(manifest.TestMetrics["accuracy"] > 0.9);

        // The drift baseline: every column binned on the train split, the test split's predicted classes.
        var baseline = manifest.Baseline!;
        Assert.Equal(manifest.Encodings.Count > 0 ? manifest.Encodings.Select(e => e.Column) : manifest.Features, baseline.Columns.Select(c => c.Column));
        Assert.All(baseline.Columns.SelectMany(c => c.Features), f =>
        {
            Assert.InRange(f.Edges.Count, 1, TrainingBaselines.DefaultBins - 1);
            Assert.Equal(1, f.Shares.Sum(), 9);
            Assert.True(f.Min < f.Max);
        });
        Assert.Equal(manifest.Labels, baseline.Predictions!.Categories);
        Assert.Equal(1, baseline.Predictions.Shares.Sum(), 9);
        Assert.True(baseline.TrainRows > 0 && baseline.TestRows > 0);

        Assert.True(manifest.Promotion!.Promoted);
        Assert.Equal("no current model", manifest.Promotion.Reason);
        Assert.Equal(manifest.Version, (await ReadAsync(StorageNames.ModelsContainer, StorageNames.CurrentPointerPath(name), PipelineJson.Default.CurrentPointer))!.Version);

        Assert.Contains("report.md", manifest.Report);
        Assert.Contains("report-confusion.png", manifest.Report);
        Assert.Contains("report-loss.png", manifest.Report);
        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        var report = (await models.GetBlobClient($"{name}/{manifest.Version}/report.md").DownloadContentAsync(cancellation)).Value.Content.ToString();
        Assert.Contains("## Model search", report, StringComparison.Ordinal);
        Assert.Contains("**chosen**", report, StringComparison.Ordinal);
        Assert.Contains("## Confusion matrix", report, StringComparison.Ordinal);
        var png = (await models.GetBlobClient($"{name}/{manifest.Version}/report-confusion.png").DownloadContentAsync(cancellation)).Value;
        Assert.Equal("image/png", png.Details.ContentType);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png.Content.ToArray()[..4]);

        var status = await ReadAsync(StorageNames.RunsContainer, StorageNames.RunStatusPath(RunIds.For(request)), PipelineJson.Default.RunStatus);
        Assert.NotNull(status);
        Assert.Equal(RunStates.Succeeded, status.State);
        Assert.Equal("done", status.Stage);
        Assert.Equal(manifest.Version, status.ModelVersion);
        Assert.True(status.Promoted);
        Assert.Equal(4, status.Trials);
        Assert.True(status.Epoch > 0);
        Assert.NotNull(status.Losses);
        Assert.InRange(status.Losses.Count, 1, LossPoint.MaxPoints);
        Assert.Equal(status.Losses.Select(p => p.Epoch).Order(), status.Losses.Select(p => p.Epoch));
        Assert.All(status.Losses, p => Assert.True(p.Train > 0 && p.Validation > 0));
        Assert.Equal(status.RunId, (await ReadAsync(StorageNames.RunsContainer, StorageNames.LatestRunPath(name), PipelineJson.Default.RunStatus))!.RunId);
        Assert.False((await Azurite.Blobs().GetBlobContainerClient(StorageNames.RunsContainer).GetBlobClient(StorageNames.RunCheckpointPath(status.RunId)).ExistsAsync(cancellation)).Value);
    }

    [Fact]
    public async Task RunAsync_SmallTable_RanksTrialsByCrossValidationAndServesAModelOfEveryRow()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("cv");
        var request = await ThreeClass(name, rows: 200).UploadAsync(cancellation);
        await using var services = TestTrainer.Create(("Trainer:EnsembleSize", "3"), ("Trainer:CrossValidationFolds", "4"));

        var manifest = await services.GetRequiredService<TrainingJob>().RunAsync(request, cancellation);

        var search = manifest.Search!;
        Assert.Equal(4, search.CrossValidationFolds);
        Assert.Contains("4 cross-validation folds", search.SelectedBy, StringComparison.Ordinal);
        Assert.Equal(3, search.Trials.Count);
        Assert.DoesNotContain(search.Trials, t => t.EnsembleMember);
        Assert.All(search.Trials, t =>
        {
            Assert.Equal(4, t.FoldValidationLosses!.Count);
            Assert.Equal(t.FoldValidationLosses.Average(), t.ValidationLoss, 9);
        });
        // The lowest mean fold loss, or the linear model when that does not beat it by more than the folds' noise.
        Assert.Equal(search.Trials.MinBy(t => t.ValidationLoss)!.Index, search.Trials[search.LowestLoss ?? search.Selected].Index);
        Assert.True(search.LowestLoss is null || search.Trials[search.Selected].Kind == ModelFamily.Linear);
        Assert.True(search.RefitOnValidation);
        // A network is served as the average of its 4 fold models; trees and a linear model are fitted again on every row.
        var chosen = search.Trials[search.Selected];
        Assert.Equal(chosen.Kind == ModelFamily.Mlp ? 4 : 1, manifest.Training.EnsembleSize);
        Assert.True(manifest.TestMetrics["accuracy"] > 0.85);
        var report = (await Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer).GetBlobClient($"{name}/{manifest.Version}/report.md")
            .DownloadContentAsync(cancellation)).Value.Content.ToString();
        Assert.Contains("4 cross-validation folds", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_VersionAlreadyPublished_ReturnsItWithoutTouchingItsFiles()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("again");
        var request = await ThreeClass(name, rows: 300).UploadAsync(cancellation);
        await using var services = TestTrainer.Create();
        var job = services.GetRequiredService<TrainingJob>();
        var first = await job.RunAsync(request, cancellation);
        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        var files = await models.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{name}/{first.Version}/" }, cancellation)
            .ToListAsync(cancellation);

        // The same request again, as an at-least-once queue or a repeated upload event delivers it.
        var second = await job.RunAsync(request, cancellation);

        Assert.Equal(first.Version, second.Version);
        Assert.Equal(first.Artifact, second.Artifact);
        var after = await models.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{name}/{first.Version}/" }, cancellation)
            .ToListAsync(cancellation);
        Assert.Equal(files.Select(b => (b.Name, b.Properties.ETag)), after.Select(b => (b.Name, b.Properties.ETag)));
        Assert.Contains(after, b => b.Name == StorageNames.ModelManifestPath(name, first.Version));
    }

    [Fact]
    public async Task RunAsync_WorseChallenger_StaysACandidate_UnlessAnOperatorsRequestForcesPromotion()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("champion");
        await using var services = TestTrainer.Create(("Trainer:MaxTrials", "2"));
        var job = services.GetRequiredService<TrainingJob>();
        var champion = await job.RunAsync(await ThreeClass(name, "v1").UploadAsync(cancellation), cancellation);

        // v2: same kind of data, but the train and validation labels are scrambled, so the challenger learns little.
        var worse = ThreeClass(name, "v2", seed: 4);
        new Random(1).Shuffle(worse.Train.Target);
        new Random(2).Shuffle(worse.Validation.Target);
        var challenger = await job.RunAsync(await worse.UploadAsync(cancellation), cancellation);

        Assert.False(challenger.Promotion!.Promoted);
        Assert.Equal("v1", challenger.Promotion.ChampionVersion);
        Assert.True(challenger.Promotion.Champion > challenger.Promotion.Challenger + challenger.Promotion.Tolerance);
        Assert.Contains("worse than the current model", challenger.Promotion.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", (await ReadAsync(StorageNames.ModelsContainer, StorageNames.CurrentPointerPath(name), PipelineJson.Default.CurrentPointer))!.Version);
        var candidate = await ReadAsync(StorageNames.ModelsContainer, StorageNames.ModelManifestPath(name, "v2"), PipelineJson.Default.ModelManifest);
        Assert.False(candidate!.Promotion!.Promoted);
        var report = (await Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer).GetBlobClient($"{name}/v2/report.md").DownloadContentAsync(cancellation)).Value.Content.ToString();
        Assert.Contains("no — kept as a candidate", report, StringComparison.Ordinal);

        // v3: the same bad data, but the training request (an operator's) forces promotion.
        var forced = ThreeClass(name, "v3", seed: 4);
        new Random(1).Shuffle(forced.Train.Target);
        new Random(2).Shuffle(forced.Validation.Target);
        var forcedRequest = await forced.UploadAsync(cancellation);
        forcedRequest.ForcePromotion = true;
        var promoted = await job.RunAsync(forcedRequest, cancellation);

        Assert.True(promoted.Promotion!.Promoted);
        Assert.True(promoted.Promotion.Forced);
        Assert.Equal("v3", (await ReadAsync(StorageNames.ModelsContainer, StorageNames.CurrentPointerPath(name), PipelineJson.Default.CurrentPointer))!.Version);
        Assert.True(champion.Promotion!.Promoted);
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "one-class", "holds one class only" },
        { "nan-target", "NaN" },
        { "corrupt-parquet", "not a readable Parquet file" },
        { "missing-version", "does not exist" },
        { "zero-trials", "budget is invalid" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task ProcessOne_BadInput_IsPoisonedAndTheRunStatusSaysWhy(string kind, string reason)
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("bad");
        var splits = ThreeClass(name, rows: 200);
        var request = new TrainRequest { Dataset = name, DatasetVersion = "v1", Model = name, RequestedAt = DateTimeOffset.UnixEpoch };
        switch (kind)
        {
            case "one-class":
                Array.Fill(splits.Train.Target, 1f);
                await splits.UploadAsync(cancellation);
                break;
            case "nan-target":
                splits.Validation.Target[3] = float.NaN;
                await splits.UploadAsync(cancellation);
                break;
            case "zero-trials":
                await splits.UploadAsync(cancellation);
                request.MaxTrials = 0;
                break;
            case "corrupt-parquet":
                await splits.UploadAsync(cancellation);
                await Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient($"{name}/v1/train.parquet")
                    .UploadAsync(BinaryData.FromString("PAR1 this is not parquet"), overwrite: true, cancellation);
                break;
        }

        var queueName = Azurite.UniqueName("train-bad");
        var queue = Azurite.Queues().GetQueueClient(queueName);
        await queue.CreateAsync(cancellationToken: cancellation);
        await queue.SendMessageAsync(JsonSerializer.Serialize(request, PipelineJson.Default.TrainRequest), cancellation);
        await using var services = TestTrainer.Create(("Worker:QueueName", queueName));

        Assert.True(await services.GetRequiredService<TrainRequestConsumer>().ProcessOneAsync(cancellation));

        var poisoned = (await Azurite.Queues().GetQueueClient(queueName + "-poison").ReceiveMessagesAsync(1, cancellationToken: cancellation)).Value.Single();
        Assert.Contains(reason, JsonNode.Parse(poisoned.Body.ToString())!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        var status = await ReadAsync(StorageNames.RunsContainer, StorageNames.RunStatusPath(RunIds.For(request)), PipelineJson.Default.RunStatus);
        Assert.Equal(RunStates.Failed, status!.State);
        Assert.Contains(reason, status.Error, StringComparison.Ordinal);
        Assert.False((await Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer).GetBlobClient(StorageNames.CurrentPointerPath(name)).ExistsAsync(cancellation)).Value);
    }

    [Fact]
    public async Task RunAsync_ChallengerNotComparableWithTheChampion_IsACandidateNotPromoted()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("incomparable");
        await using var services = TestTrainer.Create(("Trainer:MaxTrials", "1"));
        var job = services.GetRequiredService<TrainingJob>();
        await job.RunAsync(await ThreeClass(name, "v1").UploadAsync(cancellation), cancellation);

        // v2 has other columns: the champion cannot be run on its test split.
        var other = ThreeClass(name, "v2", seed: 5);
        foreach (var feature in other.Manifest.Features)
        {
            feature.Name = "other-" + feature.Name;
        }

        var challenger = await job.RunAsync(await other.UploadAsync(cancellation), cancellation);

        Assert.False(challenger.Promotion!.Promoted);
        Assert.Contains("not comparable", challenger.Promotion.Reason, StringComparison.Ordinal);
        Assert.Contains("published as a candidate", challenger.Promotion.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", (await ReadAsync(StorageNames.ModelsContainer, StorageNames.CurrentPointerPath(name), PipelineJson.Default.CurrentPointer))!.Version);
    }

    [Fact]
    public async Task TryMakeCurrent_PointerMovedAfterTheComparison_LosesTheRace_AndTheRollbackStands()
    {
        // An operator's rollback lands between the trainer's comparison and its move: the move must not overwrite it.
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("race");
        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: cancellation);
        Assert.NotNull(await ModelPointer.TryMoveAsync(models, name, "v1", PointerState.None, DateTimeOffset.UnixEpoch, cancellation));
        await using var services = TestTrainer.Create();
        var publisher = services.GetRequiredService<ModelPublisher>();

        var compared = await publisher.ReadPointerAsync(name, cancellation);
        Assert.NotNull(await ModelPointer.TryMoveAsync(models, name, "v0", await ModelPointer.ReadAsync(models, name, cancellation), DateTimeOffset.UnixEpoch, cancellation));
        var moved = await publisher.TryMakeCurrentAsync(new ModelManifest { Model = name, Version = "v2" }, compared, cancellation);

        Assert.Equal("v1", compared.Current!.Version);
        Assert.False(moved);
        Assert.Equal("v0", (await ModelPointer.ReadAsync(models, name, cancellation)).Current!.Version);
    }

    [Fact]
    public async Task TryMove_ManyWritersFromOneReading_ExactlyOneWins()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("writers");
        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: cancellation);
        Assert.NotNull(await ModelPointer.TryMoveAsync(models, name, "v0", PointerState.None, DateTimeOffset.UnixEpoch, cancellation));
        var read = await ModelPointer.ReadAsync(models, name, cancellation);

        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => ModelPointer.TryMoveAsync(models, name, $"v{i}", read, DateTimeOffset.UnixEpoch, cancellation)));

        Assert.Single(results, r => r is not null);
        var winner = Array.FindIndex(results, r => r is not null) + 1;
        Assert.Equal($"v{winner}", results[winner - 1]!.Current!.Version);
        Assert.Equal($"v{winner}", (await ModelPointer.ReadAsync(models, name, cancellation)).Current!.Version);
        Assert.Null(await ModelPointer.TryMoveAsync(models, name, "v9", PointerState.None, DateTimeOffset.UnixEpoch, cancellation));
    }
}
