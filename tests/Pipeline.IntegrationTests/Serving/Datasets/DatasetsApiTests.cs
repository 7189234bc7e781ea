using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Datasets;

/// <summary>The datasets API over what the preprocessing engine wrote to Azurite: an accepted version and a rejection.</summary>
public sealed class DatasetsApiTests : IAsyncLifetime
{
    private readonly string _dataset = Azurite.UniqueName("dsapi");
    private readonly ServingAppFactory _app = new();
    private HttpClient _client = null!;
    private TrainRequest _accepted = null!;
    private string _rejectionId = "";

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        var raw = Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer);
        await raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await using var preprocessing = new PreprocessingApp();
        await raw.GetBlobClient($"{_dataset}/good.csv").UploadAsync(BinaryData.FromString(SyntheticData.ThreeClass(200, seed: 2).Csv), overwrite: true, Cancellation);
        _accepted = (await Invocations.PreprocessAsync(preprocessing, $"{_dataset}/good.csv")).TrainRequest!;

        // The same dataset's files, now with a header-only file beside it: the whole dataset is rejected this time.
        await raw.GetBlobClient($"{_dataset}/good.csv").DeleteAsync(cancellationToken: Cancellation);
        await raw.GetBlobClient($"{_dataset}/empty.csv").UploadAsync(BinaryData.FromString("f1,f2,f3,f4,comment,species\n"), overwrite: true, Cancellation);
        var rejected = await Invocations.PreprocessAsync(preprocessing, $"{_dataset}/empty.csv");
        _rejectionId = Path.GetFileNameWithoutExtension(rejected.ReportPath!);
        _client = _app.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(string path)
    {
        using var response = await _client.GetAsync(new Uri(path, UriKind.Relative), Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task List_HasTheDataset_WithItsVersionAndRejection()
    {
        var (status, body) = await GetAsync("/api/datasets");

        Assert.Equal(HttpStatusCode.OK, status);
        var entry = body!.AsArray().Single(d => d!["name"]!.GetValue<string>() == _dataset)!;
        Assert.Equal(1, entry["versions"]!.GetValue<int>());
        Assert.Equal(_accepted.DatasetVersion, entry["latestVersion"]!.GetValue<string>());
        Assert.Equal(1, entry["rejections"]!.GetValue<int>());
        Assert.False(entry["pending"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Get_ListsVersionsFromManifests_AndRejectionsWithReasons()
    {
        var (status, body) = await GetAsync($"/api/datasets/{_dataset}");

        Assert.Equal(HttpStatusCode.OK, status);
        var version = Assert.Single(body!["versions"]!.AsArray())!;
        Assert.Equal(_accepted.DatasetVersion, version["version"]!.GetValue<string>());
        Assert.Equal("species", version["target"]!.GetValue<string>());
        Assert.Equal(200, version["rows"]!["read"]!.GetValue<int>());
        var rejection = Assert.Single(body["rejections"]!.AsArray())!;
        Assert.Equal(_rejectionId, rejection["id"]!.GetValue<string>());
        Assert.Equal("header-only", rejection["reason"]!.GetValue<string>());
        Assert.Contains("no data rows", rejection["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetVersion_ReturnsManifestAndValidationReport()
    {
        var (status, body) = await GetAsync($"/api/datasets/{_dataset}/versions/{_accepted.DatasetVersion}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(_accepted.DatasetVersion, body!["manifest"]!["version"]!.GetValue<string>());
        Assert.Equal("accepted", body["report"]!["status"]!.GetValue<string>());
        var comment = body["report"]!["columns"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == "comment")!;
        Assert.Equal("excluded", comment["role"]!.GetValue<string>());
    }

    [Fact]
    public async Task GetRejection_ReturnsTheReport()
    {
        var (status, body) = await GetAsync($"/api/datasets/{_dataset}/rejections/{Uri.EscapeDataString(_rejectionId)}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("header-only", body!["reason"]!.GetValue<string>());
        Assert.EndsWith("empty.csv", body["blob"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/datasets/no-such-dataset-000", "Dataset not found")]
    [InlineData("/api/datasets/Not_Valid!", "Dataset not found")]
    [InlineData("/api/datasets/{0}/versions/no-such-version", "Dataset version not found")]
    [InlineData("/api/datasets/{0}/versions/..%2Fsecret", "Dataset version not found")]
    [InlineData("/api/datasets/{0}/rejections/no-such-report", "Rejection not found")]
    [InlineData("/api/datasets/{0}/rejections/..%2F..%2Fother%2Fmanifest", "Rejection not found")]
    public async Task Get_Unknown_Is404ProblemDetails(string path, string title)
    {
        using var response = await _client.GetAsync(new Uri(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, _dataset), UriKind.Relative), Cancellation);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(title, problem["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_WithoutTheFunctionKey_Is401()
    {
        using var anonymous = _app.CreateClient();
        anonymous.DefaultRequestHeaders.Remove(Pipeline.Serving.Http.FunctionKeyMiddleware.HeaderName);

        using var response = await anonymous.GetAsync(new Uri("/api/datasets", UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
