using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Functions.Drift;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Scoring;

/// <summary>
/// Files scored by the functions app's Score function against Azurite — one scored, one handed to the scoring job
/// (above <c>Scoring:MaxFileBytes</c>, pinned with <c>@v1</c>), one that fails — listed by <c>GET /api/scoring</c>.
/// </summary>
public sealed class ScoringApiFixture : IAsyncLifetime
{
    public string Model { get; } = Azurite.UniqueName("scoring-api");

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await DriftData.PublishAsync(Model);
        await using (var app = new PreprocessingApp())
        {
            await ScoreAsync(app, $"{Model}/day.csv", DriftData.Csv(DriftData.Rows(200, seed: 3).Append(["201", "abc", "red", "true", "yes"])));
            await ScoreAsync(app, $"{Model}/empty.csv", []);
        }

        await using (var job = new PreprocessingApp(new Dictionary<string, string> { ["Scoring:MaxFileBytes"] = "64", ["Scoring:JobQueue"] = Azurite.UniqueName("score-jobs") }))
        {
            await ScoreAsync(job, $"{Model}@v1/big.csv", DriftData.Csv(DriftData.Rows(50, seed: 4)));
        }
    }

    /// <summary>Drops <paramref name="content"/> at <c>score/{blob}</c> and runs the Score function on its event.</summary>
    public static async Task ScoreAsync(PreprocessingApp app, string blob, byte[] content)
    {
        var cancellation = TestContext.Current.CancellationToken;
        var score = Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer);
        await score.CreateIfNotExistsAsync(cancellationToken: cancellation);
        await score.GetBlobClient(blob).UploadAsync(new BinaryData(content), overwrite: true, cancellation);
        await app.ScoreFunction.RunAsync(Invocations.BlobCreatedEvent(StorageNames.ScoreContainer, blob).ToJsonString(), cancellation);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

public sealed class ScoringApiTests(ScoringApiFixture fixture) : IClassFixture<ScoringApiFixture>
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(string path)
    {
        await using var app = new ServingAppFactory();
        using var client = app.CreateClient();
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static JsonObject Job(JsonNode list, string file) =>
        Assert.Single(list["jobs"]!.AsArray(), j => j!["path"]!.GetValue<string>().EndsWith("/" + file + StorageNames.ScoringReportSuffix, StringComparison.Ordinal))!.AsObject();

    [Fact]
    public async Task List_OfAModel_ShowsEachFileWithItsStatusRowsVersionAndWhereItWasScored()
    {
        var (status, body) = await GetAsync($"/api/scoring?model={fixture.Model}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(fixture.Model, body!["model"]!.GetValue<string>());
        Assert.Equal(3, body["jobs"]!.AsArray().Count);
        Assert.Equal(0, body["omitted"]!.GetValue<int>());

        var scored = Job(body, "day.csv")["report"]!;
        Assert.Equal(("succeeded", "functions-app", "v1"), (scored["status"]!.GetValue<string>(), scored["scoredBy"]!.GetValue<string>(), scored["version"]!.GetValue<string>()));
        Assert.Equal((201L, 200L, 1L), (scored["rows"]!.GetValue<long>(), scored["scored"]!.GetValue<long>(), scored["failed"]!.GetValue<long>()));
        Assert.Equal($"predictions/{fixture.Model}/day.csv", scored["output"]!.GetValue<string>());
        Assert.Equal(202L, Assert.Single(scored["badRows"]!.AsArray())!["line"]!.GetValue<long>());

        var handed = Job(body, "big.csv");
        Assert.StartsWith($"predictions/{fixture.Model}@v1/", handed["path"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(("handed-to-job", "job"), (handed["report"]!["status"]!.GetValue<string>(), handed["report"]!["scoredBy"]!.GetValue<string>()));

        var failed = Job(body, "empty.csv")["report"]!;
        Assert.Equal(("failed", "unreadable-file"), (failed["status"]!.GetValue<string>(), failed["reason"]!.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(failed["message"]!.GetValue<string>()));
    }

    [Fact]
    public async Task List_OfEveryModel_IncludesThisModelsFiles()
    {
        var (status, body) = await GetAsync("/api/scoring?limit=200");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Null(body!["model"]);
        var mine = body["jobs"]!.AsArray().Where(j => j!["path"]!.GetValue<string>().StartsWith($"predictions/{fixture.Model}", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, mine.Count);
    }

    [Fact]
    public async Task List_WithALimit_ReadsTheNewestAndCountsTheRest()
    {
        var (status, body) = await GetAsync($"/api/scoring?model={fixture.Model}&limit=2");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body!["jobs"]!.AsArray().Count);
        Assert.Equal(1, body["omitted"]!.GetValue<int>());
        var written = body["jobs"]!.AsArray().Select(j => j!["writtenAt"]!.GetValue<DateTimeOffset>()).ToList();
        Assert.True(written[0] >= written[1], "The newest report comes first.");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("201")]
    [InlineData("-5")]
    public async Task List_LimitOutOfRange_Is400WithAProblem(string limit)
    {
        var (status, body) = await GetAsync($"/api/scoring?model={fixture.Model}&limit={limit}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("limit must be 1-200", body!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no-such-model-xyz")]
    [InlineData("Bad%20Name")]
    public async Task List_UnknownModel_Is404WithAProblem(string model)
    {
        var (status, body) = await GetAsync($"/api/scoring?model={model}");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("Model not found", body!["title"]!.GetValue<string>());
        Assert.Contains("GET /api/models", body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_ModelWithoutScoredFiles_IsAnEmptyList()
    {
        var model = Azurite.UniqueName("scoring-none");
        await DriftData.PublishAsync(model);

        var (status, body) = await GetAsync($"/api/scoring?model={model}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(body!["jobs"]!.AsArray());
    }

    [Fact]
    public async Task List_CorruptOrOversizedReport_IsAnEntryWithItsProblemNotAFailure()
    {
        var model = Azurite.UniqueName("scoring-bad");
        var predictions = Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer);
        await predictions.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await predictions.GetBlobClient($"{model}/broken.csv{StorageNames.ScoringReportSuffix}").UploadAsync(BinaryData.FromString("{not json"), overwrite: true, Cancellation);
        await predictions.GetBlobClient($"{model}/huge.csv{StorageNames.ScoringReportSuffix}").UploadAsync(new BinaryData(new byte[ScoringReports.MaxReportBytes + 1]), overwrite: true, Cancellation);
        // An output of the same folder is not a report.
        await predictions.GetBlobClient($"{model}/other.csv").UploadAsync(BinaryData.FromString("id,prediction\n"), overwrite: true, Cancellation);

        var (status, body) = await GetAsync($"/api/scoring?model={model}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body!["jobs"]!.AsArray().Count);
        var broken = Job(body, "broken.csv");
        Assert.Null(broken["report"]);
        Assert.StartsWith("The report is not a scoring report", broken["problem"]!.GetValue<string>(), StringComparison.Ordinal);
        var huge = Job(body, "huge.csv");
        Assert.Null(huge["report"]);
        Assert.Contains($"at most {ScoringReports.MaxReportBytes} are read", huge["problem"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
