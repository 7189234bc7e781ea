using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Cli;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Trainer;

/// <summary>
/// The scoring job as the real process (<c>Pipeline.Trainer score</c>, the image's entry point in the second Container
/// Apps job) against Azurite: the functions app, with its limit lowered, hands a small file over on a queue of the
/// test's own, and the job scores it with the same handler — byte for byte what the functions app writes for the same
/// file — or ends a file it cannot score with a report, never a retry storm.
/// </summary>
public sealed class ScoringJobProcessTests : IAsyncLifetime
{
    private const string Csv = "id,size,color,member,label\n1,3.5,red,true,yes\n2,0,blue,false,no\n3,12,green,yes,yes\n4,,,,no\n5,abc,red,true,no\n6,-2.25,blue,maybe,no\n7,1e1,blue,0,yes\n";

    private readonly string _model = Azurite.UniqueName("jobscore");
    private readonly string _queue = Azurite.UniqueName("score-jobs");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Score().CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await TestModels.PublishEncodedAsync(_model, "v1");
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task ScoreMode_FileHandedOverByTheFunctionsApp_IsScoredExactlyAsTheFunctionsAppScoresIt()
    {
        await using var functions = new PreprocessingApp();
        var inApp = await ScoreInFunctionsAppAsync(functions, $"{_model}/in-app/day.csv", Encoding.UTF8.GetBytes(Csv));
        Assert.Equal((ScoringStatus.Succeeded, ScoringHost.FunctionsApp), (inApp.Status, inApp.ScoredBy));

        await using var routing = RoutingApp();
        var handed = await ScoreInFunctionsAppAsync(routing, $"{_model}/routed/day.csv", Encoding.UTF8.GetBytes(Csv));
        Assert.Equal(ScoringStatus.HandedToJob, handed.Status);
        // The command-line tool shows the file as handed to the job until the job is done.
        var waiting = await CliTestHost.StorageAsync("scoring", _model);
        Assert.True(waiting.ExitCode == 0, waiting.ToString());
        Assert.Contains($"handed to job", waiting.Out, StringComparison.Ordinal);
        Assert.Contains($"score/{_model}/routed/day.csv", waiting.Out, StringComparison.Ordinal);

        using var job = StartJob();
        var report = await WaitForFinalReportAsync(job, $"{_model}/routed/day.csv");
        var done = await CliTestHost.StorageAsync("scoring", _model, "--json");
        var doneText = await CliTestHost.StorageAsync("scoring", _model);

        Assert.Equal((ScoringStatus.Succeeded, ScoringHost.Job, "v1"), (report.Status, report.ScoredBy, report.Version));
        Assert.Equal((inApp.Rows, inApp.Scored, inApp.Failed, inApp.Format, inApp.OutputFormat), (report.Rows, report.Scored, report.Failed, report.Format, report.OutputFormat));
        Assert.Equal(inApp.BadRows.Select(b => (b.Line, b.Reason)), report.BadRows.Select(b => (b.Line, b.Reason)));
        Assert.Equal($"predictions/{_model}/routed/day.csv", report.Output);
        var expected = (await Predictions().GetBlobClient($"{_model}/in-app/day.csv").DownloadContentAsync(Cancellation)).Value.Content.ToArray();
        var actual = (await Predictions().GetBlobClient($"{_model}/routed/day.csv").DownloadContentAsync(Cancellation)).Value.Content.ToArray();
        Assert.Equal(expected, actual);
        await AssertQueuesEmptyAsync(poisoned: 0);

        var listed = JsonNode.Parse(done.Out)!.AsArray();
        Assert.Equal(2, listed.Count);
        var routed = Assert.Single(listed, r => (string?)r!["input"] == $"score/{_model}/routed/day.csv")!;
        Assert.Equal(("succeeded", "job"), ((string?)routed["status"], (string?)routed["scoredBy"]));
        Assert.Equal("functions-app", (string?)Assert.Single(listed, r => (string?)r!["input"] == $"score/{_model}/in-app/day.csv")!["scoredBy"]);
        Assert.Contains("(scoring job)", doneText.Out, StringComparison.Ordinal);
        Assert.Contains("(functions app)", doneText.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("handed to job", doneText.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ScoreMode_UnreadableFile_EndsWithAFailedReportAndTheMessageCompleted()
    {
        await using var routing = RoutingApp();
        var content = new byte[4096];
        new Random(7).NextBytes(content);
        content[0] = 0x1f;
        content[1] = 0x8b;
        var handed = await ScoreInFunctionsAppAsync(routing, $"{_model}/broken.csv.gz", content);
        Assert.Equal(ScoringStatus.HandedToJob, handed.Status);

        using var job = StartJob();
        var report = await WaitForFinalReportAsync(job, $"{_model}/broken.csv.gz");

        Assert.Equal((ScoringStatus.Failed, ScoringFailure.UnreadableFile, ScoringHost.Job), (report.Status, report.Reason, report.ScoredBy));
        Assert.Null(report.Output);
        await AssertQueuesEmptyAsync(poisoned: 0);
    }

    [Fact]
    public async Task ScoreMode_AttemptsThatDidNotFinish_GoToPoisonWithAJobFailedReport()
    {
        await using var routing = RoutingApp();
        await ScoreInFunctionsAppAsync(routing, $"{_model}/killed.csv", Encoding.UTF8.GetBytes(Csv));
        // Two earlier replicas took the message and died (OOM-killed, past the replica timeout) without a word.
        var queue = Azurite.Queues().GetQueueClient(_queue);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            Assert.Single((await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(1), Cancellation)).Value);
            await Task.Delay(TimeSpan.FromSeconds(1.5), Cancellation);
        }

        using var job = StartJob(("Worker__MaxAttempts", "2"));
        var report = await WaitForFinalReportAsync(job, $"{_model}/killed.csv");

        Assert.Equal((ScoringStatus.Failed, ScoringFailure.JobFailed, ScoringHost.Job), (report.Status, report.Reason, report.ScoredBy));
        Assert.Contains("attempts did not finish", report.Message, StringComparison.Ordinal);
        Assert.False(await Predictions().GetBlobClient($"{_model}/killed.csv").ExistsAsync(Cancellation));
        var poisoned = await AssertQueuesEmptyAsync(poisoned: 1);
        Assert.Equal(3, poisoned[0]["attempts"]!.GetValue<int>());
        Assert.Equal($"{_model}/killed.csv", poisoned[0]["message"]!["blob"]!.GetValue<string>());
    }

    [Fact]
    public async Task ScoreMode_MessageThatIsNotARequest_GoesToPoisonAtOnce()
    {
        var queue = Azurite.Queues().GetQueueClient(_queue);
        await queue.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await queue.SendMessageAsync("not json", Cancellation);

        using var job = StartJob();
        var poison = Azurite.Queues().GetQueueClient(StorageNames.Poison(_queue));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        while (!(await poison.ExistsAsync(deadline.Token)).Value || (await poison.GetPropertiesAsync(deadline.Token)).Value.ApproximateMessagesCount == 0)
        {
            Assert.False(job.Process.HasExited, job.Output());
            await Task.Delay(200, deadline.Token);
        }

        var poisoned = await AssertQueuesEmptyAsync(poisoned: 1);
        Assert.Equal(1, poisoned[0]["attempts"]!.GetValue<int>());
        Assert.Contains("not a scoring request", poisoned[0]["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>The functions app with its limit below any test file, handing over on this test's queue.</summary>
    private PreprocessingApp RoutingApp() =>
        new(new Dictionary<string, string> { ["Scoring:MaxFileBytes"] = "16", ["Scoring:JobQueue"] = _queue });

    private static async Task<ScoringReport> ScoreInFunctionsAppAsync(PreprocessingApp app, string blob, byte[] content)
    {
        await Score().GetBlobClient(blob).UploadAsync(new BinaryData(content), overwrite: true, Cancellation);
        await app.ScoreFunction.RunAsync(Invocations.BlobCreatedEvent(StorageNames.ScoreContainer, blob).ToJsonString(), Cancellation);
        return await ReadReportAsync(blob) ?? throw new InvalidOperationException($"Score wrote no report for {blob}.");
    }

    private static async Task<ScoringReport?> ReadReportAsync(string blob) =>
        (await BlobJson.ReadAsync(Predictions().GetBlobClient(blob + StorageNames.ScoringReportSuffix), PipelineJson.Default.ScoringReport, Cancellation))?.Value;

    /// <summary>Waits (at most 90 s) until the job replaced the handed-to-job report with its own.</summary>
    private static async Task<ScoringReport> WaitForFinalReportAsync(JobProcess job, string blob)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        while (true)
        {
            if (await ReadReportAsync(blob) is { Status: not ScoringStatus.HandedToJob } report)
            {
                return report;
            }

            if (job.Process.HasExited)
            {
                Assert.Fail($"the scoring job exited ({job.Process.ExitCode}) before it reported:\n{job.Output()}");
            }

            try
            {
                await Task.Delay(200, deadline.Token);
            }
            catch (OperationCanceledException) when (!Cancellation.IsCancellationRequested)
            {
                Assert.Fail($"no final report for {blob} within 90 s:\n{job.Output()}");
            }
        }
    }

    /// <summary>
    /// The job's queue is empty (nothing left to retry) and its poison queue holds <paramref name="poisoned"/> messages,
    /// returned. The job writes its report before it moves the message, so the queues may settle moments after the
    /// report: they get 30 s.
    /// </summary>
    private async Task<List<JsonNode>> AssertQueuesEmptyAsync(int poisoned)
    {
        var queue = Azurite.Queues().GetQueueClient(_queue);
        var poison = Azurite.Queues().GetQueueClient(StorageNames.Poison(_queue));
        var settled = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < settled && ((await queue.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount > 0 ||
            ((await poison.ExistsAsync(Cancellation)).Value ? (await poison.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount : 0) < poisoned))
        {
            await Task.Delay(200, Cancellation);
        }

        Assert.Equal(0, (await queue.GetPropertiesAsync(Cancellation)).Value.ApproximateMessagesCount);
        if (!(await poison.ExistsAsync(Cancellation)).Value)
        {
            Assert.Equal(0, poisoned);
            return [];
        }

        var messages = (await poison.PeekMessagesAsync(32, Cancellation)).Value.Select(m => JsonNode.Parse(m.Body.ToString())!).ToList();
        Assert.Equal(poisoned, messages.Count);
        return messages;
    }

    private static Azure.Storage.Blobs.BlobContainerClient Score() => Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer);

    private static Azure.Storage.Blobs.BlobContainerClient Predictions() => Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer);

    private JobProcess StartJob(params (string Key, string Value)[] settings)
    {
        var start = new ProcessStartInfo(TrainerExecutable.Path())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("score");
        start.Environment["Storage__ConnectionString"] = Azurite.ConnectionString;
        start.Environment["Worker__QueueName"] = _queue;
        start.Environment["Worker__PollInterval"] = "00:00:00.200";
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        return new JobProcess(Process.Start(start)!);
    }

    /// <summary>The job process, its output captured for failure messages, killed when disposed.</summary>
    private sealed class JobProcess : IDisposable
    {
        private readonly StringBuilder _output = new();

        public JobProcess(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output()
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }

        private void Append(string? line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10_000);
            }

            Process.Dispose();
        }
    }
}
