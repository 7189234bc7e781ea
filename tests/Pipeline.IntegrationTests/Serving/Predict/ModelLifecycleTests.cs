using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Contracts;
using Pipeline.Serving.Predict;
using Pipeline.Tests.Infrastructure;
using Pipeline.Training.Publishing;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>Version pinning, hot switches, refusing broken versions, rollback and the LRU session cache, against Azurite.</summary>
public sealed class ModelLifecycleTests() : ServedModelTest("life")
{
    private const string Row = """{"rows":[{"a":0.5,"b":0}]}""";

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PredictAsync(string query = "", string body = Row)
    {
        using var response = await Client.PostAsync(new Uri($"/api/models/{Model}/predict{query}", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<JsonNode> GetJsonAsync(string path) =>
        JsonNode.Parse(await Client.GetStringAsync(new Uri(path, UriKind.Relative), Cancellation))!;

    /// <summary>Polls predict until it answers <paramref name="version"/> (the poll interval is 0.5 s in tests).</summary>
    private async Task<JsonNode> WaitForVersionAsync(string version)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var (status, body) = await PredictAsync();
            if (status == HttpStatusCode.OK && body!["version"]!.GetValue<string>() == version)
            {
                return body;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Still serving {body?["version"]} ({status}), not {version}.");
            await Task.Delay(100, Cancellation);
        }
    }

    /// <summary>
    /// Keeps predicting (each answer must come from <paramref name="servedVersion"/>) until health reports a problem
    /// for this model; the current.json check runs in the background, so the problem shows up a little after a request.
    /// </summary>
    private async Task<(JsonNode Health, JsonNode Entry)> WaitForProblemAsync(string servedVersion)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var (status, body) = await PredictAsync();
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(servedVersion, body!["version"]!.GetValue<string>());
            var health = await GetJsonAsync("/api/health/details");
            var entry = health["models"]!.AsArray().SingleOrDefault(m => m!["name"]!.GetValue<string>() == Model);
            if (entry?["problem"] is not null)
            {
                return (health, entry);
            }

            Assert.True(DateTime.UtcNow < deadline, "health never reported the problem");
            await Task.Delay(100, Cancellation);
        }
    }

    [Fact]
    public async Task Predict_VersionQuery_PinsThatVersion()
    {
        await TestModels.PublishAsync(Model, "v2", TestModels.TwoClass(bias: -10));
        await WaitForVersionAsync("v2");

        var (pinnedStatus, pinned) = await PredictAsync("?version=v1");
        var (_, current) = await PredictAsync();

        Assert.Equal(HttpStatusCode.OK, pinnedStatus);
        Assert.Equal("v1", pinned!["version"]!.GetValue<string>());
        Assert.Equal("high", pinned["predictions"]![0]!["label"]!.GetValue<string>());
        Assert.Equal("v2", current!["version"]!.GetValue<string>());
        Assert.Equal("low", current["predictions"]![0]!["label"]!.GetValue<string>());
    }

    [Fact]
    public async Task Predict_VersionQueryWhilePublishing_IsNotReady_ThenServedWithItsManifest()
    {
        // The trainer writes model.onnx first and manifest.json last: in between, the version is not served (or cached).
        await TestModels.UploadAsync(Model, "v2/model.onnx", TestModels.TwoClass(bias: -10));

        using var early = await Client.PostAsync(new Uri($"/api/models/{Model}/predict?version=v2", UriKind.Relative),
            new StringContent(Row, Encoding.UTF8, "application/json"), Cancellation);
        var problem = JsonNode.Parse(await early.Content.ReadAsStringAsync(Cancellation))!;
        await TestModels.PublishAsync(Model, "v2", TestModels.TwoClass(bias: -10));
        var (status, pinned) = await PredictAsync("?version=v2");
        var served = await WaitForVersionAsync("v2");
        var details = await GetJsonAsync($"/api/models/{Model}");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, early.StatusCode);
        Assert.NotNull(early.Headers.RetryAfter);
        Assert.Contains("not ready", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("low", pinned!["predictions"]![0]!["label"]!.GetValue<string>());
        Assert.Equal("low", served["predictions"]![0]!["label"]!.GetValue<string>());
        Assert.Equal(0.9, details["current"]!["testMetrics"]!["accuracy"]!.GetValue<double>()); // the contract came from the manifest
    }

    [Theory]
    [InlineData("?version=v9", HttpStatusCode.NotFound, "no version 'v9'")]
    [InlineData("?version=..%2Fsecret", HttpStatusCode.BadRequest, "not a version name")]
    public async Task Predict_BadVersionQuery_ReturnsProblemNamingIt(string query, HttpStatusCode expected, string detail)
    {
        var (status, problem) = await PredictAsync(query);

        Assert.Equal(expected, status);
        Assert.Contains(detail, problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_HotSwitchUnderConcurrentLoad_NoRequestFails()
    {
        await WaitForVersionAsync("v1");
        var v1 = App.Services.GetRequiredService<ModelRegistry>().Peek(Model, "v1")!;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var versions = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, body) = await PredictAsync();
                if (status != HttpStatusCode.OK)
                {
                    failures.Add($"{(int)status}: {body?.ToJsonString()}");
                    continue;
                }

                versions.AddOrUpdate(body!["version"]!.GetValue<string>(), 1, (_, n) => n + 1);
            }
        }, CancellationToken.None)).ToList();

        await Task.Delay(500, Cancellation);
        await TestModels.PublishAsync(Model, "v2", TestModels.TwoClass(bias: -10));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!versions.ContainsKey("v2") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Cancellation);
        }

        await Task.Delay(1000, Cancellation); // keep the load on after the switch, while v1's session drains
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.Empty(failures);
        Assert.True(versions.GetValueOrDefault("v1") > 0, "no request was served by v1");
        Assert.True(versions.GetValueOrDefault("v2") > 0, "no request was served by v2");
        var registry = App.Services.GetRequiredService<ModelRegistry>();
        Assert.Null(registry.Peek(Model, "v1")); // retired from the cache at the switch...
        Assert.True(v1.IsDisposed, "v1's session was not disposed after its requests drained"); // ...and disposed once drained
    }

    [Fact]
    public async Task Predict_NewVersionThatFailsToLoad_KeepsServingTheOldOne_AndHealthSaysSo()
    {
        await WaitForVersionAsync("v1");

        await TestModels.UploadAsync(Model, "v2/model.onnx", Encoding.UTF8.GetBytes("this is not an ONNX graph"));
        await TestModels.MoveCurrentAsync(Model, "v2");
        var (health, entry) = await WaitForProblemAsync(servedVersion: "v1");

        Assert.Equal("degraded", health["status"]!.GetValue<string>());
        Assert.Equal("v1", entry["servedVersion"]!.GetValue<string>());
        Assert.Equal("v2", entry["problem"]!["version"]!.GetValue<string>());
        Assert.Contains("not a well-formed ONNX protobuf", entry["problem"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("/onnxruntime", health.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_NewVersionFailingTheSmokePrediction_IsNotSwitchedTo_UntilCurrentMovesBack()
    {
        await WaitForVersionAsync("v1");

        await TestModels.PublishAsync(Model, "v2", TestModels.NaNOnZeros());
        var (_, entry) = await WaitForProblemAsync(servedVersion: "v1");
        var problem = entry["problem"];

        await TestModels.PublishAsync(Model, "v3", TestModels.TwoClass(bias: -10));
        var after = await WaitForVersionAsync("v3");
        var health = await GetJsonAsync("/api/health/details");

        Assert.Equal("v2", problem!["version"]!.GetValue<string>());
        Assert.Contains("non-finite", problem!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("low", after["predictions"]![0]!["label"]!.GetValue<string>());
        Assert.Equal("healthy", health["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task SetCurrent_RollsBack_AndRefusesABrokenVersion()
    {
        await TestModels.PublishAsync(Model, "v2", TestModels.TwoClass(bias: -10));
        await WaitForVersionAsync("v2");
        await TestModels.PublishAsync(Model, "v3", TestModels.NaNOnZeros(), moveCurrent: false);

        using var rollback = await Client.PostAsJsonAsync(new Uri($"/api/models/{Model}/current", UriKind.Relative), new { version = "v1" }, Cancellation);
        var moved = JsonNode.Parse(await rollback.Content.ReadAsStringAsync(Cancellation))!;
        var (_, served) = await PredictAsync(); // immediately: this instance re-reads current.json after moving it
        using var broken = await Client.PostAsJsonAsync(new Uri($"/api/models/{Model}/current", UriKind.Relative), new { version = "v3" }, Cancellation);
        using var missing = await Client.PostAsJsonAsync(new Uri($"/api/models/{Model}/current", UriKind.Relative), new { version = "v9" }, Cancellation);
        var details = await GetJsonAsync($"/api/models/{Model}");

        Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
        Assert.Equal("v2", moved["previousVersion"]!.GetValue<string>());
        Assert.Equal("v1", served!["version"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, broken.StatusCode);
        Assert.Contains("non-finite", await broken.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("v1", details["currentVersion"]!.GetValue<string>());
    }

    /// <summary>
    /// An operator's rollback racing a training run's promotion (the trainer's <see cref="ModelPublisher"/> moving the
    /// pointer from the reading its champion/challenger decision compared against): both go through
    /// <c>ModelPointer</c>'s conditional write, so the rollback is never silently overwritten — the trainer's move fails
    /// when the rollback came first, and the rollback reads again and wins when the trainer came first, reporting it.
    /// </summary>
    [Fact]
    public async Task SetCurrent_RacingATrainingPromotion_IsNeverOverwritten()
    {
        await TestModels.PublishAsync(Model, "v2", TestModels.TwoClass(bias: -10), moveCurrent: false);
        var publisher = new ModelPublisher(Azurite.Blobs(), TimeProvider.System, NullLogger<ModelPublisher>.Instance);
        var challenger = new ModelManifest { Model = Model, Version = "v2" };

        // In order: the trainer compares against v1, the operator rolls back to v1 meanwhile, the trainer's move fails.
        var compared = await publisher.ReadPointerAsync(Model, Cancellation);
        using (var rollback = await Client.PostAsJsonAsync(new Uri($"/api/models/{Model}/current", UriKind.Relative), new { version = "v1" }, Cancellation))
        {
            Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
        }

        Assert.False(await publisher.TryMakeCurrentAsync(challenger, compared, Cancellation));
        Assert.Equal("v1", (await publisher.ReadPointerAsync(Model, Cancellation)).Current!.Version);

        // At once, many times: whoever writes first, the pointer ends at the rollback's version, and the rollback reports
        // the trainer's version as the one it replaced exactly when the trainer's move went through.
        var promotions = 0;
        for (var round = 0; round < 12; round++)
        {
            compared = await publisher.ReadPointerAsync(Model, Cancellation);
            var promote = publisher.TryMakeCurrentAsync(challenger, compared, Cancellation);
            var rollback = Client.PostAsJsonAsync(new Uri($"/api/models/{Model}/current", UriKind.Relative), new { version = "v1" }, Cancellation);
            await Task.WhenAll(promote, rollback);
            using var response = await rollback;
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("v1", (await publisher.ReadPointerAsync(Model, Cancellation)).Current!.Version);
            Assert.Equal(await promote ? "v2" : "v1", body["previousVersion"]!.GetValue<string>());
            promotions += await promote ? 1 : 0;
        }

        Assert.Equal("v1", (await WaitForVersionAsync("v1"))["version"]!.GetValue<string>());
        TestContext.Current.TestOutputHelper?.WriteLine($"{promotions} of 12 promotions went through before the rollback.");
    }

    [Fact]
    public async Task Models_ListAndDetails_ShowVersionsMetricsAndServingState()
    {
        await TestModels.PublishAsync(Model, "v2", TestModels.TwoClass(bias: -10));
        await WaitForVersionAsync("v2");
        await PredictAsync("?version=v1");

        var list = (await GetJsonAsync("/api/models")).AsArray();
        var details = await GetJsonAsync($"/api/models/{Model}");

        var summary = list.Single(m => m!["name"]!.GetValue<string>() == Model)!;
        Assert.Equal("v2", summary["currentVersion"]!.GetValue<string>());
        Assert.Equal("v2", summary["servedVersion"]!.GetValue<string>());
        Assert.Equal(2, summary["versions"]!.GetValue<int>());
        Assert.Equal(0.9, summary["testMetrics"]!["accuracy"]!.GetValue<double>());
        var versions = details["versions"]!.AsArray();
        Assert.Equal(["v1", "v2"], versions.Select(v => v!["version"]!.GetValue<string>()).Order());
        var v1 = versions.Single(v => v!["version"]!.GetValue<string>() == "v1")!;
        Assert.True(v1["loaded"]!.GetValue<bool>());
        Assert.Equal(1, v1["requests"]!.GetValue<long>());
        Assert.False(v1["isCurrent"]!.GetValue<bool>());
        Assert.Equal(0.9, v1["testMetrics"]!["accuracy"]!.GetValue<double>());
        Assert.Equal(["a", "b"], details["current"]!["features"]!.AsArray().Select(f => f!.GetValue<string>()));
    }

    [Fact]
    public async Task Predict_VersionQueriesPastTheColdLoadRate_Return429WithRetryAfter_CurrentKeepsServing()
    {
        await RestartAsync(new Dictionary<string, string?> { ["Models:ColdLoadsPerMinute"] = "1" });
        await TestModels.PublishAsync(Model, "v2", TestModels.TwoClass(bias: -10), moveCurrent: false);
        await TestModels.PublishAsync(Model, "v3", TestModels.TwoClass(bias: -10), moveCurrent: false);
        await WaitForVersionAsync("v1");

        var (first, _) = await PredictAsync("?version=v2");
        using var refused = await Client.PostAsync(new Uri($"/api/models/{Model}/predict?version=v3", UriKind.Relative),
            new StringContent(Row, Encoding.UTF8, "application/json"), Cancellation);
        var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync(Cancellation))!;
        var (current, body) = await PredictAsync();

        Assert.Equal(HttpStatusCode.OK, first);
        Assert.Equal((HttpStatusCode)429, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.FromSeconds(30), $"Retry-After {refused.Headers.RetryAfter}");
        Assert.Contains("Models:ColdLoadsPerMinute", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, current);
        Assert.Equal("v1", body!["version"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cache_OverItsMemoryBudget_UnloadsTheLeastRecentlyUsedVersion()
    {
        // Each model file is ~360 KB (300×300 float weights); a 1 MB budget holds two.
        await RestartAsync(new Dictionary<string, string?> { ["Models:CacheMemoryBytes"] = (1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        foreach (var version in new[] { "v1", "v2", "v3" })
        {
            await TestModels.PublishAsync(Model, version, TestModels.TwoClass(bias: 0, hidden: 300), moveCurrent: false);
        }

        Assert.Equal(HttpStatusCode.OK, (await PredictAsync("?version=v1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await PredictAsync("?version=v2")).Status);
        Assert.Equal(HttpStatusCode.OK, (await PredictAsync("?version=v1")).Status); // v2 is now the least recently used
        Assert.Equal(HttpStatusCode.OK, (await PredictAsync("?version=v3")).Status);

        var registry = App.Services.GetRequiredService<ModelRegistry>();
        Assert.NotNull(registry.Peek(Model, "v1"));
        Assert.Null(registry.Peek(Model, "v2"));
        Assert.NotNull(registry.Peek(Model, "v3"));
        Assert.True(registry.CacheUsage.Bytes <= 1024 * 1024, $"cache holds {registry.CacheUsage.Bytes} bytes");
        Assert.Equal("v2", (await PredictAsync("?version=v2")).Body!["version"]!.GetValue<string>()); // reloads on demand
    }
}
