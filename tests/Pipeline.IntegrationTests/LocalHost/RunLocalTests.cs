using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.LocalHost;

/// <summary>
/// What <c>./run-local.sh</c> runs: the local host with the build outputs of the functions app, the serving app and the
/// trainer, each started as the platform would start it. An upload to <c>raw</c> becomes a model served on the serving
/// port, through the Event Grid stand-in, the isolated worker, the training worker and the custom handler; a file
/// dropped under <c>score/{model}/</c> is then scored into <c>predictions/</c> by the functions app, and a file above its
/// (lowered) limit by the scoring job worker.
/// </summary>
public sealed class RunLocalTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LocalHost_UploadedCsv_IsServedOnTheServingPort()
    {
        await Azurite.EnsureRunningAsync();
        var port = Ports.Free();
        // Only this test's uploads are announced: other tests write to raw too and run Preprocess themselves.
        var prefix = Azurite.UniqueName("runlocal");
        var output = new StringBuilder();
        // Files above 1,000 bytes take the scoring job's route (the processes the host starts inherit its environment).
        using var host = LocalHostProcess.Start(Azurite.ConnectionString, port, output, new Dictionary<string, string> { ["Scoring__MaxFileBytes"] = "1000" },
            $"--EventGrid:BlobPrefix={prefix}", $"--EventGrid:StateContainer={Azurite.UniqueName("eventgrid")}");
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Add("x-functions-key", "local-development-key");
            var (csv, rows) = SyntheticData.ThreeClass(400, seed: 21, withNoiseColumns: false);
            var deadline = Stopwatch.StartNew();
            while (!output.ToString().Contains("Functions host stand-in: worker", StringComparison.Ordinal))
            {
                Assert.False(host.HasExited, $"The local host exited:\n{output}");
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), $"The worker did not start within 90 s:\n{output}");
                await Task.Delay(200, Cancellation);
            }

            await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync($"{prefix}/data.csv", BinaryData.FromString(csv), Cancellation);
            var body = new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["f1"] = rows[0].Features[0], ["f2"] = rows[0].Features[1], ["f3"] = rows[0].Features[2], ["f4"] = rows[0].Features[3] }) }.ToJsonString();
            HttpStatusCode status;
            do
            {
                Assert.False(host.HasExited, $"The local host exited:\n{output}");
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(4), $"No model served within 4 minutes:\n{output}");
                await Task.Delay(1000, Cancellation);
                try
                {
                    using var response = await client.PostAsync(new Uri($"/api/models/{prefix}/predict", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);
                    status = response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    status = HttpStatusCode.ServiceUnavailable; // the serving app is not listening yet
                }
            }
            while (status != HttpStatusCode.OK);

            // A file dropped under score/{model}/ is scored by the same worker through the Event Grid stand-in.
            var scoreFile = string.Join('\n', csv.Split('\n').Take(4)) + "\n";
            var score = Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer);
            await score.CreateIfNotExistsAsync(cancellationToken: Cancellation);
            await score.UploadBlobAsync($"{prefix}/day.csv", BinaryData.FromString(scoreFile), Cancellation);
            var report = await WaitForReportAsync(host, output, $"{prefix}/day.csv");
            Assert.Equal((Pipeline.Contracts.ScoringStatus.Succeeded, 3L, Pipeline.Contracts.ScoringHost.FunctionsApp), (report.Status, report.Scored, report.ScoredBy));

            // A file above Scoring:MaxFileBytes is handed to the scoring job worker, which replaces the handed-to-job report.
            var largeFile = string.Join('\n', csv.Split('\n').Take(101)) + "\n";
            Assert.True(largeFile.Length > 1000);
            await score.UploadBlobAsync($"{prefix}/large.csv", BinaryData.FromString(largeFile), Cancellation);
            var routed = await WaitForReportAsync(host, output, $"{prefix}/large.csv");
            Assert.Equal((Pipeline.Contracts.ScoringStatus.Succeeded, 100L, Pipeline.Contracts.ScoringHost.Job), (routed.Status, routed.Scored, routed.ScoredBy));

            // The serving and training processes ran beside the worker. Which worker and trainer took this upload's
            // messages is not asserted: other tests in this run poll the same queues with the same code.
            foreach (var child in new[] { "[serving]", "[trainer]", "[scoring-job]" })
            {
                Assert.Contains(child, output.ToString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            host.Kill(entireProcessTree: true);
            await host.WaitForExitAsync(Cancellation);
        }
    }

    /// <summary>The final report of <c>score/{blob}</c> (not the scoring job's hand-over note), within 60 s.</summary>
    private static async Task<Pipeline.Contracts.ScoringReport> WaitForReportAsync(Process host, StringBuilder output, string blob)
    {
        var reportBlob = Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer).GetBlobClient(blob + StorageNames.ScoringReportSuffix);
        var scoring = Stopwatch.StartNew();
        while (true)
        {
            if (await reportBlob.ExistsAsync(Cancellation) &&
                (await BlobJson.ReadAsync(reportBlob, Pipeline.Contracts.PipelineJson.Default.ScoringReport, Cancellation))?.Value is { Status: not Pipeline.Contracts.ScoringStatus.HandedToJob } report)
            {
                return report;
            }

            Assert.False(host.HasExited, $"The local host exited:\n{output}");
            Assert.True(scoring.Elapsed < TimeSpan.FromSeconds(60), $"score/{blob} was not scored within 60 s:\n{output}");
            await Task.Delay(500, Cancellation);
        }
    }
}
