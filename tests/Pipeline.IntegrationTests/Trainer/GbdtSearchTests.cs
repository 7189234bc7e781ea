using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;
using Pipeline.Trainer;
using Pipeline.Training;
using Pipeline.Training.Quantization;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

/// <summary>Gradient-boosted trees as a family of the search and through the whole training job.</summary>
[Collection(TorchDeterminism.Name)]
public class GbdtSearchTests
{
    private static readonly SearchBudget TwoTrials = new(MaxTrials: 2, MaxSeconds: 3600, MaxEpochs: 30, Patience: 5, EnsembleSize: 3);

    private static TrainingData ThresholdData()
    {
        var splits = TabularDataset.Thresholds(1500, seed: 4).Split("thresholds", seed: 17);
        return new TrainingData(splits.Manifest, splits.Train, splits.Validation, CPU);
    }

    [Fact]
    public void Run_ThresholdData_ChoosesTreesWithoutEnsembleReRuns()
    {
        using var data = ThresholdData();
        var search = new ModelSearch(data, TwoTrials, seed: 5, new SearchState { Fingerprint = "test" }, TimeProvider.System);

        var best = search.Run(null, TestContext.Current.CancellationToken);

        Assert.Equal([ModelFamily.Linear, ModelFamily.Gbdt], search.State.Completed.Select(t => t.Parameters.Family));
        Assert.Equal(ModelFamily.Gbdt, best.Parameters.Family);
        Assert.NotNull(best.TreeModel);
        Assert.True(search.State.Completed[1].ValidationLoss < search.State.Completed[0].ValidationLoss);
        Assert.InRange(best.BestEpoch, 1, best.Epoch);
        Assert.Equal(best.Epoch, best.History.Count);
        Assert.False(search.State.EnsembleUsed);
        Assert.DoesNotContain(search.State.Completed, t => t.EnsembleMember);
    }

    [Fact]
    public void Run_SameDataAndSeed_GivesTheSameTrees()
    {
        using var data = ThresholdData();
        string? Trees() => new ModelSearch(data, TwoTrials, seed: 5, new SearchState { Fingerprint = "test" }, TimeProvider.System)
            .Run(null, TestContext.Current.CancellationToken).TreeModel;

        Assert.Equal(Trees(), Trees());
    }

    [Fact]
    public void Refit_ChosenTrees_TrainsTheBestRoundCountOnTrainAndValidation()
    {
        var splits = TabularDataset.Thresholds(1500, seed: 4).Split("thresholds", seed: 17);
        using var data = new TrainingData(splits.Manifest, splits.Train, splits.Validation, CPU);
        var search = new ModelSearch(data, TwoTrials, seed: 5, new SearchState { Fingerprint = "test" }, TimeProvider.System);
        var best = search.Run(null, TestContext.Current.CancellationToken);
        var combinedSplit = new Pipeline.Datasets.DatasetSplit(
            [.. splits.Train.Features.Zip(splits.Validation.Features, (a, b) => (float[])[.. a, .. b])], [.. splits.Train.Target, .. splits.Validation.Target]);
        using var combined = new TrainingData(splits.Manifest, combinedSplit, splits.Validation, CPU);

        var refit = search.Refit(combined, best, TestContext.Current.CancellationToken);

        Assert.NotEqual(best.TreeModel, refit.TreeModel);
        Assert.Equal(best.BestEpoch, Pipeline.Training.Gbdt.LightGbmModel.Parse(refit.TreeModel!).Trees.Count);
    }

    [Fact]
    public async Task RunAsync_TreesWin_PublishesAVerifiedTreeGraphWithQuantizationNotApplicable()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("gbdt");
        var request = await TabularDataset.Thresholds(1500, seed: 4).Split(name, seed: 17).UploadAsync(cancellation);
        await using var services = TestTrainer.Create(("Trainer:MaxTrials", "2"), ("Trainer:EnsembleSize", "3"), ("Trainer:Distill", "false"));

        var manifest = await services.GetRequiredService<TrainingJob>().RunAsync(request, cancellation);

        Assert.Equal(ModelFamily.Gbdt, manifest.Training.Family);
        Assert.Equal([ModelFamily.Linear, ModelFamily.Gbdt], manifest.Search!.Trials.Select(t => t.Kind));
        Assert.Equal(1, manifest.Search.Selected);
        Assert.Contains("leaves", manifest.Search.Trials[1].Description, StringComparison.Ordinal);
        Assert.True(manifest.Training.Trees > 0);
        Assert.InRange(manifest.Training.OnnxMaxAbsDiff, 0, 1e-5);
        Assert.Equal(0, manifest.Training.GpuSeconds);
        Assert.StartsWith("not applicable", manifest.Quantization!.Reason, StringComparison.Ordinal);
        Assert.Equal(StorageNames.ModelFile, manifest.Artifact);
        Assert.True(manifest.TestMetrics["accuracy"] > 0.85, $"test accuracy {manifest.TestMetrics["accuracy"]:F4}");

        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        using var temp = new TempDirectory();
        var path = temp.File("model.onnx");
        await models.GetBlobClient($"{manifest.Model}/{manifest.Version}/{StorageNames.ModelFile}").DownloadToAsync(path, cancellation);
        OnnxChecker.Check(path);
        var report = (await models.GetBlobClient($"{manifest.Model}/{manifest.Version}/report.md").DownloadContentAsync(cancellation)).Value.Content.ToString();
        Assert.Contains("gradient-boosted trees", report, StringComparison.Ordinal);
        Assert.Contains("| gbdt | 1 |", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_LargeTreeEnsemble_OffersADistilledStudentToTheMeasuredGate()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var name = Azurite.UniqueName("distil");
        var request = await TabularDataset.Thresholds(1500, seed: 4).Split(name, seed: 17).UploadAsync(cancellation);
        await using var services = TestTrainer.Create(("Trainer:MaxTrials", "2"), ("Trainer:DistillMinLeaves", "1"));

        var manifest = await services.GetRequiredService<TrainingJob>().RunAsync(request, cancellation);

        Assert.Equal(ModelFamily.Gbdt, manifest.Training.Family);
        var gate = manifest.Quantization!;
        Assert.StartsWith("int8 not applicable", gate.Reason, StringComparison.Ordinal);
        Assert.Equal([QuantizationGate.Fp32, TrainingJob.DistilledCandidate], gate.Candidates.Select(c => c.Name));
        var student = gate.Candidates[1];
        Assert.Contains("MLP 64×64", student.Description, StringComparison.Ordinal);
        Assert.Contains("teacher: gbdt", student.Description, StringComparison.Ordinal);
        Assert.NotNull(student.Quality);
        Assert.NotNull(student.LatencyBatch1Microseconds);
        Assert.Matches("^(served|rejected|not served)", student.Verdict);
        Assert.Equal(QuantizationStep.ArtifactFile(gate.Served), manifest.Artifact);
        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        Assert.True((await models.GetBlobClient($"{manifest.Model}/{manifest.Version}/model.{TrainingJob.DistilledCandidate}.onnx").ExistsAsync(cancellation)).Value);
    }
}
