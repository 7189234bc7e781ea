using System.Diagnostics;
using System.Text.Json.Nodes;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Trainer;

/// <summary>The trainer as a real process: killed mid-job it leaves no half-published model, and the next attempt completes.</summary>
public class TrainerProcessTests
{
    private static string TrainerExecutable()
    {
        // artifacts/bin/Pipeline.Tests/{config}/ → artifacts/bin/Pipeline.Trainer/{config}/Pipeline.Trainer
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var path = Path.Combine(testDirectory.Parent!.Parent!.FullName, "Pipeline.Trainer", testDirectory.Name, "Pipeline.Trainer");
        Assert.True(File.Exists(path), $"Trainer not built at {path}; build Serverless.sln first.");
        return path;
    }

    private static Process Start(string jobFile, params (string Key, string Value)[] settings)
    {
        var start = new ProcessStartInfo(TrainerExecutable())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--job");
        start.ArgumentList.Add(jobFile);
        start.Environment["Storage__ConnectionString"] = Azurite.ConnectionString;
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        return Process.Start(start)!;
    }

    [Fact]
    public async Task KilledMidJob_LeavesNoPublishedModel_AndTheNextAttemptCompletes()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var blobs = Azurite.Blobs();
        var name = Azurite.UniqueName("killed");
        await blobs.GetBlobContainerClient(StorageNames.RawContainer).CreateIfNotExistsAsync(cancellationToken: cancellation);
        var (csv, _) = SyntheticData.ThreeClass(3000, seed: 8);
        await blobs.GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), cancellation);

        await using var app = new FunctionsAppFactory();
        var reply = await Invocations.PreprocessAsync(app.CreateClient(), $"{name}/data.csv");
        if (reply["Outputs"]?["trainRequest"] is not JsonObject request)
        {
            Assert.Fail($"Preprocess returned no training request: {reply.ToJsonString()}");
            return;
        }

        using var directory = new TempDirectory();
        var jobFile = directory.File("job.json");
        await File.WriteAllTextAsync(jobFile, request.ToJsonString(), cancellation);

        // Attempt 1: far more epochs than it will live for; killed while it trains.
        using (var doomed = Start(jobFile, ("Trainer__MaxEpochs", "100000"), ("Trainer__Patience", "10000")))
        {
            var output = new System.Text.StringBuilder();
            doomed.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            doomed.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            doomed.BeginOutputReadLine();
            doomed.BeginErrorReadLine();
            await Task.Delay(TimeSpan.FromSeconds(10), cancellation);
            lock (output)
            {
                Assert.False(doomed.HasExited, $"the trainer ended before it could be killed:\n{output}");
            }

            doomed.Kill(entireProcessTree: true);
            await doomed.WaitForExitAsync(cancellation);
        }

        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: cancellation);
        Assert.False((await models.GetBlobClient(StorageNames.CurrentPointerPath(name)).ExistsAsync(cancellation)).Value);
        Assert.Empty(await models.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = name + "/" }, cancellation).ToListAsync(cancellation));

        // Attempt 2 completes and publishes: manifest, model and the pointer to them.
        using var retry = Start(jobFile, ("Trainer__MaxEpochs", "20"));
        var outputTask = retry.StandardOutput.ReadToEndAsync(cancellation);
        var errors = await retry.StandardError.ReadToEndAsync(cancellation);
        var retryOutput = await outputTask;
        await retry.WaitForExitAsync(cancellation);
        Assert.True(retry.ExitCode == 0, $"exit {retry.ExitCode}: {errors}\n{retryOutput}");

        var pointer = JsonNode.Parse((await models.GetBlobClient(StorageNames.CurrentPointerPath(name)).DownloadContentAsync(cancellation)).Value.Content.ToString())!;
        var version = pointer["version"]!.GetValue<string>();
        Assert.Equal(request["datasetVersion"]!.GetValue<string>(), version);
        Assert.True((await models.GetBlobClient($"{name}/{version}/{StorageNames.ModelFile}").ExistsAsync(cancellation)).Value);
        Assert.True((await models.GetBlobClient(StorageNames.ModelManifestPath(name, version)).ExistsAsync(cancellation)).Value);
    }
}
