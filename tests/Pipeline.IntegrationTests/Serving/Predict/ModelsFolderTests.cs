using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>Serving from a local folder with the models container's layout (<c>Models:Path</c>): no storage account at all.</summary>
public sealed class ModelsFolderTests : IAsyncLifetime
{
    private readonly TempDirectory _folder = new();
    private ServingAppFactory _app = null!;
    private HttpClient _client = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        // No Storage settings reach the app's store: a broken connection string proves storage is never used.
        _app = new ServingAppFactory(new Dictionary<string, string?>
        {
            ["Models:Path"] = _folder.Path,
            ["Storage:ConnectionString"] = "DefaultEndpointsProtocol=http;AccountName=none;AccountKey=bm9uZQ==;BlobEndpoint=http://127.0.0.1:9/none",
        });
        _client = _app.CreateClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        _folder.Dispose();
    }

    private void Write(string path, byte[] content)
    {
        var full = Path.Combine(_folder.Path, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
    }

    private async Task<JsonNode> PredictAsync(string model, string body)
    {
        using var response = await _client.PostAsync(new Uri($"/api/models/{model}/predict", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;
    }

    [Fact]
    public async Task Predict_FromFolder_FollowsCurrentJsonAndRollsBackByWritingIt()
    {
        Write("lin/a/model.onnx", TestModels.LinearRegression([1, 0, 0], bias: 0));
        Write("lin/b/model.onnx", TestModels.LinearRegression([0, 0, 0], bias: 100));
        Write("lin/current.json", """{"version":"a"}"""u8.ToArray());
        const string row = """{"rows":[{"f0":2,"f1":0,"f2":0}]}""";

        var first = await PredictAsync("lin", row);
        Write("lin/current.json", """{"version":"b" }"""u8.ToArray());
        JsonNode second;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            await Task.Delay(100, Cancellation);
            second = await PredictAsync("lin", row);
        }
        while (second["version"]!.GetValue<string>() != "b" && DateTime.UtcNow < deadline);

        using var rollback = await _client.PostAsJsonAsync(new Uri("/api/models/lin/current", UriKind.Relative), new { version = "a" }, Cancellation);
        var third = await PredictAsync("lin", row);
        var list = JsonNode.Parse(await _client.GetStringAsync(new Uri("/api/models", UriKind.Relative), Cancellation))!.AsArray();

        Assert.Equal(2.0, first["predictions"]![0]!["value"]!.GetValue<double>(), 5);
        Assert.Equal("b", second["version"]!.GetValue<string>());
        Assert.Equal(100.0, second["predictions"]![0]!["value"]!.GetValue<double>(), 5);
        Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
        Assert.Equal("a", third["version"]!.GetValue<string>());
        Assert.Contains("\"a\"", await File.ReadAllTextAsync(Path.Combine(_folder.Path, "lin", "current.json"), Cancellation), StringComparison.Ordinal);
        Assert.Equal(2, Assert.Single(list)!["versions"]!.GetValue<int>());
    }

    [Fact]
    public async Task Predict_TraversalInModelOrVersion_IsRejectedBeforeTouchingTheFolder()
    {
        Write("ok/v1/model.onnx", TestModels.LinearRegression([1], bias: 0));

        using var name = await _client.PostAsync(new Uri("/api/models/..%2F..%2Fetc/predict", UriKind.Relative),
            new StringContent("""{"rows":[{"f0":1}]}""", Encoding.UTF8, "application/json"), Cancellation);
        using var version = await _client.PostAsync(new Uri("/api/models/ok/predict?version=..%2Fv1", UriKind.Relative),
            new StringContent("""{"rows":[{"f0":1}]}""", Encoding.UTF8, "application/json"), Cancellation);

        Assert.Equal(HttpStatusCode.NotFound, name.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, version.StatusCode);
    }

    [Fact]
    public async Task StorageOnlyApis_AnswerAProblemSayingSo_WhileReportFilesComeFromTheFolder()
    {
        Write("lin/a/model.onnx", TestModels.LinearRegression([1], bias: 0));
        Write("lin/a/report-loss.png", [0x89, (byte)'P', (byte)'N', (byte)'G']);

        foreach (var path in new[] { "/api/datasets", "/api/datasets/lin", "/api/runs", "/api/runs?model=lin", "/api/scoring", "/api/scoring?model=lin" })
        {
            using var response = await _client.GetAsync(new Uri(path, UriKind.Relative), Cancellation);
            var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("Models:Path", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        using var plot = await _client.GetAsync(new Uri("/api/models/lin/versions/a/files/report-loss.png", UriKind.Relative), Cancellation);
        Assert.Equal(HttpStatusCode.OK, plot.StatusCode);
        Assert.Equal("image/png", plot.Content.Headers.ContentType?.MediaType);
    }
}
