using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Runs;

public class RunsApiTests
{
    private static async Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response.Content.Headers.ContentType?.MediaType);
    }

    private static async Task WriteStatusAsync(RunStatus status, bool latest)
    {
        var runs = Azurite.Blobs().GetBlobContainerClient(StorageNames.RunsContainer);
        await runs.CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
        await BlobJson.WriteAsync(runs.GetBlobClient(StorageNames.RunStatusPath(status.RunId)), status, PipelineJson.Default.RunStatus, null, TestContext.Current.CancellationToken);
        if (latest)
        {
            await BlobJson.WriteAsync(runs.GetBlobClient(StorageNames.LatestRunPath(status.Model)), status, PipelineJson.Default.RunStatus, null, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task GetRun_WrittenByTheTrainer_ReturnsItsStatus()
    {
        await Azurite.EnsureRunningAsync();
        var model = Azurite.UniqueName("runs");
        await WriteStatusAsync(new RunStatus { RunId = model + "-abc", Model = model, State = RunStates.Running, Stage = "searching", Trial = 2, Trials = 12, Epoch = 17, EtaSeconds = 42 }, latest: false);
        await using var app = new ServingAppFactory();

        var (status, body, contentType) = await GetAsync(app.CreateClient(), $"/api/runs/{model}-abc");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/json", contentType);
        Assert.Equal("searching", body!["stage"]!.GetValue<string>());
        Assert.Equal(17, body["epoch"]!.GetValue<int>());
        Assert.Equal(42, body["etaSeconds"]!.GetValue<double>());
    }

    [Fact]
    public async Task GetLatest_ForAModel_ReturnsItsMostRecentRun()
    {
        await Azurite.EnsureRunningAsync();
        var model = Azurite.UniqueName("runs");
        await WriteStatusAsync(new RunStatus { RunId = model + "-old", Model = model, State = RunStates.Succeeded }, latest: true);
        await WriteStatusAsync(new RunStatus { RunId = model + "-new", Model = model, State = RunStates.Failed, Error = "one class only" }, latest: true);
        await using var app = new ServingAppFactory();

        var (status, body, _) = await GetAsync(app.CreateClient(), $"/api/runs?model={model}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(model + "-new", body!["runId"]!.GetValue<string>());
        Assert.Equal("one class only", body["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_HasTheLatestRunOfEveryModel_WithoutLossCurves()
    {
        await Azurite.EnsureRunningAsync();
        var first = Azurite.UniqueName("runs");
        var second = Azurite.UniqueName("runs");
        await WriteStatusAsync(new RunStatus { RunId = first + "-a", Model = first, State = RunStates.Succeeded, Losses = [new LossPoint { Epoch = 1, Train = 0.5 }] }, latest: true);
        await WriteStatusAsync(new RunStatus { RunId = second + "-b", Model = second, State = RunStates.Running, Stage = "searching" }, latest: true);
        await using var app = new ServingAppFactory();

        var (status, body, _) = await GetAsync(app.CreateClient(), "/api/runs");
        var (_, single, _) = await GetAsync(app.CreateClient(), $"/api/runs/{first}-a");

        Assert.Equal(HttpStatusCode.OK, status);
        var runs = body!["runs"]!.AsArray();
        var a = runs.Single(r => r!["model"]!.GetValue<string>() == first)!;
        Assert.Equal("succeeded", a["state"]!.GetValue<string>());
        Assert.Null(a["losses"]);
        Assert.Equal("searching", runs.Single(r => r!["model"]!.GetValue<string>() == second)!["stage"]!.GetValue<string>());
        Assert.True(runs.Count <= 100);
        Assert.Equal(0.5, single!["losses"]![0]!["train"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("/api/runs/no-such-run-0000", HttpStatusCode.NotFound)]
    [InlineData("/api/runs/Not_Valid!", HttpStatusCode.NotFound)]
    [InlineData("/api/runs?model=no-such-model-0000", HttpStatusCode.NotFound)]
    public async Task Get_UnknownOrMissing_IsAProblemDetails(string path, HttpStatusCode expected)
    {
        await Azurite.EnsureRunningAsync();
        await using var app = new ServingAppFactory();

        var (status, body, contentType) = await GetAsync(app.CreateClient(), path);

        Assert.Equal(expected, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Equal((int)expected, body!["status"]!.GetValue<int>());
    }
}
