using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pipeline.Serving.Http;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Http;

/// <summary>Function keys as the Functions host checks them, request limits, and errors that reveal nothing internal.</summary>
public sealed class SecurityTests : IAsyncLifetime
{
    private readonly ServingAppFactory _app = new();
    private readonly string _model = Azurite.UniqueName("sec");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await TestModels.PublishAsync(_model, "v1", TestModels.TwoClass(bias: 0));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private HttpClient ClientWithoutKey()
    {
        var client = _app.CreateClient();
        client.DefaultRequestHeaders.Remove(FunctionKeyMiddleware.HeaderName);
        return client;
    }

    [Theory]
    [InlineData("GET", "/api/models")]
    [InlineData("GET", "/api/models/{model}")]
    [InlineData("POST", "/api/models/{model}/predict")]
    [InlineData("POST", "/api/models/{model}/current")]
    public async Task ApiEndpoints_WithoutKey_Return401ProblemNamingTheHeader(string method, string path)
    {
        using var client = ClientWithoutKey();
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{model}", _model, StringComparison.Ordinal))
        {
            Content = method == "POST" ? new StringContent("""{"rows":[{"a":1,"b":2}]}""", Encoding.UTF8, "application/json") : null,
        };

        using var response = await client.SendAsync(request, Cancellation);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("x-functions-key", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_WrongKey_Returns401_RightKeyInHeaderOrCode_Returns200()
    {
        using var client = ClientWithoutKey();
        var body = """{"rows":[{"a":1,"b":2}]}""";

        using var wrong = new HttpRequestMessage(HttpMethod.Post, $"/api/models/{_model}/predict") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        wrong.Headers.Add(FunctionKeyMiddleware.HeaderName, ServingAppFactory.FunctionKey + "x");
        using var wrongResponse = await client.SendAsync(wrong, Cancellation);
        using var right = new HttpRequestMessage(HttpMethod.Post, $"/api/models/{_model}/predict") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        right.Headers.Add(FunctionKeyMiddleware.HeaderName, ServingAppFactory.FunctionKey);
        using var rightResponse = await client.SendAsync(right, Cancellation);
        using var code = await client.PostAsync(new Uri($"/api/models/{_model}/predict?code={ServingAppFactory.FunctionKey}", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);

        Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);
        Assert.Contains("not valid", await wrongResponse.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, rightResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, code.StatusCode);
    }

    [Theory]
    [InlineData("/api/health")]
    [InlineData("/api/openapi.json")]
    [InlineData("/")]
    public async Task AnonymousEndpoints_WithoutKey_Return200(string path)
    {
        using var client = ClientWithoutKey();

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Health_Anonymous_SaysOnlyDegraded_DetailsNeedTheKey()
    {
        using var keyed = _app.CreateClient();
        using var anonymous = ClientWithoutKey();
        using (await keyed.PostAsync(new Uri($"/api/models/{_model}/predict", UriKind.Relative),
            new StringContent("""{"rows":[{"a":1,"b":2}]}""", Encoding.UTF8, "application/json"), Cancellation))
        {
        }

        await TestModels.UploadAsync(_model, "v2/model.onnx", Encoding.UTF8.GetBytes("not an ONNX graph"));
        await TestModels.MoveCurrentAsync(_model, "v2");
        JsonNode details;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        do
        {
            using (await keyed.PostAsync(new Uri($"/api/models/{_model}/predict", UriKind.Relative),
                new StringContent("""{"rows":[{"a":1,"b":2}]}""", Encoding.UTF8, "application/json"), Cancellation))
            {
            }

            details = JsonNode.Parse(await keyed.GetStringAsync(new Uri(HealthApi.DetailsPath, UriKind.Relative), Cancellation))!;
            Assert.True(DateTime.UtcNow < deadline, "health never reported the broken version");
            await Task.Delay(100, Cancellation);
        }
        while (details["status"]!.GetValue<string>() != "degraded");

        var text = await anonymous.GetStringAsync(new Uri("/api/health", UriKind.Relative), Cancellation);
        using var detailsWithoutKey = await anonymous.GetAsync(new Uri(HealthApi.DetailsPath, UriKind.Relative), Cancellation);

        Assert.Equal("""{"status":"degraded"}""", text);
        Assert.Contains(_model, details.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, detailsWithoutKey.StatusCode);
    }

    [Fact]
    public void FunctionJson_AuthLevels_MatchTheLocalCheck()
    {
        // In Azure the host enforces function.json authLevel; locally the middleware must protect exactly the same routes.
        var functions = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory), "function.json", SearchOption.AllDirectories)
            .Select(file => JsonNode.Parse(File.ReadAllText(file))!["bindings"]!.AsArray().SingleOrDefault(b => b!["type"]!.GetValue<string>() == "httpTrigger"))
            .Where(b => b is not null)
            .Select(b => (Route: "/" + b!["route"]!.GetValue<string>(), Auth: b["authLevel"]!.GetValue<string>()))
            .ToList();

        Assert.NotEmpty(functions);
        foreach (var (route, auth) in functions)
        {
            // Outside /api (the console's static files) nothing is checked locally, so the function must be anonymous too.
            var anonymous = !route.StartsWith("/api/", StringComparison.Ordinal) || FunctionKeyMiddleware.AnonymousPaths.Contains(route, StringComparer.OrdinalIgnoreCase);
            Assert.Equal(anonymous ? "anonymous" : auth == "admin" ? "admin" : "function", auth);
        }
    }

    [Fact]
    public async Task Predict_BodyOverTheLimit_Returns413Problem_WithoutReadingItAll()
    {
        await using var app = new ServingAppFactory(new Dictionary<string, string?> { ["Models:MaxBodyBytes"] = "2048" });
        using var client = app.CreateClient();
        var rows = string.Join(',', Enumerable.Repeat("""{"a":1,"b":2}""", 200));

        using var response = await client.PostAsync(new Uri($"/api/models/{_model}/predict", UriKind.Relative),
            new StringContent($$"""{"rows":[{{rows}}]}""", Encoding.UTF8, "application/json"), Cancellation);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("exceeds 2048 bytes", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_RowLimit_IsConfigurable()
    {
        await using var app = new ServingAppFactory(new Dictionary<string, string?> { ["Models:MaxRows"] = "3" });
        using var client = app.CreateClient();
        var rows = string.Join(',', Enumerable.Repeat("""{"a":1,"b":2}""", 4));

        using var response = await client.PostAsync(new Uri($"/api/models/{_model}/predict", UriKind.Relative),
            new StringContent($$"""{"rows":[{{rows}}]}""", Encoding.UTF8, "application/json"), Cancellation);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("at most 3", await response.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_SlowerThanTheRequestTimeout_Returns503Problem()
    {
        // Storage "takes" 10 s of the app's clock to answer the current.json read; the timeout is 5 s.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new BlobClientOptions();
        options.AddPolicy(new SlowStoragePolicy(time, TimeSpan.FromSeconds(10)), Azure.Core.HttpPipelinePosition.PerCall);
        await using var app = new ServingAppFactory(new Dictionary<string, string?> { ["Models:RequestTimeout"] = "00:00:05" })
            .WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            {
                services.AddSingleton<TimeProvider>(time);
                services.AddSingleton(new BlobServiceClient(Azurite.ConnectionString, options));
            }));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Add(FunctionKeyMiddleware.HeaderName, ServingAppFactory.FunctionKey);

        using var response = await client.PostAsync(new Uri($"/api/models/{_model}/predict", UriKind.Relative),
            new StringContent("""{"rows":[{"a":1,"b":2}]}""", Encoding.UTF8, "application/json"), Cancellation);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Request timed out", problem["title"]!.GetValue<string>());
        Assert.Contains("longer than 5 s", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private sealed class SlowStoragePolicy(FakeTimeProvider time, TimeSpan delay) : Azure.Core.Pipeline.HttpPipelineSynchronousPolicy
    {
        public override void OnReceivedResponse(Azure.Core.HttpMessage message)
        {
            if (message.Request.Uri.Path.EndsWith("/current.json", StringComparison.Ordinal))
            {
                time.Advance(delay);
            }
        }
    }

    [Fact]
    public async Task UnexpectedServerError_Returns500Problem_WithoutMessageStackTraceOrPaths()
    {
        await using var app = new ServingAppFactory().WithWebHostBuilder(builder =>
            builder.ConfigureTestServices(services => services.AddSingleton<BlobServiceClient>(new ThrowingBlobServiceClient())));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Add(FunctionKeyMiddleware.HeaderName, ServingAppFactory.FunctionKey);

        using var response = await client.GetAsync(new Uri("/api/models", UriKind.Relative), Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        var problem = JsonNode.Parse(text)!;

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(500, problem["status"]!.GetValue<int>());
        Assert.NotNull(problem["traceId"]);
        Assert.DoesNotContain("/secret/internal/path", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ThrowingBlobServiceClient", text, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", text, StringComparison.Ordinal);
    }

    private sealed class ThrowingBlobServiceClient : BlobServiceClient
    {
        public override BlobContainerClient GetBlobContainerClient(string blobContainerName) =>
            throw new InvalidOperationException("Boom while reading /secret/internal/path/model.onnx");
    }
}
