using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Pipeline.Tests.Infrastructure;

/// <summary>Invocation payloads shaped like the Functions host's for a custom handler.</summary>
public static class Invocations
{
    public static JsonObject BlobCreatedEvent(string container, string blobName) => new()
    {
        ["id"] = Guid.NewGuid().ToString(),
        ["topic"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
        ["subject"] = $"/blobServices/default/containers/{container}/blobs/{blobName}",
        ["eventType"] = "Microsoft.Storage.BlobCreated",
        ["eventTime"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        ["data"] = new JsonObject
        {
            ["api"] = "PutBlob",
            ["contentType"] = "text/csv",
            ["contentLength"] = 100,
            ["blobType"] = "BlockBlob",
            ["url"] = $"http://127.0.0.1:10000/devstoreaccount1/{container}/{blobName}",
            ["sequencer"] = "0000000000000000000000000000001",
        },
        ["dataVersion"] = "",
        ["metadataVersion"] = "1",
    };

    /// <summary><c>{"Data":{"blobEvent": value},"Metadata":{...}}</c>; the host sends a queue message as a JSON string.</summary>
    public static JsonObject Queue(string binding, JsonNode value, int dequeueCount = 1) => new()
    {
        ["Data"] = new JsonObject { [binding] = value },
        ["Metadata"] = new JsonObject
        {
            ["DequeueCount"] = dequeueCount,
            ["Id"] = Guid.NewGuid().ToString(),
            ["PopReceipt"] = "AgAAAAMAAAAAAAAA",
            ["sys"] = new JsonObject { ["MethodName"] = "Preprocess", ["UtcNow"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture) },
        },
    };

    public static async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(HttpClient client, string function, JsonObject invocation)
    {
        using var response = await client.PostAsync(new Uri($"/{function}", UriKind.Relative),
            new StringContent(invocation.ToJsonString(), Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Runs Preprocess for a blob in <c>raw</c> with the event as the host delivers it (a JSON string).</summary>
    public static async Task<JsonNode> PreprocessAsync(HttpClient client, string blobName)
    {
        var (status, body) = await PostAsync(client, "Preprocess", Queue("blobEvent", BlobCreatedEvent("raw", blobName).ToJsonString()));
        Assert.Equal(HttpStatusCode.OK, status);
        return body!;
    }
}
