using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Preprocessing;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>Datasets made of every file under <c>raw/{dataset}/</c>, reports in storage, and the debounce of a burst of uploads.</summary>
public class PreprocessDatasetTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static BlobContainerClient Raw => Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer);

    private static BlobContainerClient Datasets => Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer);

    private static async Task<DatasetManifest> ManifestAsync(string dataset, string version) =>
        (await BlobJson.ReadAsync(Datasets.GetBlobClient(StorageNames.DatasetManifestPath(dataset, version)), PipelineJson.Default.DatasetManifest, Cancellation))!.Value.Value;

    [Fact]
    public async Task Handle_BuildFailingUnexpectedly_IsRejectedWithAReport_NotRetriedIntoThePoisonQueue()
    {
        // A fault inside the build stands in for a bug: options that validation would refuse at start-up (row groups of 0
        // rows) make the Parquet writer throw ArgumentOutOfRangeException. The same files would fail the same way again.
        await Azurite.EnsureRunningAsync();
        await Raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        var name = Azurite.UniqueName("fault");
        await Raw.UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(SyntheticData.ThreeClass(120, seed: 3).Csv), Cancellation);
        var options = Options.Create(new PreprocessOptions { QuietPeriod = TimeSpan.Zero, RowGroupSize = 0 });
        var debouncer = new DatasetDebouncer(Azurite.Blobs(), Azurite.Queues(), options, TimeProvider.System, NullLogger<DatasetDebouncer>.Instance);
        var handler = new PreprocessHandler(Azurite.Blobs(), new DatasetStore(Azurite.Blobs()), debouncer, options, TimeProvider.System, NullLogger<PreprocessHandler>.Instance);

        var outcome = await handler.HandleAsync(new BlobCreatedEvent
        {
            EventType = BlobCreatedEvent.EventTypeName,
            Subject = $"/blobServices/default/containers/raw/blobs/{name}/data.csv",
        }, Cancellation);

        Assert.Equal(PreprocessResult.Rejected, outcome.Result);
        var report = (await BlobJson.ReadAsync(Datasets.GetBlobClient(outcome.ReportPath!), PipelineJson.Default.RejectionReport, Cancellation))!.Value.Value;
        Assert.Equal(("internal-error", $"raw/{name}/data.csv"), (report.Reason, report.Blob));
        Assert.Contains("ArgumentOutOfRangeException", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_SecondFile_BuildsAVersionFromBothFiles_AndADisagreeingFileIsReportedNotTrained()
    {
        await Azurite.EnsureRunningAsync();
        await Raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await using var app = new PreprocessingApp();
        var name = Azurite.UniqueName("multi");

        await Raw.UploadBlobAsync($"{name}/day1.csv", BinaryData.FromString(SyntheticData.ThreeClass(150, seed: 1).Csv), Cancellation);
        var first = await Invocations.PreprocessAsync(app, $"{name}/day1.csv");
        await Raw.UploadBlobAsync($"{name}/day2.csv", BinaryData.FromString(SyntheticData.ThreeClass(100, seed: 2).Csv), Cancellation);
        var second = await Invocations.PreprocessAsync(app, $"{name}/day2.csv");

        var v1 = first.TrainRequest!.DatasetVersion;
        var v2 = second.TrainRequest!.DatasetVersion;
        Assert.NotEqual(v1, v2);
        var manifest = await ManifestAsync(name, v2);
        Assert.Equal([$"raw/{name}/day1.csv", $"raw/{name}/day2.csv"], manifest.Sources.Select(s => s.Blob));
        Assert.Equal(250, manifest.Rows.Used);
        Assert.Equal("report.json", manifest.Report);
        var report = (await BlobJson.ReadAsync(Datasets.GetBlobClient($"{name}/{v2}/report.json"), PipelineJson.Default.ValidationReport, Cancellation))!.Value.Value;
        Assert.Equal("accepted", report.Status);
        Assert.Equal(v2, report.Version);
        Assert.Contains(report.Columns, c => c.Name == "f1" && c.Role == "feature");
        var summary = (await Datasets.GetBlobClient($"{name}/{v2}/report.md").DownloadContentAsync(Cancellation)).Value.Content.ToString();
        Assert.Contains($"# Dataset {name} version {v2}: accepted", summary, StringComparison.Ordinal);

        // A file with other columns: reported, left out; the rest is the version that exists already.
        await Raw.UploadBlobAsync($"{name}/other.csv", BinaryData.FromString("a,b\n1,2\n"), Cancellation);
        var third = await Invocations.PreprocessAsync(app, $"{name}/other.csv");
        Assert.Null(third.TrainRequest);
        Assert.Equal(PreprocessResult.Duplicate, third.Result);
        var rejections = new List<string>();
        await foreach (var item in Datasets.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{name}/{StorageNames.RejectionsFolder}/" }, Cancellation))
        {
            rejections.Add(item.Name);
        }

        var json = Assert.Single(rejections, r => r.EndsWith("other.csv.json", StringComparison.Ordinal));
        Assert.Contains(json[..^5] + ".md", rejections);
        var rejection = (await BlobJson.ReadAsync(Datasets.GetBlobClient(json), PipelineJson.Default.RejectionReport, Cancellation))!.Value.Value;
        Assert.Equal("schema-mismatch", rejection.Reason);
        Assert.Equal($"raw/{name}/other.csv", rejection.Blob);
    }

    [Fact]
    public async Task Invoke_BurstOfUploads_IsDeferredToOneBuildOfAllFiles()
    {
        await Azurite.EnsureRunningAsync();
        await Raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        var queue = Azurite.Queues().GetQueueClient(Azurite.UniqueName("burst-events"));
        await queue.CreateAsync(cancellationToken: Cancellation);
        await using var app = new PreprocessingApp(new Dictionary<string, string>
        {
            ["Preprocess:QuietPeriod"] = "00:00:02",
            ["Preprocess:BlobCreatedQueue"] = queue.Name,
        });
        var name = Azurite.UniqueName("burst");

        for (var day = 1; day <= 5; day++)
        {
            await Raw.UploadBlobAsync($"{name}/day{day}.csv", BinaryData.FromString(SyntheticData.ThreeClass(60, seed: day).Csv), Cancellation);
            var reply = await Invocations.PreprocessAsync(app, $"{name}/day{day}.csv");
            Assert.Null(reply.TrainRequest);
            Assert.Equal(PreprocessResult.Deferred, reply.Result);
        }

        // One delayed copy for the whole burst, invisible until the files have been quiet for the quiet period.
        Assert.Equal(1, (await queue.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount);
        Assert.Empty((await queue.ReceiveMessagesAsync(32, cancellationToken: Cancellation)).Value);
        // Deliver the copy as the host would once it is visible; a copy that comes early re-queues itself (at most a few times).
        TrainRequest? request = null;
        var deliveries = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (request is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250, Cancellation);
            var copy = (await queue.ReceiveMessagesAsync(1, cancellationToken: Cancellation)).Value.SingleOrDefault();
            if (copy is null)
            {
                continue;
            }

            deliveries++;
            var reply = await Invocations.PreprocessMessageAsync(app, copy.Body.ToString());
            await queue.DeleteMessageAsync(copy.MessageId, copy.PopReceipt, Cancellation);
            request = reply.TrainRequest;
        }

        Assert.NotNull(request);
        Assert.InRange(deliveries, 1, 3);
        var manifest = await ManifestAsync(name, request.DatasetVersion);
        Assert.Equal(5, manifest.Sources.Count);
        Assert.Equal(300, manifest.Rows.Used);
        Assert.False((await Datasets.GetBlobClient(StorageNames.PendingMarkerPath(name)).ExistsAsync(Cancellation)).Value);
        Assert.Equal(0, (await queue.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount);
        await queue.DeleteAsync(Cancellation);
    }

    [Fact]
    public async Task Invoke_RootFilesSharingAPrefix_AreTwoDatasets_AndBothAreBuiltAfterABurst()
    {
        // raw/{x}.2024.csv and raw/{x}.2025.csv, uploaded in one burst: each is its own dataset with its own pending build.
        await Azurite.EnsureRunningAsync();
        await Raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        var queue = Azurite.Queues().GetQueueClient(Azurite.UniqueName("root-events"));
        await queue.CreateAsync(cancellationToken: Cancellation);
        await using var app = new PreprocessingApp(new Dictionary<string, string>
        {
            ["Preprocess:QuietPeriod"] = "00:00:02",
            ["Preprocess:BlobCreatedQueue"] = queue.Name,
        });
        var prefix = Azurite.UniqueName("sales");
        foreach (var year in new[] { 2024, 2025 })
        {
            await Raw.UploadBlobAsync($"{prefix}.{year}.csv", BinaryData.FromString(SyntheticData.ThreeClass(80, seed: year).Csv), Cancellation);
            var reply = await Invocations.PreprocessAsync(app, $"{prefix}.{year}.csv");
            Assert.Equal(PreprocessResult.Deferred, reply.Result);
        }

        var built = new List<TrainRequest>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (built.Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250, Cancellation);
            foreach (var copy in (await queue.ReceiveMessagesAsync(8, cancellationToken: Cancellation)).Value)
            {
                var reply = await Invocations.PreprocessMessageAsync(app, copy.Body.ToString());
                await queue.DeleteMessageAsync(copy.MessageId, copy.PopReceipt, Cancellation);
                if (reply.TrainRequest is { } request)
                {
                    built.Add(request);
                }
            }
        }

        Assert.Equal([$"{prefix}-2024", $"{prefix}-2025"], built.Select(r => r.Dataset).Order());
        foreach (var request in built)
        {
            Assert.Equal(80, (await ManifestAsync(request.Dataset, request.DatasetVersion)).Rows.Used);
        }

        await queue.DeleteAsync(Cancellation);
    }
}
