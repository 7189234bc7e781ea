using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>ONNX files trained elsewhere, dropped under models/{name}/{version}/ with a small manifest or none.</summary>
public sealed class BringYourOwnOnnxTests : IAsyncLifetime
{
    private readonly ServingAppFactory _app = new();
    private HttpClient _client = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        _client = _app.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PredictAsync(string model, string body)
    {
        using var response = await _client.PostAsync(new Uri($"/api/models/{model}/predict", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task Predict_OnnxWithoutManifestOrCurrentPointer_ServesNewestVersionWithFeaturesFromTheGraph()
    {
        var model = Azurite.UniqueName("byo");
        await TestModels.UploadAsync(model, "1.0/model.onnx", TestModels.LinearRegression([1, 2, 3], bias: 0.5f));

        var (status, body) = await PredictAsync(model, """{"rows":[{"f0":1,"f1":1,"f2":1},{"f0":2,"f1":0,"f2":-1}]}""");
        var details = JsonNode.Parse(await _client.GetStringAsync(new Uri($"/api/models/{model}", UriKind.Relative), Cancellation))!;

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("1.0", body!["version"]!.GetValue<string>());
        Assert.Equal(6.5, body["predictions"]![0]!["value"]!.GetValue<double>(), 5);
        Assert.Equal(-0.5, body["predictions"]![1]!["value"]!.GetValue<double>(), 5);
        Assert.Equal("onnx", details["versions"]![0]!["source"]!.GetValue<string>());
        Assert.Equal("regression", details["current"]!["task"]!.GetValue<string>());
        Assert.Equal(["f0", "f1", "f2"], details["current"]!["features"]!.AsArray().Select(f => f!.GetValue<string>()));
    }

    [Fact]
    public async Task Predict_OneInputPerFeatureWithSmallManifest_UsesGraphInputNamesAndManifestLabels()
    {
        var model = Azurite.UniqueName("byo");
        await TestModels.UploadAsync(model, "v1/model.onnx", TestModels.ColumnsClassifier(["age", "income"]));
        await TestModels.UploadAsync(model, "v1/manifest.json", """{"labels":["no","yes"]}"""u8.ToArray());

        var (status, body) = await PredictAsync(model, """{"rows":[{"age":2,"income":1},{"income":-3,"age":0}]}""");
        var (missingStatus, missing) = await PredictAsync(model, """{"rows":[{"age":2}]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("yes", body!["predictions"]![0]!["label"]!.GetValue<string>());
        Assert.Equal("no", body["predictions"]![1]!["label"]!.GetValue<string>());
        Assert.True(body["predictions"]![0]!["probabilities"]!["yes"]!.GetValue<double>() > 0.9);
        Assert.Equal(HttpStatusCode.BadRequest, missingStatus);
        Assert.Contains("income", missing!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_OnnxWithControlFlow_IsRefusedBeforeLoading_With503NamingIt()
    {
        var model = Azurite.UniqueName("byo");
        var graph = Pipeline.Training.Onnx.Proto.ModelProto.Parser.ParseFrom(TestModels.LinearRegression([1, 2, 3], bias: 0));
        graph.Graph.Node.Add(new Pipeline.Training.Onnx.Proto.NodeProto { OpType = "Loop", Name = "spin", Input = { "X" }, Output = { "spun" } });
        await TestModels.UploadAsync(model, "v1/model.onnx", Google.Protobuf.MessageExtensions.ToByteArray(graph));

        var (status, problem) = await PredictAsync(model, """{"rows":[{"f0":1,"f1":1,"f2":1}]}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("control flow (Loop)", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_ManifestInconsistentWithTheGraph_Returns503NamingTheProblem()
    {
        var model = Azurite.UniqueName("byo");
        await TestModels.UploadAsync(model, "v1/model.onnx", TestModels.LinearRegression([1, 2, 3], bias: 0));
        await TestModels.UploadAsync(model, "v1/manifest.json", """{"features":["only","two"]}"""u8.ToArray());

        var (status, problem) = await PredictAsync(model, """{"rows":[{"only":1,"two":2}]}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("2 feature names are given but input 'X' has 3 columns", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
