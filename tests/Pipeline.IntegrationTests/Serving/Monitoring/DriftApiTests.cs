using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Tests.Functions.Drift;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Monitoring;

/// <summary>
/// The loop through the serving app: predict requests it logs are the observed data of a drift report, and the report
/// flags the model in <c>GET /api/models/{name}</c>, <c>GET /api/models/{name}/drift</c> and health details.
/// </summary>
public sealed class DriftApiTests : IAsyncLifetime
{
    private readonly string _model = Azurite.UniqueName("drift-api");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await DriftData.PublishAsync(_model);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Rows as a client sends them: numbers, strings, booleans, null for missing.</summary>
    private static string Body(IEnumerable<string[]> rows) =>
        new JsonObject
        {
            ["rows"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject
            {
                ["size"] = r[1].Length == 0 ? null : JsonValue.Create(double.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture)),
                ["color"] = r[2],
                ["member"] = r[3].Length == 0 ? null : JsonValue.Create(r[3] == "true"),
            })]),
        }.ToJsonString();

    [Fact]
    public async Task PredictionLogs_ShiftedSizes_FlagExactlySizeInTheReportTheModelAndHealth()
    {
        using var app = new ServingAppFactory(new Dictionary<string, string?>
        {
            ["Monitoring:FlushInterval"] = "00:00:01", ["Monitoring:RowsPerSecond"] = "0", ["Monitoring:SampleRate"] = "1",
        });
        using var client = app.CreateClient();
        var rows = DriftData.Rows(1500, seed: 30, sizeShift: 3);
        foreach (var chunk in rows.Chunk(500))
        {
            using var response = await client.PostAsync(new Uri($"/api/models/{_model}/predict", UriKind.Relative), new StringContent(Body(chunk), Encoding.UTF8, "application/json"), Cancellation);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Cancellation));
        }

        var clock = Stopwatch.StartNew();
        while (JsonNode.Parse(await client.GetStringAsync(new Uri("/api/health/details", UriKind.Relative), Cancellation))!["monitoring"]!["writtenRequests"]!.GetValue<long>() < 3)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "The prediction log did not write the 3 requests within 30 s.");
            await Task.Delay(200, Cancellation);
        }

        await using var functions = new PreprocessingApp();
        var report = await functions.DriftJob.RunAsync(_model, Cancellation);

        Assert.Equal((1500L, 1500L, 0), (report!.Rows, report.Sources.PredictionLogRows, report.Sources.BatchFiles));
        Assert.Equal(["size"], report.DriftedColumns);
        Assert.Equal(DriftStatus.Drifted, report.Status);
        Assert.InRange(report.Columns.Single(c => c.Column == "size").MissingRate, 0.03, 0.07);

        var details = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/models/{_model}", UriKind.Relative), Cancellation))!;
        Assert.True(details["drift"]!["drifted"]!.GetValue<bool>());
        Assert.Equal("drifted", details["drift"]!["status"]!.GetValue<string>());
        Assert.Equal(["size"], details["drift"]!["driftedColumns"]!.AsArray().Select(c => c!.GetValue<string>()));
        var full = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/models/{_model}/drift", UriKind.Relative), Cancellation))!;
        Assert.Equal(("drifted", 1500L), (full["status"]!.GetValue<string>(), full["rows"]!.GetValue<long>()));
        var health = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/health/details", UriKind.Relative), Cancellation))!;
        var flagged = Assert.Single(health["drift"]!.AsArray(), d => d!["model"]!.GetValue<string>() == _model)!;
        Assert.True(flagged["drifted"]!.GetValue<bool>());
    }

    [Fact]
    public async Task GetDrift_NoReport_Is404WithAProblem()
    {
        using var app = new ServingAppFactory();
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri($"/api/models/{_model}/drift", UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("has no drift report yet", await response.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
        var details = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/models/{_model}", UriKind.Relative), Cancellation))!;
        Assert.Null(details["drift"]);
    }
}
