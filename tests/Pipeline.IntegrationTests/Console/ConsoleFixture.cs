using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Functions.Drift;
using Pipeline.Tests.Infrastructure;
using Pipeline.Tests.Serving.Scoring;
using Pipeline.Tests.Trainer;
using Pipeline.Trainer;
using Pipeline.Trainer.Runs;

namespace Pipeline.Tests.Console;

/// <summary>
/// What the console tests look at, made by the pipeline's own stages against Azurite: a CSV preprocessed into a dataset
/// version and trained into a served model with its report plots and run status; an upload rejected by preprocessing;
/// a second model with two versions for the rollback test. The serving app listens on a real
/// loopback port (Kestrel) and Debian's chromium, driven by Playwright, opens it.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    /// <summary>The system browser (Debian package <c>chromium</c>); Playwright's own browser download is never used.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    public string Dataset { get; } = Azurite.UniqueName("console-data");

    public string RejectedDataset { get; } = Azurite.UniqueName("console-bad");

    public string RollbackModel { get; } = Azurite.UniqueName("console-roll");

    /// <summary>A model with batch-scoring jobs (scored, handed to the scoring job, failed) and a drift report with live accuracy.</summary>
    public string DriftModel { get; } = Azurite.UniqueName("console-drift");

    /// <summary>The drift job's report on <see cref="DriftModel"/>: the scored file's sizes are shifted; outcomes give live accuracy.</summary>
    public DriftReport DriftReport { get; private set; } = null!;

    /// <summary>The trained model (named after its dataset).</summary>
    public string Model => Dataset;

    public TrainRequest Request { get; private set; } = null!;

    public ModelManifest Served { get; private set; } = null!;

    public RejectionReport Rejection { get; private set; } = null!;

    public string RejectionId { get; private set; } = "";

    public string RunId => RunIds.For(Request);

    public ServingAppFactory Serving { get; } = new();

    public string BaseUrl { get; private set; } = "";

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Screenshots go here, under the test output folder, so CI keeps them with the test results.</summary>
    public string Screenshots { get; } = Path.Combine(AppContext.BaseDirectory, "console-screenshots");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"The browser tests need Debian's chromium at {ChromiumPath}: apt-get install -y chromium (.ci/run installs it).");
        }

        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var raw = Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer);
        await raw.CreateIfNotExistsAsync(cancellationToken: cancellation);

        await using (var preprocessing = new PreprocessingApp())
        {
            await raw.GetBlobClient($"{Dataset}/measurements.csv").UploadAsync(BinaryData.FromString(Csv()), overwrite: true, cancellation);
            var accepted = await Invocations.PreprocessAsync(preprocessing, $"{Dataset}/measurements.csv");
            Request = accepted.TrainRequest ?? throw new InvalidOperationException($"The console's dataset was not accepted: {accepted.Result} {accepted.Detail}");

            await raw.GetBlobClient($"{RejectedDataset}/empty.csv").UploadAsync(BinaryData.FromString("f1,f2,label\n"), overwrite: true, cancellation);
            var rejected = await Invocations.PreprocessAsync(preprocessing, $"{RejectedDataset}/empty.csv");
            var path = rejected.ReportPath ?? throw new InvalidOperationException($"The header-only upload was not rejected: {rejected.Result}");
            Rejection = (await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(path), PipelineJson.Default.RejectionReport, cancellation))!.Value.Value;
            RejectionId = Path.GetFileNameWithoutExtension(path);
        }

        await using (var trainer = TestTrainer.Create(("Trainer:MaxTrials", "2"), ("Trainer:MaxEpochs", "30")))
        {
            Served = await trainer.GetRequiredService<TrainingJob>().RunAsync(Request, cancellation);
        }

        await TestModels.PublishAsync(RollbackModel, "v1", TestModels.TwoClass(bias: 0));
        await TestModels.PublishAsync(RollbackModel, "v2", TestModels.TwoClass(bias: 1));

        await ScoreAndReportDriftAsync(cancellation);

        Serving.UseKestrel(0);
        Serving.StartServer();
        BaseUrl = Serving.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');

        Directory.CreateDirectory(Screenshots);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Containers and CI run as root, where chromium's sandbox cannot start.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>
    /// <see cref="DriftModel"/>'s data, made by the functions app's Score function and drift job: 1,000 rows scored with
    /// their sizes shifted, labelled outcomes for 600 of them (every third one disagreeing with the prediction), an empty
    /// file that fails, and — after the report — a file handed to the scoring job (above a 64-byte Scoring:MaxFileBytes).
    /// </summary>
    private async Task ScoreAndReportDriftAsync(CancellationToken cancellation)
    {
        await DriftData.PublishAsync(DriftModel);
        await using (var functions = new PreprocessingApp())
        {
            await DriftData.ScoreAsync(functions, $"{DriftModel}/day.csv", DriftData.Csv(DriftData.Rows(1000, seed: 50, sizeShift: 3)));
            var predicted = await DriftData.PredictionsAsync($"{DriftModel}/day.csv");
            var truth = predicted.Keys.Take(600).Select((id, i) => $"{id},{(i % 3 == 0 ? (predicted[id] == "yes" ? "no" : "yes") : predicted[id])}\n");
            await DriftData.UploadOutcomesAsync($"{DriftModel}/truth.csv", "id,label\n" + string.Concat(truth));
            await ScoringApiFixture.ScoreAsync(functions, $"{DriftModel}/empty.csv", []);
            DriftReport = await functions.DriftJob.RunAsync(DriftModel, cancellation) ?? throw new InvalidOperationException("The drift job wrote no report.");
        }

        await using var job = new PreprocessingApp(new Dictionary<string, string> { ["Scoring:MaxFileBytes"] = "64", ["Scoring:JobQueue"] = Azurite.UniqueName("score-jobs") });
        await ScoringApiFixture.ScoreAsync(job, $"{DriftModel}/big.csv", DriftData.Csv(DriftData.Rows(50, seed: 51)));
    }

    /// <summary>
    /// 600 rows of three well-separated classes in 4 numeric features, a categorical column, a free-text column (excluded),
    /// a few missing cells, and one ragged row that preprocessing drops and reports.
    /// </summary>
    private static string Csv()
    {
        var (csv, _) = SyntheticData.ThreeClass(600, seed: 11);
        var random = new Random(5);
        string[] regions = ["north", "south", "east"];
        var lines = csv.TrimEnd('\n').Split('\n');
        var text = new StringBuilder("region,").Append(lines[0]).Append('\n');
        foreach (var line in lines.Skip(1))
        {
            text.Append(regions[random.Next(regions.Length)]).Append(',').Append(line).Append('\n');
        }

        text.Append(string.Create(CultureInfo.InvariantCulture, $"north,1.5,2.5\n"));
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
        await Serving.DisposeAsync();
    }
}
