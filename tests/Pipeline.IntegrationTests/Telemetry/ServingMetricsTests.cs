using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Pipeline.Serving.Predict;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Telemetry;

/// <summary>
/// The serving app's metrics name a model only when it is one the app serves: requests for made-up names (any caller can
/// put any name in the route) share one <c>(unknown)</c> series, so they cannot grow the metrics without bound.
/// </summary>
public sealed class ServingMetricsTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Predict_UnknownOrInvalidNames_AreTaggedUnknown_AServedModelByName()
    {
        await Azurite.EnsureRunningAsync();
        var model = Azurite.UniqueName("metrics");
        await TestModels.PublishAsync(model, "v1", TestModels.TwoClass(0.5f));
        var missing = Azurite.UniqueName("nosuchmodel");
        using var metrics = new MetricCapture();
        await using var serving = new ServingAppFactory();
        using var client = serving.CreateClient();
        var body = JsonNode.Parse("""{"rows":[{"a":2,"b":1}]}""");

        using (var served = await client.PostAsJsonAsync($"/api/models/{model}/predict", body, Cancellation))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        foreach (var (path, status) in new[]
        {
            ($"/api/models/{missing}/predict", HttpStatusCode.NotFound),
            ($"/api/models/{missing}/predict?version=v1", HttpStatusCode.NotFound),
            ("/api/models/NOT..a..name/predict", HttpStatusCode.NotFound),
        })
        {
            using var response = await client.PostAsJsonAsync(path, body, Cancellation);
            Assert.True(response.StatusCode == status, $"{path}: {response.StatusCode}");
        }

        var durations = metrics.For("pipeline.predict.duration");
        Assert.Single(durations, m => m.Tag("pipeline.model") == model && m.Tag("http.response.status_code") == "200");
        Assert.Equal(3, durations.Count(m => m.Tag("pipeline.model") == ServingTelemetry.UnknownModel && m.Tag("http.response.status_code") == "404"));
        var all = durations.Concat(metrics.For("pipeline.model.cache.misses")).Concat(metrics.For("pipeline.model.load.duration"));
        Assert.DoesNotContain(all, m => m.Tag("pipeline.model") is { } tag && (tag.Contains("nosuchmodel", StringComparison.Ordinal) || tag.Contains("NOT", StringComparison.Ordinal)));
        Assert.Contains(metrics.For("pipeline.model.cache.misses"), m => m.Tag("pipeline.model") == model);
    }
}
