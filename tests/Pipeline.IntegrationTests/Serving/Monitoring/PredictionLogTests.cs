using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Serving.Monitoring;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Monitoring;

/// <summary>
/// The serving app's prediction log against Azurite: sampled requests land under <c>monitoring/{model}/{version}/{date}/</c>,
/// and a predict request never fails or waits when that storage is down, hangs, or the buffer is full.
/// </summary>
public sealed class PredictionLogTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _model = Azurite.UniqueName("logged");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await TestModels.PublishAsync(_model, "v1", TestModels.TwoClass(bias: 0));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static string Body(int i) => $"{{\"rows\":[{{\"a\":{i},\"b\":0.5}},{{\"a\":-{i},\"b\":1}}]}}";

    private static async Task<JsonNode> PredictAsync(HttpClient client, string model, int i, CancellationToken? deadline = null)
    {
        using var response = await client.PostAsync(new Uri($"/api/models/{model}/predict", UriKind.Relative), new StringContent(Body(i), Encoding.UTF8, "application/json"), deadline ?? Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!;
    }

    private static async Task<PredictionLogCounters> CountersAsync(HttpClient client)
    {
        var details = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/health/details", UriKind.Relative), Cancellation))!;
        var monitoring = details["monitoring"]!;
        return new PredictionLogCounters
        {
            Enabled = monitoring["enabled"]!.GetValue<bool>(),
            RecordedRequests = monitoring["recordedRequests"]!.GetValue<long>(),
            SampledOutRequests = monitoring["sampledOutRequests"]!.GetValue<long>(),
            DroppedRequests = monitoring["droppedRequests"]!.GetValue<long>(),
            WrittenRequests = monitoring["writtenRequests"]!.GetValue<long>(),
            FailedWrites = monitoring["failedWrites"]!.GetValue<long>(),
        };
    }

    private static async Task<PredictionLogCounters> WaitForAsync(HttpClient client, Func<PredictionLogCounters, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var counters = await CountersAsync(client);
            if (condition(counters))
            {
                return counters;
            }

            Assert.True(clock.Elapsed < Deadline, $"The prediction log did not get there within {Deadline.TotalSeconds} s: recorded {counters.RecordedRequests}, dropped {counters.DroppedRequests}, written {counters.WrittenRequests}, failed writes {counters.FailedWrites}.");
            await Task.Delay(200, Cancellation);
        }
    }

    [Fact]
    public async Task Predict_Logged_WritesRowsAsSentAndOutputsUnderMonitoringModelVersionDate()
    {
        using var app = new ServingAppFactory(new Dictionary<string, string?> { ["Monitoring:FlushInterval"] = "00:00:01" });
        using var client = app.CreateClient();

        var responses = new List<JsonNode>();
        for (var i = 1; i <= 3; i++)
        {
            responses.Add(await PredictAsync(client, _model, i));
        }

        await WaitForAsync(client, c => c.WrittenRequests >= 3);
        var container = Azurite.Blobs().GetBlobContainerClient(StorageNames.MonitoringContainer);
        var blobs = await container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{_model}/v1/" }, Cancellation).ToListAsync(Cancellation);
        var lines = new List<JsonNode>();
        foreach (var blob in blobs)
        {
            Assert.Matches($@"^{_model}/v1/\d{{4}}-\d{{2}}-\d{{2}}/\d{{6}}-\d{{3}}-[0-9a-f]{{8}}-\d+\.jsonl\.gz$", blob.Name);
            var bytes = (await container.GetBlobClient(blob.Name).DownloadContentAsync(Cancellation)).Value.Content.ToArray();
            using var gzip = new StreamReader(new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress));
            lines.AddRange((await gzip.ReadToEndAsync(Cancellation)).TrimEnd('\n').Split('\n').Select(l => JsonNode.Parse(l)!));
        }

        Assert.Equal(3, lines.Count);
        for (var i = 0; i < 3; i++)
        {
            var line = lines.Single(l => l["rows"]!.ToJsonString() == JsonNode.Parse(Body(i + 1))!["rows"]!.ToJsonString());
            var expected = responses[i]["predictions"]!.AsArray().Select(p => new[] { p!["probabilities"]!["low"]!.GetValue<float>(), p["probabilities"]!["high"]!.GetValue<float>() });
            Assert.Equal(expected, line["outputs"]!.AsArray().Select(o => o!.AsArray().Select(v => v!.GetValue<float>()).ToArray()));
            Assert.True(DateTimeOffset.UtcNow - line["time"]!.GetValue<DateTimeOffset>() < TimeSpan.FromMinutes(5));
        }
    }

    public static TheoryData<string> BrokenStorage() => ["down", "hanging"];

    [Theory]
    [MemberData(nameof(BrokenStorage))]
    public async Task Predict_MonitoringStorageDownOrHanging_EveryRequestSucceedsAndTheLossIsCounted(string broken)
    {
        var settings = new Dictionary<string, string?> { ["Monitoring:FlushInterval"] = "00:00:01", ["Monitoring:WriteTimeout"] = "00:00:01" };
        using var app = new ServingAppFactory(settings).WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.AddKeyedSingleton(PredictionLog.ContainerKey, BrokenContainer(broken))));
        using var client = app.CreateClient();

        for (var i = 0; i < 50; i++)
        {
            using var request = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
            request.CancelAfter(TimeSpan.FromSeconds(10)); // a deadline for the test, not a speed goal
            await PredictAsync(client, _model, i, request.Token);
        }

        var counters = await WaitForAsync(client, c => c.FailedWrites >= 1 && c.DroppedRequests >= 1);
        Assert.Equal(0, counters.WrittenRequests);
        await PredictAsync(client, _model, 51);
    }

    [Fact]
    public async Task Predict_BufferFullWhileStorageHangs_DropsAndCountsRecordsAndAnswersEveryRequest()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Monitoring:MaxBufferBytes"] = "65536", ["Monitoring:FlushInterval"] = "00:00:01", ["Monitoring:WriteTimeout"] = "00:01:00", ["Monitoring:RowsPerSecond"] = "1000000",
        };
        using var app = new ServingAppFactory(settings).WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.AddKeyedSingleton(PredictionLog.ContainerKey, BrokenContainer("hanging"))));
        using var client = app.CreateClient();

        for (var i = 0; i < 2_000; i++)
        {
            await PredictAsync(client, _model, i);
        }

        var counters = await CountersAsync(client);
        Assert.True(counters.DroppedRequests > 0, "no record was dropped");
        Assert.Equal(2_000, counters.RecordedRequests + counters.DroppedRequests);
        Assert.Equal(0, counters.WrittenRequests);
    }

    [Fact]
    public async Task Predict_OverTheRate_IsSampled()
    {
        using var app = new ServingAppFactory(new Dictionary<string, string?> { ["Monitoring:RowsPerSecond"] = "0", ["Monitoring:SampleRate"] = "0" });
        using var client = app.CreateClient();

        for (var i = 0; i < 5; i++)
        {
            await PredictAsync(client, _model, i);
        }

        var counters = await CountersAsync(client);
        Assert.Equal((true, 0L, 5L), (counters.Enabled, counters.RecordedRequests, counters.SampledOutRequests));
    }

    /// <summary>A container client whose storage refuses connections (down) or never answers (hanging).</summary>
    private static BlobContainerClient BrokenContainer(string broken) => broken == "down"
        ? new BlobContainerClient(new Uri("http://127.0.0.1:1/devstoreaccount1/monitoring"), new BlobClientOptions { Retry = { MaxRetries = 0 } })
        : new BlobContainerClient(new Uri("http://127.0.0.1:1/devstoreaccount1/monitoring"),
            new BlobClientOptions { Retry = { MaxRetries = 0, NetworkTimeout = Timeout.InfiniteTimeSpan }, Transport = new HttpClientTransport(new HttpClient(new HangingHandler()) { Timeout = Timeout.InfiniteTimeSpan }) });

    private sealed class HangingHandler : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}
