using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Training.Onnx;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>The Predict and Models HTTP functions against a model published to Azurite (built with the project's exporter).</summary>
public class PredictApiTests : IAsyncLifetime
{
    private readonly ServingAppFactory _app = new();
    private readonly string _model = Azurite.UniqueName("predict");
    private HttpClient _client = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        _client = _app.CreateClient();
        await PublishAsync("v1", bias: 0);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    /// <summary>A 2-feature, 2-class linear model: class "high" when a + b + bias > 0.</summary>
    private async Task PublishAsync(string version, float bias)
    {
        var definition = new MlpDefinition(MlpTask.Classification, ["a", "b"], [0, 0], [1, 1],
            [new DenseLayer(2, 2, [-1, -1, 1, 1], [-bias, bias])], ["low", "high"]);
        var models = Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await models.GetBlobClient($"{_model}/{version}/model.onnx").UploadAsync(new BinaryData(OnnxMlpExporter.Export(definition)), overwrite: true, Cancellation);
        var manifest = new ModelManifest
        {
            Model = _model, Version = version, Task = TaskKind.Classification, Features = ["a", "b"], Labels = ["low", "high"],
            InputName = OnnxContract.InputName, OutputName = OnnxContract.ProbabilitiesOutput,
        };
        await BlobJson.WriteAsync(models.GetBlobClient(StorageNames.ModelManifestPath(_model, version)), manifest, PipelineJson.Default.ModelManifest, null, Cancellation);
        await BlobJson.WriteAsync(models.GetBlobClient(StorageNames.CurrentPointerPath(_model)), new CurrentPointer { Version = version }, PipelineJson.Default.CurrentPointer, null, Cancellation);
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PredictAsync(string body, string? model = null)
    {
        using var response = await _client.PostAsync(new Uri($"/api/models/{model ?? _model}/predict", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task Predict_ValidRows_ReturnsLabelsAndProbabilities()
    {
        var (status, body) = await PredictAsync("""{"rows":[{"a":2,"b":1},{"b":-3,"a":-1}]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("v1", body!["version"]!.GetValue<string>());
        Assert.Equal("high", body["predictions"]![0]!["label"]!.GetValue<string>());
        Assert.Equal("low", body["predictions"]![1]!["label"]!.GetValue<string>());
        Assert.True(body["predictions"]![0]!["probabilities"]!["high"]!.GetValue<double>() > 0.9);
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("""{"rows":[]}""", "empty")]
    [InlineData("""{"data":[]}""", "'rows'")]
    [InlineData("""{"rows":[{"a":1}]}""", "missing feature(s): b")]
    [InlineData("""{"rows":[{"a":1,"b":2,"c":3}]}""", "'c'")]
    [InlineData("""{"rows":[{"a":"1","b":2}]}""", "a string")]
    [InlineData("""{"rows":[{"a":1e400,"b":2}]}""", "finite")]
    [InlineData("""{"rows":[{"a":NaN,"b":2}]}""", "not valid JSON")]
    [InlineData("""{"rows":[{"a":null,"b":2}]}""", "null")]
    [InlineData("""{"rows":[[1,2]]}""", "not an object")]
    public async Task Predict_BadBody_Returns400NamingTheProblem(string body, string expected)
    {
        var (status, problem) = await PredictAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(400, problem!["status"]!.GetValue<int>());
        Assert.Contains(expected, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_TooManyRows_Returns400()
    {
        var rows = string.Join(',', Enumerable.Repeat("""{"a":1,"b":2}""", 1001));

        var (status, problem) = await PredictAsync($$"""{"rows":[{{rows}}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("at most 1000", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"rows":[{"a":1,"b":0},{"a":3.4e38,"b":3.4e38}]}""", 1)]
    [InlineData("""{"rows":[{"a":-3.4e38,"b":-3.4e38},{"a":1,"b":0}]}""", 0)]
    public async Task Predict_RowDrivingTheModelToNonFiniteOutput_Returns422NamingTheRow(string body, int row)
    {
        using var response = await _client.PostAsync(new Uri($"/api/models/{_model}/predict", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        var problem = JsonNode.Parse(text)!; // the whole body is one JSON document: nothing of a prediction was written before it

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(problem["predictions"]);
        Assert.Contains($"Row {row} ", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_RegressionOverflowingToInfinity_Returns422NamingTheRow()
    {
        var model = Azurite.UniqueName("overflow");
        await TestModels.UploadAsync(model, "v1/model.onnx", TestModels.LinearRegression([1, 2, 3], bias: 0));

        var (status, problem) = await PredictAsync("""{"rows":[{"f0":1,"f1":1,"f2":1},{"f0":1,"f1":1,"f2":1},{"f0":0,"f1":3.4e38,"f2":0}]}""", model);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("Row 2 ", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_OversizedBody_Returns413()
    {
        var (status, _) = await PredictAsync(new string(' ', (4 * 1024 * 1024) + 10));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
    }

    [Fact]
    public async Task Predict_UnknownModel_Returns404()
    {
        var (status, problem) = await PredictAsync("""{"rows":[{"a":1,"b":2}]}""", "no-such-model");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("no-such-model", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_NewCurrentVersion_IsServedWithoutRestart()
    {
        Assert.Equal("v1", (await PredictAsync("""{"rows":[{"a":0.5,"b":0}]}""")).Body!["version"]!.GetValue<string>());

        await PublishAsync("v2", bias: -10); // everything near zero is now "low"
        var deadline = DateTime.UtcNow.AddSeconds(10);
        JsonNode? body;
        do
        {
            await Task.Delay(200, Cancellation);
            body = (await PredictAsync("""{"rows":[{"a":0.5,"b":0}]}""")).Body;
        }
        while (body!["version"]!.GetValue<string>() != "v2" && DateTime.UtcNow < deadline);

        Assert.Equal("v2", body["version"]!.GetValue<string>());
        Assert.Equal("low", body["predictions"]![0]!["label"]!.GetValue<string>());
    }

    [Fact]
    public async Task Models_ListAndGet_ShowTheServedModel()
    {
        var list = JsonNode.Parse(await _client.GetStringAsync(new Uri("/api/models", UriKind.Relative), Cancellation))!.AsArray();
        var details = JsonNode.Parse(await _client.GetStringAsync(new Uri($"/api/models/{_model}", UriKind.Relative), Cancellation))!;

        Assert.Contains(list, m => m!["name"]!.GetValue<string>() == _model);
        Assert.Equal("v1", details["currentVersion"]!.GetValue<string>());
        Assert.Equal(["a", "b"], details["current"]!["features"]!.AsArray().Select(f => f!.GetValue<string>()));
    }
}
