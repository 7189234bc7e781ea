using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Pipeline.Telemetry;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Telemetry;

public sealed class TelemetryExportTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>
    /// The serving app with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set exports its predict span and its metrics over OTLP
    /// (http/protobuf) to a receiver in this test: the span name, model and version are in the protobuf payload.
    /// </summary>
    [Fact]
    public async Task ServingApp_WithAnOtlpEndpoint_ExportsPredictSpansAndMetrics()
    {
        using var receiver = new OtlpReceiver();
        var model = Azurite.UniqueName("otlp");
        await TestModels.PublishAsync(model, "v1", TestModels.TwoClass(0.5f));
        await using (var serving = new ServingAppFactory(new Dictionary<string, string?>
        {
            [TelemetryExport.OtlpEndpointSetting] = receiver.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        }))
        {
            using var client = serving.CreateClient();
            using var response = await client.PostAsJsonAsync($"/api/models/{model}/predict", JsonNode.Parse("""{"rows":[{"a":2,"b":1}]}"""), Cancellation);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            var traces = await receiver.WaitForAsync("/v1/traces", body => body.Contains(model, StringComparison.Ordinal) && body.Contains("predict", StringComparison.Ordinal));
            Assert.Contains("pipeline.model.version", traces, StringComparison.Ordinal);
            Assert.Contains("pipeline-serving", traces, StringComparison.Ordinal);
            await receiver.WaitForAsync("/v1/metrics", body => body.Contains("pipeline.predict.duration", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The sampler the infra sets (<c>OTEL_TRACES_SAMPLER=parentbased_traceidratio</c>), here at ratio 0: a request of its
    /// own is not traced, one whose caller sampled its trace (<c>traceparent</c> flag 01) is, and the predict metrics count
    /// both.
    /// </summary>
    [Fact]
    public async Task ServingApp_WithTheParentBasedRatioSampler_TracesOnlyCallerSampledRequests_MetricsCountAll()
    {
        using var receiver = new OtlpReceiver();
        var model = Azurite.UniqueName("sampled");
        await TestModels.PublishAsync(model, "v1", TestModels.TwoClass(0.5f));
        await using var serving = new ServingAppFactory(new Dictionary<string, string?>
        {
            [TelemetryExport.OtlpEndpointSetting] = receiver.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio",
            ["OTEL_TRACES_SAMPLER_ARG"] = "0",
        });
        using var client = serving.CreateClient();
        var unsampled = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var sampled = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        foreach (var (traceId, flags) in new[] { ("", ""), (unsampled, "00"), (sampled, "01") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/api/models/{model}/predict", UriKind.Relative))
            {
                Content = JsonContent.Create(JsonNode.Parse("""{"rows":[{"a":2,"b":1}]}""")),
            };
            if (traceId.Length > 0)
            {
                request.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-{flags}");
            }

            using var response = await client.SendAsync(request, Cancellation);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Trace ids travel as raw bytes in the protobuf payload.
        static string Raw(string hex) => Encoding.Latin1.GetString(Convert.FromHexString(hex));
        var traces = await receiver.WaitForAsync("/v1/traces", body => body.Contains(Raw(sampled), StringComparison.Ordinal));
        Assert.Contains("predict", traces, StringComparison.Ordinal);
        await receiver.WaitForAsync("/v1/metrics", body => body.Contains("pipeline.predict.duration", StringComparison.Ordinal));
        Assert.DoesNotContain(receiver.Bodies("/v1/traces"), body => body.Contains(Raw(unsampled), StringComparison.Ordinal));
        Assert.Single(receiver.Bodies("/v1/traces"), body => body.Contains(model, StringComparison.Ordinal));
    }

    [Fact]
    public void From_Settings_ChoosesTheExporters_AndTheIdentity()
    {
        static TelemetryExport From(params (string Key, string Value)[] settings) => TelemetryExport.From(
            new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

        var none = From();
        Assert.False(none.Exports);

        var otlp = From((TelemetryExport.OtlpEndpointSetting, "http://127.0.0.1:4317"));
        Assert.Equal("http://127.0.0.1:4317", otlp.OtlpEndpoint);
        Assert.Null(otlp.ApplicationInsights);

        var azure = From(
            (TelemetryExport.ApplicationInsightsSetting, "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"),
            (TelemetryExport.AuthenticationSetting, "ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD"),
            ("AZURE_CLIENT_ID", "99999999-0000-0000-0000-000000000000"));
        Assert.True(azure.Exports);
        Assert.Null(azure.OtlpEndpoint);
        Assert.Equal("11111111-2222-3333-4444-555555555555", azure.ClientId);
        Assert.IsType<Azure.Identity.ManagedIdentityCredential>(azure.Credential());

        var trainer = From((TelemetryExport.ApplicationInsightsSetting, "InstrumentationKey=0"), ("AZURE_CLIENT_ID", "99999999-0000-0000-0000-000000000000"));
        Assert.Equal("99999999-0000-0000-0000-000000000000", trainer.ClientId);

        var developer = From((TelemetryExport.ApplicationInsightsSetting, "InstrumentationKey=0"), (TelemetryExport.OtlpEndpointSetting, " "));
        Assert.Null(developer.ClientId);
        Assert.Null(developer.OtlpEndpoint);
        Assert.IsType<Azure.Identity.DefaultAzureCredential>(developer.Credential());
    }

    /// <summary>An OTLP/HTTP endpoint on a loopback port: keeps each request's path and body (protobuf, read as Latin-1 text).</summary>
    private sealed class OtlpReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentQueue<(string Path, string Body)> _requests = new();
        private readonly Task _loop;

        public OtlpReceiver()
        {
            var port = Ports.Free();
            Endpoint = $"http://127.0.0.1:{port}";
            _listener.Prefixes.Add(Endpoint + "/");
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public string Endpoint { get; }

        public List<string> Bodies(string path) => [.. _requests.Where(r => r.Path == path).Select(r => r.Body)];

        public async Task<string> WaitForAsync(string path, Func<string, bool> match)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                if (_requests.FirstOrDefault(r => r.Path == path && match(r.Body)) is { Body: not null } found)
                {
                    return found.Body;
                }

                await Task.Delay(100, Cancellation);
            }

            Assert.Fail($"No matching OTLP request on {path} within 30 s; received: {string.Join(", ", _requests.Select(r => $"{r.Path} ({r.Body.Length} bytes)"))}");
            return "";
        }

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                _requests.Enqueue((context.Request.Url!.AbsolutePath, Encoding.Latin1.GetString(body.ToArray())));
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
