using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>The Preprocess function invoked with payloads shaped like the Functions host's.</summary>
public class PreprocessFunctionTests : IAsyncLifetime
{
    private readonly FunctionsAppFactory _app = new();
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
        _client = _app.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    private static async Task<string> UploadAsync(string content)
    {
        var name = Azurite.UniqueName("pre");
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer)
            .UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(content), TestContext.Current.CancellationToken);
        return $"{name}/data.csv";
    }

    [Theory]
    [InlineData("object")]
    [InlineData("string")]
    [InlineData("twice-encoded string")]
    public async Task Invoke_EventInEveryEncodingTheHostUses_ReturnsTheTrainRequestAsAJsonObject(string encoding)
    {
        var (csv, _) = SyntheticData.ThreeClass(100, seed: 3);
        var blob = await UploadAsync(csv);
        var blobEvent = Invocations.BlobCreatedEvent("raw", blob);
        JsonNode value = encoding switch
        {
            "object" => blobEvent,
            "string" => blobEvent.ToJsonString(),
            _ => JsonValue.Create(blobEvent.ToJsonString())!.ToJsonString(),
        };

        var (status, reply) = await Invocations.PostAsync(_client, "Preprocess", Invocations.Queue("blobEvent", value));

        Assert.Equal(HttpStatusCode.OK, status);
        var request = reply!["Outputs"]!["trainRequest"]!;
        Assert.Equal("object", JsonValueKind(request));
        Assert.Equal(blob.Split('/')[0], request["dataset"]!.GetValue<string>());
        Assert.Equal(16, request["datasetVersion"]!.GetValue<string>().Length);
    }

    [Fact]
    public async Task Invoke_RejectedUpload_CompletesWithAReportAndNoTraining()
    {
        var blob = await UploadAsync("only,a,header\n");

        var (status, reply) = await Invocations.PostAsync(_client, "Preprocess", Invocations.Queue("blobEvent", Invocations.BlobCreatedEvent("raw", blob).ToJsonString()));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Null(reply!["Outputs"]!["trainRequest"]);
        Assert.Contains("Rejected", reply["Logs"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_NotAnEvent_FailsTheInvocationSoTheHostRetriesThenPoisons()
    {
        var (status, _) = await Invocations.PostAsync(_client, "Preprocess", Invocations.Queue("blobEvent", "hello"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Invoke_EventForAnotherContainer_IsIgnored()
    {
        var (status, reply) = await Invocations.PostAsync(_client, "Preprocess", Invocations.Queue("blobEvent", Invocations.BlobCreatedEvent("models", "x/y.csv").ToJsonString()));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Null(reply!["Outputs"]!["trainRequest"]);
    }

    private static string JsonValueKind(JsonNode node) => node.GetValueKind().ToString().ToLowerInvariant();
}
