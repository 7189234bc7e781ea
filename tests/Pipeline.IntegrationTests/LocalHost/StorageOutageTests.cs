using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Storage.Blobs;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.LocalHost;

/// <summary>
/// The storage-outage run of the fault suite, on the whole local pipeline (<c>./run-local.sh</c>'s processes) over an
/// Azurite of its own: a model is served, then a burst of uploads across several datasets (one of them unusable) starts;
/// halfway through, Azurite is stopped for a while and started again on the same data, and once more while a model is
/// training. Predict must keep answering from the loaded model while storage is down; every dataset must end as a served
/// model built from all of its files, or as a rejection report; no model may be served before its manifest exists.
/// CI runs 3 good datasets of 3 files and one unusable one with 4 s outages; <c>bash bench/faults/run.sh storage-outage</c>
/// runs 10 datasets of 5 files (50 uploads) with 15 s outages and writes the figures to <c>STORAGE_OUTAGE_REPORT</c>.
/// </summary>
public sealed class StorageOutageTests
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;

    [Fact]
    public async Task LocalPipeline_AzuriteKilledDuringUploadsAndTraining_LosesNothing_AndKeepsServing()
    {
        var datasets = Setting("OUTAGE_DATASETS", 4); // the last one unusable
        var filesPerDataset = Setting("OUTAGE_FILES", 3);
        var outage = TimeSpan.FromSeconds(Setting("OUTAGE_SECONDS", 4));
        await using var azurite = await PrivateAzurite.StartAsync(Cancellation);
        var blobs = azurite.Blobs();
        foreach (var container in new[] { StorageNames.RawContainer, StorageNames.DatasetsContainer, StorageNames.ModelsContainer, StorageNames.RunsContainer })
        {
            await blobs.GetBlobContainerClient(container).CreateIfNotExistsAsync(cancellationToken: Cancellation);
        }

        var port = Ports.Free();
        var output = new StringBuilder();
        using var host = LocalHostProcess.Start(azurite.ConnectionString, port, output);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Add("x-functions-key", "local-development-key");
            var clock = Stopwatch.StartNew();
            await WaitAsync(() => Task.FromResult(Contains(output, "Functions host stand-in: worker")), TimeSpan.FromSeconds(120), host, output, "the worker to start");

            // A model served before storage goes away.
            var (warmCsv, warmRows) = SyntheticData.ThreeClass(400, seed: 40, withNoiseColumns: false);
            await UploadAsync(blobs, "warm/data.csv", warmCsv);
            var predict = PredictBody(warmRows[0].Features);
            await WaitAsync(async () => await PredictAsync(client, "warm", predict) == HttpStatusCode.OK, TimeSpan.FromMinutes(4), host, output, "the warm model");

            // The burst, with storage killed halfway through it.
            var uploads = new List<(string Dataset, string Blob)>();
            for (var d = 0; d < datasets; d++)
            {
                for (var f = 0; f < filesPerDataset; f++)
                {
                    uploads.Add(($"burst{d}", $"burst{d}/part{f}.csv"));
                }
            }

            var outageStats = new List<object>();
            for (var i = 0; i < uploads.Count; i++)
            {
                if (i == uploads.Count / 2)
                {
                    outageStats.Add(await OutageAsync(azurite, client, predict, outage, "during the upload burst"));
                }

                var (d, part) = (i / filesPerDataset, i % filesPerDataset);
                await UploadAsync(blobs, uploads[i].Blob, d == datasets - 1 ? OneColumn(part) : Part(d, part));
            }

            // Storage killed again while a model trains.
            await WaitAsync(async () => await TrainingAsync(blobs, datasets), TimeSpan.FromMinutes(3), host, output, "a burst dataset to train");
            outageStats.Add(await OutageAsync(azurite, client, predict, outage, "during training"));
            var restartedAt = clock.Elapsed;

            // Every dataset ends: served from all of its files, or rejected with a report.
            var outcomes = new Dictionary<string, string>();
            await WaitAsync(async () =>
            {
                for (var d = 0; d < datasets; d++)
                {
                    outcomes[$"burst{d}"] = await OutcomeAsync(blobs, client, $"burst{d}", filesPerDataset);
                }

                return outcomes.Values.All(o => o != "pending");
            }, TimeSpan.FromMinutes(Math.Max(6, datasets * 1.5)), host, output, "every burst dataset to end");

            for (var d = 0; d < datasets - 1; d++)
            {
                Assert.Equal("served", outcomes[$"burst{d}"]);
            }

            Assert.StartsWith("rejected", outcomes[$"burst{datasets - 1}"], StringComparison.Ordinal);
            Assert.False(host.HasExited, $"the local host exited:\n{output}");
            if (Environment.GetEnvironmentVariable("STORAGE_OUTAGE_REPORT") is { Length: > 0 } report)
            {
                await File.WriteAllTextAsync(report, JsonSerializer.Serialize(new
                {
                    uploads = uploads.Count + 1,
                    datasets,
                    outageSeconds = outage.TotalSeconds,
                    outages = outageStats,
                    outcomes,
                    secondsToSettleAfterLastRestart = Math.Round((clock.Elapsed - restartedAt).TotalSeconds, 1),
                    totalSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
                }, Indented), Cancellation);
            }
        }
        finally
        {
            host.Kill(entireProcessTree: true);
            await host.WaitForExitAsync(Cancellation);
            if (Environment.GetEnvironmentVariable("STORAGE_OUTAGE_LOG") is { Length: > 0 } log)
            {
                lock (output)
                {
                    File.WriteAllText(log, output.ToString());
                }
            }
        }
    }

    /// <summary>Kills storage for <paramref name="outage"/> while predicting the warm model, then starts it again: every predict must answer 200.</summary>
    private static async Task<object> OutageAsync(PrivateAzurite azurite, HttpClient client, string predict, TimeSpan outage, string when)
    {
        await azurite.KillAsync();
        var down = Stopwatch.StartNew();
        var answers = new Dictionary<HttpStatusCode, int>();
        var problems = new List<string>();
        var slowest = TimeSpan.Zero;
        while (down.Elapsed < outage)
        {
            var call = Stopwatch.StartNew();
            var (status, body) = await PredictWithBodyAsync(client, "warm", predict);
            if (status != HttpStatusCode.OK)
            {
                problems.Add(body);
            }

            slowest = call.Elapsed > slowest ? call.Elapsed : slowest;
            answers[status] = answers.GetValueOrDefault(status) + 1;
            await Task.Delay(100, Cancellation);
        }

        await azurite.RestartAsync(Cancellation);
        Assert.True(answers.Keys.All(s => s == HttpStatusCode.OK), $"predict {when} answered {string.Join(", ", answers.Select(a => $"{(int)a.Key}×{a.Value}"))}: {string.Join(" | ", problems)}");
        return new { when, predicts = answers.Values.Sum(), slowestPredictMs = Math.Round(slowest.TotalMilliseconds, 1) };
    }

    private static async Task<bool> TrainingAsync(BlobServiceClient blobs, int datasets)
    {
        for (var d = 0; d < datasets; d++)
        {
            var status = await BlobJson.ReadAsync(blobs.GetBlobContainerClient(StorageNames.RunsContainer).GetBlobClient(StorageNames.LatestRunPath($"burst{d}")), PipelineJson.Default.RunStatus, Cancellation);
            if (status?.Value is { State: RunStates.Running })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>"served" once the model serves a version built from all the dataset's files; "rejected: …" once a report exists.</summary>
    private static async Task<string> OutcomeAsync(BlobServiceClient blobs, HttpClient client, string dataset, int files)
    {
        var rejections = blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{dataset}/{StorageNames.RejectionsFolder}/" }, Cancellation);
        await foreach (var rejection in rejections)
        {
            if (rejection.Name.EndsWith(".json", StringComparison.Ordinal))
            {
                var report = await BlobJson.ReadAsync(blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(rejection.Name), PipelineJson.Default.RejectionReport, Cancellation);
                return $"rejected: {report!.Value.Value.Reason}";
            }
        }

        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        var pointer = await ModelPointer.ReadAsync(models, dataset, Cancellation);
        if (pointer.Current is not { } current)
        {
            return "pending";
        }

        // Never a pointer to a version without its manifest (no partial model is ever served).
        var manifest = await BlobJson.ReadAsync(models.GetBlobClient(StorageNames.ModelManifestPath(dataset, current.Version)), PipelineJson.Default.ModelManifest, Cancellation);
        Assert.NotNull(manifest);
        var data = await BlobJson.ReadAsync(blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(StorageNames.DatasetManifestPath(dataset, manifest.Value.Value.DatasetVersion)), PipelineJson.Default.DatasetManifest, Cancellation);
        var (_, rows) = SyntheticData.ThreeClass(10, seed: 1, withNoiseColumns: false);
        return data?.Value is { } built && built.Sources.Count == files && await PredictAsync(client, dataset, PredictBody(rows[0].Features)) == HttpStatusCode.OK ? "served" : "pending";
    }

    private static string Part(int dataset, int part) => SyntheticData.ThreeClass(300, seed: (dataset * 100) + part, withNoiseColumns: false).Csv;

    private static string OneColumn(int part) => "value\n" + string.Join('\n', Enumerable.Range(0, 50).Select(i => (i * (part + 1)).ToString(CultureInfo.InvariantCulture))) + "\n";

    private static string PredictBody(double[] features) =>
        new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["f1"] = features[0], ["f2"] = features[1], ["f3"] = features[2], ["f4"] = features[3] }) }.ToJsonString();

    private static async Task<(HttpStatusCode, string)> PredictWithBodyAsync(HttpClient client, string model, string body)
    {
        try
        {
            using var response = await client.PostAsync(new Uri($"/api/models/{model}/predict", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(Cancellation));
        }
        catch (HttpRequestException e)
        {
            return (HttpStatusCode.ServiceUnavailable, e.Message);
        }
    }

    private static async Task<HttpStatusCode> PredictAsync(HttpClient client, string model, string body) =>
        (await PredictWithBodyAsync(client, model, body)).Item1;

    /// <summary>Uploads, retrying while storage is down (a client's own retries), for up to 2 minutes.</summary>
    private static async Task UploadAsync(BlobServiceClient blobs, string blob, string content)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await blobs.GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync(blob, BinaryData.FromString(content), Cancellation);
                return;
            }
            catch (Exception e) when (e is RequestFailedException or AggregateException && deadline.Elapsed < TimeSpan.FromMinutes(2))
            {
                await Task.Delay(500, Cancellation);
            }
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan limit, Process host, StringBuilder output, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception e) when (e is RequestFailedException or AggregateException)
            {
                // storage restarting
            }

            Assert.False(host.HasExited, $"the local host exited:\n{output}");
            Assert.True(deadline.Elapsed < limit, $"waited {limit.TotalSeconds:F0} s for {what}:\n{Tail(output)}");
            await Task.Delay(500, Cancellation);
        }
    }

    private static bool Contains(StringBuilder output, string text)
    {
        lock (output)
        {
            return output.ToString().Contains(text, StringComparison.Ordinal);
        }
    }

    private static string Tail(StringBuilder output)
    {
        lock (output)
        {
            var text = output.ToString();
            return text.Length > 20_000 ? text[^20_000..] : text;
        }
    }
}
