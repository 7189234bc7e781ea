using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>The Preprocess function class, called as the worker calls it, with every form a blob-created message takes.</summary>
public sealed class PreprocessFunctionTests : IAsyncLifetime
{
    private readonly PreprocessingApp _app = new();

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static async Task<string> UploadAsync(string content)
    {
        var name = Azurite.UniqueName("pre");
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer)
            .UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(content), TestContext.Current.CancellationToken);
        return $"{name}/data.csv";
    }

    /// <summary>The event's JSON as Event Grid writes it (docs), base64 of it (field reports), and either encoded once more as a JSON string.</summary>
    public static TheoryData<string> Encodings() => ["json", "base64", "json string", "base64 json string", "base64 of json string"];

    private static string Encode(JsonObject blobEvent, string encoding)
    {
        var json = blobEvent.ToJsonString();
        static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
        return encoding switch
        {
            "json" => json,
            "base64" => Base64(json),
            "json string" => JsonValue.Create(json)!.ToJsonString(),
            "base64 json string" => JsonValue.Create(Base64(json))!.ToJsonString(),
            "base64 of json string" => Base64(JsonValue.Create(json)!.ToJsonString()),
            _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
        };
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public async Task RunAsync_EventInEveryEncoding_ReturnsTheTrainRequestAsJson(string encoding)
    {
        var (csv, _) = SyntheticData.ThreeClass(100, seed: 3);
        var blob = await UploadAsync(csv);

        var message = await _app.Function.RunAsync(Encode(Invocations.BlobCreatedEvent("raw", blob), encoding), TestContext.Current.CancellationToken);

        var request = JsonSerializer.Deserialize(message!, PipelineJson.Default.TrainRequest)!;
        Assert.Equal(blob.Split('/')[0], request.Dataset);
        Assert.Equal(16, request.DatasetVersion.Length);
    }

    [Fact]
    public async Task RunAsync_RejectedUpload_CompletesWithAReportAndNoTrainingRequest()
    {
        var blob = await UploadAsync("only,a,header\n");

        var message = await _app.Function.RunAsync(Invocations.BlobCreatedEvent("raw", blob).ToJsonString(), TestContext.Current.CancellationToken);

        Assert.Null(message);
        var dataset = blob.Split('/')[0];
        var reports = Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer)
            .GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{dataset}/{StorageNames.RejectionsFolder}/" }, TestContext.Current.CancellationToken);
        Assert.NotEmpty(await reports.ToListAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("{\"id\":\"1\"}")]
    [InlineData("aGVsbG8=")]
    [InlineData("")]
    public async Task RunAsync_NotAnEvent_ThrowsSoTheHostRetriesThenPoisons(string message)
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => _app.Function.RunAsync(message, TestContext.Current.CancellationToken));
        Assert.Contains("BlobCreated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_EventForAnotherContainer_IsIgnored()
    {
        var message = await _app.Function.RunAsync(Invocations.BlobCreatedEvent("models", "x/y.csv").ToJsonString(), TestContext.Current.CancellationToken);

        Assert.Null(message);
    }

    [Fact]
    public async Task RunAsync_DatasetJsonNamingAnotherModel_PublishesToItsOwn_AndTheReportSaysTheFieldIsIgnored()
    {
        var (csv, _) = SyntheticData.ThreeClass(100, seed: 8);
        var name = Azurite.UniqueName("hijack");
        var raw = Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer);
        await raw.UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), TestContext.Current.CancellationToken);
        await raw.UploadBlobAsync($"{name}/dataset.json", BinaryData.FromString("""{"model":"fraud","forcePromotion":true}"""), TestContext.Current.CancellationToken);

        var message = await _app.Function.RunAsync(Invocations.BlobCreatedEvent("raw", $"{name}/data.csv").ToJsonString(), TestContext.Current.CancellationToken);

        var request = JsonSerializer.Deserialize(message!, PipelineJson.Default.TrainRequest)!;
        Assert.Equal((name, null), (request.Model, request.ForcePromotion));
        var manifest = (await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer)
            .GetBlobClient(StorageNames.DatasetManifestPath(name, request.DatasetVersion)), PipelineJson.Default.DatasetManifest, TestContext.Current.CancellationToken))!.Value.Value;
        Assert.Equal(2, manifest.Warnings.Count(w => w.Contains("is ignored: which model a dataset publishes to", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RunAsync_OperatorMapsTheDataset_PublishesToTheMappedModel()
    {
        var (csv, _) = SyntheticData.ThreeClass(100, seed: 9);
        var name = Azurite.UniqueName("mapped");
        await using var app = new PreprocessingApp(new Dictionary<string, string> { [$"Preprocess:ModelNames:{name}"] = "forecast" });
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), TestContext.Current.CancellationToken);

        var message = await app.Function.RunAsync(Invocations.BlobCreatedEvent("raw", $"{name}/data.csv").ToJsonString(), TestContext.Current.CancellationToken);

        Assert.Equal("forecast", JsonSerializer.Deserialize(message!, PipelineJson.Default.TrainRequest)!.Model);
    }
}
