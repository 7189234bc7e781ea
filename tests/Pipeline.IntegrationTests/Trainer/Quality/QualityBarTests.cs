using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Trainer;
using Pipeline.Tests.Infrastructure;
using Pipeline.Training;

namespace Pipeline.Tests.Trainer.Quality;

/// <summary>
/// The quality bar: the served model's test-split quality is within 2 points of the best of scikit-learn's MLP,
/// logistic/ridge and random forest, fitted on train+validation of the same split. Accuracy for classification, r2 for
/// regression. Runs the real trainer (search, export, quantization gate) against Azurite and
/// <c>bench/quality/sklearn_baselines.py</c> with Debian's python3-sklearn.
/// </summary>
public class QualityBarTests(ITestOutputHelper output)
{
    public const double MaxGap = 0.02;
    private const string Python = "/usr/bin/python3";

    public static TheoryData<string> Datasets => ["binary-linear", "multiclass-nonlinear", "binary-thresholds", "regression-friedman", "breast_cancer", "diabetes"];

    internal static string Script => Path.Combine(Repository.Root(), "bench", "quality", "sklearn_baselines.py");

    [Theory]
    [MemberData(nameof(Datasets))]
    public async Task ServedModel_IsWithinTwoPointsOfTheBestScikitLearnBaseline(string name)
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        using var directory = new TempDirectory();
        var dataset = Load(name, directory.Path);
        var splits = dataset.Split(Azurite.UniqueName("quality"), seed: 17, trainShare: dataset.X.Length < 1000 ? 0.5 : 0.6);
        var request = await splits.UploadAsync(cancellation);

        // The production defaults of the search (TrainerOptions), which the quality bar is about.
        await using var services = TestTrainer.Create(("Trainer:MaxTrials", "12"), ("Trainer:MaxEpochs", "200"), ("Trainer:Patience", "20"), ("Trainer:EnsembleSize", "3"));
        var manifest = await services.GetRequiredService<TrainingJob>().RunAsync(request, cancellation);
        var metric = dataset.Classification ? "accuracy" : "r2";
        var ours = manifest.TestMetrics[metric];

        splits.WriteCsv(Path.Combine(directory.Path, "splits", name));
        var baselines = (await RunPythonAsync(["score", Path.Combine(directory.Path, "splits")], cancellation))[name]!;
        var best = baselines["best"]!.GetValue<double>();
        output.WriteLine($"{name}: ours {metric} {ours:F4} ({manifest.Artifact}, {manifest.Search!.Trials.Count} trials, chose {manifest.Search.Trials[manifest.Search.Selected].Kind.Name()}{(manifest.Training.InputEncoding is null ? "" : " + PLE")} {string.Join('x', manifest.Search.Trials[manifest.Search.Selected].HiddenLayers)}, ensemble {manifest.Training.EnsembleSize}) " +
            $"| sklearn mlp {baselines["mlp"]:F4}, linear {baselines["linear"]:F4}, forest {baselines["forest"]:F4} | gap {ours - best:+0.0000;-0.0000}");
        Assert.True(ours >= best - MaxGap, $"{name}: served {metric} {ours:F4} is more than {MaxGap} below the best scikit-learn baseline {best:F4} ({baselines.ToJsonString()})");
    }

    private static TabularDataset Load(string name, string directory) => name switch
    {
        "binary-linear" => TabularDataset.BinaryLinear(1200, seed: 1),
        "multiclass-nonlinear" => TabularDataset.MulticlassNonlinear(1500, seed: 2),
        "regression-friedman" => TabularDataset.Friedman(1200, seed: 3),
        "binary-thresholds" => TabularDataset.Thresholds(1500, seed: 4),
        _ => Bundled(name, directory),
    };

    /// <summary>A dataset bundled with scikit-learn, exported to CSV by the baseline script.</summary>
    private static TabularDataset Bundled(string name, string directory)
    {
        RunPythonAsync(["export", directory, name], TestContext.Current.CancellationToken).GetAwaiter().GetResult();
        var task = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, name + ".json")))!["task"]!.GetValue<string>();
        return TabularDataset.FromCsv(Path.Combine(directory, name + ".csv"), name.Replace('_', '-'), task);
    }

    internal static async Task<JsonObject> RunPythonAsync(string[] arguments, CancellationToken cancellationToken)
    {
        Assert.True(File.Exists(Python), $"{Python} is missing: install Debian's python3-sklearn (see README, Test).");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        Assert.True(process.ExitCode == 0, $"{Script} {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr}");
        var text = await stdout;
        return text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject();
    }
}
