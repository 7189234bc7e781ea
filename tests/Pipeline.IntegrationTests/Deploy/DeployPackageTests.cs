using System.IO.Compression;
using System.Text.Json;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Contracts;
using Pipeline.LocalHost;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Deploy;

/// <summary>
/// The packages azd deploys to Flex Consumption, as <c>dotnet publish</c> makes them (scripts/test.sh publishes both apps
/// first): what the Functions host needs at each package's root, and the published preprocessing worker running an upload.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DeployPackageTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static string ServingPublishOutput()
    {
        var path = Path.Combine(Repository.Root(), "artifacts", "publish", "Pipeline.Serving", "release_linux-x64");
        Assert.True(File.Exists(Path.Combine(path, "host.json")),
            $"The serving app is not published at {path}: run `dotnet publish functions/Pipeline.Serving -c Release` (scripts/test.sh does).");
        return path;
    }

    [Fact]
    public void FunctionsPackage_Root_HasWhatTheHostLoadsForAnIsolatedWorker()
    {
        var root = FunctionsWorker.PublishOutput();

        foreach (var file in new[] { "host.json", "functions.metadata", "worker.config.json", "extensions.json", "Pipeline.Functions.dll" })
        {
            Assert.True(File.Exists(Path.Combine(root, file)), $"{file} is missing from the package root");
        }

        // The host loads each binding extension the package lists from the hint path beside it: no extension bundle.
        using var extensions = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "extensions.json")));
        var listed = extensions.RootElement.GetProperty("extensions").EnumerateArray().ToList();
        Assert.Contains(listed, e => e.GetProperty("name").GetString() == "AzureStorageQueues");
        foreach (var extension in listed)
        {
            var hint = extension.GetProperty("hintPath").GetString()!;
            Assert.True(File.Exists(Path.GetFullPath(Path.Combine(root, hint))), $"extension assembly {hint} is not in the package");
        }

        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "host.json")));
        Assert.False(host.RootElement.TryGetProperty("customHandler", out _), "an isolated app's host.json must not name a custom handler");
        Assert.False(host.RootElement.TryGetProperty("extensionBundle", out _), "the host does not load a bundle for dotnet-isolated; the package brings its extensions");
        Assert.False(File.Exists(Path.Combine(root, "local.settings.json")), "local.settings.json is for `func start` only");

        using var worker = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "worker.config.json")));
        var description = worker.RootElement.GetProperty("description");
        Assert.Equal("dotnet-isolated", description.GetProperty("language").GetString());
        Assert.True(File.Exists(Path.Combine(root, description.GetProperty("defaultWorkerPath").GetString()!)));
    }

    [Fact]
    public void ServingPackage_Executable_NamedInHostJson_KeepsItsExecuteBitInTheZip()
    {
        var root = ServingPublishOutput();
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "host.json")));
        var executable = host.RootElement.GetProperty("customHandler").GetProperty("description").GetProperty("defaultExecutablePath").GetString()!;
        var path = Path.Combine(root, executable);
        Assert.True(File.Exists(path), $"{executable} (host.json customHandler) is not in the package");
        Assert.True((File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0, $"{executable} is not executable");

        // The package as a mode-preserving zip (azd >= 1.26.0 writes Unix modes; Flex mounts the package read-only).
        using var directory = new TempDirectory();
        var zip = directory.File("package.zip");
        ZipFile.CreateFromDirectory(root, zip);
        using var archive = ZipFile.OpenRead(zip);
        var entry = archive.GetEntry(executable)!;
        var mode = (UnixFileMode)((entry.ExternalAttributes >> 16) & 0x1FF);
        Assert.True((mode & UnixFileMode.UserExecute) != 0, $"the zip entry of {executable} has mode {mode}");
    }

    [Fact]
    public async Task FunctionsPackage_PublishedWorker_StartedAsTheHostStartsIt_PreprocessesAnUpload()
    {
        await Azurite.EnsureRunningAsync();
        var raw = Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer);
        await raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        var name = Azurite.UniqueName("published");
        var (csv, _) = SyntheticData.ThreeClass(150, seed: 6);
        await raw.UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), Cancellation);
        await using var worker = await FunctionsWorker.StartAsync(FunctionsWorker.PublishOutput());
        var host = new QueueTriggerHost(worker, Azurite.Queues(), TimeProvider.System, NullLogger<QueueTriggerHost>.Instance);
        var message = QueuesModelFactory.QueueMessage(Guid.NewGuid().ToString(), "pop", Invocations.BlobCreatedEvent("raw", $"{name}/data.csv").ToJsonString(), 1);

        var result = await host.InvokeAsync(Assert.Single(worker.QueueFunctions, f => f.Name == "Preprocess"), message, Cancellation);

        Assert.True(result.Succeeded, result.Failure);
        Assert.Equal(name, JsonSerializer.Deserialize(result.Outputs["$return"], PipelineJson.Default.TrainRequest)!.Dataset);
    }

    [Fact]
    public async Task FunctionsPackage_PublishedWorker_ScoresAFileWithOnnxRuntime()
    {
        await Azurite.EnsureRunningAsync();
        var model = Azurite.UniqueName("published-score");
        await TestModels.PublishEncodedAsync(model, "v1");
        var score = Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer);
        await score.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await score.UploadBlobAsync($"{model}/day.csv", BinaryData.FromString("size,color,member\n1,red,true\n"), Cancellation);
        await using var worker = await FunctionsWorker.StartAsync(FunctionsWorker.PublishOutput());
        var host = new QueueTriggerHost(worker, Azurite.Queues(), TimeProvider.System, NullLogger<QueueTriggerHost>.Instance);
        var message = QueuesModelFactory.QueueMessage(Guid.NewGuid().ToString(), "pop", Invocations.BlobCreatedEvent(StorageNames.ScoreContainer, $"{model}/day.csv").ToJsonString(), 1);

        var result = await host.InvokeAsync(Assert.Single(worker.QueueFunctions, f => f.Name == "Score"), message, Cancellation);

        Assert.True(result.Succeeded, result.Failure);
        var report = await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer).GetBlobClient($"{model}/day.csv{StorageNames.ScoringReportSuffix}"), PipelineJson.Default.ScoringReport, Cancellation);
        Assert.Equal(ScoringStatus.Succeeded, Assert.NotNull(report).Value.Status);
    }
}
