using System.Diagnostics;
using System.Text.Json.Nodes;
using Pipeline.Cli;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Cli;

/// <summary>
/// <c>pipeline upload</c> against the whole local pipeline (Event Grid stand-in, the functions app's real isolated worker,
/// the trainer, the serving app over HTTP): a CSV followed from upload to a served model; then the commands that read
/// what that run left (<c>runs</c>, <c>report --open</c>, <c>status</c>), and the built tool as a process with <c>--azd</c>.
/// </summary>
[Collection(PipelineTests.Name)]
public sealed class CliPipelineTests(PipelineFixture pipeline) : IAsyncLifetime
{
    private KestrelServing _serving = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _serving = new KestrelServing();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _serving.DisposeAsync();

    [Fact]
    public async Task Upload_Csv_FollowsPreprocessingTrainingAndPromotion_UntilTheModelServes_ThenRunsReportAndStatusShowIt()
    {
        var dataset = Azurite.UniqueName(PipelineFixture.DatasetPrefix + "cli");
        using var folder = new TempDirectory();
        var file = folder.File("mydata.csv");
        var (csv, _) = SyntheticData.ThreeClass(600, seed: 7);
        await File.WriteAllTextAsync(file, csv, Cancellation);

        var upload = await _serving.RunAsync("upload", file, "--dataset", dataset, "--timeout", "5m");
        TestContext.Current.TestOutputHelper?.WriteLine(upload.ToString());

        Assert.True(upload.ExitCode == 0, upload.ToString());
        Assert.Contains($"uploaded raw/{dataset}/mydata.csv", upload.Out, StringComparison.Ordinal);
        var stored = await pipeline.Blobs.GetBlobContainerClient(Pipeline.Storage.StorageNames.RawContainer).GetBlobClient($"{dataset}/mydata.csv").DownloadContentAsync(Cancellation);
        Assert.Equal(csv, stored.Value.Content.ToString());
        Assert.Contains($"accepted: dataset {dataset} version", upload.Out, StringComparison.Ordinal);
        Assert.Contains("classification, target 'species'", upload.Out, StringComparison.Ordinal);
        Assert.Contains("training: ", upload.Out, StringComparison.Ordinal);
        Assert.Contains("trial ", upload.Out, StringComparison.Ordinal);
        Assert.Contains($"published: model {dataset} version", upload.Out, StringComparison.Ordinal);
        Assert.Contains("promoted: ", upload.Out, StringComparison.Ordinal);
        Assert.Contains($"served: model {dataset} version", upload.Out, StringComparison.Ordinal);

        // The same bytes again: no second version, no second training; the follow finds the version it made and its model.
        var again = await _serving.RunAsync("upload", file, "--dataset", dataset, "--timeout", "2m", "--json");
        Assert.True(again.ExitCode == 0, again.ToString());
        var result = JsonNode.Parse(again.Out)!;
        Assert.Equal("served", (string?)result["outcome"]);
        Assert.Equal(dataset, (string?)result["model"]);
        var version = (string)result["modelVersion"]!;

        var runs = await _serving.RunAsync("runs", dataset, "--json");
        Assert.True(runs.ExitCode == 0, runs.ToString());
        var run = JsonNode.Parse(runs.Out)!;
        Assert.Equal("succeeded", (string?)run["state"]);
        Assert.Equal(version, (string?)run["modelVersion"]);
        var allRuns = await _serving.RunAsync("runs");
        Assert.Contains(dataset, allRuns.Out, StringComparison.Ordinal);

        // report --open: the viewer is $BROWSER, here a script that records what it was asked to open.
        var opened = folder.File("opened.txt");
        var browser = folder.File("browser.sh");
        await File.WriteAllTextAsync(browser, $"#!/bin/sh\necho \"$1\" > '{opened}'\n", Cancellation);
        MakeExecutable(browser);
        var reportFolder = folder.File("report");
        var report = await CliTestHost.RunAsync(["report", dataset, "--out", reportFolder, "--open", "--json", "--connection-string", Azurite.ConnectionString],
            new Dictionary<string, string> { ["BROWSER"] = browser });
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.StartsWith("# ", await File.ReadAllTextAsync(Path.Combine(reportFolder, "report.md"), Cancellation), StringComparison.Ordinal);
        var pngs = Directory.GetFiles(reportFolder, "report-*.png");
        Assert.NotEmpty(pngs);
        Assert.All(pngs, png => Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]));
        await WaitForFileAsync(opened);
        Assert.Equal(Path.Combine(reportFolder, "report.md"), (await File.ReadAllTextAsync(opened, Cancellation)).Trim());

        var status = await _serving.RunAsync("status", dataset, "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        var shown = JsonNode.Parse(status.Out)!;
        Assert.Equal(1, (int?)shown["versions"]);
        Assert.Equal(version, (string?)shown["currentModelVersion"]);
        Assert.Equal("mydata.csv", ((string?)shown["files"]![0]!["name"])?.Split('/')[^1]);
        var statusText = await _serving.RunAsync("status", dataset);
        Assert.Contains("accepted", statusText.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuiltTool_AsAProcess_ReadsTheServingUrlFromAzd()
    {
        // A stand-in `azd` on PATH that prints what `azd env get-values` prints for a deployed environment.
        using var folder = new TempDirectory();
        var azd = folder.File("azd");
        await File.WriteAllTextAsync(azd, $"#!/bin/sh\n[ \"$1 $2\" = \"env get-values\" ] || exit 9\necho 'AZURE_LOCATION=\"westeurope\"'\necho 'SERVING_APP_URL=\"{_serving.Url}\"'\n", Cancellation);
        MakeExecutable(azd);
        var envFile = folder.File("azd.env");
        await File.WriteAllTextAsync(envFile, $"SERVING_APP_URL=\"{_serving.Url}\"\n", Cancellation);

        var (code, output, error) = await RunProcessAsync(folder.Path, "models", "--azd", "--json", "--connection-string", Azurite.ConnectionString, "--key", ServingAppFactory.FunctionKey);
        var fromFile = await CliTestHost.RunAsync(["models", "--env-file", envFile, "--json", "--connection-string", Azurite.ConnectionString],
            new Dictionary<string, string> { ["PIPELINE_KEY"] = ServingAppFactory.FunctionKey });

        Assert.True(code == 0, $"exit {code}\n{output}\n{error}");
        Assert.IsType<JsonArray>(JsonNode.Parse(output));
        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());
        Assert.IsType<JsonArray>(JsonNode.Parse(fromFile.Out));
    }

    private static async Task<(int Code, string Output, string Error)> RunProcessAsync(string pathPrefix, params string[] args)
    {
        var configuration = Path.GetFileName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        var tool = Path.Combine(Repository.Root(), "artifacts", "bin", "Pipeline.Cli", configuration, "pipeline.dll");
        Assert.True(File.Exists(tool), $"The tool is not built at {tool}.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(tool);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["PATH"] = pathPrefix + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment.Remove("PIPELINE_KEY");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Cancellation);
        var error = process.StandardError.ReadToEndAsync(Cancellation);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    private static void MakeExecutable(string path)
    {
        Assert.False(OperatingSystem.IsWindows(), "The stand-in programs are shell scripts.");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static async Task WaitForFileAsync(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!File.Exists(path) || new FileInfo(path).Length == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{path} was not written.");
            await Task.Delay(50, Cancellation);
        }
    }
}
