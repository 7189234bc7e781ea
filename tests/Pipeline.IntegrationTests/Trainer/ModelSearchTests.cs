using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;
using Pipeline.Trainer.Runs;
using Pipeline.Training;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

[Collection(TorchDeterminism.Name)]
public class ModelSearchTests
{
    private static readonly SearchBudget SmallBudget = new(MaxTrials: 3, MaxSeconds: 3600, MaxEpochs: 12, Patience: 5);

    private static TrainingData Data(int rows = 400, int seed = 3)
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(rows, seed);
        return new TrainingData(manifest, train, validation, CPU);
    }

    /// <summary>An AdamW linear model, trees and an MLP: three trials that all train epoch by epoch (or round by round) under the clock.</summary>
    private static readonly TrialParameters[] SteppedTrials =
        [new([], 1e-2, 1e-4, 0, 32), TrialParameters.Trees(new(31, 0.05, 20, 0.9, 1.0, 0)), new([128], 3e-3, 1e-2, 0, 64)];

    private static ModelSearch CreateSut(TrainingData data, SearchBudget budget, SearchState? state = null, TimeProvider? time = null, IReadOnlyList<TrialParameters>? trials = null) =>
        new(data, budget, seed: 5, state ?? new SearchState { Fingerprint = "test" }, time ?? TimeProvider.System, trials: trials);

    [Fact]
    public void Trials_StartWithALinearModel_AndVaryEverySearchedSetting()
    {
        var trials = SearchSpace.Trials(24, seed: 1, trainRows: 2000);

        Assert.True(trials[0].Linear);
        Assert.Equal(24, trials.Count);
        Assert.True(trials.Select(t => t.HiddenLayers.Count).Distinct().Count() >= 3, "depth");
        Assert.True(trials.Select(t => t.HiddenLayers.Count > 0 ? t.HiddenLayers[0] : 0).Distinct().Count() >= 3, "width");
        Assert.True(trials.Select(t => t.LearningRate).Distinct().Count() >= 5, "learning rate");
        Assert.True(trials.Select(t => t.WeightDecay).Distinct().Count() >= 5, "weight decay");
        Assert.True(trials.Select(t => t.Dropout).Distinct().Count() >= 3, "dropout");
        Assert.True(trials.Select(t => t.BatchSize).Distinct().Count() >= 3, "batch size");
        Assert.Equal(trials.Select(t => t.ToString()), SearchSpace.Trials(24, seed: 1, trainRows: 2000).Select(t => t.ToString()));
        Assert.NotEqual(trials[^1].ToString(), SearchSpace.Trials(24, seed: 2, trainRows: 2000)[^1].ToString());
    }

    [Fact]
    public void Trials_TinyTrainingSet_CapsTheBatchSize()
    {
        Assert.All(SearchSpace.Trials(12, seed: 1, trainRows: 200), t => Assert.True(t.BatchSize <= 25, t.ToString()));
    }

    [Fact]
    public void Run_SameDataAndSettings_GivesTheSameModelAndTrialTable()
    {
        using var data = Data();

        var first = CreateSut(data, SmallBudget);
        var firstBest = first.Run(null, TestContext.Current.CancellationToken);
        var second = CreateSut(data, SmallBudget);
        var secondBest = second.Run(null, TestContext.Current.CancellationToken);

        Assert.Equal(3, first.State.Completed.Count);
        Assert.Equal(first.State.Completed.Select(t => (t.Epochs, t.ValidationLoss)), second.State.Completed.Select(t => (t.Epochs, t.ValidationLoss)));
        Assert.Equal(firstBest.Index, secondBest.Index);
        Assert.Equal(firstBest.BestWeights, secondBest.BestWeights);
        Assert.Equal(first.State.Completed.MinBy(t => t.ValidationLoss)!.Index, firstBest.Index);
        Assert.Equal("all 3 trials", first.State.StoppedBy);
    }

    [Fact]
    public void Run_TimeBudgetSpent_StopsTheSearchAndKeepsTheBestEpochSoFar()
    {
        using var data = Data();
        var time = new FakeTimeProvider();
        var search = CreateSut(data, SmallBudget with { MaxTrials = 5, MaxEpochs = 100, Patience = 100, MaxSeconds = 5 }, time: time, trials: SteppedTrials);

        // Every epoch "takes" one second.
        var best = search.Run(_ => time.Advance(TimeSpan.FromSeconds(1)), TestContext.Current.CancellationToken);

        var trial = Assert.Single(search.State.Completed);
        Assert.Equal(5, trial.Epochs);
        Assert.Equal("time budget spent", trial.StopReason);
        Assert.Contains("time budget", search.State.StoppedBy, StringComparison.Ordinal);
        Assert.InRange(best.BestEpoch, 1, 5);
    }

    [Fact]
    public void Run_TrialShareSpent_StopsThatTrialAndGoesOnWithTheNext()
    {
        using var data = Data();
        var time = new FakeTimeProvider();
        var search = CreateSut(data, SmallBudget with { MaxEpochs = 100, Patience = 100, MaxSeconds = 100, MaxTrialSeconds = 3 }, time: time, trials: SteppedTrials);

        // Every epoch or boosting round "takes" one second.
        search.Run(_ => time.Advance(TimeSpan.FromSeconds(1)), TestContext.Current.CancellationToken);

        Assert.Equal([ModelFamily.Linear, ModelFamily.Gbdt, ModelFamily.Mlp], search.State.Completed.Select(t => t.Parameters.Family));
        Assert.All(search.State.Completed, t => Assert.Equal((3, "trial time limit (3 s)"), (t.Epochs, t.StopReason)));
        Assert.Equal("all 3 trials", search.State.StoppedBy);
    }

    [Fact]
    public async Task Run_CancelledMidTrial_ResumesFromItsCheckpointToTheSameModel()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        using var data = Data();
        var uninterrupted = CreateSut(data, SmallBudget);
        var expected = uninterrupted.Run(null, cancellation);

        // Stop in the third trial (a network, after the linear model and the trees) after its third epoch, checkpoint through
        // blob storage, resume in a new search.
        using var stop = new CancellationTokenSource();
        var interrupted = CreateSut(data, SmallBudget);
        Assert.ThrowsAny<OperationCanceledException>(() => interrupted.Run(p =>
        {
            if (p.Trial == 3 && p.Epoch == 3)
            {
                stop.Cancel();
            }
        }, stop.Token));
        Assert.Equal([ModelFamily.Linear, ModelFamily.Gbdt], interrupted.State.Completed.Select(c => c.Parameters.Family));
        Assert.Equal(3, interrupted.State.Current!.Epoch);
        Assert.NotNull(interrupted.State.Current.OptimizerMoments);
        Assert.True(interrupted.State.Current.OptimizerStep > 0);

        await using var services = TestTrainer.Create();
        var store = services.GetRequiredService<CheckpointStore>();
        var runId = Azurite.UniqueName("search");
        await store.SaveAsync(runId, interrupted.State, cancellation);
        Assert.Null(await store.LoadAsync(runId, "another fingerprint", cancellation));
        var restored = await store.LoadAsync(runId, "test", cancellation);
        Assert.Equal(interrupted.State.Current.Parameters.ToString(), restored!.Current!.Parameters.ToString());
        Assert.Equal(interrupted.State.Completed[0].Parameters.HiddenLayers, restored.Completed[0].Parameters.HiddenLayers);

        var resumed = CreateSut(data, SmallBudget, restored);
        var best = resumed.Run(null, cancellation);

        Assert.Equal(
            uninterrupted.State.Completed.Select(t => (t.Epochs, t.BestEpoch, t.ValidationLoss, t.History.Select(h => h.TrainLoss).ToList())),
            resumed.State.Completed.Select(t => (t.Epochs, t.BestEpoch, t.ValidationLoss, t.History.Select(h => h.TrainLoss).ToList())));
        Assert.Equal(expected.Index, best.Index);
        Assert.Equal(expected.BestWeights, best.BestWeights);
        Assert.Equal(expected.TreeModel, best.TreeModel);
    }

    [Fact]
    public async Task Checkpoint_WithoutTrialParameters_IsUnreadableAndTheRunStartsOver()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        await using var services = TestTrainer.Create();
        var runId = Azurite.UniqueName("search");
        var runs = services.GetRequiredService<BlobServiceClient>().GetBlobContainerClient(StorageNames.RunsContainer);
        await runs.CreateIfNotExistsAsync(cancellationToken: cancellation);

        // The layout before the trial's settings were one object: they were flat on the trial.
        await runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).UploadAsync(BinaryData.FromString(
            """{"fingerprint":"test","completed":[],"best":-1,"current":{"index":0,"hiddenLayers":[8],"learningRate":0.01,"batchSize":32,"epoch":2}}"""),
            cancellation);

        Assert.Null(await services.GetRequiredService<CheckpointStore>().LoadAsync(runId, "test", cancellation));
    }

    [Fact]
    public void Refit_ChosenModel_TrainsItsScheduleOnTrainPlusValidation_Deterministically()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(400, seed: 3);
        using var data = new TrainingData(manifest, train, validation, CPU);
        var combinedSplit = new Pipeline.Datasets.DatasetSplit(
            [.. train.Features.Zip(validation.Features, (a, b) => (float[])[.. a, .. b])], [.. train.Target, .. validation.Target]);
        using var combined = new TrainingData(manifest, combinedSplit, validation, CPU);
        var search = CreateSut(data, SmallBudget);
        var chosen = search.Run(null, TestContext.Current.CancellationToken);

        var first = search.Refit(combined, chosen, TestContext.Current.CancellationToken);
        var second = search.Refit(combined, chosen, TestContext.Current.CancellationToken);

        Assert.Equal(first.BestWeights, second.BestWeights);
        Assert.NotEqual(chosen.BestWeights, first.BestWeights);
        Assert.Equal(chosen.Parameters.HiddenLayers, first.Parameters.HiddenLayers);
        Assert.True(search.State.RefitSeconds > 0);
        var (_, accuracy) = TrialTrainer.Evaluate(data, first);
        Assert.True(accuracy > 0.9, $"refit model's validation accuracy {accuracy}");
    }

    [Fact]
    public void Run_FinishedSearchResumed_ReturnsTheSameModelWithoutTrainingAgain()
    {
        using var data = Data();
        var budget = SmallBudget with { EnsembleSize = 2 };
        var finished = CreateSut(data, budget, trials: SteppedTrials);
        var expected = finished.Run(null, TestContext.Current.CancellationToken);
        var trials = finished.State.Completed.Count;

        var epochs = 0;
        var resumed = CreateSut(data, budget, finished.State, trials: SteppedTrials);
        var best = resumed.Run(_ => epochs++, TestContext.Current.CancellationToken);

        Assert.Equal(0, epochs);
        Assert.Equal(trials, resumed.State.Completed.Count);
        Assert.Equal(4, trials);
        Assert.Equal(expected.Parameters.HiddenLayers, best.Parameters.HiddenLayers);
        Assert.Equal(expected.BestWeights, best.BestWeights);
    }
}
