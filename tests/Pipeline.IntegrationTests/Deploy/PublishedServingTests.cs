using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Deploy;

/// <summary>
/// The serving app as deployed — the Native AOT executable `dotnet publish` makes (scripts/test.sh publishes it) — started
/// the way the Functions host starts a custom handler, in each documented mode: models from storage (Azurite) and models
/// from a local folder (<c>Models:Path</c>). Ahead-of-time code paths differ from the JIT's (JSON, endpoint binding), so
/// the in-memory tests alone do not prove a mode works.
/// </summary>
public sealed class PublishedServingTests
{
    private const string Key = "published-serving-key-0123456789";

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static string Executable()
    {
        var path = Path.Combine(Repository.Root(), "artifacts", "publish", "Pipeline.Serving", "release_linux-x64", "Pipeline.Serving");
        Assert.True(File.Exists(path), $"The serving app is not published at {path}: run `dotnet publish functions/Pipeline.Serving -c Release` (scripts/test.sh does).");
        return path;
    }
    /// <summary>Starts the executable with <paramref name="settings"/> and waits (at most 60 s: the machine may be busy) until it answers GET /.</summary>
    private static async Task<(Process Process, HttpClient Client, StringBuilder Output)> StartAsync(Dictionary<string, string> settings)
    {
        var executable = Executable();
        var port = Ports.Free();
        var start = new ProcessStartInfo(executable) { WorkingDirectory = Path.GetDirectoryName(executable)!, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["Http__FunctionKey"] = Key;
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        var output = new StringBuilder();
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Add("x-functions-key", Key);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(process.HasExited, $"The serving app exited with {(process.HasExited ? process.ExitCode : 0)}:\n{output}");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"The serving app did not answer GET / within 60 s:\n{output}");
            try
            {
                using var ready = await client.GetAsync(new Uri("/", UriKind.Relative), Cancellation);
                return (process, client, output);
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50, Cancellation);
            }
        }
    }

    private static async Task Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync(Cancellation);
        }

        process.Dispose();
    }

    /// <summary>
    /// Health (anonymous and detailed), the model list, a prediction, a 422 for a row driving the model to infinity, a
    /// version's manifest, the runs and datasets endpoints (a problem without a storage account) and the embedded console
    /// all answer as documented (no 500).
    /// </summary>
    private static async Task AssertServesAsync(HttpClient client, string model, StringBuilder output, bool storage)
    {
        using var health = await client.GetAsync(new Uri("/api/health", UriKind.Relative), Cancellation);
        Assert.True(health.StatusCode == HttpStatusCode.OK, $"health: {health.StatusCode}\n{output}");

        var models = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/models", UriKind.Relative), Cancellation))!.AsArray();
        Assert.Contains(models, m => m!["name"]!.GetValue<string>() == model);

        using var predict = await client.PostAsync(new Uri($"/api/models/{model}/predict", UriKind.Relative),
            new StringContent("""{"rows":[{"a":1,"b":0},{"a":0,"b":1}]}""", Encoding.UTF8, "application/json"), Cancellation);
        var body = await predict.Content.ReadAsStringAsync(Cancellation);
        Assert.True(predict.StatusCode == HttpStatusCode.OK, $"predict: {predict.StatusCode} {body}\n{output}");
        Assert.Equal(2, JsonNode.Parse(body)!["predictions"]!.AsArray().Count);

        using var overflow = await client.PostAsync(new Uri($"/api/models/{model}/predict", UriKind.Relative),
            new StringContent("""{"rows":[{"a":1,"b":0},{"a":3.4e38,"b":3.4e38}]}""", Encoding.UTF8, "application/json"), Cancellation);
        var overflowBody = await overflow.Content.ReadAsStringAsync(Cancellation);
        Assert.True(overflow.StatusCode == HttpStatusCode.UnprocessableEntity, $"predict ±3.4e38: {overflow.StatusCode} {overflowBody}\n{output}");
        Assert.Contains("Row 1 ", JsonNode.Parse(overflowBody)!["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        using var anonymous = new HttpClient { BaseAddress = client.BaseAddress };
        Assert.Equal("""{"status":"healthy"}""", await anonymous.GetStringAsync(new Uri("/api/health", UriKind.Relative), Cancellation));
        var details = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/health/details", UriKind.Relative), Cancellation))!;
        Assert.Contains(details["models"]!.AsArray(), m => m!["name"]!.GetValue<string>() == model);

        using var run = await client.GetAsync(new Uri($"/api/runs?model={model}", UriKind.Relative), Cancellation);
        Assert.True(run.StatusCode == HttpStatusCode.NotFound, $"runs: {run.StatusCode}\n{output}");
        Assert.Equal("application/problem+json", run.Content.Headers.ContentType?.MediaType);

        var manifest = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/models/{model}/versions/v1", UriKind.Relative), Cancellation))!;
        Assert.Equal("classification", manifest["task"]!.GetValue<string>());
        foreach (var path in new[] { "/api/runs", "/api/datasets" })
        {
            using var list = await client.GetAsync(new Uri(path, UriKind.Relative), Cancellation);
            var text = await list.Content.ReadAsStringAsync(Cancellation);
            Assert.True(list.StatusCode == (storage ? HttpStatusCode.OK : HttpStatusCode.NotFound), $"{path}: {list.StatusCode} {text}\n{output}");
            Assert.NotNull(JsonNode.Parse(text));
        }

        // The console's files are embedded resources of the native executable.
        var page = await anonymous.GetStringAsync(new Uri("/console/", UriKind.Relative), Cancellation);
        Assert.Contains("js/app.js", page, StringComparison.Ordinal);
        using var script = await anonymous.GetAsync(new Uri("/console/js/app.js", UriKind.Relative), Cancellation);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ModelsFolderMode_PublishedApp_ServesHealthModelsPredictAndRuns()
    {
        using var folder = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(folder.Path, "local", "v1"));
        await File.WriteAllBytesAsync(Path.Combine(folder.Path, "local", "v1", "model.onnx"), TestModels.TwoClass(bias: 0.5f), Cancellation);
        // The trainer's model needs its manifest (without one the version is still being published).
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "local", "v1", "manifest.json"),
            """{"task":"classification","features":["a","b"],"labels":["low","high"]}""", Cancellation);
        var (process, client, output) = await StartAsync(new Dictionary<string, string> { ["Models__Path"] = folder.Path });
        try
        {
            await AssertServesAsync(client, "local", output, storage: false);
        }
        finally
        {
            client.Dispose();
            await Stop(process);
        }
    }

    [Fact]
    public async Task StorageMode_PublishedApp_ServesHealthModelsPredictAndRuns()
    {
        await Azurite.EnsureRunningAsync();
        var model = Azurite.UniqueName("published");
        await TestModels.PublishAsync(model, "v1", TestModels.TwoClass(bias: 0.5f));
        // A batch-scoring report as the Score function writes it, and one that is not a report: GET /api/scoring lists both
        // through the source-generated JSON of the AOT build (enums as their string names).
        var predictions = Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer);
        await predictions.CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
        await BlobJson.WriteAsync(predictions.GetBlobClient($"{model}/day.csv{StorageNames.ScoringReportSuffix}"),
            new ScoringReport { Status = ScoringStatus.Succeeded, ScoredBy = ScoringHost.FunctionsApp, Model = model, Version = "v1", Input = $"score/{model}/day.csv", Rows = 3, Scored = 3 },
            PipelineJson.Default.ScoringReport, null, TestContext.Current.CancellationToken);
        await predictions.GetBlobClient($"{model}/bad.csv{StorageNames.ScoringReportSuffix}").UploadAsync(BinaryData.FromString("[1,2"), overwrite: true, TestContext.Current.CancellationToken);
        var (process, client, output) = await StartAsync(new Dictionary<string, string> { ["Storage__ConnectionString"] = Azurite.ConnectionString });
        try
        {
            await AssertServesAsync(client, model, output, storage: true);
            var scoring = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/scoring?model={model}", UriKind.Relative), TestContext.Current.CancellationToken))!;
            var jobs = scoring["jobs"]!.AsArray();
            Assert.Equal(2, jobs.Count);
            var scored = Assert.Single(jobs, j => j!["report"] is not null)!["report"]!;
            Assert.Equal(("succeeded", "functions-app", 3L), (scored["status"]!.GetValue<string>(), scored["scoredBy"]!.GetValue<string>(), scored["scored"]!.GetValue<long>()));
            Assert.StartsWith("The report is not a scoring report", Assert.Single(jobs, j => j!["report"] is null)!["problem"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            client.Dispose();
            await Stop(process);
        }
    }

    /// <summary>
    /// The console log prints scopes: a line written while serving a request carries the trace id of the request's
    /// W3C <c>traceparent</c>, so a log search for a trace id finds the serving app's lines under it.
    /// </summary>
    [Fact]
    public async Task StorageMode_PublishedApp_LogLinesCarryTheRequestsTraceId()
    {
        await Azurite.EnsureRunningAsync();
        var model = Azurite.UniqueName("logged");
        await TestModels.PublishAsync(model, "v1", TestModels.TwoClass(bias: 0.5f));
        var (process, client, output) = await StartAsync(new Dictionary<string, string> { ["Storage__ConnectionString"] = Azurite.ConnectionString });
        try
        {
            var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/api/models/{model}/predict", UriKind.Relative))
            {
                Content = new StringContent("""{"rows":[{"a":1,"b":0}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01");
            using var predict = await client.SendAsync(request, Cancellation);
            Assert.Equal(HttpStatusCode.OK, predict.StatusCode);

            // The first predict loads the model: its "Loaded model" entry is written inside the request.
            var deadline = Stopwatch.StartNew();
            string[] lines;
            int loaded;
            do
            {
                await Task.Delay(50, Cancellation);
                lock (output)
                {
                    lines = output.ToString().Split('\n');
                }

                loaded = Array.FindIndex(lines, l => l.Contains($"Loaded model {model} version v1", StringComparison.Ordinal));
            }
            while (loaded < 0 && deadline.Elapsed < TimeSpan.FromSeconds(10));

            Assert.True(loaded > 0, $"No 'Loaded model' line:\n{string.Join('\n', lines)}");
            // The simple console formatter writes the scopes on the line above the message.
            Assert.Contains($"TraceId:{traceId}", lines[loaded - 1], StringComparison.Ordinal);
        }
        finally
        {
            client.Dispose();
            await Stop(process);
        }
    }
}
