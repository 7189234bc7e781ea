using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Storage;

/// <summary>
/// Storage that cannot be reached is 503 "Storage unavailable", never a server error, also once the SDK's retries are
/// spent; while model storage keeps failing, the circuit opens and requests are answered at once, without calling it again.
/// </summary>
public sealed class ResilientModelStoreTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Predict_StorageDown_FailsFastWith503_AfterTheCircuitOpens()
    {
        // Storage that refuses connections (nothing listens on port 9), without the SDK's own retries, counting calls.
        var counter = new CountingPolicy();
        var options = new BlobClientOptions { Retry = { MaxRetries = 0 } };
        options.AddPolicy(counter, HttpPipelinePosition.PerCall);
        var unreachable = $"DefaultEndpointsProtocol=http;AccountName={Azurite.AccountName};AccountKey={Azurite.AccountKey};BlobEndpoint=http://127.0.0.1:9/{Azurite.AccountName};";
        await using var app = new ServingAppFactory().WithWebHostBuilder(builder =>
            builder.ConfigureTestServices(services => services.AddSingleton(new BlobServiceClient(unreachable, options))));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Add(Pipeline.Serving.Http.FunctionKeyMiddleware.HeaderName, ServingAppFactory.FunctionKey);

        var problems = new List<JsonNode>();
        for (var i = 0; i < 12; i++)
        {
            using var response = await client.PostAsync(new Uri("/api/models/anything/predict", UriKind.Relative),
                new StringContent("""{"rows":[{"a":1}]}""", Encoding.UTF8, "application/json"), Cancellation);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
            problems.Add(JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!);
        }

        Assert.All(problems, p => Assert.Equal("Storage unavailable", p["title"]!.GetValue<string>()));
        Assert.InRange(counter.Calls, 4, 5); // the circuit opened after the minimum throughput of failures
    }

    [Fact]
    public async Task Predict_StorageDownPastTheSdksRetries_Is503NotAServerError()
    {
        // With its retries spent on transport failures the SDK throws an AggregateException of the attempts, not a
        // RequestFailedException: still storage being down, for the circuit, the registry and the client.
        var options = new BlobClientOptions { Retry = { MaxRetries = 2, Delay = TimeSpan.FromMilliseconds(10), Mode = RetryMode.Fixed } };
        var unreachable = $"DefaultEndpointsProtocol=http;AccountName={Azurite.AccountName};AccountKey={Azurite.AccountKey};BlobEndpoint=http://127.0.0.1:{Ports.Free()}/{Azurite.AccountName};";
        await using var app = new ServingAppFactory().WithWebHostBuilder(builder =>
            builder.ConfigureTestServices(services => services.AddSingleton(new BlobServiceClient(unreachable, options))));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Add(Pipeline.Serving.Http.FunctionKeyMiddleware.HeaderName, ServingAppFactory.FunctionKey);

        for (var i = 0; i < 6; i++)
        {
            using var response = await client.PostAsync(new Uri("/api/models/anything/predict", UriKind.Relative),
                new StringContent("""{"rows":[{"a":1}]}""", Encoding.UTF8, "application/json"), Cancellation);
            var body = await response.Content.ReadAsStringAsync(Cancellation);
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
            Assert.Equal("Storage unavailable", JsonNode.Parse(body)!["title"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("/api/datasets")]
    [InlineData("/api/models")]
    [InlineData("/api/models/anything")]
    public async Task ReadApis_StorageDownPastTheSdksRetries_Are503WithRetryAfter(string path)
    {
        var options = new BlobClientOptions { Retry = { MaxRetries = 1, Delay = TimeSpan.FromMilliseconds(10), Mode = RetryMode.Fixed } };
        var unreachable = $"DefaultEndpointsProtocol=http;AccountName={Azurite.AccountName};AccountKey={Azurite.AccountKey};BlobEndpoint=http://127.0.0.1:{Ports.Free()}/{Azurite.AccountName};";
        await using var app = new ServingAppFactory().WithWebHostBuilder(builder =>
            builder.ConfigureTestServices(services => services.AddSingleton(new BlobServiceClient(unreachable, options))));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Add(Pipeline.Serving.Http.FunctionKeyMiddleware.HeaderName, ServingAppFactory.FunctionKey);

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), Cancellation);

        var body = await response.Content.ReadAsStringAsync(Cancellation);
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("Storage unavailable", JsonNode.Parse(body)!["title"]!.GetValue<string>());
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        Assert.DoesNotContain("127.0.0.1", body, StringComparison.Ordinal);
    }

    private sealed class CountingPolicy : HttpPipelineSynchronousPolicy
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public override void OnSendingRequest(HttpMessage message) => Interlocked.Increment(ref _calls);
    }
}
